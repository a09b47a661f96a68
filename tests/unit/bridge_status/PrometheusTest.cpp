// SPDX-License-Identifier: Apache-2.0
// The Prometheus text exposition of a bridge status: families declared before their samples, label
// values escaped, values in base units, unknown measurements left out.

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "Prometheus.hpp"

using namespace mxl::bridge;

namespace
{
    BridgeStatus sampleStatus()
    {
        BridgeStatus s;
        s.bridgeId = "b1d9e0c2";
        s.listen = "0.0.0.0:7400";
        auto& up = s.peers.emplace_back();
        up.address = "10.0.0.1:7400";
        up.direction = PeerDirection::Outgoing;
        up.state = PeerState::Up;
        up.sessions = 3;
        up.rttMs = 2.5;
        up.clockOffsetMs = -1.25;
        up.errors = 2;
        auto& down = s.peers.emplace_back();
        down.address = "10.0.0.2:40123";
        down.direction = PeerDirection::Incoming;
        down.state = PeerState::Backoff;
        down.errors = 7;
        auto& import = s.flows.emplace_back();
        import.flowId = "5fbec3b1-1b0f-417d-9059-8b94a47197ed";
        import.role = FlowRole::Import;
        import.peer = "10.0.0.1:7400";
        import.state = FlowState::Active;
        import.epoch = 99;
        import.grains = 1000;
        import.bytes = 5'184'000'000ULL;
        import.commits = 8000;
        import.skippedGrains = 3;
        import.lagGrains = 1;
        import.refused = 4;
        import.errors = 5;
        import.latencyMs = 1.5;
        auto& exported = s.flows.emplace_back();
        exported.flowId = "0a7c1b3e-2d4f-4a6b-8c9d-0e1f2a3b4c5d";
        exported.role = FlowRole::Export;
        exported.peer = "10.0.0.2:40123";
        exported.state = FlowState::Waiting;
        s.leases.push_back(LeaseStatus{100, "5fbec3b1-1b0f-417d-9059-8b94a47197ed", "10.0.0.1:7400", 1, true});
        s.leases.push_back(LeaseStatus{101, "5fbec3b1-1b0f-417d-9059-8b94a47197ed", "10.0.0.1:7400", 2, true});
        s.leases.push_back(LeaseStatus{102, "5fbec3b1-1b0f-417d-9059-8b94a47197ed", "10.0.0.1:7400", 3, false});
        return s;
    }

    std::vector<std::string> lines(std::string const& text)
    {
        std::vector<std::string> out;
        std::istringstream in{text};
        for (std::string line; std::getline(in, line);)
        {
            out.push_back(line);
        }
        return out;
    }

    /// Sample lines (no comments) keyed by everything before the value.
    std::map<std::string, std::string> samples(std::string const& text)
    {
        std::map<std::string, std::string> out;
        for (auto const& line : lines(text))
        {
            if (!line.starts_with("#"))
            {
                auto const space = line.rfind(' ');
                out[line.substr(0, space)] = line.substr(space + 1);
            }
        }
        return out;
    }
}

TEST(BridgeStatusPrometheus, EveryMetricHasHelpAndTypeBeforeItsSamples)
{
    auto const text = renderPrometheus(sampleStatus());
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');

    std::set<std::string> helped;
    std::set<std::string> typed;
    std::set<std::string> finished;
    std::string current;
    for (auto const& line : lines(text))
    {
        ASSERT_FALSE(line.empty()) << text;
        if (line.starts_with("# HELP "))
        {
            auto const name = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_TRUE(helped.insert(name).second) << "HELP twice for " << name;
            continue;
        }
        if (line.starts_with("# TYPE "))
        {
            auto const rest = line.substr(7);
            auto const name = rest.substr(0, rest.find(' '));
            auto const type = rest.substr(rest.find(' ') + 1);
            EXPECT_TRUE(type == "gauge" || type == "counter") << line;
            EXPECT_EQ(type == "counter", name.ends_with("_total")) << line;
            EXPECT_TRUE(typed.insert(name).second) << "TYPE twice for " << name;
            if (!current.empty())
            {
                finished.insert(current);
            }
            current = name;
            continue;
        }
        auto const name = line.substr(0, line.find_first_of("{ "));
        EXPECT_EQ(name, current) << "a sample outside its family: " << line;
        EXPECT_TRUE(helped.contains(name)) << line;
        EXPECT_FALSE(finished.contains(name)) << "the family was interrupted: " << line;
    }
    EXPECT_EQ(helped, typed);
    for (auto const* name : {"mxl_bridge_info", "mxl_bridge_peer_up", "mxl_bridge_peer_rtt_seconds", "mxl_bridge_peer_clock_offset_seconds",
             "mxl_bridge_peer_sessions_total", "mxl_bridge_peer_errors_total", "mxl_bridge_flow_state", "mxl_bridge_flow_grains_total",
             "mxl_bridge_flow_bytes_total", "mxl_bridge_flow_commits_total", "mxl_bridge_flow_skipped_grains_total", "mxl_bridge_flow_refused_total",
             "mxl_bridge_flow_errors_total", "mxl_bridge_flow_lag_grains", "mxl_bridge_flow_latency_seconds"})
    {
        EXPECT_TRUE(typed.contains(name)) << name;
    }
    for (auto const& [key, value] : samples(text))
    {
        EXPECT_EQ(key.find("epoch"), std::string::npos) << "session epochs stay out of the metrics: " << key;
        EXPECT_NE(value, "99") << "session epochs stay out of the metrics: " << key;
    }
}

