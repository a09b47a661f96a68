// SPDX-License-Identifier: Apache-2.0
#include "ofi/Endpoint.hpp"

#include <utility>

#include <rdma/fi_cm.h>
#include <rdma/fi_rma.h>

#include "ofi/Address.hpp"
#include "ofi/Error.hpp"

namespace mxl::ofi
{
    namespace
    {
        Expected<void> bind(fid_ep* ep, fid_t object, std::uint64_t flags, std::string_view provider)
        {
            if (auto const rc = fi_ep_bind(ep, object, flags); rc != 0)
            {
                return fiFail("fi_ep_bind", provider, rc);
            }
            return {};
        }
    }

    Expected<Endpoint> Endpoint::open(Domain& domain, Info const& info, EndpointQueues queues)
    {
        auto const provider = info.providerName();
        auto const type = info.endpointType();
        if (type == FI_EP_MSG && queues.events == nullptr)
        {
            return fail(MXL_ERR_INVALID_ARG, "a connected endpoint needs an event queue");
        }
        if (type == FI_EP_RDM && queues.addresses == nullptr)
        {
            return fail(MXL_ERR_INVALID_ARG, "a reliable-datagram endpoint needs an address vector");
        }

        fid_ep* ep = nullptr;
        if (auto const rc = fi_endpoint(domain.raw(), info.raw(), &ep, nullptr); rc != 0)
        {
            return fiFail("fi_endpoint", provider, rc);
        }
        auto owned = FidPtr<fid_ep>{ep};

        if (queues.events != nullptr)
        {
            if (auto bound = bind(ep, &queues.events->raw()->fid, 0, provider); !bound)
            {
                return bound.take_error();
            }
        }
        if (queues.addresses != nullptr)
        {
            if (auto bound = bind(ep, &queues.addresses->raw()->fid, 0, provider); !bound)
            {
                return bound.take_error();
            }
        }
        if (&queues.transmit == &queues.receive)
        {
            if (auto bound = bind(ep, &queues.transmit.raw()->fid, FI_TRANSMIT | FI_RECV, provider); !bound)
            {
                return bound.take_error();
            }
        }
        else
        {
            if (auto bound = bind(ep, &queues.transmit.raw()->fid, FI_TRANSMIT, provider); !bound)
            {
                return bound.take_error();
            }
            if (auto bound = bind(ep, &queues.receive.raw()->fid, FI_RECV, provider); !bound)
            {
                return bound.take_error();
            }
        }
        if (auto const rc = fi_enable(ep); rc != 0)
        {
            return fiFail("fi_enable", provider, rc);
        }
        return Endpoint{std::move(owned), info};
    }

    Endpoint::Endpoint(FidPtr<fid_ep> ep, Info const& info)
        : _provider{info.providerName()}
        , _destination(info.destinationAddress().begin(), info.destinationAddress().end())
        , _type{info.endpointType()}
        // fi_writemsg's flags replace the endpoint's defaults, so the chosen semantics are repeated.
        , _writeFlags{FI_COMPLETION | (info.transmitOpFlags() & FI_DELIVERY_COMPLETE)}
        , _cqDataSize{info.cqDataSize()}
        , _transmitIovLimit{info.transmitIovLimit()}
        , _requiresRxCqData{info.requiresRxCqData()}
        , _ep{std::move(ep)}
    {}

    Expected<void> Endpoint::connect(std::span<std::byte const> data)
    {
        if (_type != FI_EP_MSG || _destination.empty())
        {
            return fail(MXL_ERR_INVALID_STATE, "only a connected endpoint opened with a destination can connect");
        }
        if (auto const rc = fi_connect(_ep.get(), _destination.data(), data.empty() ? nullptr : data.data(), data.size()); rc != 0)
        {
            return fiFail("fi_connect", _provider, rc);
        }
        return {};
    }

    Expected<void> Endpoint::accept()
    {
        if (_type != FI_EP_MSG)
        {
            return fail(MXL_ERR_INVALID_STATE, "only a connected endpoint can accept a connection");
        }
        if (auto const rc = fi_accept(_ep.get(), nullptr, 0); rc != 0)
        {
            return fiFail("fi_accept", _provider, rc);
        }
        return {};
    }

    Expected<void> Endpoint::shutdown()
    {
        if (auto const rc = fi_shutdown(_ep.get(), 0); rc != 0)
        {
            return fiFail("fi_shutdown", _provider, rc);
        }
        return {};
    }

    Expected<std::vector<std::byte>> Endpoint::address() const
    {
        return addressOf(&_ep->fid, _provider);
    }

    PostResult Endpoint::write(std::span<std::byte const> source, void* desc, RmaTarget target, void* context, fi_addr_t peer) noexcept
    {
        return writeMessage(source, desc, target, 0, 0, context, peer);
    }

    PostResult Endpoint::writeWithData(std::span<std::byte const> source, void* desc, RmaTarget target, std::uint64_t data, void* context,
        fi_addr_t peer) noexcept
    {
        if (_cqDataSize == 0)
        {
            return PostResult{-FI_EOPNOTSUPP};
        }
        if (_cqDataSize < sizeof(data) && (data >> (_cqDataSize * 8)) != 0)
        {
            return PostResult{-FI_EINVAL};
        }
        return writeMessage(source, desc, target, data, FI_REMOTE_CQ_DATA, context, peer);
    }

    PostResult Endpoint::writeMessage(std::span<std::byte const> source, void* desc, RmaTarget target, std::uint64_t data,
        std::uint64_t flags, void* context, fi_addr_t peer) noexcept
    {
        // iovec is shared with readv, hence not const; RMA writes only read from it.
        auto iov = iovec{const_cast<std::byte*>(source.data()), source.size()};
        auto remote = fi_rma_iov{target.address, source.size(), target.key};
        auto message = fi_msg_rma{};
        message.msg_iov = &iov;
        message.desc = &desc;
        message.iov_count = 1;
        message.addr = peer;
        message.rma_iov = &remote;
        message.rma_iov_count = 1;
        message.context = context;
        message.data = data;
        return PostResult{fi_writemsg(_ep.get(), &message, flags | _writeFlags)};
    }

    PostResult Endpoint::send(std::span<std::byte const> message, void* desc, void* context, fi_addr_t peer) noexcept
    {
        return PostResult{fi_send(_ep.get(), message.data(), message.size(), desc, peer, context)};
    }

    PostResult Endpoint::sendv(std::span<iovec const> parts, void** descs, void* context, fi_addr_t peer) noexcept
    {
        if (parts.size() > _transmitIovLimit)
        {
            return PostResult{-FI_EINVAL};
        }
        return PostResult{fi_sendv(_ep.get(), parts.data(), descs, parts.size(), peer, context)};
    }

    PostResult Endpoint::recv(std::span<std::byte> buffer, void* desc, void* context, fi_addr_t peer) noexcept
    {
        return PostResult{fi_recv(_ep.get(), buffer.data(), buffer.size(), desc, peer, context)};
    }
}
