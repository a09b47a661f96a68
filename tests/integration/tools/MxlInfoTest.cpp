// SPDX-License-Identifier: Apache-2.0
// mxl-info run as a user runs it, against flows this test creates through the C API.
#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <csignal>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mxl/flow.h>
#include <mxl/time.h>
#include "ToolProcess.hpp"
#include "ToolTestSupport.hpp"
#include "status/BridgeStatus.hpp"
#include "support/ChildProcess.hpp"

namespace mxl::test
{
    namespace
    {
        constexpr mxlRational videoRate{60000, 1001};
        constexpr mxlRational audioRate{48000, 1};

        /// A domain with three flows in two groups, each with something committed.
        class MxlInfoTest : public ::testing::Test
        {
        protected:
            void SetUp() override
            {
                ASSERT_NE(instance.get(), nullptr);
                ASSERT_EQ(create(labelledFlowDef(videoId, "v210", "Camera 1", "studio-a:video"), video), MXL_STATUS_OK);
                ASSERT_EQ(create(labelledFlowDef(audioId, "audio", "Camera 1 audio", "studio-a:audio", 0, 0, 48000, 1, 2), audio),
                    MXL_STATUS_OK);
                ASSERT_EQ(create(labelledFlowDef(ancId, "smpte291", "Timecode", "studio-b:anc"), anc), MXL_STATUS_OK);

                videoIndex = mxlGetCurrentIndex(&videoRate);
                commitGrain(video, videoIndex);
                commitGrain(anc, videoIndex);
                audioIndex = mxlGetCurrentIndex(&audioRate);
                mxlMutableWrappedMultiBufferSlice slices{};
                ASSERT_EQ(mxlFlowWriterOpenSamples(audio, audioIndex, 480, &slices), MXL_STATUS_OK);
                ASSERT_EQ(mxlFlowWriterCommitSamples(audio), MXL_STATUS_OK);
            }

            mxlStatus create(std::string const& def, mxlFlowWriter& writer)
            {
                mxlFlowConfigInfo config{};
                bool created = false;
                return mxlCreateFlowWriter(instance.get(), def.c_str(), nullptr, &writer, &config, &created);
            }

            static void commitGrain(mxlFlowWriter writer, std::uint64_t index)
            {
                mxlGrainInfo info{};
                std::uint8_t* payload = nullptr;
                ASSERT_EQ(mxlFlowWriterOpenGrain(writer, index, &info, &payload), MXL_STATUS_OK);
                info.validSlices = info.totalSlices;
                ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &info), MXL_STATUS_OK);
            }

            ToolResult info(std::vector<std::string> args) const
            {
                args.insert(args.begin(), {"--domain", domain.str()});
                return runTool(mxlInfo, args);
            }

