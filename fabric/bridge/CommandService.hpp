// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bridge's end of the domain's command ring (fabric/remote): a thread that sleeps in the ring
// (on its futex) and hands what arrives to the conductor's event loop, which waits on an eventfd.
// The conductor replies from its own thread: a reply touches only its reply slot (atomics in the
// shared file), never what the taking thread uses, so the two need no lock beyond the queue's.
//
// A ring that another process damaged (CommandRing::damage: its header overwritten, its tail
// pushed more than a lap ahead, the file removed or replaced) is replaced by a new one; requests in
// flight in the old one are lost (their clients time out and ask again), replies to requests taken
// from it still go to it (its clients map it), and it is unmapped when the service stops.

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
    /// A request, and the ring it came through (the reply goes back there).
    struct Command
    {
        fabric::remote::Request request;
        std::uint32_t ring{0};
    };

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
        void take(std::vector<Command>& requests, std::vector<fabric::remote::Refusal>& refusals);

        /// See CommandServer::reply: false when the client no longer waits for it.
        bool reply(Command const& command, fabric::remote::ReplyStatus status, std::uint64_t leaseId, std::string_view reason);

        /// Rings made since the start because the one before was damaged.
        [[nodiscard]] std::uint64_t replacements() const noexcept
        {
            return _replacements.load(std::memory_order_relaxed);
        }

        [[nodiscard]] std::filesystem::path const& path() const noexcept
        {
            return _path;
        }

    private:
        CommandService(std::filesystem::path domain, fabric::remote::ServerOptions const& options, fabric::remote::CommandServer server, Fd wake);
        void run();
        /// A new ring in place of the current, damaged one (the taking thread only).
        void replace(std::string const& damage);

        std::filesystem::path _domain;
        fabric::remote::ServerOptions _options;
        std::filesystem::path _path;
        Fd _wake;
        std::mutex _mutex;
        /// Every ring made, the current one last (guarded by _mutex; the taking thread also uses
        /// the current one unlocked: only it replaces it, and none is destroyed before the end).
        std::vector<std::unique_ptr<fabric::remote::CommandServer>> _servers;
        std::vector<Command> _pending;                        ///< guarded by _mutex
        std::vector<fabric::remote::Refusal> _pendingRefusals; ///< guarded by _mutex
        std::atomic<std::uint64_t> _replacements{0};
        bool _gaveUp{false}; ///< maxRings reached (said once); the taking thread's
        std::atomic<bool> _stopping{false};
        std::thread _thread;
    };
}
