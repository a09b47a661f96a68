// SPDX-License-Identifier: Apache-2.0
#pragma once

// The order in which a sink applies a source's commit records. A provider whose RMA writes are not
// ordered (shm, EFA) may land record 8 before record 7; applied as they land, a grain's second slice
// batch would be published before its first (its slice count going backwards), and a grain before
// the Claim that asked for its slot. So records are applied in the order they were made, which is
// their sequence: one that lands early waits here, copied, until those before it have landed.
//
// A record whose ring slot was overwritten before the sink read it (the sink fell a whole ring
// behind) is lost, not forged: it is passed over, and the grain's next record carries its full slice
// count. Everything else out of order is the source breaking the protocol: a sequence seen twice, or
// one further ahead than any source keeps records in flight.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "protocol/CommitRecord.hpp"

namespace mxl::fabric
{
    /// How far ahead of the oldest record not yet landed a record may land. A source never has
    /// records in flight further apart (sender::unorderedRecordsInFlight is a quarter of it).
    inline constexpr std::uint32_t commitReorderWindow = 256;
    static_assert(commitReorderWindow <= commitRingEntries, "a record waiting in order would have lost its ring slot");

    class CommitOrder
    {
    public:
        /// first: the sequence of the record awaited first (tests start near the wrap).
        explicit CommitOrder(std::uint32_t first = 0) noexcept
            : _next{first}
        {}

        enum class Arrival
        {
            Next,        ///< It is the record awaited: next() returns it (and any that waited for it).
            Early,       ///< Records made before it have not landed yet: it waits for them.
            Repeated,    ///< Its sequence landed before (or was passed over already).
            TooFarAhead, ///< More than commitReorderWindow records ahead of the one awaited.
        };

        /// Takes the record that landed with immediate data `sequence`; nullopt when it was lost
        /// (its slot already held a record a whole ring newer).
        Arrival arrive(std::uint32_t sequence, std::optional<CommitRecord> const& record) noexcept
        {
            // Sequences wrap at 32 bits: "ahead" is modular.
            auto const ahead = static_cast<std::uint32_t>(sequence - _next);
            if (ahead >= (1U << 31))
            {
                return Arrival::Repeated;
            }
            if (ahead >= commitReorderWindow)
            {
                return Arrival::TooFarAhead;
            }
            auto& slot = _slots[sequence % commitReorderWindow];
            if (slot.state != State::Empty)
            {
                return Arrival::Repeated;
            }
            slot.state = record ? State::Landed : State::Lost;
            if (record)
            {
                slot.record = *record;
            }
            return ahead == 0 ? Arrival::Next : Arrival::Early;
        }

        /// The next record to apply, in the order they were made, once it has landed; records that
        /// were lost are passed over.
        std::optional<CommitRecord> next() noexcept
        {
            for (;;)
            {
                auto& slot = _slots[_next % commitReorderWindow];
                if (slot.state == State::Empty)
                {
                    return std::nullopt;
                }
                auto const state = slot.state;
                slot.state = State::Empty;
                ++_next;
                if (state == State::Landed)
                {
                    return slot.record;
                }
            }
        }

        /// A new session: its source numbers records from 0.
        void reset() noexcept
        {
            _slots.fill(Slot{});
            _next = 0;
        }

        /// The sequence of the record awaited next.
        [[nodiscard]] std::uint32_t awaited() const noexcept { return _next; }

    private:
        enum class State : std::uint8_t
        {
            Empty,
            Landed,
            Lost,
        };

        struct Slot
        {
            State state{State::Empty};
            CommitRecord record{};
        };

        std::array<Slot, commitReorderWindow> _slots{};
        std::uint32_t _next{0};
    };
}