            TestDomain domain;
            Instance instance{domain.str()};
            std::string const videoId = newFlowId();
            std::string const audioId = newFlowId();
            std::string const ancId = newFlowId();
            mxlFlowWriter video{nullptr};
            mxlFlowWriter audio{nullptr};
            mxlFlowWriter anc{nullptr};
            std::uint64_t videoIndex{0};
            std::uint64_t audioIndex{0};
        };

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

        std::string lineWith(std::string const& text, std::string const& needle)
        {
            for (auto const& line : lines(text))
            {
                if (line.find(needle) != std::string::npos)
                {
                    return line;
                }
            }
            return {};
        }

        nlohmann::json const& flowById(nlohmann::json const& list, std::string const& id)
        {
            for (auto const& f : list.at("flows"))
            {
                if (f.at("id") == id)
                {
                    return f;
                }
            }
            throw std::runtime_error{"flow " + id + " not in the JSON listing"};
        }
    }

    TEST_F(MxlInfoTest, ListsFlowsGroupedWithTheirFields)
    {
        auto const r = info({});
        ASSERT_EQ(r.exitCode, 0) << r.err;

        auto const videoLine = lineWith(r.out, videoId);
        EXPECT_NE(videoLine.find("Camera 1"), std::string::npos) << videoLine;
        EXPECT_NE(videoLine.find("video/v210"), std::string::npos) << videoLine;
        EXPECT_NE(videoLine.find("1920x1080"), std::string::npos) << videoLine;
        EXPECT_NE(videoLine.find("59.94"), std::string::npos) << videoLine;
        EXPECT_NE(videoLine.find(std::to_string(videoIndex)), std::string::npos) << videoLine;
        EXPECT_NE(videoLine.find("grains"), std::string::npos) << videoLine;
        EXPECT_NE(videoLine.find("active"), std::string::npos) << videoLine;

        auto const audioLine = lineWith(r.out, audioId);
        EXPECT_NE(audioLine.find("audio/float32"), std::string::npos) << audioLine;
        EXPECT_NE(audioLine.find("2 ch"), std::string::npos) << audioLine;
        EXPECT_NE(audioLine.find("48000"), std::string::npos) << audioLine;
        EXPECT_NE(audioLine.find("samples"), std::string::npos) << audioLine;

        auto const ancLine = lineWith(r.out, ancId);
        EXPECT_NE(ancLine.find("video/smpte291"), std::string::npos) << ancLine;
        EXPECT_NE(ancLine.find("Timecode"), std::string::npos) << ancLine;

        // Grouped: studio-a's header, its two flows, then studio-b's header and its flow.
        auto const text = r.out;
        auto const a = text.find("[studio-a]");
        auto const b = text.find("[studio-b]");
        ASSERT_NE(a, std::string::npos) << text;
        ASSERT_NE(b, std::string::npos) << text;
        EXPECT_LT(a, text.find(videoId));
        EXPECT_LT(a, text.find(audioId));
        EXPECT_LT(text.find(videoId), b);
        EXPECT_LT(text.find(audioId), b);
        EXPECT_LT(b, text.find(ancId));

        // The replication column says "-" until a bridge publishes its status.
        auto const header = lineWith(text, "REPL");
        ASSERT_FALSE(header.empty()) << text;
        EXPECT_EQ(videoLine.back(), '-') << videoLine;
    }

    TEST_F(MxlInfoTest, JsonMatchesTheFlows)
    {
        auto const r = info({"--json"});
        ASSERT_EQ(r.exitCode, 0) << r.err;
        auto const j = nlohmann::json::parse(r.out);
        EXPECT_EQ(j.at("domain"), domain.str());
        ASSERT_EQ(j.at("flows").size(), 3U);

        auto const& v = flowById(j, videoId);
        EXPECT_EQ(v.at("label"), "Camera 1");
        EXPECT_EQ(v.at("group"), "studio-a");
        EXPECT_EQ(v.at("role"), "video");
        EXPECT_EQ(v.at("media_type"), "video/v210");
        EXPECT_EQ(v.at("format"), "video");
        EXPECT_EQ(v.at("width"), 1920);
        EXPECT_EQ(v.at("height"), 1080);
        EXPECT_EQ(v.at("rate").at("numerator"), 60000);
        EXPECT_EQ(v.at("rate").at("denominator"), 1001);
        EXPECT_EQ(v.at("head_index"), videoIndex);
        EXPECT_EQ(v.at("writer_active"), true);
        EXPECT_TRUE(v.at("replication").is_null());
        auto const lag = v.at("latency").at("grains").get<std::int64_t>();
        EXPECT_GE(lag, 0);
        EXPECT_LE(lag, 600) << "the grain was committed moments ago";
        EXPECT_NEAR(v.at("latency").at("ms").get<double>(), static_cast<double>(lag) * 1001.0 / 60.0, 1e-6);

        auto const& a = flowById(j, audioId);
        EXPECT_EQ(a.at("media_type"), "audio/float32");
        EXPECT_EQ(a.at("channels"), 2);
        EXPECT_EQ(a.at("head_index"), audioIndex);
        EXPECT_GE(a.at("latency").at("samples").get<std::int64_t>(), 0);

        auto const& d = flowById(j, ancId);
        EXPECT_EQ(d.at("group"), "studio-b");
        EXPECT_EQ(d.at("format"), "data");
        EXPECT_EQ(d.at("head_index"), videoIndex);
    }

    TEST_F(MxlInfoTest, FlowShowsDefinitionConfigAndGrainSlots)
    {
        auto const r = info({"--flow", videoId});
        ASSERT_EQ(r.exitCode, 0) << r.err;
        EXPECT_NE(r.out.find("flow " + videoId), std::string::npos);
        EXPECT_NE(r.out.find("flow_def.json"), std::string::npos);
        EXPECT_NE(r.out.find("\"frame_width\": 1920"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("\"label\": \"Camera 1\""), std::string::npos) << r.out;
        EXPECT_NE(lineWith(r.out, "grain count").find(" 11"), std::string::npos) << r.out; // floor(200 ms x 59.94)
        EXPECT_NE(lineWith(r.out, "slice sizes").find("5120 0 0 0"), std::string::npos) << r.out;
        EXPECT_NE(lineWith(r.out, "head index").find(std::to_string(videoIndex)), std::string::npos) << r.out;
        EXPECT_NE(lineWith(r.out, "last write").find("TAI"), std::string::npos) << r.out;
        auto const slot = lineWith(r.out, " " + std::to_string(videoIndex) + " ");
        EXPECT_NE(slot.find("1080/1080"), std::string::npos) << r.out;

        auto const json = info({"--flow", videoId, "--json"});
        ASSERT_EQ(json.exitCode, 0) << json.err;
        auto const j = nlohmann::json::parse(json.out);
        EXPECT_EQ(j.at("flow_def").at("label"), "Camera 1");
        EXPECT_EQ(j.at("flow_def").at("frame_height"), 1080);
        EXPECT_EQ(j.at("config").at("grain_count"), 11);
        EXPECT_EQ(j.at("config").at("slice_sizes").at(0), 5120);
        EXPECT_EQ(j.at("runtime").at("head_index"), videoIndex);
        ASSERT_EQ(j.at("grains").size(), 11U);
        auto const& g = j.at("grains").at(videoIndex % 11);
        EXPECT_EQ(g.at("index"), videoIndex);
        EXPECT_EQ(g.at("valid_slices"), 1080);
        EXPECT_EQ(g.at("total_slices"), 1080);
        EXPECT_EQ(g.at("flags"), 0);

        auto const audioJson = info({"--flow", audioId, "--json"});
        ASSERT_EQ(audioJson.exitCode, 0) << audioJson.err;
        auto const aj = nlohmann::json::parse(audioJson.out);
        EXPECT_EQ(aj.at("config").at("channel_count"), 2);
        EXPECT_EQ(aj.at("config").at("buffer_length"), 19456);
        EXPECT_EQ(aj.at("config").at("sample_word_size"), 4);
    }

    TEST_F(MxlInfoTest, WatchFitsIn80ColumnsAndQuitsOnQ)
    {
        auto args = std::vector<std::string>{"--domain", domain.str(), "--watch", "--interval", "100"};
        auto v = argv(mxlInfo, args);
        winsize size{};
        size.ws_row = 24;
        size.ws_col = 80;
        int master = -1;
        auto const pid = ::forkpty(&master, nullptr, nullptr, &size);
        ASSERT_GE(pid, 0);
        if (pid == 0)
        {
            ::execv(mxlInfo.c_str(), v.data());
            ::_exit(127);
        }

        std::string screen;
        auto readFor = [&](std::chrono::milliseconds duration) {
            auto const deadline = std::chrono::steady_clock::now() + duration;
            while (std::chrono::steady_clock::now() < deadline)
            {
                pollfd p{master, POLLIN, 0};
                if (::poll(&p, 1, 20) > 0)
                {
                    char chunk[4096];
                    auto const n = ::read(master, chunk, sizeof chunk);
                    if (n <= 0)
                    {
                        return false; // the tool exited and closed the terminal
                    }
                    screen.append(chunk, static_cast<std::size_t>(n));
                }
            }
            return true;
        };
        // Two refreshes at least (100 ms apart) before quitting; a loaded machine may take a while to start the tool.
        auto const refreshesSoFar = [&] {
            std::size_t count = 0;
            for (auto at = screen.find("mxl-info "); at != std::string::npos; at = screen.find("mxl-info ", at + 1))
            {
                ++count;
            }
            return count;
        };
        auto const watchDeadline = std::chrono::steady_clock::now() + std::chrono::seconds{15};
        while (refreshesSoFar() < 3 && std::chrono::steady_clock::now() < watchDeadline && readFor(std::chrono::milliseconds{100}))
        {
        }
        ASSERT_EQ(::write(master, "q", 1), 1);
        readFor(std::chrono::seconds{3});

        int status = 0;
        bool exited = eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds{3});
        if (!exited)
        {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
        }
        ::close(master);
        ASSERT_TRUE(exited) << "mxl-info --watch did not quit on 'q'";
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 0);

        // Alternate screen entered and left, cursor shown again.
        EXPECT_NE(screen.find("\x1b[?1049l"), std::string::npos);
        EXPECT_NE(screen.find("\x1b[?25h"), std::string::npos);

        // What the view drew (the library may warn on the terminal before): cursor positioning
        // starts a new screen line, other escapes take no room.
        auto const drawn = screen.find("\x1b[?1049h");
        ASSERT_NE(drawn, std::string::npos);
        auto text = screen.substr(drawn);
        text = std::regex_replace(text, std::regex{"\x1b\\[[0-9;?]*[HJ]"}, "\n");
        text = std::regex_replace(text, std::regex{"\x1b\\[[0-9;?]*[A-Za-z]"}, "");
        std::size_t refreshes = 0;
        for (auto line : lines(text))
        {
            if (!line.empty() && line.back() == '\r')
            {
                line.pop_back();
            }
            EXPECT_LE(line.size(), 80U) << "'" << line << "'";
            refreshes += line.starts_with("mxl-info ") ? 1 : 0;
        }
        EXPECT_GE(refreshes, 2U) << "the view refreshes every 100 ms";
        EXPECT_NE(text.find("Camera 1"), std::string::npos) << text;
        EXPECT_NE(text.find("Camera 1 a"), std::string::npos) << text;
        EXPECT_NE(text.find("[studio-a]"), std::string::npos) << text;
        EXPECT_NE(text.find("Timecode"), std::string::npos) << text;
        EXPECT_NE(text.find(videoId.substr(0, 8)), std::string::npos) << text;
    }

    TEST(MxlInfoGcTest, GcRemovesAStaleFlowAndReportsIt)
    {
        TestDomain domain;
        Instance instance{domain.str()};
        auto const liveId = newFlowId();
        mxlFlowWriter live = nullptr;
        mxlFlowConfigInfo config{};
        bool created = false;
        auto const liveDef = labelledFlowDef(liveId, "v210", "live", "gc:video", 64, 36);
        ASSERT_EQ(mxlCreateFlowWriter(instance.get(), liveDef.c_str(), nullptr, &live, &config, &created), MXL_STATUS_OK);

        // A writer that dies without releasing its flow.
        auto const staleId = newFlowId();
        ChildProcess child{[&] {
            auto* inst = mxlCreateInstance(domain.str().c_str(), nullptr);
            auto const def = labelledFlowDef(staleId, "v210", "crashed", "gc:video", 64, 36);
            mxlFlowWriter w = nullptr;
            mxlFlowConfigInfo c{};
            bool made = false;
            if (inst == nullptr || mxlCreateFlowWriter(inst, def.c_str(), nullptr, &w, &c, &made) != MXL_STATUS_OK)
            {
                return 1;
            }
            ::raise(SIGKILL);
            return 0;
        }};
        EXPECT_FALSE(child.wait().has_value());
        ASSERT_EQ(child.termSignal(), SIGKILL);
        ASSERT_TRUE(flowExists(domain.path(), staleId));

        // Looking never removes anything: the stale flow is listed with no writer.
        auto const listing = runTool(mxlInfo, {"--domain", domain.str(), "--json"});
        ASSERT_EQ(listing.exitCode, 0) << listing.err;
        auto const j = nlohmann::json::parse(listing.out);
        ASSERT_EQ(j.at("flows").size(), 2U);
        EXPECT_EQ(flowById(j, staleId).at("writer_active"), false);
        EXPECT_EQ(flowById(j, liveId).at("writer_active"), true);
        ASSERT_TRUE(flowExists(domain.path(), staleId));

        auto const gc = runTool(mxlInfo, {"--domain", domain.str(), "--gc"});
        ASSERT_EQ(gc.exitCode, 0) << gc.err;
        EXPECT_NE(gc.out.find("removed stale flow " + staleId), std::string::npos) << gc.out;
        EXPECT_EQ(gc.out.find(liveId), std::string::npos) << gc.out;
        EXPECT_NE(gc.out.find("1 stale flow removed"), std::string::npos) << gc.out;
        EXPECT_FALSE(flowExists(domain.path(), staleId));
        EXPECT_TRUE(flowExists(domain.path(), liveId));

        auto const again = runTool(mxlInfo, {"--domain", domain.str(), "--gc", "--json"});
        ASSERT_EQ(again.exitCode, 0) << again.err;
        EXPECT_TRUE(nlohmann::json::parse(again.out).at("removed").empty());
        EXPECT_EQ(mxlReleaseFlowWriter(instance.get(), live), MXL_STATUS_OK);
    }

    TEST(MxlInfoArgumentsTest, BadArgumentsExitWithUsageErrorNamingTheOption)
    {
        TestDomain domain;
        struct Case
        {
            std::vector<std::string> args;
            std::string mentions;
        };
        std::vector<Case> const cases{
            {{}, "--domain"},
            {{"--domain", domain.str(), "--flow", "not-a-uuid"}, "--flow"},
            {{"--domain", domain.str(), "--watch", "--interval", "0"}, "--interval"},
            {{"--domain", domain.str(), "--interval", "100"}, "--interval"},
            {{"--domain", domain.str(), "--snapshot", newFlowId()}, "--output"},
            {{"--domain", domain.str(), "--output", "x.png"}, "--snapshot"},
            {{"--domain", domain.str(), "--watch", "--json"}, "--json"},
            {{"--domain", domain.str(), "--gc", "--watch"}, "--gc"},
            {{"--domain", domain.str(), "--bridge", "--watch"}, "--bridge"},
            {{"--domain", domain.str(), "--bridge", "--flow", newFlowId()}, "--bridge"},
            {{"--domain", domain.str(), "--no-such-option"}, "no-such-option"},
        };
        for (auto const& c : cases)
        {
            auto const r = runTool(mxlInfo, c.args);
            EXPECT_EQ(r.exitCode, 2) << c.mentions << ": " << r.err;
            EXPECT_NE(r.err.find(c.mentions), std::string::npos) << r.err;
        }
        auto const help = runTool(mxlInfo, {"--help"});
        EXPECT_EQ(help.exitCode, 0);
        EXPECT_NE(help.out.find("--snapshot"), std::string::npos);
    }

    TEST(MxlInfoArgumentsTest, MissingDomainAndUnknownFlowFailWithAMessage)
    {
        TestDomain domain;
        auto const missing = domain.str() + "/nowhere";
        auto const r = runTool(mxlInfo, {"--domain", missing});
        EXPECT_EQ(r.exitCode, 1);
        EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;

        auto const unknown = newFlowId();
        auto const f = runTool(mxlInfo, {"--domain", domain.str(), "--flow", unknown});
        EXPECT_EQ(f.exitCode, 1);
        EXPECT_NE(f.err.find("no flow " + unknown), std::string::npos) << f.err;

        auto const s = runTool(mxlInfo, {"--domain", domain.str(), "--snapshot", unknown, "--output", domain.str() + "/x.png"});
        EXPECT_EQ(s.exitCode, 1);
        EXPECT_NE(s.err.find("no flow " + unknown), std::string::npos) << s.err;
    }

    TEST_F(MxlInfoTest, SnapshotRefusesFlowsWithoutAPicture)
    {
        auto const png = domain.str() + "/snap.png";
        auto const a = info({"--snapshot", audioId, "--output", png});
        EXPECT_EQ(a.exitCode, 1);
        EXPECT_NE(a.err.find("audio/float32"), std::string::npos) << a.err;

        auto const d = info({"--snapshot", ancId, "--output", png});
        EXPECT_EQ(d.exitCode, 1);
        EXPECT_NE(d.err.find("video/smpte291"), std::string::npos) << d.err;

        // A video flow nothing was committed to.
        auto const emptyId = newFlowId();
        mxlFlowWriter empty = nullptr;
        ASSERT_EQ(create(labelledFlowDef(emptyId, "v210", "empty", "studio-a:video", 64, 36), empty), MXL_STATUS_OK);
        auto const e = info({"--snapshot", emptyId, "--output", png});
        EXPECT_EQ(e.exitCode, 1);
        EXPECT_NE(e.err.find("no complete grain"), std::string::npos) << e.err;
        EXPECT_FALSE(std::filesystem::exists(png));
    }
}

