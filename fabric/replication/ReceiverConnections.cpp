// SPDX-License-Identifier: Apache-2.0
// Receiver: sessions on connected (FI_EP_MSG) endpoints: the listener's events, connection requests
// and their proofs, and refusals (logged at a bounded rate, for datagram Hellos too).
#include "replication/Receiver.hpp"
#include "replication/ReceiverTuning.hpp"

#include <utility>
#include <fmt/format.h>
#include "common/Logging.hpp"
#include "ofi/Address.hpp"

namespace mxl::fabric
{
    using namespace receiver;

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
        resetSession();
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
        // Counted before the caller learns of the rejection.
        _counters.refusedConnections.fetch_add(1, std::memory_order_relaxed);
        if (auto rejected = _listener->reject(request); !rejected)
        {
            log().debug("flow {}: rejecting a connection request failed: {}", formatUuid(_definition.id), rejected.error().message);
        }
        logRefusedConnection(ofi::describeAddress(request.destinationAddress()), reason);
    }

    void Receiver::noteRefusedConnection(std::string const& from, std::string const& reason)
    {
        _counters.refusedConnections.fetch_add(1, std::memory_order_relaxed);
        logRefusedConnection(from, reason);
    }

    void Receiver::logRefusedConnection(std::string const& from, std::string const& reason)
    {
        // Anyone who reaches the port can send requests: the log says so at a bounded rate.
        auto const now = std::chrono::steady_clock::now();
        if (_refusalLoggedAt && now - *_refusalLoggedAt < refusalLogInterval)
        {
            ++_refusalsNotLogged;
            return;
        }
        auto const earlier = std::exchange(_refusalsNotLogged, 0);
        log().warn("flow {}: refused a connection to the data endpoint from {}: {}{}", formatUuid(_definition.id), from, reason,
            earlier == 0 ? std::string{} : fmt::format(" ({} more refused since the last such line)", earlier));
        _refusalLoggedAt = now;
    }
}
