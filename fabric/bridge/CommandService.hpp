// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bridge's end of the domain's command ring (fabric/remote): a thread that sleeps in the ring
// (on its futex) and hands what arrives to the conductor's event loop, which waits on an eventfd.
// The conductor replies from its own thread: a reply touches only its reply slot (atomics in the
// shared file), never what the taking thread uses, so the two need no lock beyond the queue's.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/Expected.hpp"
#include "base/Fd.hpp"
#include "remote/CommandChannel.hpp"

namespace mxl::bridge
{
    class CommandService
    {
    public:
        /// Creates the domain's ring (replacing one a dead bridge left) and starts taking requests.
        static Expected<std::unique_ptr<CommandService>> start(std::filesystem::path const& domain, fabric::remote::ServerOptions const& options);

        /// Stops the thread; the ring file is removed (clients then get MXL_ERR_NO_FABRIC).
        ~CommandService();
        CommandService(CommandService const&) = delete;
        CommandService& operator=(CommandService const&) = delete;

        /// Readable when requests wait: for the conductor's epoll.
        [[nodiscard]] int fd() const noexcept
        {
            return _wake.get();
        }

        /// The requests and refusals that came since the last take (refusals are answered already).
        void take(fabric::remote::Received& out);

        /// See CommandServer::reply: false when the client no longer waits for it.
        bool reply(fabric::remote::Request const& request, fabric::remote::ReplyStatus status, std::uint64_t leaseId, std::string_view reason);

        [[nodiscard]] std::filesystem::path const& path() const noexcept
        {
            return _path;
        }

    private:
        CommandService(fabric::remote::CommandServer server, Fd wake);
        void run();

        fabric::remote::CommandServer _server;
        std::filesystem::path _path;
        Fd _wake;
        std::mutex _mutex;
        fabric::remote::Received _pending; ///< guarded by _mutex
        std::atomic<bool> _stopping{false};
        std::thread _thread;
    };
}
