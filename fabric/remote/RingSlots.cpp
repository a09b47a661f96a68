// SPDX-License-Identifier: Apache-2.0
// The command ring's request slots: claim and publish (producers), take in batches and skip a
// stalled slot (the consumer), and the consumer's futex.
#include "remote/CommandRing.hpp"

#include <algorithm>
#include <cstring>

#include <sched.h>

#include "remote/CommandRingState.hpp"
#include "sync/Futex.hpp"

namespace mxl::fabric::remote
{
    using namespace layout;

    namespace
    {
        /// A producer that keeps meeting slots of another lap (damaged sequences, or a tail that
        /// moves on under it) reports the ring full rather than spinning on.
        constexpr int maxClaimAttempts = 1000;
        /// Empty polls of a waiting consumer before it sleeps on the futex (a few microseconds):
        /// requests that follow each other closely are taken without a system call on either side.
        /// No sched_yield among them: on a busy host that gives the CPU away for a time slice, and
        /// the next request waits for it (measured: a paced request's latency went from a few
        /// microseconds to hundreds).
        constexpr int spinPolls = 128;
        /// How long a waiting consumer yields to a producer that claimed a slot and has not
        /// published it yet, before it sleeps.
        constexpr std::uint64_t yieldBeforeSleepNs = 2'000'000;

        inline void relax() noexcept
        {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }

        /// Whether the slot at position, seen with sequence seq and not readable, has been so for
        /// the slot timeout. The first sighting starts the clock.
        bool stalledTooLong(CommandRing::State& s, std::uint64_t position, std::uint64_t seq) noexcept
        {
            std::unique_lock lock{s.stalling, std::try_to_lock};
            if (!lock.owns_lock())
            {
                return false;
            }
            auto const now = monotonicNs();
            if (s.stalledPosition != position || s.stalledSequence != seq)
            {
                s.stalledPosition = position;
                s.stalledSequence = seq;
                s.stalledSinceNs = now;
                return false;
            }
            return now - s.stalledSinceNs >= s.slotTimeoutNs;
        }
    }

    std::optional<RingClaim> CommandRing::tryClaim() noexcept
    {
        auto& s = *_state;
        auto tail = s.u64(tailOffset);
        auto position = tail.load(std::memory_order_relaxed);
        for (int attempt = 0; attempt < maxClaimAttempts; ++attempt)
        {
            auto const slot = s.slot(position);
            auto const seq = s.u64(slot + slotSequenceOffset).load(std::memory_order_acquire);
            auto const lead = static_cast<std::int64_t>(seq - position);
            if (lead == 0)
            {
                if (tail.compare_exchange_weak(position, position + 1, std::memory_order_relaxed))
                {
                    return RingClaim{position, reinterpret_cast<std::byte*>(s.map.data() + slot + slotEntryOffset)};
                }
            }
            else if (lead < 0)
            {
                return std::nullopt; // the slot still holds the request of the lap before: full
            }
            else
            {
                position = tail.load(std::memory_order_relaxed);
            }
        }
        return std::nullopt;
    }

    PublishStatus CommandRing::publish(RingClaim const& claim) noexcept
    {
        auto& s = *_state;
        // A compare-and-swap, not a store: the consumer may have skipped the slot (the same
        // exchange from `position` on its side), and exactly one of the two wins.
        auto expected = claim.position;
        if (!s.u64(s.slot(claim.position) + slotSequenceOffset).compare_exchange_strong(expected, claim.position + 1, std::memory_order_release,
                std::memory_order_relaxed))
        {
            return PublishStatus::Reclaimed;
        }
        // Pairs with the fence in pop: either the consumer sees this request before it sleeps, or
        // this producer sees that it sleeps.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        // The first producer to see the flag clears it and wakes: one system call per sleep, not
        // one per request published before the woken consumer gets to run.
        auto sleeping = s.u32(consumerWaitersOffset);
        if (sleeping.load(std::memory_order_relaxed) != 0 && sleeping.exchange(0, std::memory_order_relaxed) != 0)
        {
            wakeConsumer();
        }
        return PublishStatus::Published;
    }

    void CommandRing::wakeConsumer() noexcept
    {
        auto& s = *_state;
        s.u32(consumerWakeOffset).fetch_add(1, std::memory_order_release);
        futexWakeAll(s.map.as<std::uint32_t>(consumerWakeOffset));
    }

