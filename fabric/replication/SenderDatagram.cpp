// SPDX-License-Identifier: Apache-2.0
// Sender: a sink's reliable-datagram (FI_EP_RDM) endpoint. The grant carries its address; the source
// inserts it into an address vector, announces itself with a Hello (the grant's proof and its own
// address, for credit) and starts once the sink's welcome arrives. Ordering is what the provider
// reports, never what its name suggests (docs/fabric.md, "Reliable-datagram endpoints").
#include "replication/Sender.hpp"
#include "replication/DatagramObjects.hpp"
#include "replication/SenderTuning.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>
#include <fmt/format.h>
#include "common/Logging.hpp"
#include "replication/FabricHints.hpp"

namespace mxl::fabric
{
    using namespace sender;

    namespace
    {
        /// With the sink as destination where the provider takes a socket address, so that the
        /// endpoint's own address (sent in the Hello) is the one that routes to the sink; shm and efa
        /// name endpoints themselves and refuse one.
        Expected<ofi::Info> queryToward(ofi::Hints hints, RegionGrant const& grant)
        {
            auto toward = hints;
            toward.destination(grant.node, grant.service);
            auto info = ofi::Info::query(toward);
            return info ? std::move(info) : ofi::Info::query(hints);
        }
    }

    Expected<void> Sender::openDatagramEndpoint()
    {
        if (_grant.transfer != Transfer::Rma)
        {
            return fail(MXL_ERR_UNSUPPORTED_OPERATION, "send/receive runs over connected endpoints only; reliable-datagram endpoints use RMA");
        }
        auto probe = queryToward(replicationHints(_grant.provider, FI_EP_RDM), _grant);
        if (!probe)
        {
            return probe.take_error();
        }
        _writesOrdered = writesOrdered(*probe);
        if (_writesOrdered)
        {
            _info.emplace(std::move(*probe));
        }
        else
        {
            // A write's completion must mean its bytes are placed: that is what a commit record waits for.
            auto delivered = queryToward(rdmHints(_grant.provider, false), _grant);
            if (!delivered || (delivered->transmitOpFlags() & FI_DELIVERY_COMPLETE) == 0)
            {
                return fail(MXL_ERR_UNSUPPORTED_OPERATION, fmt::format("provider {} neither orders RMA writes (FI_ORDER_WAW) nor completes them "
                                                                       "on delivery (FI_DELIVERY_COMPLETE)",
                                                               _grant.provider));
            }
            _info.emplace(std::move(*delivered));
        }
        log().debug("flow {}: {} over reliable-datagram endpoints, writes {}", formatUuid(_grant.flowId), _info->providerName(),
            _writesOrdered ? "ordered" : "unordered (commit records wait for delivery)");
        if (auto r = openDatagramObjects(*_info, completionQueueSize, 4, _fabric, _fabricDomain, _cq, _addresses, _endpoint); !r)
        {
            return r;
        }
        auto peer = _addresses->insert(_grant.address);
        if (!peer)
        {
            return fail(peer.error().status, fmt::format("region grant: the sink's data endpoint address: {}", peer.error().message));
        }
        _peer = *peer;
        return {};
    }

    ofi::PostResult Sender::sendHello(DataHelloKind kind, std::string& error)
    {
        auto proof = makeConnectProof(_grant.connectKey, _grant.flowId, _grant.epoch);
        if (!proof)
        {
            error = proof.error().message;
            return ofi::PostResult{-FI_EINVAL};
        }
        DataHello hello{kind, *proof, {}};
        if (kind == DataHelloKind::Hello)
        {
            auto address = _endpoint->address();
            if (!address || address->empty() || address->size() > maxHelloAddressSize)
            {
                error = address ? fmt::format("this endpoint's address has {} bytes", address->size()) : address.error().message;
                return ofi::PostResult{-FI_EINVAL};
            }
            hello.address = std::move(*address);
        }
        auto const bytes = encode(hello);
        std::memcpy(_hello.data(), bytes.data(), bytes.size());
        return _endpoint->send(std::span{_hello.data(), bytes.size()}, _helloMr->desc(), &_hello, _peer);
    }

