// SPDX-License-Identifier: Apache-2.0
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

    Sender::Sender(RegionGrant grant, Options options)
        : _grant{std::move(grant)}
        , _options{options}
    {}

    Sender::~Sender()
    {
        stop();
        if (!_rdm)
        {
            _endpoint.reset();
        }
        // Regions bound to a datagram endpoint (FI_MR_ENDPOINT) go before it.
        _helloMr.reset();
        _creditsMr.reset();
        _headersMr.reset();
        _recordsMr.reset();
        _sourceMrs.clear();
        _endpoint.reset();
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
        _rdm = !_grant.address.empty();
        if (auto r = _rdm ? openDatagramEndpoint() : connect(); !r)
        {
            return r;
        }
        _maxWrite = _grant.transfer == Transfer::Rma ? std::min(_info->maxMessageSize(), maxWriteChunk)
                                                     : std::min<std::size_t>(_grant.maxChunk, _info->maxMessageSize() - sizeof(BounceHeader));
        // Discrete: the window the receiver claims ahead (sendWindowGrains). Continuous: half the
        // channel buffers (older samples are about to be overwritten anyway).
        _byteBudget = _source->discrete() ? static_cast<std::size_t>(sendWindowGrains(_source->grainCount())) * _source->grainSize()
                                          : _source->channelsMapping().size() / 2;
        if (auto r = registerMemory(); !r || !_rdm)
        {
            return r;
        }
        return greet();
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
                auto mr = ofi::MemoryRegion::create(*_fabricDomain, payload, access, regionEndpoint());
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
            auto mr = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{channels.data(), channels.size()}), access, regionEndpoint());
            if (!mr)
            {
                return mr.take_error();
            }
            _sourceMrs.push_back(std::move(*mr));
        }
        if (_grant.transfer == Transfer::SendReceive)
        {
            _headers = std::make_unique<BounceHeader[]>(localRecordSlots);
            auto headers = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{_headers.get(), localRecordSlots}), FI_SEND);
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
            auto credits = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{_creditsIn.get(), creditBuffers}), FI_RECV,
                regionEndpoint());
            if (!credits)
            {
                return credits.take_error();
            }
            _creditsMr.emplace(std::move(*credits));
        }
        _records = std::make_unique<CommitRecord[]>(localRecordSlots);
        auto records = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{_records.get(), localRecordSlots}), FI_WRITE,
            regionEndpoint());
        if (!records)
        {
            return records.take_error();
        }
        _recordsMr.emplace(std::move(*records));
        if (_rdm)
        {
            auto hello = ofi::MemoryRegion::create(*_fabricDomain, _hello, FI_SEND, regionEndpoint());
            if (!hello)
            {
                return hello.take_error();
            }
            _helloMr.emplace(std::move(*hello));
        }
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
        if (_rdm && _endpoint)
        {
            sayGoodbye();
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
        if (_options.requests)
        {
            _options.requests->wakeProgress();
        }
    }

    void Sender::run()
    {
        // Following the flow, the thread sleeps on the flow's futex; serving requests, on the
        // requests' eventfd (together with the completion queue's fd while work is in flight).
        auto* const requests = _options.requests.get();
        auto const* signal = _source->syncCounter();
        if (usesCredits() && !_rdm)
        {
            // Before the first Claim record: the sink's credit answers it (datagram: posted before the Hello).
            for (std::size_t buffer = 0; buffer < creditBuffers && !failed(); ++buffer)
            {
                postCreditReceive(buffer);
            }
        }
        while (!_stopping.load(std::memory_order_acquire) && !failed())
        {
            auto const seen = requests != nullptr ? requests->signalValue() : std::atomic_ref<std::uint32_t const>{*signal}.load(std::memory_order_acquire);
            _roomBlocked = false;
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
            if (_rdm)
            {
                watchClaim();
            }
            if (requests != nullptr && idle())
            {
                requests->finish(requests->taken());
            }
            if (std::exchange(_creditArrived, false) && _waitingForCredit)
            {
                // The credit a committed grain waited for came in while the queues were read.
                continue;
            }
            if (_roomBlocked && _inFlight == 0 && _payloadPosted == _payloadQueued)
            {
                // Everything that held the rest back has completed: nothing would wake this thread
                // for it (the writer may be done, the application waiting).
                continue;
            }
            auto const busy = _inFlight > 0 || _payloadPosted != _payloadQueued || _recordHead != _recordTail || _waitingForCredit;
            if (requests != nullptr)
            {
                waitForRequests(*requests, seen, busy);
            }
            else if (busy)
            {
                // Work is moving, or a committed grain waits for the sink's credit: drive the provider
                // (tcp progresses only while its queues are read) and look at the flow again at least
                // every millisecond.
                if (_cq->tryWait())
                {
                    pollfd fd{_cq->waitFd(), POLLIN, 0};
                    auto const timeout = _cq->pollTimeout(std::chrono::milliseconds{1});
                    ::ppoll(&fd, 1, &timeout, nullptr);
                }
            }
            else
            {
                futexWait(signal, seen, idleWaitNs);
            }
        }
    }

    void Sender::waitForRequests(TransferRequests& requests, std::uint32_t seen, bool busy)
    {
        // Busy: the completion queue too, and at least every millisecond (as when following).
        pollfd fds[2] = {{requests.wakeFd(), POLLIN, 0}, {-1, POLLIN, 0}};
        if (busy)
        {
            if (!_cq->tryWait())
            {
                return; // completions are waiting to be read
            }
            fds[1].fd = _cq->waitFd();
        }
        if (requests.prepareWait(seen))
        {
            auto const timeout = busy ? _cq->pollTimeout(std::chrono::milliseconds{1}) : timespec{0, static_cast<long>(idleWaitNs)};
            ::ppoll(fds, busy ? 2 : 1, &timeout, nullptr);
            requests.endWait();
        }
    }

    void Sender::scan()
    {
        if (_options.requests)
        {
            serveRequests();
            _following.store(true, std::memory_order_release);
            return;
        }
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
}