namespace mxl::test
{
    namespace
    {
        /// What a bridge importing the video flow and exporting the audio flow to two peers publishes.
        bridge::BridgeStatus replicatingStatus(std::string const& videoId, std::string const& audioId)
        {
            bridge::BridgeStatus s;
            s.bridgeId = "b1d9e0c2-6f0a-4c39-9b8e-2d6a1f0c9e11";
            s.listen = "0.0.0.0:7400";
            auto& source = s.peers.emplace_back();
            source.address = "10.0.0.1:7400";
            source.direction = mxl::bridge::PeerDirection::Outgoing;
            source.state = mxl::bridge::PeerState::Up;
            source.provider = "verbs";
            source.sessions = 2;
            source.rttMs = 0.25;
            source.clockOffsetMs = -0.5;
            auto& refused = s.peers.emplace_back();
            refused.address = "10.0.0.9:40000";
            refused.direction = mxl::bridge::PeerDirection::Incoming;
            refused.state = mxl::bridge::PeerState::Refused;
            refused.errors = 3;
            refused.lastError = "authentication failed";

            auto& mirror = s.flows.emplace_back();
            mirror.flowId = videoId;
            mirror.role = mxl::bridge::FlowRole::Import;
            mirror.peer = "10.0.0.1:7400";
            mirror.state = mxl::bridge::FlowState::Active;
            mirror.provider = "verbs";
            mirror.transfer = "rma";
            mirror.endpoint = "rdm";
            mirror.epoch = 7;
            mirror.grains = 1234;
            mirror.bytes = 5'184'000ULL * 1234;
            mirror.lagGrains = 1;
            mirror.latencyMs = 2.5;
            for (auto const* peer : {"10.0.0.2:40123", "10.0.0.3:40123"})
            {
                auto& out = s.flows.emplace_back();
                out.flowId = audioId;
                out.role = mxl::bridge::FlowRole::Export;
                out.peer = peer;
                out.state = s.flows.size() == 2 ? mxl::bridge::FlowState::Active : mxl::bridge::FlowState::Waiting;
            }
            return s;
        }
    }

