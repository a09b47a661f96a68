// SPDX-License-Identifier: Apache-2.0
#pragma once

// The command ring: a file in the domain (layout in CommandRingLayout.hpp) through which any process
// hands requests to the bridge and gets replies back, without sockets. Bounded, multi-producer,
// lock-free (Vyukov's sequence-numbered slots); a futex wakes the consumer only when it said it
// sleeps, and one per reply slot wakes the client that waits on it. docs/remote-flows.md describes
// the protocol, its guarantees and what a dead client leaves behind.
//
// This class is the ring at the level of slots and reply slots; CommandChannel.hpp puts requests
// through it (CommandClient) and takes them out validated (CommandServer).
//
// Thread safety: producer calls (tryClaim, publish, claimReply, waitReply, cancelReply) from any
// thread of any process; consumer calls (tryPop, pop) from any thread, though the bridge uses one;
// postReply and reclaimReplies from the consumer's threads.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "remote/CommandRingLayout.hpp"
#include "remote/ProcessIdentity.hpp"
#include "remote/Requests.hpp"

namespace mxl::fabric::remote
{
    struct RingOptions
    {
        std::uint32_t slotCount{256};   ///< requests in flight; a power of two
        std::uint32_t replyCount{256};  ///< clients waiting for a reply at once
        /// How long a claimed slot may stay unpublished before the consumer skips it: far longer
        /// than a live producer needs to fill 248 bytes, short enough that a dead one is not noticed.
        std::chrono::nanoseconds slotTimeout{std::chrono::milliseconds{500}};
    };

    /// One request's bytes as the consumer took them out of the ring.
    struct RingEntry
    {
        std::uint64_t position{0};
        std::array<std::byte, layout::entrySize> bytes{};
    };

    /// A slot claimed by a producer: fill bytes, then publish.
    struct RingClaim
    {
        std::uint64_t position{0};
        std::byte* bytes{nullptr};

        [[nodiscard]] EntryBytes entry() const noexcept
        {
            return EntryBytes{bytes, layout::entrySize};
        }
    };

    enum class PublishStatus
    {
        Published,
        Reclaimed, ///< the consumer gave up on the slot first (slotTimeout): the request was not sent
    };

    /// A reply slot claimed by a client, named in its request.
    struct ReplyTicket
    {
        std::uint32_t slot{noReply};
        std::uint32_t generation{0};
    };

    class CommandRing
    {
    public:
        /// Creates the ring file of domain (the consumer, i.e. the bridge: one per domain), mode
        /// 0660, under a temporary name and renamed into place, so that a client never opens a
        /// half-made ring. Replaces the ring of a previous bridge; removes the file when destroyed.
        static Expected<CommandRing> create(std::filesystem::path const& domain, RingOptions const& options = {});

        /// Opens the ring file of domain read-write (a client). Refuses, naming the fault, a file
        /// that is missing, not a regular file, of another magic, version or slot size, or whose
        /// size is not the one its header gives (checked before mapping: a short file is never mapped).
        static Expected<CommandRing> open(std::filesystem::path const& domain);

        CommandRing(CommandRing&&) noexcept;
        CommandRing& operator=(CommandRing&&) noexcept;
        ~CommandRing();

        // ---- producer ------------------------------------------------------------------------

        /// The next slot, or nothing when the ring is full. Never blocks.
        [[nodiscard]] std::optional<RingClaim> tryClaim() noexcept;

        /// Hands a claimed and filled slot to the consumer; wakes it if it sleeps.
        PublishStatus publish(RingClaim const& claim) noexcept;

        // ---- consumer ------------------------------------------------------------------------

        /// Copies out up to out.size() published requests, in ring order, and frees their slots.
        /// Skips a slot claimed but unpublished for slotTimeout (its producer died or stalled) and
        /// one whose sequence is none the protocol writes. Never blocks, never makes a system call
        /// unless a slot is stalled (it reads the clock).
        std::size_t tryPop(std::span<RingEntry> out) noexcept;

        /// tryPop, waiting up to timeout for the first request: it spins a little, then sleeps on
        /// the futex after telling producers it does. 0 when nothing came in time, or when woken
        /// early with nothing to take (wakeConsumer; a request behind a stalled slot).
        std::size_t pop(std::span<RingEntry> out, std::chrono::nanoseconds timeout) noexcept;

        /// Wakes a consumer sleeping in pop (to stop it).
        void wakeConsumer() noexcept;

        /// Slots the consumer skipped because their producer did not publish in time, or whose
        /// sequence was damaged.
        [[nodiscard]] std::uint64_t skippedSlots() const noexcept;

        /// For the creator: what makes the ring unusable, if anything: a header field another
        /// process changed (clients would refuse the file, or misread it), a tail more than a lap
        /// ahead of the head (no producer could claim again), or a file at the ring's path that
        /// is not this ring (removed or replaced: clients would not find it). The creator then
        /// makes a new ring; requests in flight in this one are lost (their clients time out).
        [[nodiscard]] std::optional<std::string> damage() const;

        // ---- replies -------------------------------------------------------------------------

        /// A free reply slot for a request of owner's, or nothing when all are taken.
        [[nodiscard]] std::optional<ReplyTicket> claimReply(ProcessIdentity const& owner) noexcept;

        /// Waits for the reply in ticket's slot and frees the slot. MXL_ERR_TIMEOUT when none came
        /// in time: the slot is freed then too, and a reply that comes later is refused to the
        /// consumer (postReply false).
        Expected<Reply> waitReply(ReplyTicket const& ticket, std::chrono::nanoseconds timeout);

        /// Frees a claimed reply slot whose request was never sent.
        void cancelReply(ReplyTicket const& ticket) noexcept;

        /// Writes reply into slot and wakes its owner. false when the slot is no longer waiting for
        /// this reply (the client gave up or died and the slot was freed or reused): the caller
        /// undoes what the request did (a bridge releases the lease it granted).
        bool postReply(std::uint32_t slot, std::uint32_t generation, Reply const& reply) noexcept;

        /// Frees reply slots left by dead clients and says whose they were: slots unchanged since
        /// the previous call whose owner no longer runs (or never named itself). For the
        /// consumer, every second or so; a slot is freed at the second call that sees it so.
        std::vector<ProcessIdentity> reclaimReplies();

        // ---- the file ------------------------------------------------------------------------

        [[nodiscard]] std::filesystem::path const& path() const noexcept;
        [[nodiscard]] std::uint32_t slotCount() const noexcept;
        [[nodiscard]] std::uint32_t replyCount() const noexcept;
        [[nodiscard]] std::chrono::nanoseconds slotTimeout() const noexcept;
        /// The consumer that made the ring: a client can check that it still runs.
        [[nodiscard]] ProcessIdentity owner() const noexcept;

        struct State;

    private:
        explicit CommandRing(std::unique_ptr<State> state) noexcept;

        std::unique_ptr<State> _state;
    };
}
