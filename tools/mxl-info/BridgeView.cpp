// SPDX-License-Identifier: Apache-2.0
#include "mxl-info/BridgeView.hpp"

#include <array>

#include <fmt/format.h>

#include "mxl-info/Replication.hpp"
#include "mxl-info/Table.hpp"
#include "mxl-info/Views.hpp"

namespace mxl::info
{
    namespace
    {
        constexpr char noValue[] = "-";

        std::string orNoValue(std::string const& text)
        {
            return text.empty() ? std::string{noValue} : text;
        }

        /// "5.2 GiB"; exact counts are in --json.
        std::string formatBytes(std::uint64_t bytes)
        {
            constexpr std::array<char const*, 5> units{"B", "KiB", "MiB", "GiB", "TiB"};
            auto value = static_cast<double>(bytes);
            std::size_t unit = 0;
            while (value >= 1024 && unit + 1 < units.size())
            {
                value /= 1024;
                ++unit;
            }
            return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
        }

        std::string providerAndTransfer(bridge::FlowReplicationStatus const& f)
        {
            if (f.provider.empty() && f.transfer.empty())
            {
                return noValue;
            }
            return f.endpoint.empty() ? fmt::format("{}/{}", orNoValue(f.provider), orNoValue(f.transfer))
                                      : fmt::format("{}/{}/{}", orNoValue(f.provider), orNoValue(f.transfer), f.endpoint);
        }
    }

    std::vector<std::string> bridgeDetails(bridge::BridgeStatus const& status, std::uint64_t now)
    {
        std::vector<std::string> out;
        out.push_back(fmt::format("bridge {} (pid {}), listening on {}", orNoValue(status.bridgeId), status.pid, orNoValue(status.listen)));
        out.push_back(fmt::format("  started   {} ({} ago)", formatTai(status.startedTai), formatAge(now, status.startedTai)));
        out.push_back(fmt::format("  updated   {} ({} ago){}", formatTai(status.updatedTai), formatAge(now, status.updatedTai),
            isStale(status, now) ? ": stale, the bridge stopped publishing (not running?)" : ""));

        out.push_back(fmt::format("peers ({})", status.peers.size()));
        if (!status.peers.empty())
        {
            Table peers{{"ADDRESS", "DIRECTION", "STATE", "PROVIDER", "RTT MS", "OFFSET MS", "SESSIONS", "ERRORS", "LAST ERROR"}};
            for (auto const& p : status.peers)
            {
                auto const measured = p.rttMs >= 0;
                peers.add({p.address, std::string{bridge::toString(p.direction)}, std::string{bridge::toString(p.state)}, orNoValue(p.provider), measured ? fmt::format("{:.3f}", p.rttMs) : noValue,
                    measured ? fmt::format("{:+.3f}", p.clockOffsetMs) : noValue, std::to_string(p.sessions), std::to_string(p.errors),
                    orNoValue(p.lastError)});
            }
            peers.render(out, "  ");
        }

        out.push_back(fmt::format("flows ({})", status.flows.size()));
        if (!status.flows.empty())
        {
            Table flows{{"FLOW", "ROLE", "PEER", "STATE", "PROVIDER/TRANSFER", "GRAINS", "BYTES", "LAG", "LAT MS", "SKIPPED", "REFUSED", "ERRORS",
                "LAST ERROR"}};
            for (auto const& f : status.flows)
            {
                auto const latency = knownLatencyMs(f);
                flows.add({f.flowId, std::string{bridge::toString(f.role)}, f.peer, std::string{bridge::toString(f.state)}, providerAndTransfer(f), std::to_string(f.grains), formatBytes(f.bytes),
                    std::to_string(f.lagGrains), latency ? fmt::format("{:.1f}", *latency) : noValue, std::to_string(f.skippedGrains),
                    std::to_string(f.refused), std::to_string(f.errors), orNoValue(f.lastError)});
            }
            flows.render(out, "  ");
        }

        out.push_back(fmt::format("leases ({})", status.leases.size()));
        if (!status.leases.empty())
        {
            Table leases{{"PID", "FLOW", "FROM", "STATE", "SINCE"}};
            for (auto const& l : status.leases)
            {
                leases.add({std::to_string(l.pid), orNoValue(l.flowId), orNoValue(l.peer), l.granted ? "held" : "acquiring",
                    formatAge(now, l.sinceTai) + " ago"});
            }
            leases.render(out, "  ");
        }
        return out;
    }

    nlohmann::json bridgeJson(bridge::BridgeStatus const& status, std::uint64_t now)
    {
        auto peers = nlohmann::json::array();
        for (auto const& p : status.peers)
        {
            auto const measured = p.rttMs >= 0;
            peers.push_back({
                {"address", p.address},
                {"direction", bridge::toString(p.direction)},
                {"state", bridge::toString(p.state)},
                {"bridge_id", p.bridgeId},
                {"provider", p.provider},
                {"sessions", p.sessions},
                {"up_since", p.upSince == 0 ? nlohmann::json(nullptr) : nlohmann::json(p.upSince)},
                {"rtt_ms", measured ? nlohmann::json(p.rttMs) : nlohmann::json(nullptr)},
                {"clock_offset_ms", measured ? nlohmann::json(p.clockOffsetMs) : nlohmann::json(nullptr)},
                {"errors", p.errors},
                {"last_error", p.lastError},
            });
        }
        auto flows = nlohmann::json::array();
        for (auto const& f : status.flows)
        {
            flows.push_back(replicationJson(f));
        }
        auto leases = nlohmann::json::array();
        for (auto const& l : status.leases)
        {
            leases.push_back({
                {"pid", l.pid},
                {"flow", l.flowId.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.flowId)},
                {"peer", l.peer.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.peer)},
                {"state", l.granted ? "held" : "acquiring"},
                {"since", l.sinceTai},
            });
        }
        return {
            {"pid", status.pid},
            {"bridge_id", status.bridgeId},
            {"listen", status.listen},
            {"started_time", status.startedTai},
            {"updated_time", status.updatedTai},
            {"stale", isStale(status, now)},
            {"peers", std::move(peers)},
            {"flows", std::move(flows)},
            {"leases", std::move(leases)},
        };
    }
}