    TEST_F(MxlInfoTest, ListingFlowAndBridgeShowWhatTheBridgePublishes)
    {
        auto writer = bridge::StatusWriter::create(domain.path());
        ASSERT_TRUE(writer) << writer.error().message;
        (*writer)->publish(replicatingStatus(videoId, audioId));

        auto const list = info({});
        ASSERT_EQ(list.exitCode, 0) << list.err;
        EXPECT_NE(lineWith(list.out, videoId).find("mirror of 10.0.0.1:7400 lag 1"), std::string::npos) << list.out;
        EXPECT_NE(lineWith(list.out, audioId).find("export to 10.0.0.2:40123 active, 10.0.0.3:40123 waiting"), std::string::npos) << list.out;
        EXPECT_EQ(lineWith(list.out, ancId).back(), '-') << "a flow the bridge does not replicate";
        EXPECT_EQ(list.out.find("stale"), std::string::npos) << list.out;
        EXPECT_EQ(list.out.find(bridge::statusFileName), std::string::npos) << "the status file is no flow";

        auto const json = info({"--json"});
        ASSERT_EQ(json.exitCode, 0) << json.err;
        auto const j = nlohmann::json::parse(json.out);
        ASSERT_EQ(j.at("flows").size(), 3U);
        auto const& replication = flowById(j, videoId).at("replication");
        EXPECT_EQ(replication.at("stale"), false);
        EXPECT_EQ(replication.at("bridge_pid"), ::getpid());
        ASSERT_EQ(replication.at("replications").size(), 1U);
        auto const& mirror = replication.at("replications").at(0);
        EXPECT_EQ(mirror.at("role"), "import");
        EXPECT_EQ(mirror.at("peer"), "10.0.0.1:7400");
        EXPECT_EQ(mirror.at("state"), "active");
        EXPECT_EQ(mirror.at("transfer"), "rma");
        EXPECT_EQ(mirror.at("endpoint"), "rdm") << "the data endpoint type";
        EXPECT_EQ(mirror.at("epoch"), 7);
        EXPECT_EQ(mirror.at("grains"), 1234);
        EXPECT_EQ(mirror.at("lag_grains"), 1);
        EXPECT_EQ(mirror.at("latency_ms"), 2.5);
        EXPECT_EQ(flowById(j, audioId).at("replication").at("replications").size(), 2U);
        EXPECT_TRUE(flowById(j, audioId).at("replication").at("replications").at(0).at("latency_ms").is_null());
        EXPECT_TRUE(flowById(j, ancId).at("replication").is_null());

        auto const flow = info({"--flow", videoId});
        ASSERT_EQ(flow.exitCode, 0) << flow.err;
        EXPECT_NE(lineWith(flow.out, "replication").find("mirror of 10.0.0.1:7400 lag 1"), std::string::npos) << flow.out;
        auto const flowJson = info({"--flow", videoId, "--json"});
        ASSERT_EQ(flowJson.exitCode, 0) << flowJson.err;
        EXPECT_EQ(nlohmann::json::parse(flowJson.out).at("replication").at("replications").at(0).at("head_index"), 0);

        auto const text = info({"--bridge"});
        ASSERT_EQ(text.exitCode, 0) << text.err;
        EXPECT_NE(text.out.find("bridge b1d9e0c2-6f0a-4c39-9b8e-2d6a1f0c9e11 (pid " + std::to_string(::getpid()) + "), listening on 0.0.0.0:7400"),
            std::string::npos)
            << text.out;
        EXPECT_NE(text.out.find("peers (2)"), std::string::npos) << text.out;
        EXPECT_NE(text.out.find("flows (3)"), std::string::npos) << text.out;
        EXPECT_EQ(text.out.find("stale"), std::string::npos) << text.out;
        auto const header = lineWith(text.out, "ADDRESS");
        for (auto const* column : {"DIRECTION", "STATE", "PROVIDER", "RTT MS", "OFFSET MS", "SESSIONS", "ERRORS", "LAST ERROR"})
        {
            EXPECT_NE(header.find(column), std::string::npos) << column << ": " << header;
        }
        auto const source = lineWith(text.out, "10.0.0.1:7400 ");
        for (auto const* cell : {"outgoing", "up", "verbs", "0.250", "-0.500"})
        {
            EXPECT_NE(source.find(cell), std::string::npos) << cell << ": " << source;
        }
        EXPECT_NE(lineWith(text.out, "10.0.0.9:40000").find("authentication failed"), std::string::npos) << text.out;
        auto const flowsHeader = lineWith(text.out, "FLOW ");
        for (auto const* column : {"ROLE", "PEER", "PROVIDER/TRANSFER", "GRAINS", "BYTES", "LAG", "LAT MS", "SKIPPED", "REFUSED", "ERRORS"})
        {
            EXPECT_NE(flowsHeader.find(column), std::string::npos) << column << ": " << flowsHeader;
        }
        auto const mirrorLine = lineWith(text.out, videoId);
        for (auto const* cell : {"import", "active", "verbs/rma", "1234", "6.0 GiB", "2.5"})
        {
            EXPECT_NE(mirrorLine.find(cell), std::string::npos) << cell << ": " << mirrorLine;
        }

        auto const bridgeJson = info({"--bridge", "--json"});
        ASSERT_EQ(bridgeJson.exitCode, 0) << bridgeJson.err;
        auto const b = nlohmann::json::parse(bridgeJson.out);
        EXPECT_EQ(b.at("domain"), domain.str());
        auto const& bridge = b.at("bridge");
        EXPECT_EQ(bridge.at("pid"), ::getpid());
        EXPECT_EQ(bridge.at("listen"), "0.0.0.0:7400");
        EXPECT_EQ(bridge.at("stale"), false);
        ASSERT_EQ(bridge.at("peers").size(), 2U);
        EXPECT_EQ(bridge.at("peers").at(0).at("rtt_ms"), 0.25);
        EXPECT_TRUE(bridge.at("peers").at(1).at("rtt_ms").is_null());
        ASSERT_EQ(bridge.at("flows").size(), 3U);
        EXPECT_EQ(bridge.at("flows").at(0).at("flow"), videoId);
        EXPECT_EQ(bridge.at("flows").at(0).at("bytes"), 5'184'000ULL * 1234);
    }

