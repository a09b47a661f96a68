// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the source tells the sink at each commit. The sender RDMA-writes a record into the sink's
// commit ring after the payload bytes it publishes, with the record's sequence number as the
// write's immediate data (32 bits: what verbs and EFA carry). The sink validates the record before
// it touches the mirror's headers: the peer never writes a grain header.

#include <cstdint>

namespace mxl::fabric
{
    enum class CommitKind : std::uint16_t
    {
        Grain = 1,   ///< index = grain index; validSlices and grainFlags apply.
        Samples = 2, ///< index = new head sample index; count = samples in this batch.
    };

    struct CommitRecord
    {
        std::uint64_t epoch;       ///< The sink's session epoch (from the grant).
        std::uint64_t index;
        std::uint32_t sequence;    ///< Equals the immediate data of the write that carried it.
        std::uint32_t grainFlags;  ///< MXL_GRAIN_FLAG_*.
        std::uint16_t validSlices;
        CommitKind kind;
        std::uint32_t count;
    };

    static_assert(sizeof(CommitRecord) == 32);

    /// Records in the sink's ring. Larger than any transmit queue we open, so a record slot is never
    /// rewritten while its previous write is still in flight on the sender.
    inline constexpr std::uint32_t commitRingEntries = 1024;
}
