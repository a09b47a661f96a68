// SPDX-License-Identifier: Apache-2.0
// The bridge's lease bookkeeping (fabric/bridge/Leases.hpp): limits, one count per flow, the linger
// after the last lease, flows --import pins, and leases of processes that are gone.
#include <cstdint>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge/Leases.hpp"

namespace mxl::bridge
{
    namespace
    {
        using fabric::remote::ProcessIdentity;

        constexpr std::uint64_t second = 1'000'000'000ULL;

        ProcessIdentity self()
        {
            return fabric::remote::selfIdentity().value();
        }

        LeasedFlow flow(char last)
        {
            auto id = parseUuid(std::string{"5fbec3b1-1b0f-417d-9059-8b94a47197e"} + last).value();
            return LeasedFlow{"10.0.0.1:7400", id};
        }

        /// The identity of a process that ran and is gone.
        ProcessIdentity deadProcess()
        {
            int pipe[2];
            EXPECT_EQ(::pipe(pipe), 0);
            auto const child = ::fork();
            if (child == 0)
            {
                ::close(pipe[1]);
                char c;
                (void)!::read(pipe[0], &c, 1); // until the parent closes its end
                ::_exit(0);
            }
            auto const identity = fabric::remote::identityOf(child).value();
            ::close(pipe[0]);
            ::close(pipe[1]);
            int status = 0;
            ::waitpid(child, &status, 0);
            return identity;
        }
    }

    TEST(Leases, IdsCountOnFromTheFirstAndAreNeverZero)
    {
        Leases leases{{}, 41};
        auto const a = leases.open(self(), 1);
        auto const b = leases.open(self(), 2);
        ASSERT_TRUE(a && b);
        EXPECT_EQ(*a, 41U);
        EXPECT_EQ(*b, 42U);
        Leases fromZero{{}, 0};
        EXPECT_EQ(fromZero.open(self(), 1).value(), 1U);
    }

    TEST(Leases, PerClientAndTotalLimitsAreRefusedNamingTheLimit)
    {
        LeaseLimits limits;
        limits.maxLeasesPerClient = 2;
        limits.maxLeases = 3;
        Leases leases{limits, 1};
        ASSERT_TRUE(leases.open(self(), 0));
        ASSERT_TRUE(leases.open(self(), 0));
        auto const third = leases.open(self(), 0);
        ASSERT_FALSE(third);
        EXPECT_EQ(third.error().status, MXL_ERR_NOT_READY);
        EXPECT_NE(third.error().message.find("the most one process may"), std::string::npos) << third.error().message;

        ProcessIdentity const other{self().pid + 1, 12345};
        ASSERT_TRUE(leases.open(other, 0)) << "another client has its own allowance";
        auto const fourth = leases.open(ProcessIdentity{self().pid + 2, 1}, 0);
        ASSERT_FALSE(fourth);
        EXPECT_NE(fourth.error().message.find("the most it takes"), std::string::npos) << fourth.error().message;
    }

    TEST(Leases, AFlowLingersAfterItsLastLeaseAndNotBefore)
    {
        LeaseLimits limits;
        limits.lingerNs = 10 * second;
        Leases leases{limits, 1};
        auto const a = leases.open(self(), 0).value();
        auto const b = leases.open(self(), 0).value();
        leases.attach(a, flow('1'));
        leases.attach(b, flow('1'));
        EXPECT_EQ(leases.count(flow('1')), 2U) << "one flow, two leases";

        leases.close(a, 100 * second);
        EXPECT_TRUE(leases.lingering().empty()) << "one lease is left";
        leases.close(b, 100 * second);
        ASSERT_EQ(leases.lingering().size(), 1U);
        EXPECT_EQ(leases.lingering().at(flow('1')), 110 * second);
        EXPECT_TRUE(leases.expired(109 * second).empty());
        auto const gone = leases.expired(110 * second);
        ASSERT_EQ(gone.size(), 1U);
        EXPECT_EQ(gone[0], flow('1'));
        EXPECT_TRUE(leases.lingering().empty());
        EXPECT_TRUE(leases.expired(200 * second).empty()) << "expired once";
    }

    TEST(Leases, AskingAgainDuringTheLingerKeepsTheFlow)
    {
        Leases leases{{}, 1};
        auto const a = leases.open(self(), 0).value();
        leases.attach(a, flow('1'));
        leases.close(a, 0);
        ASSERT_EQ(leases.lingering().size(), 1U);
        auto const b = leases.open(self(), 0).value();
        leases.attach(b, flow('1'));
        EXPECT_TRUE(leases.lingering().empty());
        EXPECT_TRUE(leases.expired(1000 * second).empty());
    }

    TEST(Leases, PinnedFlowsNeverLinger)
    {
        Leases leases{{}, 1};
        leases.pin(flow('2'));
        auto const a = leases.open(self(), 0).value();
        leases.attach(a, flow('2'));
        leases.close(a, 0);
        EXPECT_TRUE(leases.lingering().empty());
        EXPECT_TRUE(leases.expired(1000 * second).empty());
        EXPECT_TRUE(leases.pinned(flow('2')));
        EXPECT_FALSE(leases.pinned(flow('3')));
    }

    TEST(Leases, ALeaseNotYetOnAFlowLeavesNothingToLinger)
    {
        Leases leases{{}, 1};
        auto const a = leases.open(self(), 0).value();
        EXPECT_FALSE(leases.find(a)->flow.has_value());
        leases.close(a, 0);
        EXPECT_EQ(leases.find(a), nullptr);
        EXPECT_TRUE(leases.lingering().empty());
    }

    TEST(Leases, LeasesOfProcessesThatAreGoneAreFoundAndOnlyThose)
    {
        Leases leases{{}, 1};
        auto const mine = leases.open(self(), 0).value();
        auto const dead = deadProcess();
        auto const theirs = leases.open(dead, 0).value();
        auto const theirsToo = leases.open(dead, 0).value();
        // A live pid with another start time: a reused pid or a forged identity.
        auto const forged = leases.open(ProcessIdentity{self().pid, self().startTime + 1}, 0).value();
        leases.grant(mine);
        EXPECT_TRUE(leases.find(mine)->granted);
        auto const found = leases.leasesOfDeadClients();
        EXPECT_EQ(found, (std::vector<std::uint64_t>{theirs, theirsToo, forged}));
    }
}
