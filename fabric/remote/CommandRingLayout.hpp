// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bytes of the command ring file (docs/remote-flows.md, "The command ring"): a header, a ring of
// request slots and a table of reply slots, all fixed-size, at offsets that depend only on the
// counts in the header. No pointers: every process maps the file at its own address.
//
// Byte order. The header's static fields and every request and reply body are read and written
// field by field as little-endian (fabric/protocol/Wire.hpp), whatever the host. The words that
// processes update concurrently (positions, slot sequences, reply states, futex words) are atomics
// in host order, as futexes need; they are little-endian too because only little-endian hosts are
// supported (asserted below), as for the commit records.
//
// Any change to an offset, a size or a meaning needs a new ringVersion.

#include <bit>
#include <cstddef>
#include <cstdint>

namespace mxl::fabric::remote::layout
{
    static_assert(std::endian::native == std::endian::little, "the command ring's shared words are host-order atomics: little-endian hosts only");

    inline constexpr char ringFileName[] = ".mxl-fabric-bridge.commands";
    inline constexpr std::uint64_t ringMagic = 0x4752'444d'434c'584dULL; // the bytes "MXLCMDRG" (little-endian)
    inline constexpr std::uint32_t ringVersion = 1;

    // ---- header: three cache lines ----------------------------------------------------------
    // Line 0 is written once by the creator (the bridge) before the file gets its name; line 1 is
    // the producers' (tail), line 2 the consumer's (head, wake-up word), so that they do not share
    // a cache line.
    inline constexpr std::size_t magicOffset = 0;          ///< u64 ringMagic
    inline constexpr std::size_t versionOffset = 8;        ///< u32 ringVersion
    inline constexpr std::size_t headerSizeOffset = 12;    ///< u32 headerSize
    inline constexpr std::size_t slotCountOffset = 16;     ///< u32, a power of two in [minSlots, maxSlots]
    inline constexpr std::size_t slotSizeOffset = 20;      ///< u32 slotSize
    inline constexpr std::size_t replyCountOffset = 24;    ///< u32 in [minReplies, maxReplies]
    inline constexpr std::size_t replySizeOffset = 28;     ///< u32 replySize
    inline constexpr std::size_t fileSizeOffset = 32;      ///< u64: the file's exact size
    inline constexpr std::size_t slotTimeoutOffset = 40;   ///< u64 ns a claimed slot may stay unpublished
    inline constexpr std::size_t ownerPidOffset = 48;      ///< u32 the consumer's pid
    inline constexpr std::size_t ownerStartOffset = 56;    ///< u64 the consumer's start time (/proc/<pid>/stat field 22)
    inline constexpr std::size_t tailOffset = 64;          ///< u64 atomic: the next position producers claim
    inline constexpr std::size_t headOffset = 128;         ///< u64 atomic: the next position the consumer takes
    inline constexpr std::size_t consumerWakeOffset = 136; ///< u32 futex word: bumped to wake the consumer
    inline constexpr std::size_t consumerWaitersOffset = 140; ///< u32: 1 when a consumer sleeps (or is about to); the waker clears it
    inline constexpr std::size_t headerSize = 192;

    // ---- request slots: slotCount x slotSize, from headerSize --------------------------------
    // Slot sequence (Vyukov): position p of the ring uses slot p % slotCount; its sequence is p
    // while the slot is free for p (or claimed for p and not yet published), p + 1 once the
    // request for p is published, and p + slotCount once the consumer took it (or skipped it).
    inline constexpr std::size_t slotSequenceOffset = 0; ///< u64 atomic
    inline constexpr std::size_t slotEntryOffset = 8;    ///< the request's bytes (Requests.hpp)
    inline constexpr std::size_t slotSize = 256;
    inline constexpr std::size_t entrySize = slotSize - slotEntryOffset;

    // ---- reply slots: replyCount x replySize, after the request slots -------------------------
    inline constexpr std::size_t replyStateOffset = 0;   ///< u32 atomic futex word: generation << 2 | ReplyState
    inline constexpr std::size_t replyWaitersOffset = 4; ///< u32: 1 while the owner sleeps on the state word
    inline constexpr std::size_t replyOwnerPidOffset = 8;    ///< u32 (0: not known yet)
    inline constexpr std::size_t replyOwnerStartOffset = 16; ///< u64
    inline constexpr std::size_t replyBodyOffset = 24;   ///< the reply's bytes (Requests.hpp)
    inline constexpr std::size_t replySize = 128;
    inline constexpr std::size_t replyBodySize = replySize - replyBodyOffset;

    /// The low two bits of a reply slot's state word; the other 30 are the slot's generation,
    /// bumped by every claim so that a late reply to an earlier owner is refused.
    enum class ReplyState : std::uint32_t
    {
        Free = 0,     ///< anybody may claim it
        Owned = 1,    ///< a client waits for the reply to its request
        Replying = 2, ///< the consumer is writing the reply
        Replied = 3,  ///< the reply is there for the client to read; the client frees the slot
    };
    inline constexpr std::uint32_t replyStateMask = 3;
    inline constexpr std::uint32_t generationShift = 2;

    inline constexpr std::uint32_t minSlots = 16;
    inline constexpr std::uint32_t maxSlots = 1U << 16;
    inline constexpr std::uint32_t minReplies = 1;
    inline constexpr std::uint32_t maxReplies = 1U << 14;

    constexpr std::size_t slotOffset(std::uint64_t index) noexcept
    {
        return headerSize + static_cast<std::size_t>(index) * slotSize;
    }

    constexpr std::size_t replyOffset(std::uint32_t slotCount, std::uint32_t index) noexcept
    {
        return headerSize + std::size_t{slotCount} * slotSize + std::size_t{index} * replySize;
    }

    constexpr std::size_t fileSize(std::uint32_t slotCount, std::uint32_t replyCount) noexcept
    {
        return replyOffset(slotCount, replyCount);
    }

    static_assert(headerSize % 64 == 0 && slotSize % 64 == 0 && replySize % 64 == 0, "cache-line multiples");
    static_assert(tailOffset % 64 == 0 && headOffset % 64 == 0 && headOffset - tailOffset >= 64, "producers and consumer on separate lines");
    static_assert(ownerStartOffset + 8 <= tailOffset && consumerWaitersOffset + 4 <= headerSize);
    static_assert(slotEntryOffset % 8 == 0 && replyBodyOffset % 8 == 0 && replyOwnerStartOffset % 8 == 0);
    static_assert(fileSize(maxSlots, maxReplies) < (std::size_t{1} << 32));
}
