// SPDX-License-Identifier: Apache-2.0
// Receiver: sessions on a reliable-datagram (FI_EP_RDM) endpoint. No connections: the source
// announces itself with a Hello carrying the grant's proof and its address, and leaves with a Bye;
// a refusal, renew() or the receiver's end close its session with a notice (docs/fabric.md,
// "Reliable-datagram endpoints").
#include "replication/Receiver.hpp"
#include "replication/ReceiverTuning.hpp"

#include <chrono>
#include <utility>
#include <poll.h>
#include <fmt/format.h>
#include "common/Logging.hpp"
#include "ofi/Address.hpp"
#include "protocol/DataHello.hpp"
#include "replication/DatagramObjects.hpp"
#include "replication/FabricHints.hpp"

namespace mxl::fabric
{
    using namespace receiver;

    Expected<void> Receiver::openDatagramEndpoint(ofi::Hints hints)
    {
        // Bound to the address asked for where the provider takes one (sockets); shm and efa name
        // their endpoints themselves and refuse a socket address.
        auto bound = hints;
        bound.source(_options.node, _options.service);
        auto info = ofi::Info::query(bound);
        if (!info)
        {
            info = ofi::Info::query(hints);
        }
        if (auto r = emplace(_info, std::move(info)); !r)
        {
            return r;
        }
        _recordsTrail = !writesOrdered(*_info);
        return openDatagramObjects(*_info, completionQueueSize, 16, _fabric, _fabricDomain, _cq, _addresses, _endpoint);
    }

    void Receiver::onDatagram(std::size_t length)
    {
        auto hello = decodeDataHello(std::span<std::byte const>{_bounce.get(), std::min(length, receiveBufferSize())});
        if (!hello)
        {
            // Anyone who knows the address can send here (as anyone can reach a listener): like a
            // refused connection request, it never touches the attached source's session.
            noteRefusedConnection("a datagram sender", hello.error().message);
            return;
        }
        auto const from = hello->kind == DataHelloKind::Hello ? ofi::describeAddress(hello->address) : std::string{"the source"};
        if (auto reason = _proofs.admit(hello->proof, _grant.connectKey, _definition.id, _epoch))
        {
            noteRefusedConnection(from, *reason);
            return;
        }
        if (hello->kind == DataHelloKind::Bye)
        {
            if (_source)
            {
                detachSource(false);
                log().info("flow {}: source disconnected", formatUuid(_definition.id));
            }
            return;
        }
        if (_source)
        {
            noteRefusedConnection(from, "a source is connected already");
            return;
        }
        auto peer = _addresses->insert(hello->address);
        if (!peer)
        {
            noteRefusedConnection(from, peer.error().message);
            return;
        }
        _source = *peer;
        resetSession();
        if (!postCredit(CreditRecord{welcomeMagic, 0, _epoch, 0, UINT64_MAX}))
        {
            _counters.error("the welcome to a source could not be sent");
            _source.reset();
            return;
        }
        _connected.store(true, std::memory_order_release);
        log().info("flow {}: source connected ({})", formatUuid(_definition.id), from);
    }

    void Receiver::detachSource(bool notify)
    {
        if (!_source)
        {
            return;
        }
        resetSession();
        if (notify)
        {
            // Best effort: a source that does not hear it finds out when its writes fail (new keys
            // after renew) or when its bridge's control session ends.
            (void)postCredit(CreditRecord{closeMagic, 0, _epoch, 0, UINT64_MAX});
        }
        // The address stays in the vector (completions of messages to it may still come): one entry
        // per session, sessions are rare.
        _source.reset();
        _connected.store(false, std::memory_order_release);
    }

    void Receiver::closeSource()
    {
        if (!_source || !_cq)
        {
            return;
        }
        auto const posted = _creditsPosted;
        detachSource(true);
        // The thread is stopped: drive the queue until the notice has left (or 100 ms passed).
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds{100};
        while (_creditsPosted != posted && _creditsCompleted < _creditsPosted && std::chrono::steady_clock::now() < deadline)
        {
            _cq->drain(
                [this](std::span<fi_cq_data_entry const> entries) {
                    for (auto const& entry : entries)
                    {
                        if ((entry.flags & FI_RECV) != 0)
                        {
                            // A Hello for the session that is ending: dropped, the receive posted again.
                            postReceive(0);
                            continue;
                        }
                        (void)creditCompleted(entry.op_context);
                    }
                },
                [this](ofi::CompletionError const& error) {
                    if ((error.flags & FI_RECV) != 0 && error.error != FI_ECANCELED)
                    {
                        postReceive(0);
                        return;
                    }
                    (void)creditCompleted(error.context);
                });
            (void)_cq->wait(std::chrono::milliseconds{1});
        }
    }

    bool Receiver::postCredit(CreditRecord const& credit)
    {
        if (_creditsPosted - _creditsCompleted >= creditSlots)
        {
            return false;
        }
        auto* slot = &_creditOut[_creditsPosted % creditSlots];
        *slot = credit;
        auto const result = _endpoint->send(std::as_bytes(std::span{slot, 1}), _creditMr->desc(), slot, sourceAddress());
        if (!result.posted())
        {
            if (!result.again())
            {
                // A connection going away (its shutdown event ends the session), or a datagram source
                // gone (its completion error does); until then the credit stays unsent and is retried.
                log().debug("flow {}: sending credit failed: {}", formatUuid(_definition.id), fi_strerror(result.error()));
            }
            return false;
        }
        ++_creditsPosted;
        return true;
    }
}
