// SPDX-License-Identifier: Apache-2.0
#pragma once

// What a bridge is told to do: its domain, listen address, key, imports, exports and limits, and the
// exit codes of its run. mxl-fabric-bridge fills it from its command line and --config FILE
// (tools/mxl-fabric-bridge/CommandLine.hpp).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/Uuid.hpp"

namespace mxl::bridge
{
    inline constexpr int exitOk = 0;
    inline constexpr int exitFailed = 1;      ///< A runtime failure (domain, listening, another bridge).
    inline constexpr int exitUsage = 2;       ///< Bad options, configuration or key file.
    /// What --provider accepts: auto, or one provider replication runs over (connected: tcp, verbs;
    /// reliable-datagram: efa, shm, and the utility providers that stand in for efa's shape).
    inline constexpr std::string_view bridgeProviders[] = {"auto", "tcp", "verbs", "efa", "shm", "tcp;ofi_rxm", "udp;ofi_rxd"};
    inline constexpr int exitNoProvider = 3;  ///< The provider asked for is not available or not supported.

    struct ImportSpec
    {
        std::string peer; ///< "IP:PORT" of the peer bridge's --listen.
        Uuid flowId{};
    };

    struct Options
    {
        std::filesystem::path domain;
        std::string listen{"0.0.0.0:7400"};
        std::string provider{"auto"};
        std::optional<std::filesystem::path> pskFile;
        bool insecure{false};
        std::vector<ImportSpec> imports;
        bool exportAll{true};
        std::vector<Uuid> exports;
        std::optional<std::string> metrics;
        std::string logLevel{"info"};
        /// Largest mirror one offer may make here (bytes of grains or samples).
        std::uint64_t maxMirrorBytes{std::uint64_t{8} << 30};
        /// Largest total of all mirrors; unset: three quarters of the domain's file system.
        std::optional<std::uint64_t> maxMirrorsBytes;
        /// Remote flows on demand (the domain's command ring, docs/remote-flows.md): how long a
        /// leased flow's mirror stays after its last lease ends, and the limits on leases.
        std::uint64_t leaseLingerMs{10'000};
        std::size_t maxLeases{1024};
        std::size_t maxLeasesPerClient{64};
        /// Requests through the ring one process may make per second (a burst of 32 at once).
        double leaseRequestRate{200};
    };
}