    Expected<void> Sender::greet()
    {
        for (std::size_t buffer = 0; buffer < creditBuffers && !failed(); ++buffer)
        {
            postCreditReceive(buffer);
        }
        if (failed())
        {
            return fail(MXL_ERR_INTERNAL, _counters.snapshot().lastError);
        }
        auto const deadline = std::chrono::steady_clock::now() + _options.connectTimeout;
        std::optional<Expected<void>> outcome;
        auto helloPosted = false;
        while (!outcome && std::chrono::steady_clock::now() < deadline)
        {
            if (!helloPosted)
            {
                // FI_EAGAIN while the provider sets up its path to a new peer (ofi_rxm connects).
                std::string error;
                auto const sent = sendHello(DataHelloKind::Hello, error);
                helloPosted = sent.posted();
                if (!helloPosted && !sent.again())
                {
                    return fail(MXL_ERR_NOT_READY, fmt::format("sending the hello to {}:{} failed: {}", _grant.node, _grant.service,
                                                       error.empty() ? fi_strerror(sent.error()) : error));
                }
            }
            _cq->drain(
                [&](std::span<fi_cq_data_entry const> entries) {
                    for (auto const& entry : entries)
                    {
                        if (outcome || entry.op_context == &_hello)
                        {
                            continue;
                        }
                        auto const buffer = (entry.flags & FI_RECV) != 0 ? creditBuffer(entry.op_context) : std::nullopt;
                        auto const& credit = buffer ? _creditsIn[*buffer] : CreditRecord{};
                        if (!buffer || entry.len != sizeof(CreditRecord) || credit.epoch != _grant.epoch ||
                            (credit.magic != welcomeMagic && credit.magic != closeMagic))
                        {
                            _counters.refusedOperation.fetch_add(1, std::memory_order_relaxed);
                            outcome = fail(MXL_ERR_NOT_READY, fmt::format("{}:{} sent something other than a welcome (flags {:#x})", _grant.node,
                                                                  _grant.service, entry.flags));
                            continue;
                        }
                        if (credit.magic == closeMagic)
                        {
                            outcome = fail(MXL_ERR_NOT_READY, fmt::format("{}:{} refused the session", _grant.node, _grant.service));
                            continue;
                        }
                        postCreditReceive(*buffer);
                        outcome = Expected<void>{};
                    }
                },
                [&](ofi::CompletionError const& e) {
                    if (!outcome && e.error != FI_ECANCELED)
                    {
                        outcome = fail(MXL_ERR_NOT_READY, fmt::format("reaching {}:{} failed: {}", _grant.node, _grant.service, e.providerMessage.data()));
                    }
                });
            if (!outcome)
            {
                auto const remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
                (void)_cq->wait(std::clamp(remaining, std::chrono::milliseconds{1}, std::chrono::milliseconds{helloPosted ? 20 : 1}));
            }
        }
        if (!outcome)
        {
            // A sink that refuses a Hello (a bad proof, another source attached) says nothing.
            return fail(MXL_ERR_TIMEOUT, fmt::format("no welcome from {}:{} within {} ms (refused or unreachable)", _grant.node, _grant.service,
                                             _options.connectTimeout.count()));
        }
        return std::move(*outcome);
    }

    void Sender::sayGoodbye()
    {
        if (std::exchange(_saidGoodbye, true) || !_helloMr)
        {
            return;
        }
        // The thread is stopped: drive the queue until the Bye has left (or 100 ms passed), so that
        // the sink frees its mirror for the next source at once.
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds{100};
        auto posted = false;
        auto left = false;
        while (!left && std::chrono::steady_clock::now() < deadline)
        {
            if (!posted)
            {
                std::string error;
                auto const sent = sendHello(DataHelloKind::Bye, error);
                posted = sent.posted();
                if (!posted && !sent.again())
                {
                    return;
                }
            }
            _cq->drain(
                [&](std::span<fi_cq_data_entry const> entries) {
                    left = left || std::any_of(entries.begin(), entries.end(), [&](auto const& e) { return e.op_context == &_hello; });
                },
                [&](ofi::CompletionError const& e) { left = left || e.context == &_hello; });
            if (!left)
            {
                (void)_cq->wait(std::chrono::milliseconds{1});
            }
        }
    }
}
