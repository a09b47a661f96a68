// SPDX-License-Identifier: Apache-2.0
#include "Prometheus.hpp"

#include <cmath>
#include <map>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace mxl::bridge
{
    namespace
    {
        std::string escapeLabel(std::string_view value)
        {
            std::string out;
            out.reserve(value.size());
            for (auto const c : value)
            {
                switch (c)
                {
                    case '\\': out += "\\\\"; break;
                    case '"': out += "\\\""; break;
                    case '\n': out += "\\n"; break;
                    default: out += c; break;
                }
            }
            return out;
        }

        std::string number(double value)
        {
            if (std::isnan(value))
            {
                return "NaN";
            }
            if (std::isinf(value))
            {
                return value > 0 ? "+Inf" : "-Inf";
            }
            return fmt::format("{}", value);
        }

        struct Label
        {
            std::string_view name;
            std::string_view value;
        };

        /// Metric families written one after the other, as the text format requires.
        class Exposition
        {
        public:
            void family(std::string_view name, std::string_view type, std::string_view help)
            {
                _name = name;
                fmt::format_to(std::back_inserter(_out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
            }

            void sample(std::initializer_list<Label> labels, std::string_view value)
            {
                _out += _name;
                char separator = '{';
                for (auto const& l : labels)
                {
                    fmt::format_to(std::back_inserter(_out), "{}{}=\"{}\"", separator, l.name, escapeLabel(l.value));
                    separator = ',';
                }
                if (separator == ',')
                {
                    _out += '}';
                }
                fmt::format_to(std::back_inserter(_out), " {}\n", value);
            }

            std::string take()
            {
                return std::move(_out);
            }

        private:
            std::string _out;
            std::string_view _name;
        };

        struct FlowCounter
        {
            std::string_view name;
            std::string_view type;
            std::string_view help;
            std::uint64_t FlowReplicationStatus::*field;
        };

        constexpr FlowCounter flowCounters[] = {
            {"mxl_bridge_flow_grains_total", "counter", "Grains moved for this flow.", &FlowReplicationStatus::grains},
            {"mxl_bridge_flow_bytes_total", "counter", "Payload bytes moved for this flow.", &FlowReplicationStatus::bytes},
            {"mxl_bridge_flow_commits_total", "counter", "Commits (whole grains or batches of slices) moved for this flow.",
                &FlowReplicationStatus::commits},
            {"mxl_bridge_flow_skipped_grains_total", "counter", "Grains skipped because the mirror fell too far behind.",
                &FlowReplicationStatus::skippedGrains},
            {"mxl_bridge_flow_refused_total", "counter", "Records refused on import (stale epoch, sequence or range).",
                &FlowReplicationStatus::refused},
            {"mxl_bridge_flow_errors_total", "counter", "Transfer errors for this flow.", &FlowReplicationStatus::errors},
            {"mxl_bridge_flow_lag_grains", "gauge", "Grains the mirror is behind the source.", &FlowReplicationStatus::lagGrains},
        };
    }

    std::string renderPrometheus(BridgeStatus const& status)
    {
        Exposition e;
        e.family("mxl_bridge_info", "gauge", "The bridge serving this domain (always 1).");
        e.sample({{"bridge_id", status.bridgeId}, {"listen", status.listen}}, "1");

        e.family("mxl_bridge_peer_up", "gauge", "1 when a session with the peer is up.");
        for (auto const& p : status.peers)
        {
            e.sample({{"peer", p.address}, {"direction", toString(p.direction)}}, p.state == PeerState::Up ? "1" : "0");
        }
        e.family("mxl_bridge_peer_rtt_seconds", "gauge", "Newest heartbeat round trip to the peer.");
        for (auto const& p : status.peers)
        {
            if (p.rttMs >= 0)
            {
                e.sample({{"peer", p.address}, {"direction", toString(p.direction)}}, number(p.rttMs / 1e3));
            }
        }
        e.family("mxl_bridge_peer_clock_offset_seconds", "gauge", "The peer's clock minus ours, estimated from heartbeats.");
        for (auto const& p : status.peers)
        {
            if (p.rttMs >= 0)
            {
                e.sample({{"peer", p.address}, {"direction", toString(p.direction)}}, number(p.clockOffsetMs / 1e3));
            }
        }
        e.family("mxl_bridge_peer_sessions_total", "counter", "Sessions established with the peer.");
        for (auto const& p : status.peers)
        {
            e.sample({{"peer", p.address}, {"direction", toString(p.direction)}}, std::to_string(p.sessions));
        }
        e.family("mxl_bridge_peer_errors_total", "counter", "Errors on the control channel with the peer.");
        for (auto const& p : status.peers)
        {
            e.sample({{"peer", p.address}, {"direction", toString(p.direction)}}, std::to_string(p.errors));
        }

        e.family("mxl_bridge_flow_state", "gauge", "1 for the replication's current state, 0 for the others.");
        for (auto const& f : status.flows)
        {
            for (auto const state : allFlowStates)
            {
                e.sample({{"flow", f.flowId}, {"role", toString(f.role)}, {"peer", f.peer}, {"state", toString(state)}}, state == f.state ? "1" : "0");
            }
        }
        for (auto const& counter : flowCounters)
        {
            e.family(counter.name, counter.type, counter.help);
            for (auto const& f : status.flows)
            {
                e.sample({{"flow", f.flowId}, {"role", toString(f.role)}, {"peer", f.peer}}, std::to_string(f.*counter.field));
            }
        }
        e.family("mxl_bridge_flow_latency_seconds", "gauge",
            "Import: arrival of the newest grain minus its nominal time (clock offset corrected).");
        for (auto const& f : status.flows)
        {
            // -1 is "unknown"; a slightly negative latency is a real measurement (clock offset error).
            if (f.latencyMs != -1.0 && !std::isnan(f.latencyMs))
            {
                e.sample({{"flow", f.flowId}, {"role", toString(f.role)}, {"peer", f.peer}}, number(f.latencyMs / 1e3));
            }
        }
        // Per flow, not per process: pids come and go, and a label per pid would grow without bound.
        e.family("mxl_bridge_leases", "gauge", "Leases local processes hold on a remote flow (held), or are waiting for (acquiring).");
        std::map<std::pair<std::string, bool>, std::size_t> leases;
        for (auto const& l : status.leases)
        {
            ++leases[{l.flowId, l.granted}];
        }
        for (auto const& [key, count] : leases)
        {
            e.sample({{"flow", key.first}, {"state", key.second ? "held" : "acquiring"}}, std::to_string(count));
        }
        return e.take();
    }
}
