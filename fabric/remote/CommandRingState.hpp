// SPDX-License-Identifier: Apache-2.0
#pragma once

// What CommandRing's three source files share (the file: CommandRing.cpp; request slots:
// RingSlots.cpp; reply slots: ReplySlots.cpp): the mapping and the typed views of its shared words.
// Not part of the API.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <vector>

#include <sys/stat.h>

#include "base/Fd.hpp"
#include "common/Mapping.hpp"
#include "remote/CommandRing.hpp"
#include "remote/CommandRingLayout.hpp"

namespace mxl::fabric::remote
{
    static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free && std::atomic_ref<std::uint32_t>::is_always_lock_free);

    struct CommandRing::State
    {
        std::filesystem::path path;
        Fd fd;
        Mapping map;
        bool creator{false};
        struct stat identity{};
        std::uint32_t slotCount{0};
        std::uint64_t mask{0};
        std::uint32_t replyCount{0};
        std::uint64_t slotTimeoutNs{0};
        ProcessIdentity owner;
        /// The creator's copy of the header's fixed fields, to notice them overwritten (damage()).
        std::array<std::byte, layout::ownerStartOffset + 8> header{};

        // The consumer's own memory: the slot it waits on, since when, and what it skipped.
        std::uint64_t stalledPosition{~0ULL};
        std::uint64_t stalledSequence{0};
        std::uint64_t stalledSinceNs{0};
        std::atomic<std::uint64_t> skipped{0};
        /// Guards the stalled-slot fields: several consumer threads may meet the same stalled slot.
        std::mutex stalling;
        /// reclaimReplies: each slot's state word at the previous sweep.
        std::vector<std::uint32_t> lastSweep;
        /// claimReply: where a client starts looking for a free slot.
        std::atomic<std::uint32_t> nextReply{0};

        [[nodiscard]] std::atomic_ref<std::uint64_t> u64(std::size_t offset) const noexcept
        {
            return std::atomic_ref<std::uint64_t>{*map.as<std::uint64_t>(offset)};
        }

        [[nodiscard]] std::atomic_ref<std::uint32_t> u32(std::size_t offset) const noexcept
        {
            return std::atomic_ref<std::uint32_t>{*map.as<std::uint32_t>(offset)};
        }

        [[nodiscard]] std::size_t slot(std::uint64_t position) const noexcept
        {
            return layout::slotOffset(position & mask);
        }

        [[nodiscard]] std::size_t reply(std::uint32_t index) const noexcept
        {
            return layout::replyOffset(slotCount, index);
        }
    };

    inline std::uint64_t monotonicNs() noexcept
    {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
    }
}
