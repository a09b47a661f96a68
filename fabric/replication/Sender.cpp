// SPDX-License-Identifier: Apache-2.0
#include "replication/Sender.hpp"

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
    namespace
    {
        /// Largest single write: big enough to move a grain in a few operations, small enough that
        /// a commit of the next grain does not queue behind a huge transfer.
        constexpr std::size_t maxWriteChunk = 8 * 1024 * 1024;

        /// Records (and, with send/receive, message headers) are sent from a local ring; a slot is
        /// never reused while its operation is in flight (at most transmitDepth operations are).
        constexpr std::size_t localRecordEntries = 2 * transmitDepth;

        /// How long the thread sleeps on the flow's futex when idle before it looks at the session
        /// (a peer that went away is only noticed while the queues are read).
        constexpr std::uint64_t idleWaitNs = 50'000'000ULL;
    }

    Sender::Sender(RegionGrant grant, Options options)
        : _grant{std::move(grant)}
        , _options{options}
    {}

    Sender::~Sender()
    {
        stop();
        _endpoint.reset();
        _creditsMr.reset();
        _headersMr.reset();
        _recordsMr.reset();
        _sourceMrs.clear();
    }

    Expected<std::unique_ptr<Sender>> Sender::create(Domain& domain, Uuid const& flowId, RegionGrant const& grant, Options const& options)
    {
        if (auto r = checkReplicationProvider(grant.provider); !r)
        {
            return r.take_error();
        }
        std::unique_ptr<Sender> sender{new Sender{grant, options}};
        if (auto r = sender->setUp(domain, flowId); !r)
        {
            return r.take_error();
        }
        return sender;
    }

    Expected<void> Sender::setUp(Domain& domain, Uuid const& flowId)
    {
        if (_grant.flowId != flowId)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("the region grant is for flow {}, not {}", formatUuid(_grant.flowId), formatUuid(flowId)));
        }
        auto source = Flow::open(domain.flowDir(flowId), FlowAccess::ReadOnly);
        if (!source)
        {
            return source.take_error();
        }
        _source = std::move(*source);
        if (auto r = checkGrant(); !r)
        {
            return r;
        }
        if (_source->discrete())
        {
            _layout.emplace(_source->info().config.discrete.sliceSizes, _source->totalSlices());
            _slots.resize(_source->grainCount());
        }
        if (auto r = connect(); !r)
        {
            return r;
        }
        _maxWrite = _grant.transfer == Transfer::Rma ? std::min(_info->maxMessageSize(), maxWriteChunk)
                                                     : std::min<std::size_t>(_grant.maxChunk, _info->maxMessageSize() - sizeof(BounceHeader));
        // Discrete: the window the receiver claims ahead (sendWindowGrains). Continuous: half the
        // channel buffers (older samples are about to be overwritten anyway).
        _byteBudget = _source->discrete() ? static_cast<std::size_t>(sendWindowGrains(_source->grainCount())) * _source->grainSize()
                                          : _source->channelsMapping().size() / 2;
        return registerMemory();
    }

    Expected<void> Sender::checkGrant() const
    {
        if (_grant.transfer == Transfer::SendReceive)
        {
            // The sink checks every message against its mirror: there are no regions to match.
            if (_grant.maxChunk == 0 || _grant.maxChunk > maxBounceChunkSize)
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("region grant: send/receive chunks of {} bytes", _grant.maxChunk));
            }
            return {};
        }
        if (_grant.commitEntries == 0 || _grant.commitRing.length < static_cast<std::uint64_t>(_grant.commitEntries) * sizeof(CommitRecord))
        {
            return fail(MXL_ERR_INVALID_ARG, "region grant: commit ring smaller than its entries");
        }
        if (_source->discrete())
        {
            if (_grant.regions.size() != _source->grainCount())
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("region grant: {} regions for a ring of {} grains", _grant.regions.size(), _source->grainCount()));
            }
            for (auto const& region : _grant.regions)
            {
                if (region.length != _source->grainSize())
                {
                    return fail(MXL_ERR_INVALID_ARG,
                        fmt::format("region grant: a grain region of {} bytes for grains of {} bytes", region.length, _source->grainSize()));
                }
            }
            return {};
        }
        auto const bytes = _source->channelsMapping().size();
        if (_grant.regions.size() != 1 || _grant.regions[0].length != bytes)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("region grant: the channel region does not match the flow's {} bytes", bytes));
        }
        return {};
    }

    Expected<void> Sender::connect()
    {
        auto hints = sourceHints(_grant.provider, _grant.node, _grant.service, _grant.transfer);
        if (auto r = emplace(_info, ofi::Info::query(hints)); !r)
        {
            return r;
        }
        if (_grant.transfer == Transfer::SendReceive && (_info->transmitIovLimit() < 2 || _info->maxMessageSize() <= sizeof(BounceHeader)))
        {
            // A Data message is a header and the flow's own bytes, gathered without a copy.
            return fail(MXL_ERR_UNSUPPORTED_OPERATION, fmt::format("provider {} cannot send a message of two parts (iov_limit {})",
                                                           _info->providerName(), _info->transmitIovLimit()));
        }
        if (_grant.transfer == Transfer::Rma && (_info->messageOrder() & FI_ORDER_WAW) == 0)
        {
            // Without write-after-write ordering a record could be placed before the bytes it
            // publishes; this build does not fence by completion yet.
            return fail(MXL_ERR_UNSUPPORTED_OPERATION,
                fmt::format("provider {} does not order writes (FI_ORDER_WAW); not supported yet", _info->providerName()));
        }
        if (auto r = emplace(_fabric, ofi::Fabric::open(*_info)); !r)
        {
            return r;
        }
        if (auto r = emplace(_events, ofi::EventQueue::open(*_fabric)); !r)
        {
            return r;
        }
        if (auto r = emplace(_fabricDomain, ofi::Domain::open(*_fabric, *_info)); !r)
        {
            return r;
        }
        if (auto r = emplace(_cq, ofi::CompletionQueue::open(*_fabricDomain, completionQueueSize)); !r)
        {
            return r;
        }
        if (auto r = emplace(_endpoint, ofi::Endpoint::open(*_fabricDomain, *_info, ofi::EndpointQueues{*_cq, *_cq, &*_events, nullptr})); !r)
        {
            return r;
        }
        // A fresh nonce for every attempt: the sink refuses a proof it has seen before.
        auto proof = makeConnectProof(_grant.connectKey, _grant.flowId, _grant.epoch);
        if (!proof)
        {
            return proof.take_error();
        }
        if (auto r = _endpoint->connect(*proof); !r)
        {
            return r;
        }
        auto const deadline = std::chrono::steady_clock::now() + _options.connectTimeout;
        while (std::chrono::steady_clock::now() < deadline)
        {
            auto const remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            auto event = _events->wait(std::min(remaining, std::chrono::milliseconds{20}));
            // Read for tcp's progress: nothing is posted yet, so anything here came from the sink.
            std::array<fi_cq_data_entry, 8> entries;
            if (auto const early = _cq->read(entries); early > 0 || early == ofi::kCompletionErrorAvailable)
            {
                _counters.refusedOperation.fetch_add(1, std::memory_order_relaxed);
                return fail(MXL_ERR_NOT_READY,
                    fmt::format("{}:{} sent a completion before the session started (flags {:#x})", _grant.node, _grant.service,
                        early > 0 ? entries[0].flags : 0));
            }
            if (!event)
            {
                if (event.error().status == MXL_ERR_TIMEOUT || event.error().status == MXL_ERR_INTERRUPTED)
                {
                    continue;
                }
                return event.take_error();
            }
            switch (event->kind)
            {
                case ofi::CmEventKind::Connected: return {};
                case ofi::CmEventKind::Error:
                    return fail(MXL_ERR_NOT_READY, fmt::format("connecting to {}:{} failed: {}", _grant.node, _grant.service, event->message));
                case ofi::CmEventKind::Shutdown:
                    return fail(MXL_ERR_NOT_READY, fmt::format("{}:{} closed the connection", _grant.node, _grant.service));
                default: break;
            }
        }
        return fail(MXL_ERR_TIMEOUT, fmt::format("no connection to {}:{} within {} ms", _grant.node, _grant.service, _options.connectTimeout.count()));
    }

    Expected<void> Sender::registerMemory()
    {
        // The flow's own read-only mapping is registered as the source of the writes: no copy.
        auto const access = _grant.transfer == Transfer::Rma ? std::uint64_t{FI_WRITE} : std::uint64_t{FI_SEND};
        if (_source->discrete())
        {
            _sourceMrs.reserve(_source->grainCount());
            for (std::uint32_t slot = 0; slot < _source->grainCount(); ++slot)
            {
                auto const payload = std::as_bytes(std::span{_source->grainPayload(slot), _source->grainSize()});
                auto mr = ofi::MemoryRegion::create(*_fabricDomain, payload, access);
                if (!mr)
                {
                    return mr.take_error();
                }
                _sourceMrs.push_back(std::move(*mr));
            }
        }
        else
        {
            auto const& channels = _source->channelsMapping();
            auto mr = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{channels.data(), channels.size()}), access);
            if (!mr)
            {
                return mr.take_error();
            }
            _sourceMrs.push_back(std::move(*mr));
        }
        if (_grant.transfer == Transfer::SendReceive)
        {
            _headers = std::make_unique<BounceHeader[]>(localRecordEntries);
            auto headers = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{_headers.get(), localRecordEntries}), FI_SEND);
            if (!headers)
            {
                return headers.take_error();
            }
            _headersMr.emplace(std::move(*headers));
            return {};
        }
        if (usesCredits())
        {
            _creditsIn = std::make_unique<CreditRecord[]>(creditBuffers);
            auto credits = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{_creditsIn.get(), creditBuffers}), FI_RECV);
            if (!credits)
            {
                return credits.take_error();
            }
            _creditsMr.emplace(std::move(*credits));
        }
        _records = std::make_unique<CommitRecord[]>(localRecordEntries);
        auto records = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{_records.get(), localRecordEntries}), FI_WRITE);
        if (!records)
        {
            return records.take_error();
        }
        _recordsMr.emplace(std::move(*records));
        return {};
    }

    void Sender::start()
    {
        if (_thread.joinable())
        {
            return;
        }
        _stopping.store(false);
        _thread = std::thread{[this] { run(); }};
    }

    void Sender::stop()
    {
        _stopping.store(true, std::memory_order_release);
        if (_thread.joinable())
        {
            // The thread sleeps on the flow's futex for at most idleWaitNs.
            _thread.join();
        }
    }

    void Sender::abort(std::string message)
    {
        if (failed())
        {
            // The first reason is the one that matters; a dead peer makes every later call fail too.
            return;
        }
        log().warn("flow {}: replication to {}:{} stopped: {}", formatUuid(_grant.flowId), _grant.node, _grant.service, message);
        _counters.error(std::move(message));
        _failed.store(true, std::memory_order_release);
    }

    void Sender::run()
    {
        std::atomic_ref<std::uint32_t const> counter{*_source->syncCounter()};
        if (usesCredits())
        {
            // Before the first Claim record: the sink's credit answers it.
            for (std::size_t buffer = 0; buffer < creditBuffers && !failed(); ++buffer)
            {
                postCreditReceive(buffer);
            }
        }
        while (!_stopping.load(std::memory_order_acquire) && !failed())
        {
            auto const seen = counter.load(std::memory_order_acquire);
            scan();
            postPending();
            drainCompletions();
            // Completions just read may have released commit records: post them now rather than
            // after the next wait, and give the provider a turn to send them.
            if (_recordHead != _recordTail)
            {
                postPending();
                drainCompletions();
            }
            drainEvents();
            if (std::exchange(_creditArrived, false) && _waitingForCredit)
            {
                // The credit a committed grain waited for came in while the queues were read.
                continue;
            }
            if (_inFlight > 0 || _payloadPosted != _payloadQueued || _recordHead != _recordTail || _waitingForCredit)
            {
                // Work is moving, or a committed grain waits for the sink's credit: drive the provider
                // (tcp progresses only while its queues are read) and look at the flow again at least
                // every millisecond.
                if (_cq->tryWait())
                {
                    pollfd fd{_cq->waitFd(), POLLIN, 0};
                    ::poll(&fd, 1, 1);
                }
                continue;
            }
            futexWait(_source->syncCounter(), seen, idleWaitNs);
        }
    }

    void Sender::scan()
    {
        if (!_started && std::atomic_ref<std::uint64_t const>{_source->info().runtime.lastWriteTime}.load(std::memory_order_acquire) == 0)
        {
            // Nothing was ever committed: the head of a new flow means nothing yet, and every grain
            // committed from now on is new to the sink.
            _fromCreation = true;
            _following.store(true, std::memory_order_release);
            return;
        }
        auto const head = _source->headIndex().load(std::memory_order_acquire);
        if (head == MXL_UNDEFINED_INDEX && !_started)
        {
            _following.store(true, std::memory_order_release);
            return; // nothing committed yet
        }
        if (head > maxReplicatedIndex)
        {
            // A corrupt header (anyone who may write the domain may write it): scanning up to it would
            // spin this thread through 2^64 indices and hold stop() up.
            abort(fmt::format("the source flow's head index {} is not a grain or sample index (corrupt flow header?)", head));
            return;
        }
        if (_source->discrete())
        {
            scanGrains(head);
        }
        else
        {
            scanSamples(head);
        }
        _following.store(true, std::memory_order_release);
    }

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

    Sender::Credit Sender::credit(std::uint64_t index)
    {
        _waitingForCredit = false;
        if (_credit && index <= *_credit)
        {
            return index + _source->grainCount() > *_credit ? Credit::Write : Credit::Skip;
        }
        _waitingForCredit = true;
        if (!_claimPending && recordRoom())
        {
            // Beyond the credit (the first grain, or after skipping ahead): ask the sink to claim the
            // window from this grain on. The record is placed after every byte already written.
            queueRecord(0, 0, CommitRecord{_grant.epoch, index, 0, 0, 0, CommitKind::Claim, 0});
            _claimPending = index;
        }
        return Credit::Wait;
    }

    void Sender::postCreditReceive(std::size_t buffer)
    {
        auto const result = _endpoint->recv(std::as_writable_bytes(std::span{&_creditsIn[buffer], 1}), _creditsMr->desc(), &_creditsIn[buffer]);
        if (!result.posted())
        {
            abort(fmt::format("posting a receive for credit failed: {}", result.again() ? "queue full" : fi_strerror(result.error())));
        }
    }

    void Sender::onCredit(std::size_t buffer, std::size_t length)
    {
        auto const credit = _creditsIn[buffer];
        if (length != sizeof(CreditRecord) || credit.magic != creditMagic || credit.epoch != _grant.epoch)
        {
            abort("the sink sent a malformed credit message");
            return;
        }
        postCreditReceive(buffer);
        if (_claimPending)
        {
            if (credit.answers != *_claimPending)
            {
                // Credit granted before the sink saw the claim: the answer is still to come.
                return;
            }
            _claimPending.reset();
        }
        _creditArrived = _creditArrived || !_credit || credit.claimedThrough != *_credit;
        _credit = credit.claimedThrough;
    }

    bool Sender::sendSlices(std::uint64_t index, std::uint32_t slot, std::uint16_t from, std::uint16_t to, std::uint32_t flags)
    {
        std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN> ranges;
        auto const count = _layout->ranges(from, to, ranges);
        std::size_t ops = 0;
        for (std::size_t p = 0; p < count; ++p)
        {
            ops += chunks(ranges[p].length);
        }
        if (!room(ops, _layout->bytes(from, to)))
        {
            return false;
        }
        auto const* base = _source->grainPayload(slot);
        for (std::size_t p = 0; p < count; ++p)
        {
            queueWrite(std::as_bytes(std::span{base + ranges[p].offset, ranges[p].length}), _sourceMrs[slot].desc(), index, ranges[p].offset, slot);
        }
        queueRecord(slot, 0,
            CommitRecord{_grant.epoch, index, 0, flags & MXL_GRAIN_FLAG_INVALID, to, CommitKind::Grain, static_cast<std::uint32_t>(to - from)});
        _counters.slices.fetch_add(to - from, std::memory_order_relaxed);
        _counters.bytes.fetch_add(_layout->bytes(from, to), std::memory_order_relaxed);
        if (to == _layout->totalSlices() || (flags & MXL_GRAIN_FLAG_INVALID) != 0)
        {
            _counters.grains.fetch_add(1, std::memory_order_relaxed);
        }
        return true;
    }

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

    bool Sender::room(std::size_t ops, std::size_t bytes) const noexcept
    {
        auto const idle = _outstandingBytes == 0;
        return payloadCapacity - (_payloadQueued - _payloadDone) >= ops && recordRoom() &&
               (idle || _outstandingBytes + bytes <= _byteBudget);
    }

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
        }
        while (_recordHead != _recordTail && _inFlight < transmitDepth)
        {
            auto& op = _recordQueue[_recordHead % recordCapacity];
            if (_payloadDone < op.gate)
            {
                return;
            }
            if (!recordStillValid(op))
            {
                _counters.skippedGrains.fetch_add(1, std::memory_order_relaxed);
                ++_recordHead;
                continue;
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

    ofi::PostResult Sender::postPayload(PayloadOp const& op, void* context) noexcept
    {
        if (_grant.transfer == Transfer::Rma)
        {
            // checkGrant made every region exactly as long as what it mirrors, so the target exists.
            return _endpoint->write(op.source, op.desc, *_grant.regions[op.region].target(op.offset, op.source.size()), context);
        }
        auto& header = _headers[_sequence % localRecordEntries];
        header = dataHeader(_sequence, _grant.epoch, op.index, op.offset, static_cast<std::uint32_t>(op.source.size()));
        // iovec is shared with receives, hence not const; a send only reads the flow's bytes.
        std::array<iovec, 2> const parts{{{&header, sizeof header}, {const_cast<std::byte*>(op.source.data()), op.source.size()}}};
        std::array<void*, 2> descs{_headersMr->desc(), op.desc};
        auto const result = _endpoint->sendv(parts, descs.data(), context);
        if (result.posted())
        {
            ++_sequence;
        }
        return result;
    }

    ofi::PostResult Sender::postRecord(CommitRecord record) noexcept
    {
        record.sequence = _sequence;
        auto result = ofi::PostResult{0};
        if (_grant.transfer == Transfer::Rma)
        {
            auto& local = _records[_sequence % localRecordEntries];
            local = record;
            auto const target = _grant.commitRing.target(static_cast<std::uint64_t>(_sequence % _grant.commitEntries) * sizeof(CommitRecord),
                sizeof(CommitRecord));
            result = _endpoint->writeWithData(std::as_bytes(std::span{&local, 1}), _recordsMr->desc(), *target, _sequence, nullptr);
        }
        else
        {
            auto& header = _headers[_sequence % localRecordEntries];
            header = commitHeader(record);
            result = _endpoint->send(std::as_bytes(std::span{&header, 1}), _headersMr->desc(), nullptr);
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
        if (context == nullptr)
        {
            return; // A commit record (or its message): posted without a context.
        }
        auto const position = reinterpret_cast<std::size_t>(context) - 1;
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

    std::optional<std::size_t> Sender::creditBuffer(void* context) const noexcept
    {
        // Compared as integers: the context may be any value, not a pointer into the buffers.
        auto const at = reinterpret_cast<std::uintptr_t>(context);
        auto const first = reinterpret_cast<std::uintptr_t>(_creditsIn.get());
        if (!_creditsIn || at < first || at >= first + creditBuffers * sizeof(CreditRecord) || (at - first) % sizeof(CreditRecord) != 0)
        {
            return std::nullopt;
        }
        return (at - first) / sizeof(CreditRecord);
    }

    void Sender::refuse(std::string reason)
    {
        _counters.refusedOperation.fetch_add(1, std::memory_order_relaxed);
        abort(std::move(reason));
    }

    void Sender::drainCompletions()
    {
        std::array<fi_cq_data_entry, 64> entries;
        for (;;)
        {
            auto const n = _cq->read(entries);
            if (n == ofi::kCompletionErrorAvailable)
            {
                ofi::CompletionError error;
                if (_cq->readError(error))
                {
                    if ((error.flags & FI_RECV) != 0)
                    {
                        if (error.error != FI_ECANCELED)
                        {
                            abort(fmt::format("receiving credit failed: {}", error.providerMessage.data()));
                        }
                        continue;
                    }
                    abort(fmt::format("a write failed: {}", error.providerMessage.data()));
                    onTransmitted(error.context);
                }
                continue;
            }
            if (n <= 0)
            {
                return;
            }
            for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i)
            {
                onCompletion(entries[i]);
            }
        }
    }

    void Sender::drainEvents()
    {
        for (;;)
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
