// SPDX-License-Identifier: Apache-2.0
// Sender: serving the transfers an application asks for (the fabrics C API's initiator) instead of
// following the flow. The same queues, credit and commit records as when following; what differs
// is which slices and samples are sent.
#include "replication/Sender.hpp"
#include "replication/SenderTuning.hpp"

#include <algorithm>
#include "replication/FabricHints.hpp"

namespace mxl::fabric
{
    using namespace sender;

    void Sender::serveRequests()
    {
        _started = _started || _source->discrete();
        if (!_source->discrete())
        {
            serveSampleRequests();
            return;
        }
        auto& requests = *_options.requests;
        while (auto request = requests.front())
        {
            bool blocked = false;
            serveGrainRequest(*request, blocked);
            if (blocked)
            {
                return;
            }
            requests.pop();
        }
    }

    void Sender::serveGrainRequest(TransferRequest const& request, bool& blocked)
    {
        auto const grainCount = _source->grainCount();
        auto const index = request.index;
        auto const slot = static_cast<std::uint32_t>(index % grainCount);
        auto const* header = _source->grainHeader(slot);
        auto const held = std::atomic_ref<std::uint64_t const>{header->index}.load(std::memory_order_acquire);
        if (held != index || index > maxReplicatedIndex)
        {
            // Not (or no longer) in the source's ring: overwritten before its turn came, or never
            // written. Nothing of it can be sent.
            _counters.skippedGrains.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        auto const valid = std::atomic_ref<std::uint16_t const>{header->validSlices}.load(std::memory_order_acquire);
        auto const flags = std::atomic_ref<std::uint32_t const>{header->flags}.load(std::memory_order_relaxed);
        if (usesCredits())
        {
            auto const verdict = credit(index);
            if (verdict == Credit::Wait)
            {
                blocked = true;
                return;
            }
            if (verdict == Credit::Skip)
            {
                _counters.skippedGrains.fetch_add(1, std::memory_order_relaxed);
                return;
            }
        }
        auto& state = _slots[slot];
        if (state.index != index)
        {
            state = SlotState{index, 0, false};
        }
        // Only what the writer committed: slices beyond its valid ones hold no grain yet. A range
        // that starts beyond what was sent of the grain is sent from there, so that the sink's
        // valid slices always describe bytes that arrived.
        auto const to = std::min({request.endSlice, valid, _layout->totalSlices()});
        auto const from = std::min({request.startSlice, to, state.sent});
        auto const validAfter = std::max(state.sent, to);
        if (!sendSlices(index, slot, from, to, flags, validAfter))
        {
            blocked = true;
            return;
        }
        state.sent = validAfter;
        state.done = state.sent == _layout->totalSlices() || (flags & MXL_GRAIN_FLAG_INVALID) != 0;
    }

    void Sender::serveSampleRequests()
    {
        auto& requests = *_options.requests;
        auto const head = _source->headIndex().load(std::memory_order_acquire);
        while (auto request = requests.front())
        {
            // A request names samples ending at index: everything up to there that was not sent yet
            // goes (scanSamples' batches), never samples the writer has not committed.
            auto const end = std::min(request->index, head == MXL_UNDEFINED_INDEX ? 0 : head);
            if (!_started && end > 0)
            {
                auto const first = end - std::min<std::uint64_t>({request->count, end, _source->bufferLength() / 2});
                _samplesSent = first;
                _samplesQueued = first;
                _started = true;
                _claimSamples = true;
                _credit.reset();
                _claimPending.reset();
            }
            _requestedSamples = std::max(_requestedSamples, end);
            requests.pop();
        }
        if (_started && _requestedSamples > _samplesSent)
        {
            scanSamples(_requestedSamples);
        }
    }
}
