// SPDX-License-Identifier: Apache-2.0
#pragma once

// The send/receive transfer (Transfer::SendReceive): where a provider offers no RMA with remote CQ
// data, the source sends each payload chunk as a message into one of the sink's registered bounce
// buffers, which the sink copies into the mirror on arrival, and each commit record as a message
// of its own. Every message starts with this fixed little-endian header:
//
//   offset size  field
//        0    4  magic "MXLB"
//        4    2  kind (BounceKind)
//        6    2  reserved, 0
//        8    4  sequence: 0 for the first message of a connection, then +1 per message
//       12    4  length: payload bytes after the header (Commit: 0)
//       16    8  epoch: the sink's session epoch (from the grant)
//       24    8  index: Data: grain index, or first sample of the batch; Commit: CommitRecord::index
//       32    8  offset: Data: byte offset inside the grain payload, or inside the channels file
//       40    4  grainFlags   Commit: as in CommitRecord
//       44    2  validSlices  Commit: as in CommitRecord
//       46    2  commitKind   Commit: CommitKind
//       48    4  count        Commit: as in CommitRecord
//       52   12  reserved, 0
//
// Messages on one connected endpoint arrive in the order sent, so a Commit is always processed
// after the Data it publishes; the sequence number makes a lost, duplicated or reordered message
// visible (the sink refuses it and every later message of that connection).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "protocol/CommitRecord.hpp"

namespace mxl::fabric
{
    static_assert(std::endian::native == std::endian::little, "the bounce header is sent as it is laid out in memory");

    enum class BounceKind : std::uint16_t
    {
        Data = 1,   ///< length payload bytes for index at offset follow the header.
        Commit = 2, ///< Header only: a commit record.
    };

    struct BounceHeader
    {
        std::uint32_t magic;
        BounceKind kind;
        std::uint16_t reserved0;
        std::uint32_t sequence;
        std::uint32_t length;
        std::uint64_t epoch;
        std::uint64_t index;
        std::uint64_t offset;
        std::uint32_t grainFlags;
        std::uint16_t validSlices;
        CommitKind commitKind;
        std::uint32_t count;
        std::uint8_t reserved1[12];
    };

    static_assert(sizeof(BounceHeader) == 64);
    static_assert(offsetof(BounceHeader, epoch) == 16 && offsetof(BounceHeader, offset) == 32 && offsetof(BounceHeader, count) == 48);

    inline constexpr std::uint32_t bounceMagic = 0x424C584DU; // "MXLB" little-endian

    /// Payload bytes per message the sink offers (RegionGrant::maxChunk) and the most it accepts.
    inline constexpr std::uint32_t bounceChunkSize = 256 * 1024;
    inline constexpr std::uint32_t maxBounceChunkSize = 64 * 1024 * 1024;
    /// Receives the sink keeps posted: enough for a whole 1080p v210 grain (5.5 MB) in flight.
    inline constexpr std::size_t bounceBufferCount = 32;

    inline BounceHeader dataHeader(std::uint32_t sequence, std::uint64_t epoch, std::uint64_t index, std::uint64_t offset,
        std::uint32_t length) noexcept
    {
        return BounceHeader{bounceMagic, BounceKind::Data, 0, sequence, length, epoch, index, offset, 0, 0, CommitKind{}, 0, {}};
    }

    inline BounceHeader commitHeader(CommitRecord const& record) noexcept
    {
        return BounceHeader{bounceMagic, BounceKind::Commit, 0, record.sequence, 0, record.epoch, record.index, 0, record.grainFlags,
            record.validSlices, record.kind, record.count, {}};
    }

    inline CommitRecord commitRecord(BounceHeader const& header) noexcept
    {
        return CommitRecord{header.epoch, header.index, header.sequence, header.grainFlags, header.validSlices, header.commitKind, header.count};
    }

    /// Copies the header out of a received message (the copy is what gets validated, never the
    /// buffer the peer wrote) and checks its frame: magic, a known kind, and a length that is
    /// exactly the bytes that follow (0 for a Commit). Ranges are for the receiver to check.
    inline std::optional<BounceHeader> readBounceHeader(std::span<std::byte const> message) noexcept
    {
        if (message.size() < sizeof(BounceHeader))
        {
            return std::nullopt;
        }
        BounceHeader header;
        std::memcpy(&header, message.data(), sizeof header);
        auto const known = header.kind == BounceKind::Data || (header.kind == BounceKind::Commit && header.length == 0);
        if (header.magic != bounceMagic || !known || header.length != message.size() - sizeof header)
        {
            return std::nullopt;
        }
        return header;
    }
}
