// SPDX-License-Identifier: Apache-2.0
// Remote flows on demand on one host, without root: two bridges on loopback, one domain each, and
// this process asking bridge B for A's flows through B's command ring (the C API, mxl-info --open,
// and hostile bytes written into the ring by hand). What the bridge answers, the limits it keeps,
// and that a flow --import names stays when its last lease ends.
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <mxl/mxl.h>
#include <mxl/remote.h>
#include "BridgeMedia.hpp"
#include "BridgeProcess.hpp"
#include "ToolProcess.hpp"
#include "base/Fd.hpp"
#include "remote/CommandChannel.hpp"
#include "remote/CommandRingLayout.hpp"
#include "support/TestDomain.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        using namespace std::chrono_literals;

        class LoopbackRemoteFlows : public ::testing::Test
        {
        protected:
            void SetUp() override
            {
                instance = mxlCreateInstance(domainB.str().c_str(), "");
                ASSERT_NE(instance, nullptr);
            }

            void TearDown() override
            {
                for (auto* lease : leases)
                {
                    (void)mxlReleaseRemoteFlow(instance, lease);
                }
                mxlDestroyInstance(instance);
                if (HasFailure())
                {
                    for (auto const& bridge : bridges)
                    {
                        std::cout << "---- " << bridge->logFile().filename().string() << "\n" << tail(bridge->log()) << "\n";
                    }
                }
            }

            /// A bridge on domain on a loopback port of its choice; returns once it is set up.
            RunningBridge& start(mxl::test::TestDomain const& domain, std::vector<std::string> const& extra = {}, std::string const& listen = "127.0.0.1:0")
            {
                std::vector<std::string> args{"--domain", domain.str(), "--listen", listen, "--psk-file", key.string(), "--provider", "tcp",
                    "--log-level", "debug"};
                args.insert(args.end(), extra.begin(), extra.end());
                auto const log = scratch.path() / ("bridge" + std::to_string(bridges.size()) + ".log");
                bridges.push_back(std::make_unique<RunningBridge>(log, args));
                auto& bridge = *bridges.back();
                auto const status = waitForStatus(domain.path(),
                    [&](BridgeStatus const& s) { return s.pid == static_cast<std::uint32_t>(bridge.pid()) && !s.listen.empty(); }, 10s);
                EXPECT_TRUE(status) << "the bridge on " << domain.str() << " did not come up";
                if (status && &domain == &domainA)
                {
                    addressA = status->listen;
                }
                return bridge;
            }

            std::string uriOf(TestFlow const& flow) const
            {
                return "mxl://" + addressA + "/" + flow.id;
            }

            mxlStatus acquire(std::string const& uri, std::uint32_t timeoutMs = 5000)
            {
                mxlRemoteFlow lease = nullptr;
                auto const status = mxlAcquireRemoteFlow(instance, uri.c_str(), timeoutMs, &lease);
                if (status == MXL_STATUS_OK)
                {
                    leases.push_back(lease);
                }
                return status;
            }

            BridgeStatus statusOfB()
            {
                return waitForStatus(domainB.path(), [](BridgeStatus const&) { return true; }, 1s).value_or(BridgeStatus{});
            }

            mxl::test::TestDomain scratch;
            mxl::test::TestDomain domainA;
            mxl::test::TestDomain domainB;
            std::filesystem::path key{writeKey(scratch.path() / "bridge.key")};
            std::vector<std::unique_ptr<RunningBridge>> bridges;
            std::string addressA;
            mxlInstance instance{nullptr};
            std::vector<mxlRemoteFlow> leases;
        };
    }

    TEST_F(LoopbackRemoteFlows, AFlowThePeerDoesNotHaveIsNotFoundAtOnceNamingThePeer)
    {
        start(domainA);
        auto& b = start(domainB);
        auto const absent = videoFlow(320, 180);
        auto const began = Clock::now();
        EXPECT_EQ(acquire(uriOf(absent), 10'000), MXL_ERR_NOT_FOUND);
        EXPECT_LT(Clock::now() - began, 5s) << "the peer's catalogue answers; no need to wait for the timeout";
        EXPECT_TRUE(b.waitForLog("does not export it", 2s)) << b.log();
        EXPECT_TRUE(waitForStatus(domainB.path(), [](BridgeStatus const& s) { return s.leases.empty(); }, 2s)) << "a refused lease is not held";
    }

    TEST_F(LoopbackRemoteFlows, AnUnreachablePeerIsATimeoutWithTheBridgesReason)
    {
        start(domainB);
        // The discard port: nothing listens on it here (connections are refused at once, again and again).
        auto const began = Clock::now();
        EXPECT_EQ(acquire("mxl://127.0.0.1:9/" + videoFlow().id, 600), MXL_ERR_TIMEOUT);
        auto const took = Clock::now() - began;
        EXPECT_GE(took, 550ms);
        EXPECT_LT(took, 3s) << "the bridge answers at the timeout";
        EXPECT_TRUE(bridges.back()->waitForLog("no session with the bridge at 127.0.0.1:9", 2s)) << bridges.back()->log();
    }

    TEST_F(LoopbackRemoteFlows, OneProcessCannotHoldMoreThanItsLimit)
    {
        auto const first = videoFlow(320, 180);
        auto const second = videoFlow(320, 180);
        LiveWriter one{domainA.str(), first};
        LiveWriter two{domainA.str(), second};
        start(domainA);
        start(domainB, {"--max-leases-per-client", "1"});
        ASSERT_EQ(acquire(uriOf(first)), MXL_STATUS_OK);
        EXPECT_EQ(acquire(uriOf(second)), MXL_ERR_NOT_READY);
        EXPECT_TRUE(bridges.back()->waitForLog("the most one process may", 2s));
        auto const status = waitForStatus(domainB.path(), [](BridgeStatus const& s) { return !s.leases.empty(); }, 2s).value_or(BridgeStatus{});
        ASSERT_EQ(status.leases.size(), 1U);
        EXPECT_EQ(status.leases[0].pid, static_cast<std::uint32_t>(::getpid()));
        EXPECT_EQ(status.leases[0].flowId, first.id);
    }

    TEST_F(LoopbackRemoteFlows, AFlowThatImportNamesStaysAfterItsLastLease)
    {
        auto const video = videoFlow(320, 180);
        LiveWriter writer{domainA.str(), video};
        start(domainA);
        start(domainB, {"--import", addressA + "/" + video.id, "--lease-linger", "0.2"});
        ASSERT_TRUE(waitForActive(domainB.path(), video.id, "import", 15s));
        ASSERT_EQ(acquire(uriOf(video)), MXL_STATUS_OK) << "a lease on a configured import is granted at once";
        ASSERT_EQ(mxlReleaseRemoteFlow(instance, leases.back()), MXL_STATUS_OK);
        leases.pop_back();
        std::this_thread::sleep_for(1s);
        auto const status = statusOfB();
        EXPECT_TRUE(status.leases.empty());
        auto const* flow = findFlow(status, video.id, "import");
        ASSERT_NE(flow, nullptr) << "the --import flow was dropped with its lease";
        EXPECT_EQ(flow->state, FlowState::Active);
    }

    TEST_F(LoopbackRemoteFlows, MxlInfoListsLeasesAndOpensAFlowByUri)
    {
        auto const video = videoFlow(320, 180);
        LiveWriter writer{domainA.str(), video};
        start(domainA);
        start(domainB);
        mxl::test::BackgroundTool open{MXL_INFO_PATH, {"--domain", domainB.str(), "--open", uriOf(video), "--interval", "100"}};
        std::optional<std::string> line;
        nlohmann::json mirror;
        // One JSON line per interval; the mirror's head shows once grains arrive.
        for (auto const deadline = Clock::now() + 15s; Clock::now() < deadline && (line = open.readLine(5s));)
        {
            auto const parsed = nlohmann::json::parse(*line, nullptr, false);
            ASSERT_TRUE(parsed.is_object()) << *line;
            EXPECT_EQ(parsed["flow"], video.id);
            if (parsed["mirror"].is_object() && parsed["mirror"]["head_index"].is_number())
            {
                mirror = parsed["mirror"];
                break;
            }
        }
        ASSERT_TRUE(mirror.is_object()) << "mxl-info --open showed no mirror with grains: " << open.wait(1s).err;

        auto const listed = mxl::test::runTool(MXL_INFO_PATH, {"--domain", domainB.str(), "--bridge"});
        EXPECT_NE(listed.out.find("leases (1)"), std::string::npos) << listed.out;
        EXPECT_NE(listed.out.find(std::to_string(open.pid()) + " "), std::string::npos) << listed.out;
        auto const json = nlohmann::json::parse(mxl::test::runTool(MXL_INFO_PATH, {"--domain", domainB.str(), "--bridge", "--json"}).out);
        ASSERT_EQ(json["bridge"]["leases"].size(), 1U) << json.dump(2);
        EXPECT_EQ(json["bridge"]["leases"][0]["pid"], open.pid());
        EXPECT_EQ(json["bridge"]["leases"][0]["flow"], video.id);
        EXPECT_EQ(json["bridge"]["leases"][0]["state"], "held");

        open.signal(SIGINT);
        auto const ended = open.wait(10s);
        EXPECT_EQ(ended.exitCode, 0) << ended.err;
        EXPECT_NE(ended.err.find("lease released"), std::string::npos) << ended.err;
        EXPECT_TRUE(waitForStatus(domainB.path(), [](BridgeStatus const& s) { return s.leases.empty(); }, 2s));
    }

    TEST_F(LoopbackRemoteFlows, MxlInfoOpenSaysWhatIsWrong)
    {
        auto const malformed = mxl::test::runTool(MXL_INFO_PATH, {"--domain", domainB.str(), "--open", "mxl://host/not-a-uuid"});
        EXPECT_EQ(malformed.exitCode, 2) << malformed.err;
        EXPECT_NE(malformed.err.find("not-a-uuid"), std::string::npos) << malformed.err;
        auto const noBridge = mxl::test::runTool(MXL_INFO_PATH, {"--domain", domainB.str(), "--open", "mxl://127.0.0.1/" + videoFlow().id});
        EXPECT_EQ(noBridge.exitCode, 1);
        EXPECT_NE(noBridge.err.find("MXL_ERR_NO_FABRIC"), std::string::npos) << noBridge.err;
        auto const stray = mxl::test::runTool(MXL_INFO_PATH, {"--domain", domainB.str(), "--timeout", "5"});
        EXPECT_EQ(stray.exitCode, 2) << "--timeout belongs to --open: " << stray.err;
    }

    TEST_F(LoopbackRemoteFlows, HostileRingEntriesAreRefusedAndOthersAreStillServed)
    {
        auto const video = videoFlow(320, 180);
        LiveWriter writer{domainA.str(), video};
        start(domainA);
        auto& b = start(domainB);
        auto ring = fabric::remote::CommandRing::open(domainB.path());
        ASSERT_TRUE(ring) << ring.error().message;
        // Garbage in a slot, published as a producer would.
        auto claim = ring->tryClaim();
        ASSERT_TRUE(claim);
        for (std::size_t i = 0; i < fabric::remote::layout::entrySize; ++i)
        {
            claim->bytes[i] = static_cast<std::byte>(i * 37 + 11);
        }
        ASSERT_EQ(ring->publish(*claim), fabric::remote::PublishStatus::Published);
        // A request in a forged name: a pid that runs, with another start time.
        auto self = fabric::remote::selfIdentity().value();
        fabric::remote::Request forged{{self.pid, self.startTime + 1}, 1, fabric::remote::noReply, 0,
            fabric::remote::AcquireRequest{"127.0.0.1", 7400, parseUuid(video.id).value(), 1000}};
        claim = ring->tryClaim();
        ASSERT_TRUE(claim);
        fabric::remote::encodeRequest(forged, claim->position, claim->entry());
        ASSERT_EQ(ring->publish(*claim), fabric::remote::PublishStatus::Published);
        // A flood from another process, far beyond one client's rate.
        auto const flooder = ::fork();
        ASSERT_GE(flooder, 0);
        if (flooder == 0)
        {
            auto client = fabric::remote::CommandClient::open(domainB.path());
            for (int i = 0; client && i < 500; ++i)
            {
                (void)client->send(fabric::remote::ReleaseRequest{123456789}, 100ms);
            }
            ::_exit(client ? 0 : 1);
        }
        int flooded = -1;
        ASSERT_EQ(::waitpid(flooder, &flooded, 0), flooder);
        ASSERT_TRUE(WIFEXITED(flooded) && WEXITSTATUS(flooded) == 0);

        EXPECT_TRUE(b.waitForLog("command ring: refused a request", 3s)) << b.log();
        EXPECT_TRUE(b.running());
        EXPECT_EQ(acquire(uriOf(video)), MXL_STATUS_OK) << "another client is served as before";
        EXPECT_TRUE(waitForStatus(domainB.path(), [](BridgeStatus const& s) { return s.leases.size() == 1; }, 2s))
            << "only the real client's lease is held";
    }

    TEST_F(LoopbackRemoteFlows, ARingDamagedByAnotherProcessIsReplacedAndClientsAreServedAgain)
    {
        auto const video = videoFlow(320, 180);
        LiveWriter writer{domainA.str(), video};
        start(domainA);
        auto& b = start(domainB);
        // A member of the domain's group writes the ring's tail far ahead: no producer could claim a
        // slot again in that file.
        auto const file = domainB.path() / fabric::remote::layout::ringFileName;
        {
            std::byte far[8];
            auto const value = std::uint64_t{1} << 40;
            std::memcpy(far, &value, sizeof far);
            Fd fd{::open(file.c_str(), O_WRONLY | O_CLOEXEC)};
            ASSERT_TRUE(fd.valid());
            ASSERT_EQ(::pwrite(fd.get(), far, sizeof far, static_cast<off_t>(fabric::remote::layout::tailOffset)), 8);
        }
        EXPECT_TRUE(b.waitForLog("a new ring replaces it", 5s)) << b.log();
        auto status = MXL_ERR_TIMEOUT;
        for (auto const deadline = Clock::now() + 10s; status != MXL_STATUS_OK && Clock::now() < deadline;)
        {
            status = acquire(uriOf(video), 2000);
        }
        EXPECT_EQ(status, MXL_STATUS_OK) << "clients are served through the new ring";
        EXPECT_TRUE(b.running());
    }

    TEST_F(LoopbackRemoteFlows, AUriNamingThisBridgeItselfIsRefusedAtOnceAndTheLocalFlowIsUntouched)
    {
        auto const video = videoFlow(320, 180);
        LiveWriter writer{domainA.str(), video};
        auto& a = start(domainA, {}, "0.0.0.0:0");
        auto* local = mxlCreateInstance(domainA.str().c_str(), "");
        ASSERT_NE(local, nullptr);
        // By the address it listens on, and by another one that reaches it (seen only once connected).
        auto const port = addressA.substr(addressA.rfind(':') + 1);
        for (auto const& uri : {"mxl://0.0.0.0:" + port + "/" + video.id, "mxl://127.0.0.1:" + port + "/" + video.id})
        {
            mxlRemoteFlow lease = nullptr;
            auto const began = Clock::now();
            EXPECT_EQ(mxlAcquireRemoteFlow(local, uri.c_str(), 10'000, &lease), MXL_ERR_INVALID_ARG) << uri;
            EXPECT_LT(Clock::now() - began, 8s) << uri << ": no need to wait for the 10 s timeout";
        }
        EXPECT_TRUE(a.waitForLog("the URI names this host's own bridge", 2s)) << a.log();
        EXPECT_EQ(mxlDestroyInstance(local), MXL_STATUS_OK);
        EXPECT_TRUE(waitForStatus(domainA.path(), [&](BridgeStatus const& s) { return findFlow(s, video.id, "import") == nullptr && s.peers.empty(); }, 8s))
            << "nothing of the refused leases stays (the linger is 10 s): " << describeStatus(domainA.path());
        std::this_thread::sleep_for(200ms);
        EXPECT_EQ(writer.problem(), "") << "the writer of the local flow went on undisturbed";
    }
}
