// SPDX-License-Identifier: Apache-2.0
#include "replication/Receiver.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <utility>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <fmt/format.h>

#include "common/Logging.hpp"
#include "flow/ContinuousFlowWriter.hpp"
#include "flow/DiscreteFlowWriter.hpp"
#include "ofi/Address.hpp"
#include "replication/FabricHints.hpp"
#include "time/Timing.hpp"

namespace mxl::fabric
{
    namespace
    {
        /// One bounce buffer: a header and the largest payload chunk the grant allows.
        constexpr std::size_t bounceBufferSize = sizeof(BounceHeader) + bounceChunkSize;

        /// RMA: the receive posted on every connection, so that a message from the source completes
        /// (and ends the session) rather than holding up everything after it on the connection (tcp
        /// stops reading a connection at a message that has no receive posted).
        constexpr std::size_t trapBufferSize = 64;

        std::uint64_t randomEpoch()
        {
            std::uint64_t epoch = 0;
            while (epoch == 0)
            {
                if (::getrandom(&epoch, sizeof epoch, 0) != sizeof epoch)
                {
                    epoch = std::random_device{}();
                }
            }
            return epoch;
        }
    }

    Receiver::Receiver(Domain& domain, Options options)
        : _domain{domain}
        , _options{std::move(options)}
    {}

    Receiver::~Receiver()
    {
        stop();
        _endpoint.reset();
        _bounceMr.reset();
        _creditMr.reset();
        _regionMrs.clear();
        _commitRingMr.reset();
        if (_mirror)
        {
            _domain.releaseWriter(std::move(_mirror));
        }
    }

