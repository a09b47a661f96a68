// SPDX-License-Identifier: Apache-2.0
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
        auto epoch = randomEpoch("a sink's epoch");
        if (!epoch)
        {
            return epoch.take_error();
        }
        _epoch = *epoch;

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
        auto epoch = randomEpoch("a sink's new epoch");
        if (!epoch)
        {
            return epoch.take_error();
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
        _epoch = *epoch;
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
}
