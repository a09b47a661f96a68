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
        if (_rdm)
        {
            // Regions bound to the endpoint (FI_MR_ENDPOINT) go before it.
            closeSource();
            _bounceMr.reset();
            _creditMr.reset();
            _regionMrs.clear();
            _commitRingMr.reset();
        }
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
        // Asked before the mirror exists: a provider this host lacks leaves nothing behind.
        auto type = options.transfer == Transfer::Rma ? replicationEndpointType(options.provider) : Expected<fi_ep_type>{FI_EP_MSG};
        if (!type)
        {
            return type.take_error();
        }
        std::unique_ptr<Receiver> receiver{new Receiver{domain, options}};
        receiver->_rdm = *type == FI_EP_RDM;
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

        if (_rdm)
        {
            if (auto r = openDatagramEndpoint(replicationHints(_options.provider, FI_EP_RDM)); !r)
            {
                return r;
            }
        }
        else
        {
            if (auto r = openListener(); !r)
            {
                return r;
            }
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
            auto mr = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{_creditOut.get(), creditSlots}), FI_SEND, regionEndpoint());
            if (!mr)
            {
                return mr.take_error();
            }
            _creditMr.emplace(std::move(*mr));
        }
        _grant.flowId = _definition.id;
        _grant.epoch = _epoch;
        _grant.provider = std::string{_info->providerName()};
        _grant.transfer = _options.transfer;
        _grant.node = _options.node;
        if (_rdm)
        {
            auto address = _endpoint->address();
            if (!address)
            {
                return address.take_error();
            }
            _grant.address = std::move(*address);
            auto const port = ofi::portOf(_grant.address);
            _grant.service = port ? std::to_string(*port) : std::string{"0"};
            postReceive(0);
        }
        else
        {
            auto port = _listener->port();
            if (!port)
            {
                return port.take_error();
            }
            _grant.service = std::to_string(*port);
        }
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

    Expected<void> Receiver::openListener()
    {
        if (auto r = emplace(_info, ofi::Info::query(sinkHints(_options.provider, _options.node, _options.service, _options.transfer))); !r)
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
        return emplace(_cq, ofi::CompletionQueue::open(*_fabricDomain, completionQueueSize));
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
                auto mr = ofi::MemoryRegion::create(*_fabricDomain, payload, FI_REMOTE_WRITE, regionEndpoint());
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
            auto mr = ofi::MemoryRegion::create(*_fabricDomain, std::as_bytes(std::span{channels.data(), channels.size()}), FI_REMOTE_WRITE,
                regionEndpoint());
            if (!mr)
            {
                return mr.take_error();
            }
            _regionMrs.push_back(std::move(*mr));
        }
        _commitRing = std::make_unique<CommitRecord[]>(commitRingEntries);
        std::memset(_commitRing.get(), 0, commitRingEntries * sizeof(CommitRecord));
        auto ring = ofi::MemoryRegion::create(*_fabricDomain,
            std::as_bytes(std::span{_commitRing.get(), commitRingEntries}), FI_REMOTE_WRITE, regionEndpoint());
        if (!ring)
        {
            return ring.take_error();
        }
        _commitRingMr.emplace(std::move(*ring));
        return {};
    }

    std::size_t Receiver::receiveBufferSize() const noexcept
    {
        if (_rdm)
        {
            return maxDataHelloSize;
        }
        return _options.transfer == Transfer::Rma ? trapBufferSize : bounceBufferSize;
    }

    Expected<void> Receiver::registerBounceBuffers()
    {
        auto const bytes = _options.transfer == Transfer::Rma ? receiveBufferSize() : bounceBufferCount * bounceBufferSize;
        _bounce = std::make_unique_for_overwrite<std::byte[]>(bytes);
        auto mr = ofi::MemoryRegion::create(*_fabricDomain, std::span{_bounce.get(), bytes}, FI_RECV, regionEndpoint());
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
        if (_rdm)
        {
            // The endpoint stays (the new grant names its address again); the source goes.
            closeSource();
        }
        else if (_endpoint)
        {
            (void)_endpoint->shutdown();
            _endpoint.reset();
        }
        _connected.store(false, std::memory_order_release);
        ++_connection;
        _nextMessage = 0;
        resetSession();
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
            if (_events)
            {
                handleEvents();
            }
            handleCompletions();
            flushCredit();
            // Block only when neither queue has anything pending (fi_trywait), on all three fds (no
            // event queue on a reliable-datagram endpoint, and no CQ fd on some: ppoll skips fd -1 and
            // then only sleeps the CQ's polling interval).
            if (!_cq->tryWait() || (_events && !_events->tryWait()))
            {
                continue;
            }
            std::array<pollfd, 3> fds{{{_cq->waitFd(), POLLIN, 0}, {_events ? _events->waitFd() : -1, POLLIN, 0}, {_wake.get(), POLLIN, 0}}};
            auto const timeout = _cq->pollTimeout(std::chrono::milliseconds{200});
            ::ppoll(fds.data(), fds.size(), &timeout, nullptr);
        }
    }
}