    std::size_t CommandRing::tryPop(std::span<RingEntry> out) noexcept
    {
        auto& s = *_state;
        auto head = s.u64(headOffset);
        auto const tail = s.u64(tailOffset);
        std::size_t taken = 0;
        while (taken < out.size())
        {
            auto position = head.load(std::memory_order_acquire);
            auto const slot = s.slot(position);
            auto sequence = s.u64(slot + slotSequenceOffset);
            auto seq = sequence.load(std::memory_order_acquire);
            if (seq == position + 1)
            {
                if (!head.compare_exchange_weak(position, position + 1, std::memory_order_acq_rel))
                {
                    continue; // another consumer took it
                }
                out[taken].position = position;
                std::memcpy(out[taken].bytes.data(), s.map.data() + slot + slotEntryOffset, entrySize);
                sequence.store(position + s.slotCount, std::memory_order_release);
                ++taken;
                continue;
            }
            if (auto t = tail.load(std::memory_order_acquire); t <= position)
            {
                // Nothing claimed at or after position: the slot must be free for it.
                if (seq == position)
                {
                    if (t < position)
                    {
                        tail.compare_exchange_strong(t, position, std::memory_order_acq_rel); // a tail damaged backwards
                    }
                    break; // empty
                }
                // A sequence no step of the protocol writes: a damaged slot, which no producer
                // can claim; or, with several consumers, one still copying the slot's previous
                // lap. After the slot timeout it can only be damage: make it free again.
                if (!stalledTooLong(s, position, seq))
                {
                    break;
                }
                if (sequence.compare_exchange_strong(seq, position, std::memory_order_acq_rel))
                {
                    s.skipped.fetch_add(1, std::memory_order_relaxed);
                }
                continue;
            }
            // Claimed and not yet published (or damaged while claimed). Wait for it up to the slot
            // timeout, then skip it: the exchange makes the slot free for the next lap, and fails
            // if its producer published first.
            if (!stalledTooLong(s, position, seq))
            {
                break;
            }
            if (sequence.compare_exchange_strong(seq, position + s.slotCount, std::memory_order_acq_rel))
            {
                head.compare_exchange_strong(position, position + 1, std::memory_order_acq_rel);
                s.skipped.fetch_add(1, std::memory_order_relaxed);
            }
        }
        return taken;
    }

    std::size_t CommandRing::pop(std::span<RingEntry> out, std::chrono::nanoseconds timeout) noexcept
    {
        auto& s = *_state;
        auto const deadline = monotonicNs() + static_cast<std::uint64_t>(std::max<std::int64_t>(timeout.count(), 0));
        auto const wake = s.u32(consumerWakeOffset);
        // Set by every consumer before it sleeps, cleared by the producer that wakes them all; a
        // consumer that wakes by its timeout leaves it (another one may sleep): a spare wake-up.
        auto const sleeping = s.u32(consumerWaitersOffset);
        std::uint64_t yieldingSince = 0;
        for (;;)
        {
            for (int poll = 0; poll < spinPolls; ++poll)
            {
                if (auto const n = tryPop(out); n > 0)
                {
                    return n;
                }
                relax();
            }
            auto const now = monotonicNs();
            if (now >= deadline)
            {
                return 0;
            }
            auto sleepNs = deadline - now;
            auto const head = s.u64(headOffset).load(std::memory_order_acquire);
            if (s.u64(tailOffset).load(std::memory_order_acquire) != head)
            {
                // A slot is claimed and not yet published: its producer is in the middle of a copy,
                // or was preempted in it. Give it the CPU for a while rather than sleep and have
                // every later publish wake us to find the same slot still in the way. After that it
                // may be dead: sleep, but not past the slot timeout, as nobody wakes us to skip it.
                if (yieldingSince == 0)
                {
                    yieldingSince = now;
                }
                if (now - yieldingSince < yieldBeforeSleepNs)
                {
                    ::sched_yield();
                    continue;
                }
                sleepNs = std::min(sleepNs, s.slotTimeoutNs / 4 + 1);
            }
            else
            {
                yieldingSince = 0;
            }
            sleeping.store(1, std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_seq_cst);
            auto const word = wake.load(std::memory_order_acquire);
            auto const seq = s.u64(s.slot(head) + slotSequenceOffset).load(std::memory_order_acquire);
            if (seq != head + 1 && s.u64(headOffset).load(std::memory_order_acquire) == head)
            {
                futexWait(s.map.as<std::uint32_t>(consumerWakeOffset), word, sleepNs);
            }
            if (wake.load(std::memory_order_acquire) != word)
            {
                // Woken: by a producer (there is a request), or by wakeConsumer (there may be none).
                return tryPop(out);
            }
        }
    }
}
