// SPDX-License-Identifier: Apache-2.0
// The replication scenarios over connection-less, reliable-datagram (FI_EP_RDM) endpoints: efa's
// shape, stood in for here by tcp;ofi_rxm, udp;ofi_rxd and shm (whose RMA writes report no
// write-after-write order, so commit records wait for delivery). Same Sender, Receiver, messages,
// epochs and credit as over tcp's connected endpoints (ReplicationTest.cpp).
#include <cctype>
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "ReplicationScenarios.hpp"
#include "ofi/Info.hpp"
#include "replication/FabricHints.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        ReplicationOptions over(std::string const& provider)
        {
            ReplicationOptions options;
            options.provider = provider;
            return options;
        }

        class RdmReplication : public ::testing::TestWithParam<std::string>
        {
        protected:
            void SetUp() override
            {
                auto const type = replicationEndpointType(GetParam());
                if (!type)
                {
                    GTEST_SKIP() << "libfabric offers no " << GetParam() << " here: " << type.error().message;
                }
                ASSERT_EQ(*type, FI_EP_RDM) << GetParam() << " should be taken as a reliable-datagram provider";
            }
        };

        std::string testName(::testing::TestParamInfo<std::string> const& info)
        {
            auto name = info.param;
            for (auto& c : name)
            {
                c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
            }
            return name;
        }
    }

    TEST_P(RdmReplication, V210GrainsArriveByteExactWithTheSameIndices)
    {
        replicateAndVerify(over(GetParam()), "v210", 1920, 1080, 20);
    }

    TEST_P(RdmReplication, PartialV210aSlicesArriveProgressivelyInBothPlanes)
    {
        partialSlicesArriveProgressively(over(GetParam()), "v210a", 1280, 720, 8);
    }

    TEST_P(RdmReplication, AncillaryDataGrainsArriveByteExact)
    {
        replicateAndVerify(over(GetParam()), "smpte291", 0, 0, 50);
    }

    TEST_P(RdmReplication, ThousandSmallGrainsArriveWithoutOneCorruptGrain)
    {
        thousandSmallGrainsArriveIntact(over(GetParam()));
    }

    TEST_P(RdmReplication, AudioBatchesCrossingTheRingEdgeArriveExactInEveryChannel)
    {
        audioBatchesCrossTheRingEdgeExact(over(GetParam()));
    }

    TEST_P(RdmReplication, AWriterThatRewindsIsFollowedAndItsNewGrainsArriveByteExact)
    {
        writerRewindIsFollowed(over(GetParam()));
    }

    TEST_P(RdmReplication, StalledSinkNeverHandsAudioReadersThePreviousLap)
    {
        stalledSinkNeverHandsAudioReadersThePreviousLap(over(GetParam()));
    }

    TEST_P(RdmReplication, AStoppedSinkEndsItsSourcesSessionWithANotice)
    {
        // No connection breaks when a datagram sink goes: it says so, and the source stops.
        ReplicatedFlow flow{over(GetParam()), [](std::string const& id) { return mxl::test::flowDef(id, "v210", 320, 180, 50, 1); }};
        ASSERT_TRUE(flow.start()) << flow.replication.error();
        auto const first = flow.source.currentIndex();
        for (auto i = first; i < first + 3; ++i)
        {
            flow.source.writeGrain(i);
            ASSERT_EQ(flow.sink->verify(i), 0U);
        }
        flow.replication.stopReceiver();
        auto const failure = flow.replication.waitForSenderFailure(5000);
        ASSERT_TRUE(failure) << "the source went on as if the sink were there";
        EXPECT_NE(failure->find("the sink closed the session"), std::string::npos) << *failure;
        flow.replication.stop();
        EXPECT_EQ(flow.replication.receiverCounters().grains, 3U);
    }

    TEST_P(RdmReplication, FanOutSurvivesOneSinkDyingWithoutAWord)
    {
        if (GetParam() == "shm")
        {
            GTEST_SKIP() << "two shm receivers forked from this test process after libfabric's initialisation get the same endpoint "
                            "name (fi_enable: EBUSY); bridges, separate processes, do not";
        }
        // A sink host that dies sends no notice: its source gives up when its claim goes unanswered
        // (claimAnswerTimeout), and the other sink notices nothing.
        mxl::test::TestDomain a, b, c;
        auto const id = formatUuid(randomUuid().value());
        Source source{a, mxl::test::flowDef(id, "v210", 640, 360, 50, 1)};
        Replication toB{a.str(), b.str(), *parseUuid(id), over(GetParam())};
        Replication toC{a.str(), c.str(), *parseUuid(id), over(GetParam())};
        ASSERT_TRUE(toB.start()) << toB.error();
        ASSERT_TRUE(toC.start()) << toC.error();
        Sink sinkB{b, id};
        auto next = source.currentIndex();
        for (auto const first = next; next < first + 5; ++next)
        {
            source.writeGrain(next);
            EXPECT_EQ(sinkB.verify(next), 0U) << "grain " << next;
        }
        toC.killReceiver();
        std::optional<std::string> failure;
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{15};
        while (!failure && std::chrono::steady_clock::now() < deadline)
        {
            source.writeGrain(next);
            EXPECT_EQ(sinkB.verify(next), 0U) << "grain " << next;
            ++next;
            failure = toC.waitForSenderFailure(20);
        }
        ASSERT_TRUE(failure) << "the source to the dead sink never noticed";
        EXPECT_FALSE(failure->empty());
        toB.stop();
        toC.stop();
        EXPECT_EQ(toB.senderCounters().errors, 0U) << toB.senderCounters().lastError;
        EXPECT_EQ(toB.senderCounters().skippedGrains, 0U);
        EXPECT_EQ(toB.receiverCounters().errors, 0U) << toB.receiverCounters().lastError;
    }

    INSTANTIATE_TEST_SUITE_P(Providers, RdmReplication, ::testing::Values("tcp;ofi_rxm", "shm", "udp;ofi_rxd"), testName);

    TEST(RdmProviders, OrderIsTakenFromWhatTheProviderReportsNotItsName)
    {
        // shm reports FI_ORDER_SAS only for RMA: the unordered path (delivery completion, records
        // applied in the order they were made) is what runs there; tcp;ofi_rxm reports FI_ORDER_WAW.
        for (std::string const provider : {"shm", "tcp;ofi_rxm"})
        {
            auto info = ofi::Info::query(replicationHints(provider, FI_EP_RDM));
            if (!info)
            {
                continue;
            }
            auto delivered = ofi::Info::query(rdmHints(provider, false));
            EXPECT_TRUE(writesOrdered(*info) || (delivered && (delivered->transmitOpFlags() & FI_DELIVERY_COMPLETE) != 0))
                << provider << " neither orders writes nor completes them on delivery";
        }
    }

    TEST(ReplicationOnEfa, V210AndAudioArriveByteExactWhereAnEfaDeviceExists)
    {
        auto const type = replicationEndpointType("efa");
        if (!type)
        {
            GTEST_SKIP() << "no efa provider with a device on this machine (fi_info -p efa finds nothing): replication over EFA "
                            "is not exercised here; the same code runs over shm, tcp;ofi_rxm and udp;ofi_rxd";
        }
        replicateAndVerify(over("efa"), "v210", 1920, 1080, 20);
        audioBatchesCrossTheRingEdgeExact(over("efa"));
    }
}
