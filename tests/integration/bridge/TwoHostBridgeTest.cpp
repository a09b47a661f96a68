// SPDX-License-Identifier: Apache-2.0
// Two mxl-fabric-bridge processes on two "hosts" (network namespaces joined by a veth pair),
// replicating flows that the test writes on A and checks byte for byte on B through the ordinary C
// API, while the test kills bridges, cuts the link, restarts writers and sends garbage.
//
// These tests assert what must hold on any machine, however loaded: no corrupt grain, no grain under
// a wrong index, sessions that survive, replication that resumes, and counters that account for every
// grain a mirror lacks. How fast and how many (drops under real-time load, resume times, CPU) is
// measured by ci/bench-bridge.sh and recorded in docs/performance.md, never asserted here.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "ToolTestSupport.hpp"
#include "TwoHostBridgeFixture.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        using namespace std::chrono_literals;

        constexpr auto activeTimeout = 15s;
        /// How long replication may take to resume before the test calls it broken. A liveness bound
        /// for a loaded machine, not the target: ci/bench-bridge.sh measures the resume time.
        constexpr auto resumeTimeout = 20s;

        std::string definitionIn(std::string const& domain, std::string const& id)
        {
            mxl::test::Instance instance{domain};
            std::string def(64 * 1024, '\0');
            auto size = def.size();
            if (mxlGetFlowDef(instance.get(), id.c_str(), def.data(), &size) != MXL_STATUS_OK)
            {
                return {};
            }
            def.resize(size - 1);
            return def;
        }

        /// Whether the peer closed (or reset) the connection within the timeout, reading what it sends.
        bool closedByPeer(int fd, std::chrono::milliseconds timeout)
        {
            auto const deadline = Clock::now() + timeout;
            while (Clock::now() < deadline)
            {
                pollfd readable{fd, POLLIN, 0};
                if (::poll(&readable, 1, 50) == 1)
                {
                    char buffer[4096];
                    auto const n = ::recv(fd, buffer, sizeof buffer, 0);
                    if (n <= 0)
                    {
                        return true;
                    }
                }
            }
            return false;
        }

        void sendAll(int fd, std::vector<std::uint8_t> const& bytes)
        {
            std::size_t sent = 0;
            while (sent < bytes.size())
            {
                auto const n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
                if (n <= 0)
                {
                    return; // The bridge may close before reading everything: that is what it should do.
                }
                sent += static_cast<std::size_t>(n);
            }
        }

        /// A control frame header (magic u32 | version u16 | type u16 | body length u32, little-endian).
        std::vector<std::uint8_t> frameHeader(std::uint32_t magic, std::uint32_t bodyLength)
        {
            std::vector<std::uint8_t> frame(12);
            std::memcpy(frame.data(), &magic, 4);
            frame[4] = 1;
            frame[6] = 1;
            std::memcpy(frame.data() + 8, &bodyLength, 4);
            return frame;
        }

        /// The longest time between two consecutive verified grains that arrived in [from, to].
        Clock::duration longestSilence(std::vector<Arrival> const& arrivals, Clock::time_point from, Clock::time_point to)
        {
            Clock::duration longest{};
            auto previous = from;
            for (auto const& a : arrivals)
            {
                if (a.at < from || a.at > to)
                {
                    continue;
                }
                longest = std::max(longest, a.at - previous);
                previous = a.at;
            }
            return std::max(longest, to - previous);
        }

        double seconds(Clock::duration d)
        {
            return std::chrono::duration<double>(d).count();
        }

        /// Every grain a verifier found missing on B must be one the exporting bridge counted as skipped
        /// or one the writer never produced: under load grains may be given up, but never silently.
        void expectMissesAccountedFor(std::filesystem::path const& domainA, TestFlow const& flow, VerifierReport const& report,
            LiveWriter const& writer)
        {
            auto const status = waitForStatus(domainA, [](BridgeStatus const&) { return true; }, 1s);
            ASSERT_TRUE(status) << "no status on A";
            auto const* exported = findFlow(*status, flow.id, "export");
            ASSERT_NE(exported, nullptr) << "A does not list flow " << flow.id << " as exported";
            EXPECT_LE(report.missed, exported->skippedGrains + writer.skipped())
                << "grains missing on B that neither A's bridge (skipped " << exported->skippedGrains << ") nor the writer (skipped "
                << writer.skipped() << ") accounts for: " << report;
            if (report.missed + exported->skippedGrains + writer.skipped() > 0)
            {
                std::cout << "flow " << flow.id << ": " << report.missed << " grains missed on B, " << exported->skippedGrains
                          << " skipped by A's bridge, " << writer.skipped() << " by the writer (a loaded machine)\n";
            }
        }
    }

    TEST(TwoHosts, HarnessCutsAndRestoresTheLink)
    {
        std::string nsA, nsB;
        {
            auto made = TwoHosts::create();
            if (!made)
            {
                GTEST_SKIP() << made.error().message;
            }
            auto& hosts = *made.value();
            nsA = hosts.namespaceA();
            nsB = hosts.namespaceB();
            ASSERT_TRUE(namespaceExists(nsA));
            ASSERT_TRUE(namespaceExists(nsB));
            auto listening = TwoHosts::listenIn(nsA, TwoHosts::addressA);
            ASSERT_TRUE(listening) << listening.error().message;
            auto const port = listening->second;

            auto before = TwoHosts::connectFrom(nsB, TwoHosts::addressA, port);
            EXPECT_TRUE(before) << "B cannot reach A: " << before.error().message;

            auto const cut = hosts.cutLink();
            ASSERT_TRUE(cut) << cut.error().message;
            auto const during = TwoHosts::connectFrom(nsB, TwoHosts::addressA, port, 500ms);
            EXPECT_FALSE(during) << "B reached A through a cut link";
            if (!during)
            {
                EXPECT_EQ(during.error().status, MXL_ERR_TIMEOUT) << "a cut link drops packets (no refusal): " << during.error().message;
            }

            auto const restored = hosts.restoreLink();
            ASSERT_TRUE(restored) << restored.error().message;
            auto const after = TwoHosts::connectFrom(nsB, TwoHosts::addressA, port);
            EXPECT_TRUE(after) << "B cannot reach A after the link was restored: " << after.error().message;
        }
        EXPECT_FALSE(namespaceExists(nsA)) << nsA << " outlived the harness";
        EXPECT_FALSE(namespaceExists(nsB)) << nsB << " outlived the harness";
    }

    TEST_F(TwoHostBridge, BridgeReplicatesVideoAudioAndAncByteExact)
    {
        auto const video = videoFlow();
        auto const audio = audioFlow();
        auto const anc = ancFlow();
        LiveWriter videoWriter{domainA.str(), video};
        LiveWriter audioWriter{domainA.str(), audio};
        LiveWriter ancWriter{domainA.str(), anc, 4};
        for (auto const* writer : {&videoWriter, &audioWriter, &ancWriter})
        {
            ASSERT_EQ(writer->problem(), "");
        }
        startA();
        startB({&video, &audio, &anc});
        MirrorVerifier videoMirror{domainB.str(), video};
        MirrorVerifier audioMirror{domainB.str(), audio};
        MirrorVerifier ancMirror{domainB.str(), anc};

        for (auto const* flow : {&video, &audio, &anc})
        {
            auto const imported = waitForActive(domainB.path(), flow->id, "import", activeTimeout);
            ASSERT_TRUE(imported) << "flow " << flow->id << " is not active on B";
            EXPECT_NE(imported->epoch, 0U);
            EXPECT_EQ(imported->provider, testProvider());
            EXPECT_EQ(imported->endpoint, testEndpointType()) << "the data endpoint type " << imported->provider << " runs over";
            auto const exported = waitForActive(domainA.path(), flow->id, "export", 5s);
            EXPECT_TRUE(exported) << "flow " << flow->id << " is not active on A";
        }
        // A second of each: 60 video and ANC grains, 100 blocks of 10 ms of audio.
        EXPECT_TRUE(videoMirror.waitForCount(60, 10s)) << videoMirror.report();
        EXPECT_TRUE(ancMirror.waitForCount(60, 10s)) << ancMirror.report();
        EXPECT_TRUE(audioMirror.waitForCount(100, 10s)) << audioMirror.report();

        for (auto const* flow : {&video, &audio, &anc})
        {
            mxl::test::Instance a{domainA.str()};
            mxl::test::Instance b{domainB.str()};
            mxlFlowReader source = nullptr;
            mxlFlowReader mirror = nullptr;
            ASSERT_EQ(mxlCreateFlowReader(a.get(), flow->id.c_str(), nullptr, &source), MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowReader(b.get(), flow->id.c_str(), nullptr, &mirror), MXL_STATUS_OK);
            mxlFlowConfigInfo sourceConfig, mirrorConfig;
            ASSERT_EQ(mxlFlowReaderGetConfigInfo(source, &sourceConfig), MXL_STATUS_OK);
            ASSERT_EQ(mxlFlowReaderGetConfigInfo(mirror, &mirrorConfig), MXL_STATUS_OK);
            EXPECT_EQ(std::memcmp(sourceConfig.common.id, mirrorConfig.common.id, sizeof sourceConfig.common.id), 0);
            EXPECT_EQ(sourceConfig.common.format, mirrorConfig.common.format);
            EXPECT_EQ(sourceConfig.common.grainRate.numerator, mirrorConfig.common.grainRate.numerator);
            EXPECT_EQ(sourceConfig.common.grainRate.denominator, mirrorConfig.common.grainRate.denominator);
            EXPECT_EQ(std::memcmp(&sourceConfig.discrete, &mirrorConfig.discrete, sizeof sourceConfig.discrete), 0)
                << "the mirror's ring and geometry must be the source's";
            EXPECT_EQ(nlohmann::json::parse(definitionIn(domainA.str(), flow->id)), nlohmann::json::parse(definitionIn(domainB.str(), flow->id)));
            mxlReleaseFlowReader(a.get(), source);
            mxlReleaseFlowReader(b.get(), mirror);
        }
        // Both bridges count what moved, audio in samples: a second of 48 kHz is well over 10000.
        for (auto const& [domain, role] : {std::pair{domainA.path(), "export"}, std::pair{domainB.path(), "import"}})
        {
            auto const status = waitForStatus(domain, [](BridgeStatus const&) { return true; }, 1s);
            ASSERT_TRUE(status);
            for (auto const* flow : {&video, &audio, &anc})
            {
                auto const* f = findFlow(*status, flow->id, role);
                ASSERT_NE(f, nullptr) << role << " of " << flow->id;
                EXPECT_GE(f->grains, flow == &audio ? 10000U : 30U) << role << " of " << flow->id << " counted too little";
            }
        }

        for (auto const& [mirror, flow, writer] : {std::tuple{&videoMirror, &video, &videoWriter}, std::tuple{&audioMirror, &audio, &audioWriter},
                 std::tuple{&ancMirror, &anc, &ancWriter}})
        {
            mirror->stop();
            auto const report = mirror->report();
            EXPECT_EQ(report.corrupt, 0U) << report;
            EXPECT_EQ(report.reopened, 0U) << report;
            EXPECT_EQ(report.firstProblem, "") << report;
            if (flow->media != Media::Audio)
            {
                expectMissesAccountedFor(domainA.path(), *flow, report, *writer);
            }
        }
        for (auto const* writer : {&videoWriter, &audioWriter, &ancWriter})
        {
            EXPECT_EQ(writer->problem(), "");
        }
    }

    TEST_F(TwoHostBridge, SourceBridgeKilledAndRestartedResumesUnderANewEpoch)
    {
        auto const video = videoFlow();
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto& first = startA();
        startB({&video});
        MirrorVerifier mirror{domainB.str(), video};
        auto const before = waitForActive(domainB.path(), video.id, "import", activeTimeout);
        ASSERT_TRUE(before) << "flow " << video.id << " is not active on B";
        ASSERT_TRUE(mirror.waitForCount(30, 10s)) << mirror.report();

        EXPECT_EQ(first.stop(SIGKILL), std::nullopt);
        std::this_thread::sleep_for(500ms);
        auto const restartedAt = Clock::now();
        auto const restartIndex = currentIndex(video);
        startA();

        auto const resumed = mirror.waitForVerified(restartIndex, resumeTimeout);
        ASSERT_TRUE(resumed) << "no grain written after the restart arrived on B within " << seconds(resumeTimeout) << " s: " << mirror.report();
        std::cout << "first new grain verified on B " << seconds(*resumed - restartedAt) << " s after the source bridge restarted\n";
        auto const after = waitForStatus(
            domainB.path(),
            [&](BridgeStatus const& s) {
                auto const* flow = findFlow(s, video.id, "import");
                return flow != nullptr && flow->state == FlowState::Active && flow->epoch != before->epoch;
            },
            5s);
        EXPECT_TRUE(after) << "B's import still runs under epoch " << before->epoch << " after the source bridge restarted";

        EXPECT_TRUE(mirror.waitForCount(mirror.report().verified + 30, resumeTimeout)) << mirror.report();
        mirror.stop();
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_EQ(report.firstProblem, "") << report;
        EXPECT_EQ(writer.problem(), "");
    }

    TEST_F(TwoHostBridge, LinkCutForThreeSecondsResumesAfterTheLinkReturns)
    {
        auto const video = videoFlow();
        auto const audio = audioFlow();
        LiveWriter writer{domainA.str(), video};
        LiveWriter audioWriter{domainA.str(), audio};
        ASSERT_EQ(writer.problem(), "");
        ASSERT_EQ(audioWriter.problem(), "");
        startA();
        startB({&video, &audio});
        MirrorVerifier mirror{domainB.str(), video};
        MirrorVerifier audioMirror{domainB.str(), audio};
        ASSERT_TRUE(waitForActive(domainB.path(), video.id, "import", activeTimeout)) << "flow " << video.id << " is not active on B";
        ASSERT_TRUE(mirror.waitForCount(30, 10s)) << mirror.report();

        auto const cut = hosts->cutLink();
        ASSERT_TRUE(cut) << cut.error().message;
        auto const cutIndex = currentIndex(video);
        std::this_thread::sleep_for(3s);
        // A few grains may have been in flight when the link went; nothing written a second later may arrive.
        EXPECT_FALSE(mirror.waitForVerified(cutIndex + 60, 0ms)) << "grains crossed a cut link";
        auto const restored = hosts->restoreLink();
        ASSERT_TRUE(restored) << restored.error().message;
        auto const restoredAt = Clock::now();
        auto const restoreIndex = currentIndex(video);

        auto const resumed = mirror.waitForVerified(restoreIndex, resumeTimeout);
        ASSERT_TRUE(resumed) << "no grain written after the link came back arrived on B within " << seconds(resumeTimeout)
                             << " s: " << mirror.report();
        std::cout << "first new grain verified on B " << seconds(*resumed - restoredAt) << " s after the link came back\n";
        EXPECT_TRUE(mirror.waitForCount(mirror.report().verified + 30, resumeTimeout)) << mirror.report();
        EXPECT_TRUE(audioMirror.waitForVerified(currentIndex(audio), resumeTimeout)) << "the audio did not resume: " << audioMirror.report();
        mirror.stop();
        audioMirror.stop();
        for (auto const& report : {mirror.report(), audioMirror.report()})
        {
            EXPECT_EQ(report.corrupt, 0U) << report;
            EXPECT_EQ(report.firstProblem, "") << report;
        }
        EXPECT_EQ(writer.problem(), "");
        EXPECT_EQ(audioWriter.problem(), "");
    }

    TEST_F(TwoHostBridge, WrongPskIsRefusedAndNoDataFlows)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto& a = startA();
        auto const otherKey = writeKey(scratch.path() / "other.key");
        auto& b = startB({&video}, otherKey);

        auto const deadline = Clock::now() + 3s;
        while (Clock::now() < deadline)
        {
            ASSERT_FALSE(mxl::test::flowExists(domainB.path(), video.id)) << "a mirror appeared on B although B's key is not A's";
            std::this_thread::sleep_for(20ms);
        }
        auto const refused = [&] { return a.log().find("authentication failed") != std::string::npos || b.log().find("authentication failed") != std::string::npos; };
        EXPECT_TRUE(mxl::test::eventually(refused, 2s)) << "neither bridge logged \"authentication failed\"";
        auto status = readStatus(domainB.path());
        ASSERT_TRUE(status && status->has_value());
        auto const* flow = findFlow(**status, video.id, "import");
        EXPECT_TRUE(flow == nullptr || flow->state != FlowState::Active);
        EXPECT_TRUE(a.running()) << "a failed authentication must not stop the bridge";
        EXPECT_TRUE(b.running()) << "a failed authentication must not stop the bridge";
    }

    TEST_F(TwoHostBridge, GarbagePeerIsClosedAndOtherSessionsKeepFlowing)
    {
        auto const video = videoFlow();
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto& a = startA();
        startB({&video});
        MirrorVerifier mirror{domainB.str(), video};
        auto const active = waitForActive(domainB.path(), video.id, "import", activeTimeout);
        ASSERT_TRUE(active) << "flow " << video.id << " is not active on B";
        ASSERT_TRUE(mirror.waitForCount(30, 10s)) << mirror.report();
        auto const before = mirror.report();
        auto const garbageFrom = Clock::now();

        std::mt19937_64 random{20240601};
        std::vector<std::uint8_t> noise(64 * 1024);
        std::generate(noise.begin(), noise.end(), [&] { return static_cast<std::uint8_t>(random()); });
        auto badMagic = frameHeader(0x4B4E554AU /* "JUNK" */, 0x7FFFFFFFU);
        badMagic.resize(badMagic.size() + 1024);
        auto hugeBody = frameHeader(0x434C584DU /* "MXLC" */, 0xFFFFFFF0U);
        hugeBody.resize(hugeBody.size() + 1024);
        struct Attack
        {
            char const* what;
            std::vector<std::uint8_t> const& bytes;
        };
        for (auto const& attack : {Attack{"random bytes", noise}, Attack{"a frame with a bad magic and a huge length", badMagic},
                 Attack{"a frame with a huge length", hugeBody}})
        {
            auto const port = static_cast<std::uint16_t>(std::stoi(controlPort));
            auto connection = TwoHosts::connectFrom(hosts->namespaceB(), TwoHosts::addressA, port);
            ASSERT_TRUE(connection) << connection.error().message;
            sendAll(connection->get(), attack.bytes);
            EXPECT_TRUE(closedByPeer(connection->get(), 5s)) << "A kept a connection open after " << attack.what;
        }
        EXPECT_TRUE(a.waitForLog("session closed", 3s)) << "A did not log \"session closed\"";

        // The real session kept its grant and its data: grains written after the garbage still arrive.
        auto const afterGarbage = currentIndex(video);
        EXPECT_TRUE(mirror.waitForVerified(afterGarbage + 30, resumeTimeout)) << "B stopped receiving after the garbage: " << mirror.report();
        auto const garbageTo = Clock::now();
        std::cout << "longest gap on B while A was fending off garbage: " << seconds(longestSilence(mirror.arrivals(), garbageFrom, garbageTo))
                  << " s (" << before.missed << " missed before, " << mirror.report().missed << " after)\n";
        mirror.stop();
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_EQ(report.reopened, 0U) << report;
        EXPECT_EQ(report.firstProblem, "") << report;
        expectMissesAccountedFor(domainA.path(), video, report, writer);
        auto const after = waitForActive(domainB.path(), video.id, "import", 1s);
        ASSERT_TRUE(after) << "B's import is no longer active";
        EXPECT_EQ(after->epoch, active->epoch) << "the garbage must not have cost the real session its grant";
    }

    TEST_F(TwoHostBridge, ThreeFlowsReplicateAtOnceEachIntoItsOwnMirror)
    {
        // Three flows through one session at once: every grain lands in its own flow's mirror under its own index
        // (the content is a function of flow and index, so a grain in the wrong mirror is caught as corrupt). Small
        // flows: this is about isolation, not load. Three 1080p60 flows are a benchmark: ci/bench-bridge.sh.
        std::vector<TestFlow> flows{videoFlow(640, 360, {50, 1}), videoFlow(640, 360, {50, 1}), ancFlow({50, 1})};
        std::vector<std::unique_ptr<LiveWriter>> writers;
        for (auto const& flow : flows)
        {
            writers.push_back(std::make_unique<LiveWriter>(domainA.str(), flow));
            ASSERT_EQ(writers.back()->problem(), "");
        }
        startA();
        startB({&flows[0], &flows[1], &flows[2]});
        std::vector<std::unique_ptr<MirrorVerifier>> mirrors;
        for (auto const& flow : flows)
        {
            mirrors.push_back(std::make_unique<MirrorVerifier>(domainB.str(), flow));
        }
        for (std::size_t i = 0; i < flows.size(); ++i)
        {
            ASSERT_TRUE(waitForActive(domainB.path(), flows[i].id, "import", activeTimeout)) << "flow " << flows[i].id << " is not active on B";
        }
        for (std::size_t i = 0; i < flows.size(); ++i)
        {
            EXPECT_TRUE(mirrors[i]->waitForCount(100, resumeTimeout)) << mirrors[i]->report();
        }
        for (std::size_t i = 0; i < flows.size(); ++i)
        {
            mirrors[i]->stop();
            auto const report = mirrors[i]->report();
            EXPECT_EQ(report.corrupt, 0U) << report;
            EXPECT_EQ(report.reopened, 0U) << report;
            EXPECT_EQ(report.firstProblem, "") << report;
            expectMissesAccountedFor(domainA.path(), flows[i], report, *writers[i]);
            EXPECT_EQ(writers[i]->problem(), "");
        }
        // Both bridges count each flow on its own (their status is published a few times a second).
        for (auto const& [domain, role] : {std::pair{domainA.path(), "export"}, std::pair{domainB.path(), "import"}})
        {
            auto const counted = waitForStatus(
                domain,
                [&, role = role](BridgeStatus const& s) {
                    return std::all_of(flows.begin(), flows.end(), [&](TestFlow const& flow) {
                        auto const* f = findFlow(s, flow.id, role);
                        return f != nullptr && f->grains >= 100U;
                    });
                },
                resumeTimeout);
            EXPECT_TRUE(counted) << "the " << role << "s were not each counted with 100 grains or more: " << describeStatus(domain);
        }
    }

    TEST_F(TwoHostBridge, WriterRestartRecreatesTheMirror)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        auto writer = std::make_unique<LiveWriter>(domainA.str(), video);
        ASSERT_EQ(writer->problem(), "");
        startA();
        startB({&video});
        MirrorVerifier mirror{domainB.str(), video};
        ASSERT_TRUE(waitForActive(domainB.path(), video.id, "import", activeTimeout)) << "flow " << video.id << " is not active on B";
        ASSERT_TRUE(mirror.waitForCount(20, 10s)) << mirror.report();

        mxl::test::Instance b{domainB.str()};
        mxlFlowReader before = nullptr;
        ASSERT_EQ(mxlCreateFlowReader(b.get(), video.id.c_str(), nullptr, &before), MXL_STATUS_OK);

        writer.reset();
        ASSERT_FALSE(mxl::test::flowExists(domainA.path(), video.id)) << "releasing the last writer removes the flow";
        std::this_thread::sleep_for(300ms);
        writer = std::make_unique<LiveWriter>(domainA.str(), video);
        ASSERT_EQ(writer->problem(), "");
        auto const recreatedIndex = currentIndex(video);

        auto const invalid = mxl::test::eventually(
            [&] {
                mxlFlowRuntimeInfo runtime;
                return mxlFlowReaderGetRuntimeInfo(before, &runtime) == MXL_ERR_FLOW_INVALID;
            },
            10s);
        EXPECT_TRUE(invalid) << "a reader of the old mirror was never told MXL_ERR_FLOW_INVALID";
        mxlGrainInfo info;
        std::uint8_t* payload = nullptr;
        if (invalid)
        {
            EXPECT_EQ(mxlFlowReaderGetGrain(before, recreatedIndex, 0, &info, &payload), MXL_ERR_FLOW_INVALID);
        }
        mxlReleaseFlowReader(b.get(), before);

        mxlFlowReader after = nullptr;
        ASSERT_TRUE(mxl::test::eventually(
            [&] {
                return mxl::test::flowExists(domainB.path(), video.id) &&
                       mxlCreateFlowReader(b.get(), video.id.c_str(), nullptr, &after) == MXL_STATUS_OK;
            },
            10s))
            << "the recreated mirror never appeared on B";
        mxlFlowRuntimeInfo runtime{};
        EXPECT_TRUE(mxl::test::eventually(
            [&] { return mxlFlowReaderGetRuntimeInfo(after, &runtime) == MXL_STATUS_OK && runtime.headIndex >= recreatedIndex; }, 5s))
            << "no grain of the recreated flow arrived in the new mirror";
        auto const next = runtime.headIndex + 1;
        ASSERT_EQ(mxlFlowReaderGetGrain(after, next, 5'000'000'000ULL, &info, &payload), MXL_STATUS_OK) << "grain " << next;
        EXPECT_EQ(info.index, next);
        EXPECT_EQ(firstWrongByte(payload, info.grainSize, video, next), std::nullopt);
        mxlReleaseFlowReader(b.get(), after);

        EXPECT_TRUE(mirror.waitForVerified(next, 5s)) << mirror.report();
        mirror.stop();
        auto const report = mirror.report();
        EXPECT_GE(report.reopened, 1U) << report;
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_EQ(writer->problem(), "");
    }
}
