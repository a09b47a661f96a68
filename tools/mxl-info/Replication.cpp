// SPDX-License-Identifier: Apache-2.0
#include "mxl-info/Replication.hpp"

#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <mxl/time.h>

namespace mxl::info
{
    namespace
    {
        std::string importSummary(bridge::FlowReplicationStatus const& f)
        {
            return f.state == bridge::FlowState::Active ? fmt::format("mirror of {} lag {}", f.peer, f.lagGrains)
                                                        : fmt::format("mirror of {} {}", f.peer, bridge::toString(f.state));
        }
    }

    std::optional<double> knownLatencyMs(bridge::FlowReplicationStatus const& f) noexcept
    {
        if (f.latencyMs == -1.0 || std::isnan(f.latencyMs))
        {
            return std::nullopt;
        }
        return f.latencyMs;
    }

    nlohmann::json replicationJson(bridge::FlowReplicationStatus const& f)
    {
        auto const latency = knownLatencyMs(f);
        return {
            {"flow", f.flowId},
            {"role", bridge::toString(f.role)},
            {"peer", f.peer},
            {"state", bridge::toString(f.state)},
            {"provider", f.provider},
            {"transfer", f.transfer},
            {"endpoint", f.endpoint},
            {"epoch", f.epoch},
            {"grains", f.grains},
            {"bytes", f.bytes},
            {"commits", f.commits},
            {"skipped_grains", f.skippedGrains},
            {"lag_grains", f.lagGrains},
            {"refused", f.refused},
            {"errors", f.errors},
            {"head_index", f.headIndex},
            {"latency_ms", latency ? nlohmann::json(*latency) : nlohmann::json(nullptr)},
            {"last_error", f.lastError},
        };
    }

    void ReplicationSource::refresh()
    {
        auto status = bridge::readStatus(_domain);
        _status = status ? std::move(*status) : std::nullopt;
        _readAt = mxlGetTime();
    }

    std::optional<ReplicationStatus> ReplicationSource::lookup(std::string const& flowId) const
    {
        if (!_status)
        {
            return std::nullopt;
        }
        std::vector<std::string> parts;
        std::vector<std::string> exports;
        auto entries = nlohmann::json::array();
        for (auto const& f : _status->flows)
        {
            if (f.flowId != flowId)
            {
                continue;
            }
            if (f.role == bridge::FlowRole::Export)
            {
                exports.push_back(fmt::format("{} {}", f.peer, bridge::toString(f.state)));
            }
            else
            {
                parts.push_back(importSummary(f));
            }
            entries.push_back(replicationJson(f));
        }
        if (entries.empty())
        {
            return std::nullopt;
        }
        if (!exports.empty())
        {
            parts.push_back(fmt::format("export to {}", fmt::join(exports, ", ")));
        }
        auto summary = fmt::format("{}", fmt::join(parts, ", "));
        auto const imports = parts.size() > (exports.empty() ? 0U : 1U);
        std::string shortSummary = imports && !exports.empty() ? "i+e" : imports ? "imp" : "exp";
        auto const stale = isStale(*_status, _readAt);
        if (stale)
        {
            summary += " (stale)";
            shortSummary += "?";
        }
        return ReplicationStatus{std::move(summary), std::move(shortSummary), {
                                                         {"bridge_id", _status->bridgeId},
                                                         {"bridge_pid", _status->pid},
                                                         {"updated_time", _status->updatedTai},
                                                         {"stale", stale},
                                                         {"replications", std::move(entries)},
                                                     }};
    }
}