    TEST_F(MxlInfoTest, StatusOfABridgeThatStoppedPublishingIsMarkedStale)
    {
        auto writer = bridge::StatusWriter::create(domain.path());
        ASSERT_TRUE(writer) << writer.error().message;
        auto status = replicatingStatus(videoId, audioId);
        status.updatedTai = mxlGetTime() - 10'000'000'000ULL;
        (*writer)->publish(status);

        auto const list = info({});
        ASSERT_EQ(list.exitCode, 0) << list.err;
        EXPECT_NE(lineWith(list.out, videoId).find("mirror of 10.0.0.1:7400 lag 1 (stale)"), std::string::npos) << list.out;
        auto const json = info({"--json"});
        ASSERT_EQ(json.exitCode, 0) << json.err;
        EXPECT_EQ(flowById(nlohmann::json::parse(json.out), videoId).at("replication").at("stale"), true);

        auto const text = info({"--bridge"});
        ASSERT_EQ(text.exitCode, 0) << text.err;
        EXPECT_NE(lineWith(text.out, "updated").find("stale"), std::string::npos) << text.out;
        auto const bridgeJson = info({"--bridge", "--json"});
        ASSERT_EQ(bridgeJson.exitCode, 0) << bridgeJson.err;
        EXPECT_EQ(nlohmann::json::parse(bridgeJson.out).at("bridge").at("stale"), true);
    }

