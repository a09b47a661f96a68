// SPDX-License-Identifier: Apache-2.0
// Sender: finding new slices of discrete flows (grains) and queueing them.
#include "replication/Sender.hpp"
#include "replication/SenderTuning.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <poll.h>
#include <fmt/format.h>
#include "common/Logging.hpp"
#include "replication/FabricHints.hpp"
#include "sync/Futex.hpp"

namespace mxl::fabric
{
    using namespace sender;

    void Sender::scanGrains(std::uint64_t head)
    {
        auto const grainCount = _source->grainCount();
        // Stay within half the ring: older grains are about to be overwritten at the source, and
        // a sender that fell behind catches up by skipping rather than by falling further behind.
        std::uint64_t const window = std::max<std::uint32_t>(1, grainCount / 2);
        auto const low = head + 1 >= window ? head + 1 - window : 0;
        if (!_started || head + grainCount < _next)
        {
            // First look, or the writer rewound past the whole ring: follow from the head. A flow
            // first seen before its first commit is followed from the oldest grain instead: the
            // writer may have committed several before this thread first looked.
            _next = !_started && _fromCreation ? low : head;
            _started = true;
            // Whatever the sink claimed was for the indices before the rewind: ask again.
            _credit.reset();
            _claimPending.reset();
        }
        if (_next < low)
        {
            // Given up: grains of the last ring that the writer did produce but were not sent, and
            // every grain older than a ring (their slots were reused). Indices the writer never
            // produced are gaps, not losses.
            auto const ringStart = low > grainCount ? low - grainCount : 0;
            std::uint64_t lost = ringStart > _next ? ringStart - _next : 0;
            for (auto i = std::max(_next, ringStart); i < low; ++i)
            {
                auto const slot = static_cast<std::uint32_t>(i % grainCount);
                auto const held = std::atomic_ref<std::uint64_t const>{_source->grainHeader(slot)->index}.load(std::memory_order_acquire);
                lost += held >= i && !(_slots[slot].index == i && _slots[slot].done) ? 1 : 0;
            }
            _counters.skippedGrains.fetch_add(lost, std::memory_order_relaxed);
            _next = low;
        }
        auto const total = _source->totalSlices();
        for (auto i = _next; i <= head; ++i)
        {
            auto const slot = static_cast<std::uint32_t>(i % grainCount);
            auto& state = _slots[slot];
            if (state.index != i)
            {
                state = SlotState{i, 0, false};
            }
            if (state.done)
            {
                continue;
            }
            auto const* header = _source->grainHeader(slot);
            auto const held = std::atomic_ref<std::uint64_t const>{header->index}.load(std::memory_order_acquire);
            if (held != i)
            {
                if (held > i)
                {
                    _counters.skippedGrains.fetch_add(1, std::memory_order_relaxed);
                    state.done = true;
                    continue;
                }
                if (i < head)
                {
                    // The writer went past this index without opening it (a dropped frame): the sink
                    // sees the same gap, and later grains must not wait for it.
                    state.done = true;
                    continue;
                }
                break;
            }
            auto const valid = std::atomic_ref<std::uint16_t const>{header->validSlices}.load(std::memory_order_acquire);
            auto const flags = std::atomic_ref<std::uint32_t const>{header->flags}.load(std::memory_order_relaxed);
            auto const invalid = (flags & MXL_GRAIN_FLAG_INVALID) != 0;
            if (valid > state.sent || (invalid && valid == state.sent))
            {
                if (usesCredits())
                {
                    auto const verdict = credit(i);
                    if (verdict == Credit::Wait)
                    {
                        break;
                    }
                    if (verdict == Credit::Skip)
                    {
                        _counters.skippedGrains.fetch_add(1, std::memory_order_relaxed);
                        state.done = true;
                        continue;
                    }
                }
                auto const to = std::min(valid, total);
                if (!sendSlices(i, slot, state.sent, to, flags))
                {
                    break;
                }
                if (_options.stages)
                {
                    _options.stages->reached(Stage::Noticed, i, to);
                }
                state.sent = to;
            }
            state.done = state.sent == total || invalid;
        }
        while (_next <= head && _slots[_next % grainCount].index == _next && _slots[_next % grainCount].done)
        {
            ++_next;
        }
        _counters.lagGrains.store(head >= _next ? head - _next + 1 : 0, std::memory_order_relaxed);
    }

    bool Sender::sendSlices(std::uint64_t index, std::uint32_t slot, std::uint16_t from, std::uint16_t to, std::uint32_t flags,
        std::optional<std::uint16_t> validSlices)
    {
        auto const valid = validSlices.value_or(to);
        std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN> ranges;
        auto const count = _layout->ranges(from, to, ranges);
        std::size_t ops = 0;
        for (std::size_t p = 0; p < count; ++p)
        {
            ops += chunks(ranges[p].length);
        }
        if (!room(ops, _layout->bytes(from, to)))
        {
            _roomBlocked = true;
            return false;
        }
        auto const* base = _source->grainPayload(slot);
        for (std::size_t p = 0; p < count; ++p)
        {
            queueWrite(std::as_bytes(std::span{base + ranges[p].offset, ranges[p].length}), _sourceMrs[slot].desc(), index, ranges[p].offset, slot);
        }
        queueRecord(slot, 0,
            CommitRecord{_grant.epoch, index, 0, flags & MXL_GRAIN_FLAG_INVALID, valid, CommitKind::Grain, static_cast<std::uint32_t>(to - from)});
        _counters.slices.fetch_add(to - from, std::memory_order_relaxed);
        _counters.bytes.fetch_add(_layout->bytes(from, to), std::memory_order_relaxed);
        if ((to == _layout->totalSlices() && from < to) || (flags & MXL_GRAIN_FLAG_INVALID) != 0)
        {
            _counters.grains.fetch_add(1, std::memory_order_relaxed);
        }
        return true;
    }
}
