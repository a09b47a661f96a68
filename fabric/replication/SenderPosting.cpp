// SPDX-License-Identifier: Apache-2.0
// Sender: the queues of writes and commit records, posting them to the provider, and what their
// completions tell.
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

    std::size_t Sender::chunks(std::size_t bytes) const noexcept
    {
        return (bytes + _maxWrite - 1) / _maxWrite;
    }

    void Sender::queueWrite(std::span<std::byte const> source, void* desc, std::uint64_t index, std::uint64_t offset, std::uint32_t region)
    {
        for (std::size_t done = 0; done < source.size(); done += _maxWrite)
        {
            auto const length = std::min(_maxWrite, source.size() - done);
            _payloads[_payloadQueued % payloadCapacity] = PayloadOp{source.subspan(done, length), desc, index, offset + done, region};
            ++_payloadQueued;
        }
        _outstandingBytes += source.size();
    }

    void Sender::queueRecord(std::uint32_t slot, std::uint64_t oldest, CommitRecord const& record)
    {
        _recordQueue[_recordTail % recordCapacity] = RecordOp{_payloadQueued, slot, oldest, record};
        ++_recordTail;
    }

    bool Sender::recordStillValid(RecordOp const& op) const noexcept
    {
        if (op.record.kind == CommitKind::Claim)
        {
            return true;
        }
        if (op.record.kind == CommitKind::Grain)
        {
            // The writer reclaims a slot when it opens the grain a ring later: if it did while the
            // bytes were in flight they may be torn, so they are not published.
            return std::atomic_ref<std::uint64_t const>{_source->grainHeader(op.slot)->index}.load(std::memory_order_acquire) ==
                   op.record.index;
        }
        // A writer may fill up to half a ring ahead of its head: samples from `oldest` on are intact
        // while the head has not passed oldest + bufferLength/2.
        auto const head = _source->headIndex().load(std::memory_order_acquire);
        return head <= op.oldest + _source->bufferLength() / 2;
    }

    void Sender::postPending()
    {
        while (_payloadPosted != _payloadQueued && _inFlight < transmitDepth)
        {
            auto const& op = _payloads[_payloadPosted % payloadCapacity];
            // The context carries the write's position so that its completion can be matched.
            auto const result = postPayload(op, reinterpret_cast<void*>(_payloadPosted + 1));
            if (result.again())
            {
                // The provider's queue is full: the write stays queued and is retried after completions.
                return;
            }
            if (!result.posted())
            {
                abort(fmt::format("posting a write failed: {}", fi_strerror(result.error())));
                return;
            }
            ++_payloadPosted;
            ++_inFlight;
            if (_options.stages)
            {
                notePosted();
            }
        }
        if (_options.stages)
        {
            notePosted(); // Records without payload (an invalid grain) are posted at once.
        }
        while (_recordHead != _recordTail && _inFlight < transmitDepth)
        {
            auto& op = _recordQueue[_recordHead % recordCapacity];
            // Unordered writes: the sink holds a record that lands early until those before it
            // landed, for as far as records in flight may be apart.
            auto const span = _writesOrdered ? localRecordSlots : unorderedRecordsInFlight;
            if (_payloadDone < op.gate || _recordsPosted - _recordsDone >= span)
            {
                return;
            }
            if (!recordStillValid(op))
            {
                _counters.skippedGrains.fetch_add(1, std::memory_order_relaxed);
                ++_recordHead;
                continue;
            }
            if (_options.stages && op.record.kind == CommitKind::Grain)
            {
                _options.stages->reached(Stage::PayloadCompleted, op.record.index, op.record.validSlices);
            }
            auto const result = postRecord(op.record);
            if (result.again())
            {
                return;
            }
            if (!result.posted())
            {
                abort(fmt::format("posting a commit record failed: {}", fi_strerror(result.error())));
                return;
            }
            ++_recordHead;
            ++_inFlight;
            ++_recordsPosted;
            if (op.record.kind == CommitKind::Claim)
            {
                continue;
            }
            _counters.commits.fetch_add(1, std::memory_order_relaxed);
            if (op.record.kind == CommitKind::Samples)
            {
                _counters.headIndex.store(op.record.index, std::memory_order_relaxed);
            }
            else if (op.record.validSlices == _layout->totalSlices() || op.record.grainFlags != 0)
            {
                _published.store(op.record.index, std::memory_order_release);
                _counters.headIndex.store(op.record.index, std::memory_order_relaxed);
            }
        }
    }

    void Sender::notePosted() noexcept
    {
        for (; _stagePosted != _recordTail && _recordQueue[_stagePosted % recordCapacity].gate <= _payloadPosted; ++_stagePosted)
        {
            auto const& record = _recordQueue[_stagePosted % recordCapacity].record;
            if (record.kind == CommitKind::Grain)
            {
                _options.stages->reached(Stage::Posted, record.index, record.validSlices);
            }
        }
    }

    ofi::PostResult Sender::postPayload(PayloadOp const& op, void* context) noexcept
    {
        if (_grant.transfer == Transfer::Rma)
        {
            // checkGrant made every region exactly as long as what it mirrors, so the target exists.
            return _endpoint->write(op.source, op.desc, *_grant.regions[op.region].target(op.offset, op.source.size()), context, _peer);
        }
        auto& header = _headers[_sequence % localRecordSlots];
        header = dataHeader(_sequence, _grant.epoch, op.index, op.offset, static_cast<std::uint32_t>(op.source.size()));
        // iovec is shared with receives, hence not const; a send only reads the flow's bytes.
        std::array<iovec, 2> const parts{{{&header, sizeof header}, {const_cast<std::byte*>(op.source.data()), op.source.size()}}};
        std::array<void*, 2> descs{_headersMr->desc(), op.desc};
        auto const result = _endpoint->sendv(parts, descs.data(), context, _peer);
        if (result.posted())
        {
            ++_sequence;
        }
        return result;
    }

    ofi::PostResult Sender::postRecord(CommitRecord record) noexcept
    {
        record.sequence = _sequence;
        auto* const context = reinterpret_cast<void*>(recordContext | _recordsPosted);
        auto result = ofi::PostResult{0};
        if (_grant.transfer == Transfer::Rma)
        {
            auto& local = _records[_sequence % localRecordSlots];
            local = record;
            auto const target = _grant.commitRing.target(static_cast<std::uint64_t>(_sequence % _grant.commitEntries) * sizeof(CommitRecord),
                sizeof(CommitRecord));
            result = _endpoint->writeWithData(std::as_bytes(std::span{&local, 1}), _recordsMr->desc(), *target, _sequence, context, _peer);
        }
        else
        {
            auto& header = _headers[_sequence % localRecordSlots];
            header = commitHeader(record);
            result = _endpoint->send(std::as_bytes(std::span{&header, 1}), _headersMr->desc(), context, _peer);
        }
        if (result.posted())
        {
            ++_sequence;
        }
        return result;
    }

    void Sender::onCompletion(fi_cq_data_entry const& entry)
    {
        if ((entry.flags & (FI_REMOTE_CQ_DATA | FI_REMOTE_WRITE | FI_REMOTE_READ)) != 0)
        {
            // Nothing of a source is registered for remote access: a sink that tries is broken or hostile.
            refuse("the sink wrote into this source (remote write or remote CQ data)");
            return;
        }
        if ((entry.flags & FI_RECV) != 0)
        {
            auto const buffer = creditBuffer(entry.op_context);
            if (!buffer)
            {
                refuse("a message completed a receive this source never posted");
                return;
            }
            onCredit(*buffer, entry.len);
            return;
        }
        if ((entry.flags & (FI_SEND | FI_WRITE)) == 0)
        {
            refuse(fmt::format("a completion of an operation this source does not use (flags {:#x})", entry.flags));
            return;
        }
        onTransmitted(entry.op_context);
    }

    void Sender::onTransmitted(void* context)
    {
        _inFlight -= _inFlight > 0 ? 1 : 0;
        auto const value = reinterpret_cast<std::uintptr_t>(context);
        if ((value & recordContext) != 0)
        {
            onRecordTransmitted(value & ~recordContext);
            return;
        }
        auto const position = value - 1;
        if (position < _payloadDone || position >= _payloadPosted || _payloadCompleted[position % payloadCapacity])
        {
            refuse("a completion of a write this source never posted, or twice of one");
            return;
        }
        _payloadCompleted[position % payloadCapacity] = true;
        _outstandingBytes -= std::min(_outstandingBytes, _payloads[position % payloadCapacity].source.size());
        while (_payloadDone != _payloadPosted && _payloadCompleted[_payloadDone % payloadCapacity])
        {
            _payloadCompleted[_payloadDone % payloadCapacity] = false;
            ++_payloadDone;
        }
    }

    void Sender::onRecordTransmitted(std::size_t position)
    {
        if (position < _recordsDone || position >= _recordsPosted || _recordCompleted[position % localRecordSlots])
        {
            refuse("a completion of a commit record this source never posted, or twice of one");
            return;
        }
        _recordCompleted[position % localRecordSlots] = true;
        while (_recordsDone != _recordsPosted && _recordCompleted[_recordsDone % localRecordSlots])
        {
            _recordCompleted[_recordsDone % localRecordSlots] = false;
            ++_recordsDone;
        }
    }

    void Sender::refuse(std::string reason)
    {
        _counters.refusedOperation.fetch_add(1, std::memory_order_relaxed);
        abort(std::move(reason));
    }

    void Sender::drainCompletions()
    {
        _cq->drain(
            [this](std::span<fi_cq_data_entry const> entries) {
                for (auto const& entry : entries)
                {
                    onCompletion(entry);
                }
            },
            [this](ofi::CompletionError const& error) {
                if ((error.flags & FI_RECV) != 0)
                {
                    if (error.error != FI_ECANCELED)
                    {
                        abort(fmt::format("receiving credit failed: {}", error.providerMessage.data()));
                    }
                    return;
                }
                abort(fmt::format("a write failed: {}", error.providerMessage.data()));
                onTransmitted(error.context);
            });
    }

    void Sender::drainEvents()
    {
        // Datagram endpoints have no events: the sink's close notice comes as a message (onCredit).
        while (_events)
        {
            auto event = _events->read();
            if (!event || !event->has_value())
            {
                return;
            }
            if ((*event)->kind == ofi::CmEventKind::Shutdown)
            {
                abort("the sink closed the connection");
                return;
            }
            if ((*event)->kind == ofi::CmEventKind::Error)
            {
                abort((*event)->message);
                return;
            }
        }
    }
}