TEST(BridgeStatusPrometheus, ValuesFollowTheStatusInBaseUnits)
{
    auto const s = samples(renderPrometheus(sampleStatus()));
    auto value = [&](std::string const& key) {
        auto const it = s.find(key);
        return it == s.end() ? std::string{"(missing)"} : it->second;
    };
    EXPECT_EQ(value(R"(mxl_bridge_info{bridge_id="b1d9e0c2",listen="0.0.0.0:7400"})"), "1");
    EXPECT_EQ(value(R"(mxl_bridge_peer_up{peer="10.0.0.1:7400",direction="outgoing"})"), "1");
    EXPECT_EQ(value(R"(mxl_bridge_peer_up{peer="10.0.0.2:40123",direction="incoming"})"), "0");
    EXPECT_EQ(value(R"(mxl_bridge_peer_rtt_seconds{peer="10.0.0.1:7400",direction="outgoing"})"), "0.0025");
    EXPECT_EQ(value(R"(mxl_bridge_peer_clock_offset_seconds{peer="10.0.0.1:7400",direction="outgoing"})"), "-0.00125");
    EXPECT_FALSE(s.contains(R"(mxl_bridge_peer_rtt_seconds{peer="10.0.0.2:40123",direction="incoming"})")) << "no round trip measured yet";
    EXPECT_EQ(value(R"(mxl_bridge_peer_sessions_total{peer="10.0.0.1:7400",direction="outgoing"})"), "3");
    EXPECT_EQ(value(R"(mxl_bridge_peer_errors_total{peer="10.0.0.2:40123",direction="incoming"})"), "7");

    std::string const import = R"(flow="5fbec3b1-1b0f-417d-9059-8b94a47197ed",role="import",peer="10.0.0.1:7400")";
    std::string const exportLabels = R"(flow="0a7c1b3e-2d4f-4a6b-8c9d-0e1f2a3b4c5d",role="export",peer="10.0.0.2:40123")";
    EXPECT_EQ(value("mxl_bridge_flow_state{" + import + R"(,state="active"})"), "1");
    EXPECT_EQ(value("mxl_bridge_flow_state{" + import + R"(,state="waiting"})"), "0");
    EXPECT_EQ(value("mxl_bridge_flow_state{" + exportLabels + R"(,state="waiting"})"), "1");
    EXPECT_EQ(value("mxl_bridge_flow_grains_total{" + import + "}"), "1000");
    EXPECT_EQ(value("mxl_bridge_flow_bytes_total{" + import + "}"), "5184000000");
    EXPECT_EQ(value("mxl_bridge_flow_commits_total{" + import + "}"), "8000");
    EXPECT_EQ(value("mxl_bridge_flow_skipped_grains_total{" + import + "}"), "3");
    EXPECT_EQ(value("mxl_bridge_flow_refused_total{" + import + "}"), "4");
    EXPECT_EQ(value("mxl_bridge_flow_errors_total{" + import + "}"), "5");
    EXPECT_EQ(value("mxl_bridge_flow_lag_grains{" + import + "}"), "1");
    EXPECT_EQ(value("mxl_bridge_flow_latency_seconds{" + import + "}"), "0.0015");
    EXPECT_FALSE(s.contains("mxl_bridge_flow_latency_seconds{" + exportLabels + "}")) << "latency unknown";
    EXPECT_EQ(value("mxl_bridge_flow_grains_total{" + exportLabels + "}"), "0");
    EXPECT_EQ(value(R"(mxl_bridge_leases{flow="5fbec3b1-1b0f-417d-9059-8b94a47197ed",state="held"})"), "2") << "counted per flow, not per pid";
    EXPECT_EQ(value(R"(mxl_bridge_leases{flow="5fbec3b1-1b0f-417d-9059-8b94a47197ed",state="acquiring"})"), "1");
}

TEST(BridgeStatusPrometheus, EveryFlowStateIsExposedWithOnlyTheCurrentOneSet)
{
    // The status records hold typed states: every one of them is a label value, whatever the flow's.
    BridgeStatus s;
    auto& f = s.flows.emplace_back();
    f.flowId = "f";
    f.role = FlowRole::Import;
    f.peer = "p";
    f.state = FlowState::SourceGone;
    auto const samplesByKey = samples(renderPrometheus(s));
    for (auto const state : allFlowStates)
    {
        auto const key = fmt::format(R"(mxl_bridge_flow_state{{flow="f",role="import",peer="p",state="{}"}})", toString(state));
        ASSERT_TRUE(samplesByKey.contains(key)) << key;
        EXPECT_EQ(samplesByKey.at(key), state == FlowState::SourceGone ? "1" : "0") << key;
    }
    EXPECT_TRUE(samplesByKey.contains(R"(mxl_bridge_flow_state{flow="f",role="import",peer="p",state="source-gone"})"));
}

TEST(BridgeStatusPrometheus, LabelValuesAreEscaped)
{
    BridgeStatus s;
    s.bridgeId = "a\"b\\c\nd";
    s.listen = "x";
    auto& p = s.peers.emplace_back();
    p.address = "host\"\n\\";
    p.direction = PeerDirection::Outgoing;
    p.state = PeerState::Up;
    auto const text = renderPrometheus(s);
    EXPECT_NE(text.find(R"(mxl_bridge_info{bridge_id="a\"b\\c\nd",listen="x"} 1)"), std::string::npos) << text;
    EXPECT_NE(text.find(R"(mxl_bridge_peer_up{peer="host\"\n\\",direction="outgoing"} 1)"), std::string::npos) << text;
    for (auto const& line : lines(text))
    {
        EXPECT_TRUE(line.starts_with("# ") || line.starts_with("mxl_bridge_")) << "a raw newline split a sample: " << line;
    }
}
