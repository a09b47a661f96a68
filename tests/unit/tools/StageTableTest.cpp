// SPDX-License-Identifier: Apache-2.0
// mxl-bench fabric --stages' table: which batch a stage's stamp belongs to, how a commit that
// travelled with the next one is counted, and what the tail is put down to.
#include <array>
#include <cstdint>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mxl-bench/FabricStages.hpp"

namespace
{
    using mxl::bench::StageTable;

    constexpr std::uint64_t first = 1000;

    /// Every stage of batch `batch` of grain `index`, stepping by `steps` (ns) from `commit`.
    void stampBatch(StageTable& table, std::uint64_t index, std::uint32_t batch, std::uint16_t validSlices, std::uint64_t commit,
        std::array<std::uint64_t, 5> const& steps)
    {
        table.stamp(StageTable::Commit, index, batch, commit);
        auto t = commit;
        for (std::size_t c = StageTable::Noticed; c <= StageTable::RecordLanded; ++c)
        {
            t += steps[c - 1];
            table.stampSlices(static_cast<StageTable::Column>(c), index, validSlices, t);
        }
        table.stamp(StageTable::ReaderWoke, index, batch, t + steps[4]);
    }

    nlohmann::json machine(double maxUs)
    {
        return {{"wake_late_us", {{"p50", 50.0}, {"p99", maxUs / 2}, {"max", maxUs}, {"count", 1000}}}, {"cpu_busy", 0.1}, {"cpu_steal", 0.0}};
    }
}

TEST(StageTable, ACommitSentWithTheNextOneTakesItsStages)
{
    StageTable table{1, 4};
    table.arm(first, 8); // batches end at 2, 4, 6, 8 slices
    table.stamp(StageTable::Commit, first, 0, 1'000);
    // The Sender found batches 0 and 1 together (slices up to 4) and told the stages once.
    stampBatch(table, first, 1, 4, 2'000, {10'000, 20'000, 30'000, 40'000, 50'000});
    table.stamp(StageTable::ReaderWoke, first, 0, 152'000);
    stampBatch(table, first, 2, 6, 3'000, {10'000, 20'000, 30'000, 40'000, 50'000});
    stampBatch(table, first, 3, 8, 4'000, {10'000, 20'000, 30'000, 40'000, 50'000});

    auto const r = table.report(nullptr);
    EXPECT_EQ(r.at("batches"), 4);
    EXPECT_EQ(r.at("incomplete_batches"), 0);
    EXPECT_EQ(r.at("out_of_order"), 0);
    // Batch 0 was noticed when batch 1 was: 11 us after its own commit, 10 us after batch 1's.
    auto const& noticed = r.at("sender_noticed").at("step_us");
    EXPECT_DOUBLE_EQ(noticed.at("max").get<double>(), 11.0);
    EXPECT_DOUBLE_EQ(noticed.at("p50").get<double>(), 10.0);
    EXPECT_DOUBLE_EQ(r.at("reader_woke").at("since_commit_us").at("max").get<double>(), 151.0);
}

TEST(StageTable, StampsOfOtherGrainsAndOfSliceCountsEndingNoBatchAreIgnored)
{
    StageTable table{2, 2};
    table.stampSlices(StageTable::Noticed, first, 8, 5'000); // before arm: nothing is recorded
    table.arm(first, 8);
    stampBatch(table, first - 1, 0, 4, 1'000, {1, 1, 1, 1, 1});
    stampBatch(table, first + 2, 0, 4, 1'000, {1, 1, 1, 1, 1});
    stampBatch(table, first, 0, 3, 1'000, {1, 1, 1, 1, 1}); // 3 slices end no batch: no replication stamps
    stampBatch(table, first + 1, 1, 8, 1'000, {1, 1, 1, 1, 1});

    auto const r = table.report(nullptr);
    EXPECT_EQ(r.at("batches"), 1) << r.dump();
    EXPECT_EQ(r.at("incomplete_batches"), 3) << r.dump();
}

TEST(StageTable, TheTailIsPutDownToTheStageFurthestBeyondItsMedianOrToTheMachine)
{
    StageTable table{100, 1};
    table.arm(first, 4);
    for (std::uint64_t g = 0; g < 100; ++g)
    {
        // Posting is always the slowest step; in three batches the record lands 5 ms late.
        auto const late = g % 40 == 7 ? 5'000'000ULL : 0;
        stampBatch(table, first + g, 0, 4, 1'000'000 * (g + 1), {10'000, 200'000, 5'000, 50'000 + late, 30'000});
    }
    auto const quiet = table.report(machine(300.0));
    auto const& tail = quiet.at("tail");
    EXPECT_EQ(tail.at("batches"), 3) << quiet.dump();
    EXPECT_EQ(tail.at("stage"), "record_landed");
    EXPECT_EQ(tail.at("stage_counts").at("record_landed"), 3);
    EXPECT_DOUBLE_EQ(tail.at("stage_excess_us").at("p50").get<double>(), 5000.0);
    EXPECT_EQ(quiet.at("attributed_to"), "record_landed") << "the probe never woke more than 0.3 ms late";

    auto const noisy = table.report(machine(8000.0));
    EXPECT_EQ(noisy.at("attributed_to"), "machine") << "the probe itself was stalled for 8 ms";
    EXPECT_TRUE(noisy.at("tail").at("within_machine_noise").get<bool>());
}

TEST(StageTable, TheObserverStampsTheReplicationsStages)
{
    StageTable table{1, 1};
    table.arm(first, 4);
    auto const observer = table.observer();
    table.stamp(StageTable::Commit, first, 0, 1);
    for (auto const stage : {mxl::fabric::Stage::Noticed, mxl::fabric::Stage::Posted, mxl::fabric::Stage::PayloadCompleted, mxl::fabric::Stage::RecordLanded})
    {
        observer->reached(stage, first, 4);
    }
    table.stamp(StageTable::ReaderWoke, first, 0, UINT64_MAX / 2);
    auto const r = table.report(nullptr);
    EXPECT_EQ(r.at("batches"), 1) << r.dump();
    EXPECT_EQ(r.at("out_of_order"), 0);
}
