// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the source tells the sink at each commit. The sender RDMA-writes a record into the sink's
// commit ring after the payload bytes it publishes, with the record's sequence number as the
// write's immediate data (32 bits: what verbs and EFA carry). The sink validates the record before
// it touches the mirror's headers: the peer never writes a grain header.
//
// Flow control runs the other way (discrete flows over RMA): the sink sends CreditRecord messages
// naming the newest grain whose slot it has claimed, and the source writes no grain beyond it. A
// source that wants to start, or to resume after skipping ahead, first writes a Claim record for the
// grain it wants and waits for the credit that answers it. So no byte ever lands in a slot that
// readers may still take for an older grain, however long the sink's thread is held up.

#include <bit>
#include <cstdint>

namespace mxl::fabric
{
    // Commit and credit records are written into the peer's memory as they are laid out in ours
    // (RMA, no codec on the hot path): both ends must be little-endian, as every host MXL runs on is.
    static_assert(std::endian::native == std::endian::little, "commit and credit records are exchanged in little-endian layout");

    enum class CommitKind : std::uint16_t
    {
        Grain = 1,   ///< index = grain index; validSlices and grainFlags apply.
        Samples = 2, ///< index = new head sample index; count = samples in this batch.
        Claim = 3,   ///< Discrete: index = the grain the source wants to write next; asks for credit.
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

    inline constexpr std::uint32_t creditMagic = 0x44435258U; // "XRCD" little-endian
    /// Reliable-datagram endpoints: the sink's answer to a source's Hello it admitted (nothing claimed
    /// yet), and its notice that the session is over (refused, renewed or stopped).
    inline constexpr std::uint32_t welcomeMagic = 0x4C435258U; // "XRCL" little-endian
    inline constexpr std::uint32_t closeMagic = 0x43435258U;   // "XRCC" little-endian

    /// Sink to source, as a message: every slot from the source's current window up to grain
    /// `claimedThrough` is claimed, so grains up to it may be written (and none a ring or more older).
    struct CreditRecord
    {
        std::uint32_t magic;
        std::uint32_t reserved;
        std::uint64_t epoch;          ///< The session epoch of the grant.
        std::uint64_t claimedThrough; ///< The newest grain index whose slot is claimed.
        std::uint64_t answers;        ///< The index of the last Claim record applied (UINT64_MAX: none).
    };

    static_assert(sizeof(CreditRecord) == 32);

    /// Records in the sink's ring. Larger than any transmit queue we open, so a record slot is never
    /// rewritten while its previous write is still in flight on the sender.
    inline constexpr std::uint32_t commitRingEntries = 1024;
}
