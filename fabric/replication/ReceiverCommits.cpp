// SPDX-License-Identifier: Apache-2.0
// Receiver: applying what a source committed to the mirror: grains, claims, samples, and the
// arrival times behind lag and latency.
#include "replication/Receiver.hpp"
#include "replication/ReceiverTuning.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <poll.h>
#include <sys/eventfd.h>
#include <fmt/format.h>
#include "common/Logging.hpp"
#include "flow/ContinuousFlowWriter.hpp"
#include "flow/DiscreteFlowWriter.hpp"
#include "ofi/Address.hpp"
#include "replication/FabricHints.hpp"
#include "time/Timing.hpp"

namespace mxl::fabric
{
    using namespace receiver;

    void Receiver::applyData(BounceHeader const& header, std::span<std::byte const> payload)
    {
        if (!inSession(header.epoch))
        {
            return;
        }
        auto& flow = _mirror->flow();
        if (_discrete != nullptr)
        {
            if (header.index == UINT64_MAX || header.offset > flow.grainSize() || payload.size() > flow.grainSize() - header.offset)
            {
                refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
                return;
            }
            // Readers of the grain the slot held before must stop taking it before its bytes change
            // (an older index too: the writer rewound, as commitArrived accepts).
            _discrete->claim(header.index);
            auto const slot = static_cast<std::uint32_t>(header.index % flow.grainCount());
            std::memcpy(flow.grainPayload(slot) + header.offset, payload.data(), payload.size());
            return;
        }
        auto const size = flow.channelsMapping().size();
        if (header.offset > size || payload.size() > size - header.offset)
        {
            refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
            return;
        }
        std::memcpy(flow.channels() + header.offset, payload.data(), payload.size());
    }

    void Receiver::claimAhead(std::uint64_t index) noexcept
    {
        // The source may be writing any grain of its window before this thread has applied the
        // commits before it (one more: a grain whose commit is in flight): readers must stop taking
        // those slots for the grains they held before the bytes land.
        auto const grains = _discrete->flow().grainCount();
        auto const window = claimWindowGrains(grains, _recordsTrail);
        for (std::uint32_t ahead = 1; ahead <= window; ++ahead)
        {
            _discrete->claim(index + ahead);
        }
        raiseCredit(index + window);
    }

    void Receiver::applyClaim(CommitRecord const& record)
    {
        if (_continuous != nullptr)
        {
            applySamplesClaim(record);
            return;
        }
        // The source starts, or resumes after skipping ahead (or after its writer rewound): it asks
        // for the window from record.index on. Slots already holding those grains stay as they are.
        auto const window = claimWindowGrains(_discrete->flow().grainCount(), _recordsTrail);
        for (std::uint32_t ahead = 0; ahead < window; ++ahead)
        {
            _discrete->claim(record.index + ahead);
        }
        _claimedThrough = record.index + window - 1;
        _answeredClaim = record.index;
        _claimed = true;
    }

    void Receiver::fillSilence(std::uint64_t from, std::uint64_t count) noexcept
    {
        auto& flow = _continuous->flow();
        auto const length = flow.bufferLength();
        auto const word = std::size_t{flow.sampleWordSize()};
        auto const stride = std::size_t{length} * word;
        count = std::min<std::uint64_t>(count, length);
        auto const start = from % length;
        auto const first = std::min<std::uint64_t>(count, length - start);
        for (std::uint32_t c = 0; c < flow.channelCount(); ++c)
        {
            auto* channel = flow.channels() + c * stride;
            std::memset(channel + start * word, 0, first * word);
            std::memset(channel, 0, (count - first) * word);
        }
    }

    void Receiver::applySamplesClaim(CommitRecord const& record)
    {
        auto& flow = _continuous->flow();
        auto const length = std::uint64_t{flow.bufferLength()};
        auto const half = length / 2;
        auto head = flow.headIndex().load(std::memory_order_acquire);
        if (record.index > head)
        {
            // The source resumes further on (it skipped what it no longer had, or it starts): the
            // samples in between are lost, and readers get silence for them rather than whatever the
            // ring held a lap ago. Each step fills half a ring that no reader may read at that moment
            // (beyond the head), then moves the head over it.
            if (std::atomic_ref<std::uint64_t const>{flow.info().runtime.lastWriteTime}.load(std::memory_order_acquire) != 0)
            {
                log().warn("flow {}: the source resumes at sample {}, {} samples after the mirror's head; readers get silence for those",
                    formatUuid(_definition.id), record.index, record.index - head);
            }
            std::uint64_t silenced = 0;
            while (head < record.index)
            {
                if (silenced >= length)
                {
                    head = record.index; // Every position holds silence now.
                }
                else
                {
                    auto const step = std::min(record.index - head, half);
                    fillSilence(head, step);
                    silenced += step;
                    head += step;
                }
                _continuous->commitArrived(head);
            }
        }
        _claimedThrough = head + half;
        _answeredClaim = record.index;
        _claimed = true;
    }

