// SPDX-License-Identifier: Apache-2.0
// Sender: finding new samples of continuous flows (audio) and queueing them.
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

    void Sender::scanSamples(std::uint64_t head)
    {
        if (!_started || head < _samplesSent)
        {
            // First look, or a rewind: send everything a sink reader may ask for (half a ring behind
            // the head), so that no sample it is told is there was never sent.
            auto const readable = std::uint64_t{_source->bufferLength() / 2};
            _samplesSent = head >= readable ? head - readable : 0;
            _samplesQueued = _samplesSent;
            _started = true;
            _claimSamples = true;
            // Whatever the sink granted was for other indices: ask again from here.
            _credit.reset();
            _claimPending.reset();
        }
        if (head == _samplesSent)
        {
            return;
        }
        auto const length = _source->bufferLength();
        auto const word = _source->sampleWordSize();
        auto const channels = _source->channelCount();
        std::uint64_t const maxBatch = length / 2;
        if (head - _samplesSent > maxBatch)
        {
            _counters.skippedGrains.fetch_add(head - _samplesSent - maxBatch, std::memory_order_relaxed);
            _samplesSent = head - maxBatch;
            _claimSamples = true;
        }
        auto end = head;
        if (!usesCredits())
        {
            // Send/receive has no credit, but messages are applied in order: a Claim sent before the
            // batch makes the sink move its head here (through silence) before it copies the batch,
            // so that the copy never lands in positions its readers may read. Payloads are posted
            // ahead of records, so the batch is queued only once the Claim has been posted.
            if (_claimRecord && _recordHead <= *_claimRecord)
            {
                return;
            }
            _claimRecord.reset();
            if (_claimSamples)
            {
                if (recordRoom())
                {
                    _claimRecord = _recordTail;
                    queueRecord(0, _samplesSent, CommitRecord{_grant.epoch, _samplesSent, 0, 0, 0, CommitKind::Claim, 0});
                    _claimSamples = false;
                }
                return;
            }
        }
        if (usesCredits())
        {
            _waitingForCredit = false;
            // The sink's credit only grows to what it has applied plus half its ring: a source that
            // skipped beyond that (or has no credit yet) asks it to move its head to here first.
            if (!_claimPending && (!_credit || _samplesSent >= _samplesQueued + maxBatch) &&
                recordRoom())
            {
                queueRecord(0, _samplesSent, CommitRecord{_grant.epoch, _samplesSent, 0, 0, 0, CommitKind::Claim, 0});
                _claimPending = _samplesSent;
                _samplesQueued = _samplesSent; // The sink's head will be here.
            }
            if (_claimPending || !_credit || *_credit <= _samplesSent)
            {
                _waitingForCredit = true;
                return;
            }
            end = std::min(head, *_credit);
        }
        auto const count = end - _samplesSent;
        auto const start = _samplesSent % length;
        auto const first = std::min<std::uint64_t>(count, length - start);
        auto const rest = (count - first) * word;
        if (!room(channels * (chunks(first * word) + chunks(rest)), static_cast<std::size_t>(count) * word * channels))
        {
            _roomBlocked = true;
            return;
        }
        auto const stride = static_cast<std::size_t>(length) * word;
        auto* desc = _sourceMrs[0].desc();
        for (std::uint32_t c = 0; c < channels; ++c)
        {
            auto const channelBase = c * stride;
            auto const firstOffset = channelBase + start * word;
            queueWrite(std::as_bytes(std::span{_source->channels() + firstOffset, first * word}), desc, _samplesSent, firstOffset, 0);
            if (rest > 0)
            {
                // The range wraps: its second fragment starts at the beginning of the channel.
                queueWrite(std::as_bytes(std::span{_source->channels() + channelBase, rest}), desc, _samplesSent + first, channelBase, 0);
            }
        }
        queueRecord(0, _samplesSent, CommitRecord{_grant.epoch, end, 0, 0, 0, CommitKind::Samples, static_cast<std::uint32_t>(count)});
        _counters.slices.fetch_add(count, std::memory_order_relaxed);
        _counters.bytes.fetch_add(count * word * channels, std::memory_order_relaxed);
        _samplesSent = end;
        _samplesQueued = end;
    }
}
