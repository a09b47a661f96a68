// SPDX-License-Identifier: Apache-2.0
#include "api/Endpoints.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include "common/Logging.hpp"
#include "ofi/Provider.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Offer.hpp"

namespace mxl::fabric::api
{
    namespace
    {
        /// Targets' arrivals queues hold this many entries more than the ring holds grains.
        constexpr std::size_t arrivalsSlack = 64;
        /// Continuous flows: entries of the arrivals queue (adjacent batches share one).
        constexpr std::size_t sampleArrivals = 4096;

        std::string text(char const* value)
        {
            return value == nullptr ? std::string{} : std::string{value};
        }
    }

    Expected<std::string> libfabricProvider(mxlFabricsProvider provider)
    {
        switch (provider)
        {
            case MXL_FABRICS_PROVIDER_TCP: return std::string{"tcp"};
            case MXL_FABRICS_PROVIDER_VERBS: return std::string{"verbs"};
            // Reliable-datagram endpoints: the same Receiver and Sender reach them through an address vector.
            case MXL_FABRICS_PROVIDER_EFA: return std::string{"efa"};
            case MXL_FABRICS_PROVIDER_SHM: return std::string{"shm"};
            case MXL_FABRICS_PROVIDER_ANY:
            {
                auto available = ofi::availableProviders();
                if (!available)
                {
                    return available.take_error();
                }
                auto const verbs = std::find(available->begin(), available->end(), ofi::Provider::Verbs) != available->end();
                return std::string{verbs ? "verbs" : "tcp"};
            }
        }
        return fail(MXL_ERR_INVALID_ARG, "provider out of range");
    }

    Expected<std::unique_ptr<TargetEndpoint>> TargetEndpoint::create(std::filesystem::path const& domainPath, Uuid const& flowId,
        mxlFabricsInterfaceConfig const& interface, TargetOptions const& options)
    {
        auto provider = libfabricProvider(interface.provider);
        if (!provider)
        {
            return provider.take_error();
        }
        auto const node = text(interface.address.node);
        if (node.empty())
        {
            return fail(MXL_ERR_INVALID_ARG, "the target needs an address (interface.address.node) that its initiators can reach");
        }
        auto service = text(interface.address.service);
        if (service.empty())
        {
            service = "0";
        }
        (void)options.cqDepth; // Our completion queue is drained inside the library: its depth is ours to choose.
        std::unique_ptr<TargetEndpoint> target{new TargetEndpoint{}};
        auto domain = Domain::open(domainPath, nullptr);
        if (!domain)
        {
            return domain.take_error();
        }
        target->_domain = std::move(*domain);
        auto offer = makeFlowOffer(*target->_domain, flowId);
        if (!offer)
        {
            return offer.take_error();
        }
        auto const continuous = offer->config.common.format == MXL_DATA_FORMAT_AUDIO;
        auto const capacity = continuous ? sampleArrivals : offer->config.discrete.grainCount + arrivalsSlack;
        target->_arrivals = std::make_shared<Arrivals>(capacity);
        Receiver::Options receiverOptions;
        receiverOptions.provider = *provider;
        receiverOptions.node = node;
        receiverOptions.service = service;
        receiverOptions.transfer = options.sendReceive ? (*options.sendReceive ? Transfer::SendReceive : Transfer::Rma) : preferredTransfer(*provider);
        receiverOptions.arrivals = target->_arrivals;
        auto receiver = Receiver::create(*target->_domain, *offer, receiverOptions);
        if (!receiver)
        {
            return receiver.take_error();
        }
        target->_receiver = std::move(*receiver);
        target->_receiver->start();
        return target;
    }

    TargetEndpoint::~TargetEndpoint()
    {
        if (_arrivals)
        {
            _arrivals->close();
        }
        if (_receiver)
        {
            _receiver->stop();
        }
    }

    std::optional<Arrival> TargetEndpoint::read(std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        for (;;)
        {
            auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            auto arrival = left.count() <= 0 ? _arrivals->pop() : _arrivals->pop(left);
            if (!arrival || stillHeld(*arrival))
            {
                return arrival;
            }
            // Overwritten in the mirror since it arrived (the application read too late): an index
            // the application would open and commit again would rewind the flow. Skipped.
            ++_overtaken;
        }
    }

    bool TargetEndpoint::stillHeld(Arrival const& arrival) const noexcept
    {
        auto const& flow = _receiver->mirror();
        if (!flow.discrete())
        {
            auto const head = flow.headIndex().load(std::memory_order_acquire);
            return head <= arrival.index - arrival.count + flow.bufferLength();
        }
        auto const* header = flow.grainHeader(static_cast<std::uint32_t>(arrival.index % flow.grainCount()));
        return std::atomic_ref<std::uint64_t const>{header->index}.load(std::memory_order_acquire) == arrival.index;
    }

    Expected<std::unique_ptr<InitiatorEndpoint>> InitiatorEndpoint::create(std::filesystem::path const& domainPath, Uuid const& flowId, bool continuous)
    {
        auto domain = Domain::open(domainPath, nullptr);
        if (!domain)
        {
            return domain.take_error();
        }
        return std::unique_ptr<InitiatorEndpoint>{new InitiatorEndpoint{std::move(*domain), flowId, continuous}};
    }

    InitiatorEndpoint::InitiatorEndpoint(std::unique_ptr<Domain> domain, Uuid const& flowId, bool continuous)
        : _domain{std::move(domain)}
        , _flowId{flowId}
        , _continuous{continuous}
    {}

