// SPDX-License-Identifier: Apache-2.0
// One source flow replicated to two sinks by two independent sessions: a sink host that dies
// breaks its own session only.
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "ReplicationHarness.hpp"
#include "ReplicationMedia.hpp"
#include "base/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace mxl::fabric::test
{
    TEST(FanOut, SurvivingSinkReceivesEveryLaterGrainWhenTheOtherSinkDies)
    {
        mxl::test::TestDomain a, b, c;
        auto const id = formatUuid(randomUuid().value());
        Source source{a, mxl::test::flowDef(id, "v210", 640, 360, 50, 1)};
        Replication toB{a.str(), b.str(), *parseUuid(id)};
        Replication toC{a.str(), c.str(), *parseUuid(id)};
        ASSERT_TRUE(toB.start()) << toB.error();
        ASSERT_TRUE(toC.start()) << toC.error();
        Sink sinkB{b, id};
        Sink sinkC{c, id};

        auto const first = source.currentIndex();
        auto next = first;
        for (; next < first + 10; ++next)
        {
            source.writeGrain(next);
            EXPECT_EQ(sinkB.verify(next), 0U) << "grain " << next;
            EXPECT_EQ(sinkC.verify(next), 0U) << "grain " << next;
        }

        toC.killReceiver();
        // The dead sink's sender notices while it moves grains and reads its queues: the flow goes
        // on until that sender gives up, and the other sink must not notice anything.
        std::optional<std::string> failure;
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
        while (!failure && std::chrono::steady_clock::now() < deadline)
        {
            source.writeGrain(next);
            EXPECT_EQ(sinkB.verify(next), 0U) << "grain " << next;
            ++next;
            failure = toC.waitForSenderFailure(20);
        }
        ASSERT_TRUE(failure) << "the sender to the killed sink kept going for " << next - first - 10 << " grains";
        EXPECT_FALSE(failure->empty());
        auto const afterFailure = next;
        for (; next < afterFailure + 20; ++next)
        {
            source.writeGrain(next);
            EXPECT_EQ(sinkB.verify(next), 0U) << "grain " << next;
        }

        toB.stop();
        toC.stop();
        auto const written = next - first;
        EXPECT_EQ(toB.senderCounters().grains, written);
        EXPECT_EQ(toB.receiverCounters().grains, written);
        EXPECT_EQ(toB.senderCounters().errors, 0U) << toB.senderCounters().lastError;
        EXPECT_EQ(toB.senderCounters().skippedGrains, 0U);
        EXPECT_EQ(toB.receiverCounters().errors, 0U) << toB.receiverCounters().lastError;

        auto const& dead = toC.senderCounters();
        // tcp reports the dead peer twice (a failed write, then the shutdown), in either order.
        EXPECT_GE(dead.errors, 1U);
        EXPECT_FALSE(dead.lastError.empty());
        EXPECT_LT(dead.grains, written) << "the sender to the killed sink stops at the failure";
        EXPECT_GE(dead.grains, 10U);
    }
}