    Expected<std::unique_ptr<Receiver>> Receiver::create(Domain& domain, FlowOffer const& offer, Options const& options)
    {
        if (options.transfer != Transfer::Rma && options.transfer != Transfer::SendReceive)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("unknown transfer mode {}", static_cast<int>(options.transfer)));
        }
        if (auto r = checkReplicationProvider(options.provider); !r)
        {
            return r.take_error();
        }
        std::unique_ptr<Receiver> receiver{new Receiver{domain, options}};
        if (auto r = receiver->setUp(offer); !r)
        {
            return r.take_error();
        }
        return receiver;
    }

    Expected<void> Receiver::setUp(FlowOffer const& offer)
    {
        auto key = makeConnectKey();
        if (!key)
        {
            return key.take_error();
        }
        _grant.connectKey = *key;
        auto def = parseFlowDefinition(offer.flowDef);
        if (!def)
        {
            return def.take_error();
        }
        // The mirror's header is the offered configuration: it must say what the definition says.
        auto const& config = offer.config;
        auto const sameMedia = config.common.grainRate.numerator == def->rate.numerator &&
                               config.common.grainRate.denominator == def->rate.denominator &&
                               (def->discrete() ? std::equal(def->sliceSizes.begin(), def->sliceSizes.end(), config.discrete.sliceSizes)
                                                : config.continuous.channelCount == def->channelCount && offer.sampleWordSize == def->sampleWordSize);
        if (def->id != offer.flowId || def->format != static_cast<mxlDataFormat>(config.common.format) || !sameMedia ||
            (def->discrete() && (def->grainSize != offer.grainSize || def->totalSlices != offer.totalSlices)))
        {
            return fail(MXL_ERR_INVALID_ARG, "flow offer: the flow definition does not match the offered geometry");
        }
        _definition = std::move(*def);
        auto mirror = _domain.createWriterWithConfig(_definition, offer.config, Domain::Ring::Exact);
        if (!mirror)
        {
            return mirror.take_error();
        }
        _mirror = std::move(mirror->writer);
        if (_mirror->discrete())
        {
            _discrete = static_cast<DiscreteFlowWriter*>(_mirror.get());
            _totalSlices = _mirror->flow().totalSlices();
        }
        else
        {
            _continuous = static_cast<ContinuousFlowWriter*>(_mirror.get());
        }
        _epoch = randomEpoch();

        auto hints = sinkHints(_options.provider, _options.node, _options.service, _options.transfer);
        if (auto r = emplace(_info, ofi::Info::query(hints)); !r)
        {
            return r;
        }
        if (auto r = emplace(_fabric, ofi::Fabric::open(*_info)); !r)
        {
            return r;
        }
        if (auto r = emplace(_events, ofi::EventQueue::open(*_fabric)); !r)
        {
            return r;
        }
        if (auto r = emplace(_listener, ofi::PassiveEndpoint::listen(*_fabric, *_info, *_events)); !r)
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
        if (_options.transfer == Transfer::Rma)
        {
            if (auto r = registerMemory(); !r)
            {
                return r;
            }
        }
        if (auto r = registerBounceBuffers(); !r)
        {
            return r;
        }
        if (usesCredits())
        {
            _creditOut = std::make_unique<CreditRecord[]>(creditSlots);
            auto mr = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{_creditOut.get(), creditSlots}), FI_SEND);
            if (!mr)
            {
                return mr.take_error();
            }
            _creditMr.emplace(std::move(*mr));
        }
        auto port = _listener->port();
        if (!port)
        {
            return port.take_error();
        }

        _grant.flowId = _definition.id;
        _grant.epoch = _epoch;
        _grant.provider = std::string{_info->providerName()};
        _grant.transfer = _options.transfer;
        _grant.node = _options.node;
        _grant.service = std::to_string(*port);
        if (_options.transfer == Transfer::Rma)
        {
            _grant.commitRing = _commitRingMr->remoteRegion();
            _grant.commitEntries = commitRingEntries;
            for (auto const& mr : _regionMrs)
            {
                _grant.regions.push_back(mr.remoteRegion());
            }
        }
        else
        {
            _grant.maxChunk = bounceChunkSize;
        }

        _wake = Fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
        log().info("flow {}: mirror ready, listening on {}:{} ({}, {})", formatUuid(_definition.id), _grant.node, _grant.service, _grant.provider,
            _grant.transfer == Transfer::Rma ? "RMA" : "send/receive");
        return {};
    }

    Expected<void> Receiver::registerMemory()
    {
        auto& flow = _mirror->flow();
        // Only payloads are granted: headers stay under this process's control.
        if (flow.discrete())
        {
            _regionMrs.reserve(flow.grainCount());
            for (std::uint32_t slot = 0; slot < flow.grainCount(); ++slot)
            {
                auto const payload = std::as_bytes(std::span{flow.grainPayload(slot), flow.grainSize()});
                auto mr = ofi::MemoryRegion::create(*_fabricDomain, payload, FI_REMOTE_WRITE);
                if (!mr)
                {
                    return mr.take_error();
                }
                _regionMrs.push_back(std::move(*mr));
            }
        }
        else
        {
            auto const& channels = flow.channelsMapping();
            auto mr = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{channels.data(), channels.size()}), FI_REMOTE_WRITE);
            if (!mr)
            {
                return mr.take_error();
            }
            _regionMrs.push_back(std::move(*mr));
        }
        _commitRing = std::make_unique<CommitRecord[]>(commitRingEntries);
        std::memset(_commitRing.get(), 0, commitRingEntries * sizeof(CommitRecord));
        auto ring = ofi::MemoryRegion::create(*_fabricDomain,
            std::as_bytes(std::span{_commitRing.get(), commitRingEntries}), FI_REMOTE_WRITE);
        if (!ring)
        {
            return ring.take_error();
        }
        _commitRingMr.emplace(std::move(*ring));
        return {};
    }

    std::size_t Receiver::receiveBufferSize() const noexcept
    {
        return _options.transfer == Transfer::Rma ? trapBufferSize : bounceBufferSize;
    }

    Expected<void> Receiver::registerBounceBuffers()
    {
        auto const bytes = _options.transfer == Transfer::Rma ? trapBufferSize : bounceBufferCount * bounceBufferSize;
        _bounce = std::make_unique_for_overwrite<std::byte[]>(bytes);
        auto mr = ofi::MemoryRegion::create(*_fabricDomain, std::span{_bounce.get(), bytes}, FI_RECV);
        if (!mr)
        {
            return mr.take_error();
        }
        _bounceMr.emplace(std::move(*mr));
        return {};
    }

    void Receiver::postReceive(std::size_t buffer)
    {
        // The context names the buffer and the connection it was posted on, so that a completion
        // left over from a closed connection is never mistaken for a message of the current one.
        if (!_endpoint)
        {
            return;
        }
        auto* context = reinterpret_cast<void*>(_connection * bounceBufferCount + buffer + 1);
        auto const size = receiveBufferSize();
        auto const result = _endpoint->recv(std::span{_bounce.get() + buffer * size, size}, _bounceMr->desc(), context);
        if (!result.posted())
        {
            _counters.error(fmt::format("posting a receive failed: {}", result.again() ? "queue full" : fi_strerror(result.error())));
        }
    }

    Receiver::ReceiveOf Receiver::receiveOf(void* context, std::size_t& buffer) const noexcept
    {
        auto const tag = reinterpret_cast<std::uintptr_t>(context);
        auto const buffers = _options.transfer == Transfer::Rma ? std::size_t{1} : bounceBufferCount;
        if (tag == 0 || (tag - 1) % bounceBufferCount >= buffers || (tag - 1) / bounceBufferCount > _connection)
        {
            return ReceiveOf::Nobody;
        }
        buffer = (tag - 1) % bounceBufferCount;
        return (tag - 1) / bounceBufferCount == _connection && _endpoint ? ReceiveOf::ThisConnection : ReceiveOf::EarlierConnection;
    }

    Expected<void> Receiver::renew()
    {
        // Checked first: without a new key the old grant could still connect.
        auto key = makeConnectKey();
        if (!key)
        {
            return key.take_error();
        }
        auto const running = _thread.joinable();
        stop();
        if (_endpoint)
        {
            (void)_endpoint->shutdown();
            _endpoint.reset();
        }
        _connected.store(false, std::memory_order_release);
        ++_connection;
        _nextMessage = 0;
        resetCredit();
        _epoch = randomEpoch();
        _grant.epoch = _epoch;
        _grant.connectKey = *key;
        _proofs.forget();
        if (_options.transfer == Transfer::Rma)
        {
            // New registrations, new keys: whatever an earlier grant named can no longer be written.
            _regionMrs.clear();
            _commitRingMr.reset();
            if (auto r = registerMemory(); !r)
            {
                return r;
            }
            _grant.commitRing = _commitRingMr->remoteRegion();
            _grant.regions.clear();
            for (auto const& mr : _regionMrs)
            {
                _grant.regions.push_back(mr.remoteRegion());
            }
        }
        if (running)
        {
            start();
        }
        return {};
    }

    void Receiver::start()
    {
        if (_thread.joinable())
        {
            return;
        }
        _stopping.store(false);
        _thread = std::thread{[this] { run(); }};
    }

    void Receiver::stop()
    {
        if (!_thread.joinable())
        {
            return;
        }
        _stopping.store(true);
        std::uint64_t one = 1;
        [[maybe_unused]] auto const n = ::write(_wake.get(), &one, sizeof one);
        _thread.join();
    }

    void Receiver::run()
    {
        while (!_stopping.load(std::memory_order_acquire))
        {
            handleEvents();
            handleCompletions();
            flushCredit();
            // Block only when neither queue has anything pending (fi_trywait), on all three fds.
            if (!_cq->tryWait() || !_events->tryWait())
            {
                continue;
            }
            std::array<pollfd, 3> fds{{{_cq->waitFd(), POLLIN, 0}, {_events->waitFd(), POLLIN, 0}, {_wake.get(), POLLIN, 0}}};
            ::poll(fds.data(), fds.size(), 200);
        }
    }

    void Receiver::handleEvents()
    {
        for (;;)
        {
            auto event = _events->read();
            if (!event)
            {
                _counters.error(event.error().message);
                return;
            }
            if (!event->has_value())
            {
                return;
            }
            auto& e = **event;
            switch (e.kind)
            {
                case ofi::CmEventKind::ConnectionRequest: onConnectionRequest(e); break;
                case ofi::CmEventKind::Connected:
                    // Only about the connection in use: an event of an older one (its endpoint gone,
                    // the event still queued) must neither mark nor tear down the current one.
                    if (!_endpoint || e.fid != _endpoint->fid())
                    {
                        break;
                    }
                    _connected.store(true, std::memory_order_release);
                    log().info("flow {}: source connected", formatUuid(_definition.id));
                    break;
                case ofi::CmEventKind::Shutdown:
                    if (!_endpoint || e.fid != _endpoint->fid())
                    {
                        log().debug("flow {}: a shutdown of an earlier connection, ignored", formatUuid(_definition.id));
                        break;
                    }
                    _connected.store(false, std::memory_order_release);
                    _endpoint.reset();
                    log().info("flow {}: source disconnected", formatUuid(_definition.id));
                    break;
                case ofi::CmEventKind::Error:
                    _counters.error(e.message);
                    break;
                case ofi::CmEventKind::Other: break;
            }
        }
    }

    void Receiver::onConnectionRequest(ofi::CmEvent const& event)
    {
        if (!event.info)
        {
            // Nothing to accept or reject it with; the provider drops it with the event.
            _counters.error("a connection request without its details");
            return;
        }
        // The proof comes first: whoever reached the port without the grant learns nothing else.
        if (auto reason = _proofs.admit(event.data, _grant.connectKey, _definition.id, _epoch))
        {
            refuseConnection(*event.info, *reason);
            return;
        }
        if (_endpoint)
        {
            // One source per mirror: a second connection would interleave commits.
            refuseConnection(*event.info, "a source is connected already");
            return;
        }
        auto ep = ofi::Endpoint::open(*_fabricDomain, *event.info, ofi::EndpointQueues{*_cq, *_cq, &*_events, nullptr});
        if (!ep)
        {
            _counters.error(ep.error().message);
            (void)_listener->reject(*event.info);
            return;
        }
        _endpoint.emplace(std::move(*ep));
        resetCredit();
        if (auto accepted = _endpoint->accept(); !accepted)
        {
            _counters.error(accepted.error().message);
            _endpoint.reset();
            return;
        }
        ++_connection;
        _nextMessage = 0;
        auto const buffers = _options.transfer == Transfer::SendReceive ? bounceBufferCount : 1;
        for (std::size_t buffer = 0; buffer < buffers; ++buffer)
        {
            postReceive(buffer);
        }
    }

    void Receiver::refuseConnection(ofi::Info const& request, std::string const& reason)
    {
        _counters.refusedConnections.fetch_add(1, std::memory_order_relaxed);
        if (auto rejected = _listener->reject(request); !rejected)
        {
            log().debug("flow {}: rejecting a connection request failed: {}", formatUuid(_definition.id), rejected.error().message);
        }
        // Anyone who reaches the port can send requests: the log says so at a bounded rate.
        auto const now = std::chrono::steady_clock::now();
        if (_refusalLoggedAt && now - *_refusalLoggedAt < refusalLogInterval)
        {
            ++_refusalsNotLogged;
            return;
        }
        auto const earlier = std::exchange(_refusalsNotLogged, 0);
        log().warn("flow {}: refused a connection to the data endpoint from {}: {}{}", formatUuid(_definition.id),
            ofi::describeAddress(request.destinationAddress()), reason,
            earlier == 0 ? std::string{} : fmt::format(" ({} more refused since the last such line)", earlier));
        _refusalLoggedAt = now;
    }

    void Receiver::handleCompletions()
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
                    onCompletionError(error);
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
            // Credit goes back as soon as the commits that raised it are applied, not after the queue
            // ran dry: the source may be waiting for it.
            flushCredit();
        }
    }

    void Receiver::onCompletion(fi_cq_data_entry const& entry)
    {
        if ((entry.flags & FI_REMOTE_CQ_DATA) != 0)
        {
            if (_options.transfer == Transfer::Rma)
            {
                onCommit(static_cast<std::uint32_t>(entry.data));
            }
            else
            {
                refuse(_counters.refusedOperation, "a remote write with immediate data on a send/receive session");
            }
            return;
        }
        if ((entry.flags & FI_RECV) != 0)
        {
            if (_options.transfer == Transfer::SendReceive)
            {
                onMessage(entry.op_context, entry.len);
                return;
            }
            std::size_t buffer = 0;
            auto const of = receiveOf(entry.op_context, buffer);
            if (of == ReceiveOf::ThisConnection)
            {
                refuse(_counters.refusedOperation, "a message on an RMA session");
            }
            else if (of == ReceiveOf::Nobody)
            {
                refuse(_counters.refusedOperation, "a message completing a receive this receiver never posted");
            }
            return;
        }
        if ((entry.flags & FI_SEND) != 0 && creditCompleted(entry.op_context))
        {
            return;
        }
        refuse(_counters.refusedOperation, fmt::format("an operation this transfer does not use (completion flags {:#x})", entry.flags));
    }

    void Receiver::onCompletionError(ofi::CompletionError const& error)
    {
        if ((error.flags & FI_RECV) != 0)
        {
            if (_options.transfer == Transfer::SendReceive)
            {
                onMessageError(error);
                return;
            }
            std::size_t buffer = 0;
            if (error.error != FI_ECANCELED && receiveOf(error.context, buffer) == ReceiveOf::ThisConnection)
            {
                // A message longer than the trap buffer (FI_ETRUNC): a message all the same.
                refuse(_counters.refusedOperation, "a message on an RMA session");
            }
            return;
        }
        if (creditCompleted(error.context))
        {
            // Usually the connection going away (its shutdown event ends the session); on a
            // connection that stays, the newest credit is simply sent again.
            log().debug("flow {}: a credit message failed: {}", formatUuid(_definition.id), error.providerMessage.data());
            _creditSent = false;
            return;
        }
        _counters.error(fmt::format("completion error: {}", error.providerMessage.data()));
    }

    void Receiver::onCommit(std::uint32_t sequence)
    {
        if (!_endpoint)
        {
            // Left over from a session that was closed: nothing it sent is trusted any more.
            return;
        }
        // The record was written by the peer: copy it once and validate the copy.
        CommitRecord record;
        std::memcpy(&record, &_commitRing[sequence % commitRingEntries], sizeof record);
        if (record.sequence != sequence)
        {
            // Sequences wrap at 32 bits: "a whole number of rings ahead" in modular arithmetic.
            auto const ahead = static_cast<std::uint32_t>(record.sequence - sequence);
            if (ahead < (1U << 31) && ahead % commitRingEntries == 0)
            {
                // This receiver fell a whole ring behind and a newer record took the slot: the commit
                // is lost, not forged, and the grain's next commit carries its full slice count.
                _counters.refusedSequence.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            refuse(_counters.refusedSequence, fmt::format("immediate data {} does not match the record's sequence {}", sequence, record.sequence));
            return;
        }
        applyCommit(record);
    }

    void Receiver::onMessage(void* context, std::size_t length)
    {
        std::size_t buffer = 0;
        auto const of = receiveOf(context, buffer);
        if (of == ReceiveOf::Nobody)
        {
            refuse(_counters.refusedOperation, "a message completing a receive this receiver never posted");
            return;
        }
        if (of == ReceiveOf::EarlierConnection)
        {
            return;
        }
        auto const message = std::span<std::byte const>{_bounce.get() + buffer * bounceBufferSize, std::min(length, bounceBufferSize)};
        auto const header = readBounceHeader(message);
        if (!header)
        {
            refuse(_counters.refusedRange, "a malformed message");
        }
        else if (header->sequence != _nextMessage)
        {
            // Nothing after a lost or repeated message can be trusted to be whole (a later commit of
            // the same grain would publish missing bytes): the session ends here.
            refuse(_counters.refusedSequence, fmt::format("message {} where {} was expected", header->sequence, _nextMessage));
        }
        else
        {
            ++_nextMessage;
            if (header->kind == BounceKind::Commit)
            {
                applyCommit(commitRecord(*header));
            }
            else
            {
                applyData(*header, message.subspan(sizeof(BounceHeader)));
            }
        }
        postReceive(buffer);
    }

    void Receiver::onMessageError(ofi::CompletionError const& error)
    {
        if (error.error == FI_ECANCELED)
        {
            return;
        }
        // A message larger than a bounce buffer (FI_ETRUNC) or a broken connection: the message is
        // lost, so the next one fails the sequence check.
        _counters.error(fmt::format("receive failed: {}", error.providerMessage.data()));
        std::size_t buffer = 0;
        if (receiveOf(error.context, buffer) == ReceiveOf::ThisConnection)
        {
            postReceive(buffer);
        }
    }

    void Receiver::refuse(std::atomic<std::uint64_t>& counter, std::string const& reason)
    {
        counter.fetch_add(1, std::memory_order_relaxed);
        if (!_endpoint)
        {
            return;
        }
        // A broken or hostile source: its session is closed so that nothing else it sent is applied.
        // A source that is merely restarting connects again with a valid grant.
        log().warn("flow {}: closing the source's session: it sent {}", formatUuid(_definition.id), reason);
        _counters.error(fmt::format("session closed: {}", reason));
        _connected.store(false, std::memory_order_release);
        (void)_endpoint->shutdown();
        _endpoint.reset();
        ++_connection;
    }

    bool Receiver::inSession(std::uint64_t epoch)
    {
        if (epoch != _epoch)
        {
            refuse(_counters.refusedEpoch, "a commit of another session (stale epoch)");
            return false;
        }
        return true;
    }

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
        auto const window = claimWindowGrains(grains);
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
        if (record.index > maxReplicatedIndex)
        {
            refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
            return;
        }
        // The source starts, or resumes after skipping ahead (or after its writer rewound): it asks
        // for the window from record.index on. Slots already holding those grains stay as they are.
        auto const window = claimWindowGrains(_discrete->flow().grainCount());
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
        if (record.index > UINT64_MAX - length)
        {
            refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
            return;
        }
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

    void Receiver::raiseCredit(std::uint64_t claimedThrough) noexcept
    {
        // Credit only grows between Claim records, so that the answer to a claim is never taken back.
        _claimedThrough = _claimed ? std::max(_claimedThrough, claimedThrough) : claimedThrough;
        _claimed = true;
    }

    void Receiver::resetCredit() noexcept
    {
        _claimed = false;
        _claimedThrough = 0;
        _answeredClaim = UINT64_MAX;
        // Buffers of the closed connection may still complete (or never): count them free.
        _creditsCompleted = _creditsPosted;
        _creditSent = false;
    }

    bool Receiver::creditCompleted(void* context) noexcept
    {
        // Compared as integers: the context may be any value, not a pointer into the slots.
        auto const at = reinterpret_cast<std::uintptr_t>(context);
        auto const first = reinterpret_cast<std::uintptr_t>(_creditOut.get());
        if (!_creditOut || at < first || at >= first + creditSlots * sizeof(CreditRecord) || (at - first) % sizeof(CreditRecord) != 0)
        {
            return false;
        }
        _creditsCompleted += _creditsCompleted < _creditsPosted ? 1 : 0;
        return true;
    }

    void Receiver::flushCredit()
    {
        if (!usesCredits() || !_endpoint || !_claimed || _creditsPosted - _creditsCompleted >= creditSlots)
        {
            return;
        }
        CreditRecord const credit{creditMagic, 0, _epoch, _claimedThrough, _answeredClaim};
        if (_creditSent && credit.claimedThrough == _lastCredit.claimedThrough && credit.answers == _lastCredit.answers)
        {
            return;
        }
        auto* slot = &_creditOut[_creditsPosted % creditSlots];
        *slot = credit;
        auto const result = _endpoint->send(std::as_bytes(std::span{slot, 1}), _creditMr->desc(), slot);
        if (result.posted())
        {
            ++_creditsPosted;
            _creditSent = true;
            _lastCredit = credit;
        }
        else if (!result.again())
        {
            // The connection is going away (its shutdown event ends the session); until then the
            // credit stays unsent and is tried again.
            log().debug("flow {}: sending credit failed: {}", formatUuid(_definition.id), fi_strerror(result.error()));
        }
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

    void Receiver::applyCommit(CommitRecord const& record)
    {
        if (!inSession(record.epoch))
        {
            return;
        }
        if (record.kind == CommitKind::Grain && _discrete != nullptr)
        {
            if (record.index > maxReplicatedIndex || record.validSlices > _totalSlices)
            {
                refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
                return;
            }
            auto const* header = _discrete->flow().grainHeader(static_cast<std::uint32_t>(record.index % _discrete->flow().grainCount()));
            auto const before = header->index == record.index ? header->validSlices : std::uint16_t{0};
            if (_discrete->commitArrived(record.index, record.validSlices, record.grainFlags & MXL_GRAIN_FLAG_INVALID) != MXL_STATUS_OK)
            {
                refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
                return;
            }
            _counters.commits.fetch_add(1, std::memory_order_relaxed);
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
        if (record.kind == CommitKind::Claim && (usesCredits() || _continuous != nullptr))
        {
            applyClaim(record);
            return;
        }
        if (record.kind == CommitKind::Samples && _continuous != nullptr)
        {
            if (record.count == 0 || record.count > _continuous->maxWriteLength() || record.index < record.count || record.index > maxReplicatedIndex)
            {
                refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
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
            noteArrival(record.index, record.index - 1);
            _counters.slices.fetch_add(record.count, std::memory_order_relaxed);
            _counters.bytes.fetch_add(static_cast<std::uint64_t>(record.count) * _continuous->flow().sampleWordSize() *
                                          _continuous->flow().channelCount(),
                std::memory_order_relaxed);
            return;
        }
        refuse(_counters.refusedRange, "an index, slice count, sample count or byte range out of range");
    }
}
