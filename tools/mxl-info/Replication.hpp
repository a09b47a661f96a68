// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "status/BridgeStatus.hpp"

namespace mxl::info
{
    /// A bridge publishes its status continuously; one whose last publish is older than this has
    /// probably died (its status file stays behind).
    inline constexpr std::uint64_t bridgeStaleAfterNs = 3'000'000'000ULL;

    [[nodiscard]] inline bool isStale(bridge::BridgeStatus const& status, std::uint64_t now) noexcept
    {
        return now > status.updatedTai && now - status.updatedTai > bridgeStaleAfterNs;
    }

    /// How a flow is replicated between hosts, as the bridge publishes it.
    struct ReplicationStatus
    {
        /// For tables: "mirror of 10.0.0.1:7400 lag 1", "export to 10.0.0.2:40123 active, 10.0.0.3:40123 waiting",
        /// with " (stale)" when the bridge stopped publishing.
        std::string summary;
        /// At most 4 characters for narrow tables: "imp" (a mirror here), "exp" (exported), "i+e";
        /// a trailing "?" when the bridge stopped publishing.
        std::string shortSummary;
        /// Everything the bridge says about the flow, for --flow and --json.
        nlohmann::json detail;
    };

    /// The bridge's status area of a domain (status/BridgeStatus.hpp), read once per listing or
    /// refresh. A domain without a bridge, or whose status file cannot be read, has no replication
    /// status for any flow (shown as "-"; `mxl-info --bridge` says why). The status area is
    /// libmxl-fabric's (its reader, mxl-bridge-status): the MXL C API knows nothing of bridges.
    class ReplicationSource
    {
    public:
        explicit ReplicationSource(std::filesystem::path domain)
            : _domain{std::move(domain)}
        {}

        [[nodiscard]] std::filesystem::path const& domain() const noexcept
        {
            return _domain;
        }

        /// Re-reads the status area.
        void refresh();

        /// The replications of a flow (canonical lowercase id), if the bridge publishes any.
        [[nodiscard]] std::optional<ReplicationStatus> lookup(std::string const& flowId) const;

    private:
        std::filesystem::path _domain;
        std::optional<bridge::BridgeStatus> _status;
        std::uint64_t _readAt{0};
    };

    /// One flow replication as JSON (every field the bridge publishes; latency_ms null when unknown).
    nlohmann::json replicationJson(bridge::FlowReplicationStatus const& f);

    /// A latency in milliseconds, or nothing for the bridge's "unknown" (-1).
    [[nodiscard]] std::optional<double> knownLatencyMs(bridge::FlowReplicationStatus const& f) noexcept;
}
