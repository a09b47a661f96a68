// SPDX-License-Identifier: Apache-2.0
#pragma once

// Two hosts on one machine: two network namespaces joined by a veth pair (A = 10.201.0.1/24,
// B = 10.201.0.2/24), each with its own loopback. Names carry the test's pid and a counter, so that
// parallel and repeated runs never collide. The link can be cut (nftables in A drops everything that
// enters or leaves A's end of the veth, so connections stall as on a pulled cable) and restored.
// /dev/shm is shared by the namespaces: domains on either "host" stay visible to the test process.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "base/Fd.hpp"

namespace mxl::bridge::test
{
    class TwoHosts
    {
    public:
        /// Creates both namespaces and the link. An error (with a sentence saying why, for
        /// GTEST_SKIP) when not root, when `ip` is missing, or when `ip netns add` is refused.
        /// softRoce: also gives each end a Soft-RoCE device (rdma_rxe) for the verbs provider;
        /// MXL_ERR_NO_FABRIC when that fails.
        static Expected<std::unique_ptr<TwoHosts>> create(bool softRoce = false);

        /// Deletes the Soft-RoCE devices and both namespaces (the veth pair and the nftables
        /// tables go with them).
        ~TwoHosts();
        TwoHosts(TwoHosts const&) = delete;
        TwoHosts& operator=(TwoHosts const&) = delete;

        [[nodiscard]] std::string const& namespaceA() const noexcept
        {
            return _nsA;
        }

        [[nodiscard]] std::string const& namespaceB() const noexcept
        {
            return _nsB;
        }

        static constexpr char addressA[] = "10.201.0.1";
        static constexpr char addressB[] = "10.201.0.2";

        /// Drops every packet in and out of A's end of the link until restoreLink().
        Expected<void> cutLink();
        Expected<void> restoreLink();

        /// Runs body on a thread that has entered the namespace (sockets it opens live there).
        static Expected<void> runIn(std::string const& ns, std::function<void()> const& body);

        /// A TCP connection opened from inside ns to ip:port; an error when refused or not
        /// connected within the timeout.
        static Expected<Fd> connectFrom(std::string const& ns, std::string const& ip, std::uint16_t port,
            std::chrono::milliseconds timeout = std::chrono::milliseconds{1000});

        /// A listening TCP socket inside ns on ip with a port the kernel picks.
        static Expected<std::pair<Fd, std::uint16_t>> listenIn(std::string const& ns, std::string const& ip);

        /// Command vector that runs program with args inside ns (`ip netns exec ns program args...`).
        [[nodiscard]] static std::vector<std::string> execIn(std::string const& ns, std::string const& program,
            std::vector<std::string> const& args);

        /// Path of the `ip` tool.
        [[nodiscard]] static std::string const& ipTool();

    private:
        TwoHosts() = default;
        std::string _nsA;
        std::string _nsB;
        std::string _vethA;
        std::vector<std::pair<std::string, std::string>> _rxeDevices; ///< (namespace, device)
    };

    /// Whether namespace ns exists (/run/netns/ns).
    bool namespaceExists(std::string const& ns);
}