    InitiatorEndpoint::~InitiatorEndpoint()
    {
        std::lock_guard lock{_mutex};
        for (auto* peers : {&_peers, &_leaving})
        {
            for (auto& peer : *peers)
            {
                if (peer->connecting.valid())
                {
                    // A connection attempt ends within the sender's connect timeout.
                    if (auto sender = peer->connecting.get(); sender)
                    {
                        peer->sender = std::move(*sender);
                    }
                }
                if (peer->sender)
                {
                    peer->sender->stop();
                }
            }
        }
    }

    bool InitiatorEndpoint::sameTarget(RegionGrant const& a, RegionGrant const& b) noexcept
    {
        return a.epoch == b.epoch && a.flowId == b.flowId && a.node == b.node && a.service == b.service;
    }

    Expected<void> InitiatorEndpoint::add(RegionGrant const& grant)
    {
        if (grant.flowId != _flowId)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("the target receives flow {}, this initiator sends flow {}", formatUuid(grant.flowId),
                                                 formatUuid(_flowId)));
        }
        std::lock_guard lock{_mutex};
        for (auto const& peer : _peers)
        {
            if (sameTarget(peer->grant, grant))
            {
                return fail(MXL_ERR_EXISTS, "the target was added to this initiator already");
            }
        }
        auto requests = TransferRequests::create(&_progress);
        if (!requests)
        {
            return requests.take_error();
        }
        auto peer = std::make_unique<Peer>();
        peer->grant = grant;
        peer->requests = std::move(*requests);
        Sender::Options options;
        options.requests = peer->requests;
        peer->connecting = std::async(std::launch::async, [domain = _domain.get(), flowId = _flowId, grant, options, this] {
            auto sender = Sender::create(*domain, flowId, grant, options);
            if (sender)
            {
                (*sender)->start();
            }
            _progress.fetch_add(1, std::memory_order_release);
            futexWakeAll(reinterpret_cast<std::uint32_t*>(&_progress));
            return sender;
        });
        _peers.push_back(std::move(peer));
        return {};
    }

    Expected<void> InitiatorEndpoint::remove(RegionGrant const& grant)
    {
        std::lock_guard lock{_mutex};
        auto const found = std::find_if(_peers.begin(), _peers.end(), [&](auto const& peer) { return sameTarget(peer->grant, grant); });
        if (found == _peers.end())
        {
            return fail(MXL_ERR_NOT_FOUND, "the target is not one of this initiator's");
        }
        auto peer = std::move(*found);
        _peers.erase(found);
        if (peer->sender)
        {
            peer->sender->stop();
        }
        if (peer->connecting.valid())
        {
            _leaving.push_back(std::move(peer));
        }
        return {};
    }

    mxlStatus InitiatorEndpoint::transfer(TransferRequest const& request)
    {
        std::lock_guard lock{_mutex};
        for (auto const& peer : _peers)
        {
            if (!peer->failure && peer->requests->full())
            {
                log().warn("fabrics initiator: a target is {} transfers behind; transfer refused until MakeProgress reports progress",
                    TransferRequests::capacity);
                return MXL_ERR_NOT_READY;
            }
        }
        for (auto const& peer : _peers)
        {
            if (!peer->failure)
            {
                peer->requests->push(request);
            }
        }
        return MXL_STATUS_OK;
    }

    mxlStatus InitiatorEndpoint::poll()
    {
        std::lock_guard lock{_mutex};
        std::erase_if(_leaving, [](auto& peer) {
            if (peer->connecting.wait_for(std::chrono::seconds{0}) != std::future_status::ready)
            {
                return false;
            }
            if (auto sender = peer->connecting.get(); sender)
            {
                (*sender)->stop();
            }
            return true;
        });
        auto status = _leaving.empty() ? MXL_STATUS_OK : MXL_ERR_NOT_READY;
        for (auto& peer : _peers)
        {
            if (peer->connecting.valid() && peer->connecting.wait_for(std::chrono::seconds{0}) == std::future_status::ready)
            {
                auto sender = peer->connecting.get();
                if (!sender)
                {
                    log().error("fabrics initiator: connecting to the target at {}:{} failed: {}", peer->grant.node, peer->grant.service,
                        sender.error().message);
                    peer->failure = sender.error().status;
                }
                else
                {
                    peer->sender = std::move(*sender);
                }
            }
            if (!peer->failure && peer->sender && peer->sender->failed())
            {
                log().error("fabrics initiator: the transfers to the target at {}:{} stopped: {}", peer->grant.node, peer->grant.service,
                    peer->sender->counters().lastError);
                peer->failure = MXL_ERR_UNKNOWN;
            }
            if (peer->failure)
            {
                return *peer->failure;
            }
            if (!peer->sender || peer->requests->finished() < peer->requests->pushed())
            {
                status = MXL_ERR_NOT_READY;
            }
        }
        return status;
    }

    mxlStatus InitiatorEndpoint::progress(std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        for (;;)
        {
            auto const seen = _progress.load(std::memory_order_acquire);
            auto const status = poll();
            auto const now = std::chrono::steady_clock::now();
            if (status != MXL_ERR_NOT_READY || now >= deadline)
            {
                return status;
            }
            auto const left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now).count();
            futexWait(reinterpret_cast<std::uint32_t const*>(&_progress), seen, static_cast<std::uint64_t>(left));
        }
    }
}
