// SPDX-License-Identifier: Apache-2.0
// The command ring's reply slots: a client claims one per request and sleeps on its state word;
// the consumer writes the reply only into the slot and generation the request named.
#include "remote/CommandRing.hpp"

#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "remote/CommandRingState.hpp"
#include "sync/Futex.hpp"

namespace mxl::fabric::remote
{
    using namespace layout;

    namespace
    {
        constexpr std::uint32_t generationMask = (1U << (32 - generationShift)) - 1;

        constexpr std::uint32_t word(std::uint32_t generation, ReplyState state) noexcept
        {
            return (generation & generationMask) << generationShift | static_cast<std::uint32_t>(state);
        }

        constexpr ReplyState stateOf(std::uint32_t w) noexcept
        {
            return static_cast<ReplyState>(w & replyStateMask);
        }

        constexpr std::uint32_t generationOf(std::uint32_t w) noexcept
        {
            return w >> generationShift;
        }

        /// How long a client that timed out waits on for a reply the consumer is writing at that
        /// moment (a copy of 104 bytes): after that the consumer is taken to have died mid-write.
        constexpr auto replyingGrace = std::chrono::milliseconds{100};

        void clearOwner(CommandRing::State const& s, std::size_t at) noexcept
        {
            s.u32(at + replyOwnerPidOffset).store(0, std::memory_order_relaxed);
            s.u64(at + replyOwnerStartOffset).store(0, std::memory_order_relaxed);
        }
    }

    std::optional<ReplyTicket> CommandRing::claimReply(ProcessIdentity const& owner) noexcept
    {
        auto& s = *_state;
        // Clients start at different places (by pid), so that they rarely race for one slot.
        auto const start = s.nextReply.fetch_add(1, std::memory_order_relaxed) + owner.pid * 2654435761U;
        for (std::uint32_t k = 0; k < s.replyCount; ++k)
        {
            auto const index = (start + k) % s.replyCount;
            auto const at = s.reply(index);
            auto state = s.u32(at + replyStateOffset);
            auto w = state.load(std::memory_order_acquire);
            if (stateOf(w) != ReplyState::Free)
            {
                continue;
            }
            auto const generation = (generationOf(w) + 1) & generationMask;
            if (state.compare_exchange_strong(w, word(generation, ReplyState::Owned), std::memory_order_acq_rel))
            {
                s.u32(at + replyWaitersOffset).store(0, std::memory_order_relaxed);
                s.u32(at + replyOwnerPidOffset).store(owner.pid, std::memory_order_relaxed);
                s.u64(at + replyOwnerStartOffset).store(owner.startTime, std::memory_order_relaxed);
                return ReplyTicket{index, generation};
            }
        }
        return std::nullopt;
    }

    bool CommandRing::postReply(std::uint32_t slot, std::uint32_t generation, Reply const& reply) noexcept
    {
        auto& s = *_state;
        if (slot >= s.replyCount)
        {
            return false;
        }
        auto const at = s.reply(slot);
        auto state = s.u32(at + replyStateOffset);
        auto expected = word(generation, ReplyState::Owned);
        if (!state.compare_exchange_strong(expected, word(generation, ReplyState::Replying), std::memory_order_acquire))
        {
            return false; // the client gave up, died, or the slot was claimed again since
        }
        encodeReply(reply, ReplyBytes{reinterpret_cast<std::byte*>(s.map.data() + at + replyBodyOffset), replyBodySize});
        state.store(word(generation, ReplyState::Replied), std::memory_order_release);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (s.u32(at + replyWaitersOffset).load(std::memory_order_relaxed) != 0)
        {
            futexWakeAll(s.map.as<std::uint32_t>(at + replyStateOffset));
        }
        return true;
    }