    void Receiver::noteArrival(std::uint64_t head, std::uint64_t newest) noexcept
    {
        _counters.headIndex.store(head, std::memory_order_relaxed);
        auto const nominal = indexToTimestamp(_definition.rate, newest);
        if (nominal != undefinedIndex)
        {
            _counters.latencyNs.store(static_cast<std::int64_t>(taiNow() - nominal), std::memory_order_relaxed);
        }
    }

    bool Receiver::admitCommit(CommitRecord const& record)
    {
        if (!inSession(record.epoch))
        {
            return false;
        }
        auto fits = false;
        switch (record.kind)
        {
        case CommitKind::Grain:
            fits = _discrete != nullptr && record.index <= maxReplicatedIndex && record.validSlices <= _totalSlices;
            break;
        case CommitKind::Claim:
            // Send/receive moves a discrete flow without credit: nothing to claim.
            fits = (_continuous != nullptr || usesCredits()) && record.index <= maxReplicatedIndex;
            break;
        case CommitKind::Samples:
            fits = _continuous != nullptr && record.count != 0 && record.count <= _continuous->maxWriteLength() && record.index >= record.count &&
                   record.index <= maxReplicatedIndex;
            break;
        }
        if (!fits)
        {
            refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
        }
        return fits;
    }

    void Receiver::applyCommit(CommitRecord const& record)
    {
        if (record.kind == CommitKind::Grain)
        {
            auto const* header = _discrete->flow().grainHeader(static_cast<std::uint32_t>(record.index % _discrete->flow().grainCount()));
            auto const before = header->index == record.index ? header->validSlices : std::uint16_t{0};
            if (_options.stages)
            {
                _options.stages->reached(Stage::RecordLanded, record.index, record.validSlices);
            }
            if (_discrete->commitArrived(record.index, record.validSlices, record.grainFlags & MXL_GRAIN_FLAG_INVALID) != MXL_STATUS_OK)
            {
                refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
                return;
            }
            _counters.commits.fetch_add(1, std::memory_order_relaxed);
            if (_options.arrivals)
            {
                _options.arrivals->pushGrain(record.index);
            }
            auto const added = static_cast<std::uint64_t>(record.validSlices - before);
            _counters.slices.fetch_add(added, std::memory_order_relaxed);
            _counters.bytes.fetch_add(added * (_discrete->flow().grainSize() / _totalSlices), std::memory_order_relaxed);
            if (record.validSlices == _totalSlices || (record.grainFlags & MXL_GRAIN_FLAG_INVALID) != 0)
            {
                _counters.grains.fetch_add(1, std::memory_order_relaxed);
                noteArrival(record.index, record.index);
                claimAhead(record.index);
            }
            return;
        }
        if (record.kind == CommitKind::Claim)
        {
            applyClaim(record);
            return;
        }
        auto& flow = _continuous->flow();
        auto const length = std::uint64_t{flow.bufferLength()};
        auto const head = flow.headIndex().load(std::memory_order_acquire);
        auto const first = record.index - record.count;
        if (first > head)
        {
            // The source skipped samples it no longer had (within its credit): silence for them,
            // never the previous lap; and never over the batch itself.
            auto const from = std::max(head, record.index > length ? record.index - length : 0);
            if (first > from)
            {
                fillSilence(from, first - from);
            }
        }
        _continuous->commitArrived(record.index);
        raiseCredit(record.index + length / 2);
        _counters.commits.fetch_add(1, std::memory_order_relaxed);
        if (_options.arrivals)
        {
            _options.arrivals->pushSamples(record.index, record.count, length / 2);
        }
        noteArrival(record.index, record.index - 1);
        _counters.slices.fetch_add(record.count, std::memory_order_relaxed);
        _counters.bytes.fetch_add(static_cast<std::uint64_t>(record.count) * _continuous->flow().sampleWordSize() * _continuous->flow().channelCount(),
            std::memory_order_relaxed);
    }
}
