// SPDX-License-Identifier: Apache-2.0
#pragma once

// mxl-bench fabric --stages: when each slice batch of the paced phase reached each stage on its way
// from the source's commit to the sink's reader, in a table that the benchmark's processes share
// (mapped before they fork; CLOCK_MONOTONIC is one clock for every process of a host), and what
// the table says once they are done.

#include <cstddef>
#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "replication/Stages.hpp"

namespace mxl::bench
{
    class StageTable
    {
    public:
        /// In the order a batch passes them; the replication's stages (fabric::Stage) in between.
        enum Column : std::size_t
        {
            Commit,      ///< The source's writer committed the batch.
            Noticed,
            Posted,
            PayloadCompleted,
            RecordLanded,
            ReaderWoke,  ///< The sink's reader returned with the batch readable.
            columnCount,
        };

        /// Room for `grains` grains of `batches` slice batches each, all zero. Mapped shared and
        /// anonymous: processes forked afterwards write into the same table.
        StageTable(std::uint64_t grains, std::uint32_t batches);
        ~StageTable();
        StageTable(StageTable const&) = delete;
        StageTable& operator=(StageTable const&) = delete;

        /// Records from now on grains [first, first + grains) of totalSlices slices each; stamps of
        /// other grains, and of slice counts that end no batch, are ignored.
        void arm(std::uint64_t first, std::uint16_t totalSlices) noexcept;

        /// Stamps batch `batch` of grain `index` (no allocation, no lock).
        void stamp(Column column, std::uint64_t index, std::uint32_t batch, std::uint64_t ns) noexcept;
        /// Stamps the batch that ends at validSlices.
        void stampSlices(Column column, std::uint64_t index, std::uint16_t validSlices, std::uint64_t ns) noexcept;

        /// An observer for a Sender or Receiver that stamps this table at each stage.
        [[nodiscard]] std::shared_ptr<fabric::StageObserver> observer();

        /// Per stage, the time since the stage before and since the commit (p50, p99, max in µs);
        /// which stage took longest in the batches of the latency's tail; and `machine` (the sleep
        /// overshoot of an idle probe beside the run, mxl-bench noise) to tell the two apart.
        [[nodiscard]] nlohmann::json report(nlohmann::json const& machine) const;

    private:
        struct Header;

        [[nodiscard]] std::uint64_t* row(std::uint64_t grain, std::uint32_t batch) const noexcept;

        std::uint64_t _grains;
        std::uint32_t _batches;
        std::size_t _bytes;
        void* _mapping;
        Header* _header;
    };

    /// The stage names used in the report, from Noticed on (the commit is where they count from).
    [[nodiscard]] char const* stageName(StageTable::Column column) noexcept;
}
