// SPDX-License-Identifier: Apache-2.0
// The order a sink applies commit records in, whatever order they land in: providers whose writes
// are not ordered (shm, EFA) land them in any order within the records a source keeps in flight.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "replication/CommitOrder.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        /// A record told apart by its index (sequence * 10, so that it is not the sequence itself).
        CommitRecord recordFor(std::uint32_t sequence)
        {
            return CommitRecord{1, std::uint64_t{sequence} * 10, sequence, 0, 1, CommitKind::Grain, 0};
        }

        /// Lands the records with these sequences in this order; returns the indices applied, in
        /// the order next() gave them, and counts the arrivals that had to wait.
        std::vector<std::uint64_t> land(CommitOrder& order, std::vector<std::uint32_t> const& sequences, std::size_t& early)
        {
            std::vector<std::uint64_t> applied;
            for (auto const sequence : sequences)
            {
                auto const arrival = order.arrive(sequence, recordFor(sequence));
                EXPECT_TRUE(arrival == CommitOrder::Arrival::Next || arrival == CommitOrder::Arrival::Early) << sequence;
                early += arrival == CommitOrder::Arrival::Early ? 1 : 0;
                while (auto const record = order.next())
                {
                    applied.push_back(record->index);
                }
            }
            return applied;
        }

        std::vector<std::uint64_t> indicesOf(std::uint32_t first, std::uint32_t count)
        {
            std::vector<std::uint64_t> indices;
            for (std::uint32_t i = 0; i < count; ++i)
            {
                indices.push_back(std::uint64_t{static_cast<std::uint32_t>(first + i)} * 10);
            }
            return indices;
        }
    }

    TEST(CommitOrder, RecordsLandingInOrderAreAppliedAtOnce)
    {
        CommitOrder order;
        for (std::uint32_t sequence = 0; sequence < 3 * commitReorderWindow; ++sequence)
        {
            ASSERT_EQ(order.arrive(sequence, recordFor(sequence)), CommitOrder::Arrival::Next);
            auto const record = order.next();
            ASSERT_TRUE(record);
            EXPECT_EQ(record->index, std::uint64_t{sequence} * 10);
            EXPECT_FALSE(order.next());
        }
        EXPECT_EQ(order.awaited(), 3 * commitReorderWindow);
    }

    TEST(CommitOrder, EveryOrderOfSixRecordsIsAppliedInTheOrderTheyWereMade)
    {
        std::vector<std::uint32_t> sequences(6);
        std::iota(sequences.begin(), sequences.end(), 0U);
        std::size_t orders = 0;
        do
        {
            CommitOrder order;
            std::size_t early = 0;
            auto const applied = land(order, sequences, early);
            ASSERT_EQ(applied, indicesOf(0, 6)) << "order #" << orders;
            // An arrival waits unless every record before it has landed.
            std::size_t expected = 0;
            for (std::size_t i = 0; i < sequences.size(); ++i)
            {
                auto const before = std::count_if(sequences.begin(), sequences.begin() + static_cast<std::ptrdiff_t>(i),
                    [&](std::uint32_t s) { return s < sequences[i]; });
                expected += static_cast<std::size_t>(before) == sequences[i] ? 0 : 1;
            }
            EXPECT_EQ(early, expected) << "order #" << orders;
            ++orders;
        } while (std::next_permutation(sequences.begin(), sequences.end()));
        EXPECT_EQ(orders, 720U);
    }

    TEST(CommitOrder, SequencesWrapAt32Bits)
    {
        auto const first = UINT32_MAX - 2;
        CommitOrder order{first};
        std::vector<std::uint32_t> sequences;
        for (std::uint32_t i = 0; i < 6; ++i)
        {
            sequences.push_back(first + i); // UINT32_MAX - 2 ... 2
        }
        std::reverse(sequences.begin(), sequences.end());
        std::size_t early = 0;
        EXPECT_EQ(land(order, sequences, early), indicesOf(first, 6));
        EXPECT_EQ(early, 5U);
        EXPECT_EQ(order.awaited(), 3U);
    }

    TEST(CommitOrder, ALostRecordIsPassedOverWhetherItIsAwaitedOrAhead)
    {
        CommitOrder order;
        EXPECT_EQ(order.arrive(2, recordFor(2)), CommitOrder::Arrival::Early);
        EXPECT_EQ(order.arrive(1, std::nullopt), CommitOrder::Arrival::Early);
        EXPECT_FALSE(order.next());
        EXPECT_EQ(order.arrive(0, std::nullopt), CommitOrder::Arrival::Next);
        auto const record = order.next();
        ASSERT_TRUE(record);
        EXPECT_EQ(record->index, 20U);
        EXPECT_FALSE(order.next());
        EXPECT_EQ(order.awaited(), 3U);
    }

    TEST(CommitOrder, ASequenceLandingTwiceIsRepeatedBeforeAndAfterItWasApplied)
    {
        CommitOrder order;
        EXPECT_EQ(order.arrive(1, recordFor(1)), CommitOrder::Arrival::Early);
        EXPECT_EQ(order.arrive(1, recordFor(1)), CommitOrder::Arrival::Repeated) << "waiting";
        EXPECT_EQ(order.arrive(0, recordFor(0)), CommitOrder::Arrival::Next);
        while (order.next())
        {
        }
        EXPECT_EQ(order.arrive(0, recordFor(0)), CommitOrder::Arrival::Repeated) << "applied";
        EXPECT_EQ(order.arrive(1, recordFor(1)), CommitOrder::Arrival::Repeated) << "applied";
        EXPECT_EQ(order.arrive(UINT32_MAX, recordFor(UINT32_MAX)), CommitOrder::Arrival::Repeated) << "before the first";
        EXPECT_EQ(order.awaited(), 2U) << "a repeated record moved the order";
    }

    TEST(CommitOrder, ARecordFurtherAheadThanTheWindowIsRefusedAndTheLastOneInsideIsKept)
    {
        CommitOrder order;
        EXPECT_EQ(order.arrive(commitReorderWindow, recordFor(commitReorderWindow)), CommitOrder::Arrival::TooFarAhead);
        EXPECT_EQ(order.arrive((1U << 31) - 1, recordFor(0)), CommitOrder::Arrival::TooFarAhead);
        EXPECT_EQ(order.arrive(commitReorderWindow - 1, recordFor(commitReorderWindow - 1)), CommitOrder::Arrival::Early);
        std::vector<std::uint32_t> rest(commitReorderWindow - 1);
        std::iota(rest.begin(), rest.end(), 0U);
        std::size_t early = 0;
        EXPECT_EQ(land(order, rest, early), indicesOf(0, commitReorderWindow));
        EXPECT_EQ(early, 0U);
    }

    TEST(CommitOrder, ResetForgetsWaitingRecordsAndAwaitsZero)
    {
        CommitOrder order;
        ASSERT_EQ(order.arrive(0, recordFor(0)), CommitOrder::Arrival::Next);
        ASSERT_TRUE(order.next());
        ASSERT_EQ(order.arrive(3, recordFor(3)), CommitOrder::Arrival::Early);
        order.reset();
        EXPECT_EQ(order.awaited(), 0U);
        EXPECT_EQ(order.arrive(0, recordFor(0)), CommitOrder::Arrival::Next);
        auto const first = order.next();
        ASSERT_TRUE(first);
        EXPECT_EQ(first->index, 0U);
        EXPECT_FALSE(order.next()) << "a record of the previous session was kept";
        EXPECT_EQ(order.arrive(3, recordFor(3)), CommitOrder::Arrival::Early) << "its slot was not freed";
    }
}
