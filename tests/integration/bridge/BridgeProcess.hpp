// SPDX-License-Identifier: Apache-2.0
#pragma once

// mxl-fabric-bridge run as an operator runs it: a process (optionally inside a network namespace)
// whose stdout and stderr go to a log file the test reads while it runs, and whose state the test
// reads from the domain's status area, as mxl-info does.

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ToolProcess.hpp"
#include "status/BridgeStatus.hpp"

namespace mxl::bridge::test
{
    inline std::string const bridgeTool = MXL_FABRIC_BRIDGE_PATH;

    /// --provider for replicating tests: MXL_TEST_BRIDGE_PROVIDER, or tcp.
    std::string testProvider();

    /// The data endpoint type the bridges use with testProvider(), as the status area names it:
    /// "rdm" for the reliable-datagram providers (efa, shm, tcp;ofi_rxm, udp;ofi_rxd), "msg" otherwise.
    std::string testEndpointType();

    /// Writes a pre-shared key file of `bytes` random bytes with the given mode; returns its path.
    std::filesystem::path writeKey(std::filesystem::path const& file, std::size_t bytes = 32, std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                                                                         std::filesystem::perms::owner_write);

    class RunningBridge
    {
    public:
        /// Starts the bridge with args inside network namespace ns (empty: the test's own); its
        /// output is appended to logFile.
        RunningBridge(std::filesystem::path logFile, std::vector<std::string> args, std::string ns = {});
        /// Kills the bridge (SIGKILL) if it still runs.
        ~RunningBridge() = default;
        RunningBridge(RunningBridge const&) = delete;
        RunningBridge& operator=(RunningBridge const&) = delete;

        [[nodiscard]] pid_t pid() const noexcept
        {
            return _tool->pid();
        }

        /// What the bridge logged so far.
        [[nodiscard]] std::string log() const;
        [[nodiscard]] std::filesystem::path const& logFile() const noexcept
        {
            return _logFile;
        }

        /// Waits until the log holds phrase.
        bool waitForLog(std::string const& phrase, std::chrono::milliseconds timeout) const;

        /// Sends sig and waits for the exit: the exit code, or nothing when the bridge died of a
        /// signal or did not exit in time (it is then killed).
        std::optional<int> stop(int sig = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds{10});

        /// Whether the process has not exited (yet).
        [[nodiscard]] bool running() const;

    private:
        std::filesystem::path _logFile;
        std::unique_ptr<mxl::test::BackgroundTool> _tool;
        bool _stopped{false};
    };

    /// The domain's bridge status once pred holds (checked every 20 ms), or nothing after the timeout.
    std::optional<BridgeStatus> waitForStatus(std::filesystem::path const& domain, std::function<bool(BridgeStatus const&)> const& pred,
        std::chrono::milliseconds timeout);

    /// The status entry of a flow in a role ("import", "export"), or nullptr.
    FlowReplicationStatus const* findFlow(BridgeStatus const& status, std::string const& flowId, std::string const& role);

    /// Waits until the domain's bridge shows flowId in role with state "active".
    std::optional<FlowReplicationStatus> waitForActive(std::filesystem::path const& domain, std::string const& flowId, std::string const& role,
        std::chrono::milliseconds timeout);

    /// The domain's bridge status in a few lines (flows and peers with their counters), for failure messages.
    std::string describeStatus(std::filesystem::path const& domain);

    /// The port of an "IP:PORT" address.
    std::optional<std::uint16_t> portOf(std::string const& address);

    /// The last `bytes` of a log, for failure messages.
    std::string tail(std::string const& log, std::size_t bytes = 6000);
}