    Expected<Reply> CommandRing::waitReply(ReplyTicket const& ticket, std::chrono::nanoseconds timeout)
    {
        auto& s = *_state;
        if (ticket.slot >= s.replyCount)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("reply slot {} is beyond the ring's {}", ticket.slot, s.replyCount));
        }
        auto const at = s.reply(ticket.slot);
        auto state = s.u32(at + replyStateOffset);
        auto waiters = s.u32(at + replyWaitersOffset);
        auto const start = monotonicNs();
        auto const deadline = start + static_cast<std::uint64_t>(std::max<std::int64_t>(timeout.count(), 0));
        auto const owned = word(ticket.generation, ReplyState::Owned);
        auto const replying = word(ticket.generation, ReplyState::Replying);
        auto const replied = word(ticket.generation, ReplyState::Replied);
        for (;;)
        {
            auto w = state.load(std::memory_order_acquire);
            if (w == replied)
            {
                std::array<std::byte, replyBodySize> body;
                std::memcpy(body.data(), s.map.data() + at + replyBodyOffset, body.size());
                clearOwner(s, at);
                state.store(word(ticket.generation, ReplyState::Free), std::memory_order_release);
                return decodeReply(body);
            }
            auto const now = monotonicNs();
            if (w == replying)
            {
                if (now >= deadline + static_cast<std::uint64_t>(std::chrono::nanoseconds{replyingGrace}.count()))
                {
                    return fail(MXL_ERR_TIMEOUT, fmt::format("{}: the bridge began a reply in slot {} and did not finish it", s.path.string(), ticket.slot));
                }
                std::this_thread::yield();
                continue;
            }
            if (w != owned)
            {
                return fail(MXL_ERR_INVALID_STATE, fmt::format("{}: reply slot {} was taken from this request (the bridge took its client for dead)",
                                                       s.path.string(), ticket.slot));
            }
            if (now >= deadline)
            {
                clearOwner(s, at);
                if (state.compare_exchange_strong(w, word(ticket.generation, ReplyState::Free), std::memory_order_acq_rel))
                {
                    return fail(MXL_ERR_TIMEOUT, fmt::format("{}: no reply within {} ms", s.path.string(), (now - start) / 1'000'000));
                }
                continue; // the reply came just now
            }
            waiters.store(1, std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_seq_cst);
            if (state.load(std::memory_order_acquire) == owned)
            {
                futexWait(s.map.as<std::uint32_t>(at + replyStateOffset), owned, deadline - now);
            }
            waiters.store(0, std::memory_order_relaxed);
        }
    }

    void CommandRing::cancelReply(ReplyTicket const& ticket) noexcept
    {
        auto& s = *_state;
        if (ticket.slot >= s.replyCount)
        {
            return;
        }
        auto const at = s.reply(ticket.slot);
        auto state = s.u32(at + replyStateOffset);
        auto expected = word(ticket.generation, ReplyState::Owned);
        clearOwner(s, at);
        state.compare_exchange_strong(expected, word(ticket.generation, ReplyState::Free), std::memory_order_acq_rel);
    }

    std::vector<ProcessIdentity> CommandRing::reclaimReplies()
    {
        auto& s = *_state;
        std::vector<ProcessIdentity> reclaimed;
        for (std::uint32_t i = 0; i < s.replyCount; ++i)
        {
            auto const at = s.reply(i);
            auto state = s.u32(at + replyStateOffset);
            auto w = state.load(std::memory_order_acquire);
            auto const previous = std::exchange(s.lastSweep[i], w);
            if (stateOf(w) == ReplyState::Free)
            {
                continue;
            }
            ProcessIdentity const owner{s.u32(at + replyOwnerPidOffset).load(std::memory_order_relaxed),
                s.u64(at + replyOwnerStartOffset).load(std::memory_order_relaxed)};
            // Only a word unchanged since the previous sweep: a slot claimed since then may not
            // name its new owner yet (the claim comes first), and its old owner's identity is
            // still there. Then: an owner that never named itself (died between claim and name),
            // a reply whose writer died, or an owner that no longer runs.
            bool abandoned = previous == w;
            if (abandoned && owner.pid != 0 && stateOf(w) != ReplyState::Replying)
            {
                auto const liveness = check(owner);
                abandoned = liveness == Liveness::Gone || liveness == Liveness::Mismatch;
            }
            if (abandoned && state.compare_exchange_strong(w, word(generationOf(w), ReplyState::Free), std::memory_order_acq_rel))
            {
                s.lastSweep[i] = word(generationOf(w), ReplyState::Free);
                reclaimed.push_back(owner);
            }
        }
        return reclaimed;
    }
}