    TEST_F(MxlInfoTest, WithoutABridgeThereIsNoReplicationAndBridgeSaysSo)
    {
        {
            auto writer = bridge::StatusWriter::create(domain.path());
            ASSERT_TRUE(writer) << writer.error().message;
            (*writer)->publish(replicatingStatus(videoId, audioId));
        }
        auto const text = info({"--bridge"});
        EXPECT_EQ(text.exitCode, 0) << text.err;
        EXPECT_NE(text.out.find("no bridge serves " + domain.str()), std::string::npos) << text.out;
        auto const json = info({"--bridge", "--json"});
        ASSERT_EQ(json.exitCode, 0) << json.err;
        EXPECT_TRUE(nlohmann::json::parse(json.out).at("bridge").is_null());
        auto const list = info({});
        ASSERT_EQ(list.exitCode, 0) << list.err;
        EXPECT_EQ(lineWith(list.out, videoId).back(), '-') << list.out;
    }

    TEST_F(MxlInfoTest, CorruptBridgeStatusIsAnErrorForBridgeAndIgnoredByTheListing)
    {
        for (auto const& bytes : {std::string{"garbage"}, std::string(200'000, '\xff')})
        {
            {
                std::ofstream out{domain.path() / bridge::statusFileName, std::ios::binary | std::ios::trunc};
                out << bytes;
            }
            auto const text = info({"--bridge"});
            EXPECT_EQ(text.exitCode, 1) << text.out;
            EXPECT_NE(text.err.find("unreadable"), std::string::npos) << text.err;
            EXPECT_NE(text.err.find(bridge::statusFileName), std::string::npos) << text.err;
            EXPECT_EQ(info({"--bridge", "--json"}).exitCode, 1);

            auto const list = info({});
            ASSERT_EQ(list.exitCode, 0) << list.err;
            EXPECT_EQ(lineWith(list.out, videoId).back(), '-') << list.out;
        }

        // The right size with nonsense in it.
        std::string area;
        {
            auto writer = bridge::StatusWriter::create(domain.path());
            ASSERT_TRUE(writer) << writer.error().message;
            std::ifstream in{domain.path() / bridge::statusFileName, std::ios::binary};
            area.assign(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
        }
        std::fill(area.begin() + 24, area.end(), '\xff'); // everything after magic, version, size and sequence
        {
            std::ofstream out{domain.path() / bridge::statusFileName, std::ios::binary | std::ios::trunc};
            out << area;
        }
        auto const text = info({"--bridge"});
        EXPECT_EQ(text.exitCode, 1) << text.out;
        EXPECT_NE(text.err.find("peers"), std::string::npos) << text.err;
    }
}
