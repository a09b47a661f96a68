// SPDX-License-Identifier: Apache-2.0
// Remote flows on demand between two hosts (issue 12, docs/remote-flows.md): bridge B runs without
// --import, and readers on B ask for A's flow by URI through B's command ring. The readers are the
// Python example (examples/remote_reader.py, ctypes over the installed C API: the cross-language
// proof), mxl-info --open, and this test through the C API. Skipped, saying why, where namespaces
// cannot be made (not root).
#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/remote.h>
#include "TwoHostBridgeFixture.hpp"
#include "ToolProcess.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        using namespace std::chrono_literals;
        using mxl::test::BackgroundTool;

        /// How long a leased mirror stays after its last lease in these tests (--lease-linger).
        constexpr auto linger = 1s;

        std::string uriOf(TestFlow const& flow)
        {
            return std::string{"mxl://"} + TwoHosts::addressA + ":7400/" + flow.id;
        }

        /// The SHA-256 (hex) of grain index of flow as its writer wrote it.
        std::string expectedDigest(TestFlow const& flow, std::uint64_t index, std::size_t size)
        {
            std::vector<std::uint8_t> grain(size);
            fillGrain(grain.data(), 0, size, flow, index);
            unsigned char digest[EVP_MAX_MD_SIZE];
            unsigned int length = 0;
            EVP_Digest(grain.data(), grain.size(), digest, &length, EVP_sha256(), nullptr);
            std::string hex;
            for (unsigned i = 0; i < length; ++i)
            {
                hex += fmt::format("{:02x}", digest[i]);
            }
            return hex;
        }

        std::unique_ptr<BackgroundTool> pythonReader(std::string const& ns, std::string const& domain, std::string const& uri, int grains)
        {
            return std::make_unique<BackgroundTool>(TwoHosts::ipTool(),
                TwoHosts::execIn(ns, MXL_PYTHON3_PATH,
                    {MXL_REMOTE_READER_PATH, "--domain", domain, "--uri", uri, "--grains", std::to_string(grains), "--timeout-ms", "10000",
                        "--lib-dir", MXL_LIBRARY_DIRS}));
        }

        struct ReaderOutcome
        {
            std::size_t verified{0};
            std::size_t corrupt{0};
            std::string firstProblem;
        };

        /// Checks every grain line the Python reader printed against the writer's content.
        ReaderOutcome check(TestFlow const& flow, std::string const& out)
        {
            ReaderOutcome outcome;
            std::size_t start = 0;
            while (start < out.size())
            {
                auto end = out.find('\n', start);
                end = end == std::string::npos ? out.size() : end;
                auto const line = nlohmann::json::parse(out.substr(start, end - start), nullptr, false);
                start = end + 1;
                if (!line.is_object() || !line.contains("sha256"))
                {
                    continue;
                }
                auto const index = line["index"].get<std::uint64_t>();
                if (line["sha256"].get<std::string>() == expectedDigest(flow, index, line["size"].get<std::size_t>()))
                {
                    ++outcome.verified;
                }
                else
                {
                    ++outcome.corrupt;
                    if (outcome.firstProblem.empty())
                    {
                        outcome.firstProblem = fmt::format("grain {} differs from what the writer wrote", index);
                    }
                }
            }
            return outcome;
        }

        std::size_t importsOf(BridgeStatus const& status, std::string const& flowId)
        {
            return static_cast<std::size_t>(std::count_if(status.flows.begin(), status.flows.end(),
                [&](FlowReplicationStatus const& f) { return f.flowId == flowId && f.role == FlowRole::Import; }));
        }

        /// The grain after the mirror's head once the mirror has one: replication starts after Acquire
        /// returns (the mirror exists first), at the source's newest grain.
        mxlStatus readNext(mxlFlowReader reader, mxlGrainInfo& grain, std::uint8_t*& payload)
        {
            mxlFlowRuntimeInfo runtime{};
            for (auto const deadline = Clock::now() + 5s; Clock::now() < deadline; std::this_thread::sleep_for(10ms))
            {
                if (auto const status = mxlFlowReaderGetRuntimeInfo(reader, &runtime); status != MXL_STATUS_OK)
                {
                    return status;
                }
                if (runtime.lastWriteTime != 0)
                {
                    return mxlFlowReaderGetGrain(reader, runtime.headIndex + 1, 5'000'000'000ULL, &grain, &payload);
                }
            }
            return MXL_ERR_TIMEOUT;
        }

        bool mirrorExists(mxl::test::TestDomain const& domain, TestFlow const& flow)
        {
            return std::filesystem::exists(domain.path() / (flow.id + ".mxl-flow"));
        }
    }

    class TwoHostRemoteFlows : public TwoHostBridge
    {
    protected:
        void SetUp() override
        {
            TwoHostBridge::SetUp();
            ASSERT_EQ(std::string{controlPort}, "7400") << "uriOf() names the control port";
        }

        RunningBridge& startLeasingB()
        {
            auto& b = startB({}, key, {"--lease-linger", std::to_string(std::chrono::duration<double>(linger).count())});
            // The first status names the pid only; the bridge is set up (ring and all) once it names its address.
            EXPECT_TRUE(waitForStatus(domainB.path(), [&](BridgeStatus const& s) { return s.pid == static_cast<std::uint32_t>(b.pid()) && !s.listen.empty(); },
                10s))
                << "bridge B published no status";
            return b;
        }
    };

    TEST_F(TwoHostRemoteFlows, TwoReadersAskForTheSameUriAtOnceShareOneMirrorThatGoesAfterTheLinger)
    {
        auto const video = videoFlow();
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        startA();
        startLeasingB();
        MirrorVerifier mirror{domainB.str(), video};

        // Two Python processes on B, at once, each reading 2 s of 1080p60 through its own lease.
        auto first = pythonReader(hosts->namespaceB(), domainB.str(), uriOf(video), 120);
        auto second = pythonReader(hosts->namespaceB(), domainB.str(), uriOf(video), 120);
        auto const both = waitForStatus(domainB.path(),
            [](BridgeStatus const& s) { return std::count_if(s.leases.begin(), s.leases.end(), [](LeaseStatus const& l) { return l.granted; }) == 2; },
            15s);
        ASSERT_TRUE(both) << "the two leases were never held at once: " << describeStatus(domainB.path());
        EXPECT_EQ(importsOf(*both, video.id), 1U) << "one mirror however many leases";
        for (auto const& lease : both->leases)
        {
            EXPECT_EQ(lease.flowId, video.id);
            EXPECT_EQ(lease.peer, std::string{TwoHosts::addressA} + ":" + controlPort);
        }

        auto const one = first->wait(30s);
        auto const two = second->wait(30s);
        ASSERT_EQ(one.exitCode, 0) << one.err;
        ASSERT_EQ(two.exitCode, 0) << two.err;
        for (auto const* out : {&one.out, &two.out})
        {
            auto const outcome = check(video, *out);
            std::cout << "a Python reader verified " << outcome.verified << " grains byte exact, " << outcome.corrupt << " corrupt\n";
            EXPECT_EQ(outcome.corrupt, 0U) << outcome.firstProblem;
            // A reader that falls a ring behind (a busy two-core machine hashing 5.5 MB grains in
            // Python) skips ahead and says so; what it read must be exact, and most of it read.
            EXPECT_GE(outcome.verified, 60U) << *out;
        }

        // Both released: the mirror stays for the linger, then goes.
        auto const released = waitForStatus(domainB.path(), [](BridgeStatus const& s) { return s.leases.empty(); }, 5s);
        ASSERT_TRUE(released);
        auto const gone = waitForStatus(domainB.path(), [&](BridgeStatus const& s) { return importsOf(s, video.id) == 0; }, linger + 5s);
        ASSERT_TRUE(gone) << "the mirror outlived its linger";
        EXPECT_FALSE(mirrorExists(domainB, video)) << "the mirror's files are removed with it";
        mirror.stop();
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_GE(report.verified, 60U) << report;
        EXPECT_EQ(writer.problem(), "");
    }

    TEST_F(TwoHostRemoteFlows, AReaderKilledWithSigkillLosesItsLease)
    {
        auto const video = videoFlow(640, 360);
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        startA();
        startLeasingB();
        BackgroundTool reader{MXL_INFO_PATH, {"--domain", domainB.str(), "--open", uriOf(video), "--interval", "100"}};
        ASSERT_TRUE(reader.readLine(15s)) << "mxl-info --open printed nothing: " << reader.wait(1s).err;
        auto const held = waitForStatus(domainB.path(), [&](BridgeStatus const& s) {
            return s.leases.size() == 1 && s.leases[0].granted && s.leases[0].pid == static_cast<std::uint32_t>(reader.pid());
        }, 5s);
        ASSERT_TRUE(held) << describeStatus(domainB.path());
        EXPECT_TRUE(mirrorExists(domainB, video));

        reader.signal(SIGKILL);
        (void)reader.wait(5s);
        EXPECT_TRUE(waitForStatus(domainB.path(), [](BridgeStatus const& s) { return s.leases.empty(); }, 5s))
            << "the lease of a dead process was not ended: " << describeStatus(domainB.path());
        EXPECT_TRUE(waitForStatus(domainB.path(), [&](BridgeStatus const& s) { return importsOf(s, video.id) == 0; }, linger + 5s));
        EXPECT_FALSE(mirrorExists(domainB, video));
    }

    TEST_F(TwoHostRemoteFlows, BridgeRestartInvalidatesTheReaderAndAcquiringAgainWorksWithinTwoSeconds)
    {
        auto const video = videoFlow(640, 360);
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        startA();
        auto* b = &startLeasingB();

        auto* instance = mxlCreateInstance(domainB.str().c_str(), "");
        ASSERT_NE(instance, nullptr);
        auto const uri = uriOf(video);
        mxlRemoteFlow lease = nullptr;
        ASSERT_EQ(mxlAcquireRemoteFlow(instance, uri.c_str(), 10'000, &lease), MXL_STATUS_OK);
        mxlFlowReader reader = nullptr;
        ASSERT_EQ(mxlCreateFlowReader(instance, video.id.c_str(), "", &reader), MXL_STATUS_OK) << "the mirror exists once Acquire returns";
        mxlGrainInfo grain{};
        std::uint8_t* payload = nullptr;
        ASSERT_EQ(readNext(reader, grain, payload), MXL_STATUS_OK);

        ASSERT_EQ(b->stop(SIGTERM), 0);
        auto status = MXL_STATUS_OK;
        for (auto const deadline = Clock::now() + 5s; Clock::now() < deadline && status != MXL_ERR_FLOW_INVALID;)
        {
            status = mxlFlowReaderGetGrain(reader, currentIndex(video), 100'000'000ULL, &grain, &payload);
        }
        EXPECT_EQ(status, MXL_ERR_FLOW_INVALID) << "a reader of a mirror whose bridge stopped must learn it";
        EXPECT_EQ(mxlReleaseFlowReader(instance, reader), MXL_STATUS_OK);

        // While no bridge serves the domain, asking says so.
        mxlRemoteFlow none = nullptr;
        EXPECT_EQ(mxlAcquireRemoteFlow(instance, uri.c_str(), 500, &none), MXL_ERR_NO_FABRIC);

        auto const restarted = Clock::now();
        b = &startLeasingB();
        auto acquired = MXL_ERR_NO_FABRIC;
        mxlRemoteFlow again = nullptr;
        while (acquired != MXL_STATUS_OK && Clock::now() < restarted + 10s)
        {
            acquired = mxlAcquireRemoteFlow(instance, uri.c_str(), 2'000, &again);
            if (acquired != MXL_STATUS_OK)
            {
                std::this_thread::sleep_for(20ms);
            }
        }
        auto const took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted);
        ASSERT_EQ(acquired, MXL_STATUS_OK);
        std::cout << "acquired again " << took.count() << " ms after bridge B was restarted\n";
        EXPECT_LE(took, 2000ms) << "from starting bridge B again to holding the flow";
        ASSERT_EQ(mxlCreateFlowReader(instance, video.id.c_str(), "", &reader), MXL_STATUS_OK);
        EXPECT_EQ(readNext(reader, grain, payload), MXL_STATUS_OK);
        EXPECT_EQ(firstWrongByte(payload, grain.grainSize, video, grain.index), std::nullopt);
        EXPECT_EQ(mxlReleaseFlowReader(instance, reader), MXL_STATUS_OK);

        // The first lease died with the bridge that held it: the new bridge does not know it.
        EXPECT_EQ(mxlReleaseRemoteFlow(instance, lease), MXL_ERR_NOT_FOUND);
        EXPECT_EQ(mxlReleaseRemoteFlow(instance, again), MXL_STATUS_OK);
        EXPECT_EQ(mxlDestroyInstance(instance), MXL_STATUS_OK);
    }
}
