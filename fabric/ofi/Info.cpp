// SPDX-License-Identifier: Apache-2.0
#include "ofi/Info.hpp"

#include <cstring>
#include <memory>
#include <utility>

#include <rdma/fi_errno.h>

#include "ofi/Error.hpp"

namespace mxl::ofi
{
    Hints& Hints::provider(Provider provider)
    {
        _provider = std::string{ofi::providerName(provider)};
        _endpointType = ofi::endpointType(provider);
        return *this;
    }

    Hints& Hints::provider(std::string_view name)
    {
        _provider = std::string{name};
        return *this;
    }

    Hints& Hints::endpointType(fi_ep_type type) noexcept
    {
        _endpointType = type;
        return *this;
    }

    Hints& Hints::capabilities(std::uint64_t caps) noexcept
    {
        _caps = caps;
        return *this;
    }

    Hints& Hints::source(std::string node, std::string service)
    {
        _node = std::move(node);
        _service = std::move(service);
        _isSource = true;
        return *this;
    }

    Hints& Hints::destination(std::string node, std::string service)
    {
        _node = std::move(node);
        _service = std::move(service);
        _isSource = false;
        return *this;
    }

    Hints& Hints::queueSizes(std::size_t transmit, std::size_t receive) noexcept
    {
        _txSize = transmit;
        _rxSize = receive;
        return *this;
    }

    Hints& Hints::cqDataSize(std::size_t bytes) noexcept
    {
        _cqDataSize = bytes;
        return *this;
    }

    Hints& Hints::mrModes(std::uint64_t modes) noexcept
    {
        _mrModes = modes & kSupportedMrModes;
        return *this;
    }

    Hints& Hints::deliveryComplete(bool enabled) noexcept
    {
        _deliveryComplete = enabled;
        return *this;
    }

    Hints& Hints::messageOrder(std::uint64_t order) noexcept
    {
        _messageOrder = order;
        return *this;
    }

    Expected<Info> Info::query(Hints const& hints)
    {
        auto const freeInfo = [](fi_info* info) { fi_freeinfo(info); };

        auto raw = std::unique_ptr<fi_info, decltype(freeInfo)>{fi_allocinfo(), freeInfo};
        if (!raw)
        {
            return fail(MXL_ERR_INTERNAL, "fi_allocinfo failed: out of memory");
        }
        raw->caps = hints.capabilities();
        raw->mode = kSupportedModes;
        raw->ep_attr->type = hints.endpointType();
        raw->domain_attr->mr_mode = static_cast<int>(hints.mrModes());
        raw->domain_attr->cq_data_size = hints.cqDataSize();
        raw->tx_attr->msg_order = hints.messageOrder();
        raw->tx_attr->size = hints.transmitSize();
        raw->rx_attr->size = hints.receiveSize();
        if (hints.deliveryComplete())
        {
            raw->tx_attr->op_flags = FI_DELIVERY_COMPLETE;
        }
        if (hints.endpointType() == FI_EP_RDM)
        {
            raw->domain_attr->av_type = FI_AV_TABLE;
        }
        if (!hints.providerName().empty())
        {
            // fi_freeinfo releases prov_name with free(), so it must come from malloc.
            raw->fabric_attr->prov_name = ::strdup(hints.providerName().c_str());
            if (raw->fabric_attr->prov_name == nullptr)
            {
                return fail(MXL_ERR_INTERNAL, "strdup of the provider name failed: out of memory");
            }
        }

        auto const* node = hints.node().empty() ? nullptr : hints.node().c_str();
        auto const* service = hints.service().empty() ? nullptr : hints.service().c_str();
        auto const flags = hints.isSource() ? std::uint64_t{FI_SOURCE} : std::uint64_t{0};
        fi_info* result = nullptr;
        if (auto const rc = fi_getinfo(kApiVersion, node, service, flags, raw.get(), &result); rc != 0)
        {
            if (rc == -FI_ENODATA && (hints.mrModes() & FI_MR_RAW) == 0)
            {
                // Say so when what is missing is raw memory-region keys, which this layer refuses.
                raw->domain_attr->mr_mode |= FI_MR_RAW;
                if (fi_getinfo(kApiVersion, node, service, flags, raw.get(), &result) == 0)
                {
                    fi_freeinfo(result);
                    return fail(MXL_ERR_NO_FABRIC, "provider " + hints.providerName() +
                                                       " requires raw memory-region keys (FI_MR_RAW), which mxl-fabric does not support");
                }
            }
            auto const status = rc == -FI_ENODATA ? MXL_ERR_NO_FABRIC : statusFromFiErrno(rc);
            return fiFail(status, "fi_getinfo", hints.providerName(), rc);
        }
        return Info{result};
    }

    Info::Info(fi_info* owned) noexcept
        : _info{owned}
    {}

    Info::~Info()
    {
        if (_info != nullptr)
        {
            fi_freeinfo(_info);
        }
    }

    Info::Info(Info&& other) noexcept
        : _info{std::exchange(other._info, nullptr)}
    {}

    Info& Info::operator=(Info&& other) noexcept
    {
        if (this != &other)
        {
            if (_info != nullptr)
            {
                fi_freeinfo(_info);
            }
            _info = std::exchange(other._info, nullptr);
        }
        return *this;
    }

    std::string_view Info::providerName() const noexcept
    {
        auto const* name = _info->fabric_attr != nullptr ? _info->fabric_attr->prov_name : nullptr;
        return name != nullptr ? std::string_view{name} : std::string_view{};
    }

    std::string_view Info::domainName() const noexcept
    {
        auto const* name = _info->domain_attr != nullptr ? _info->domain_attr->name : nullptr;
        return name != nullptr ? std::string_view{name} : std::string_view{};
    }

    fi_ep_type Info::endpointType() const noexcept
    {
        return _info->ep_attr->type;
    }

    std::uint64_t Info::capabilities() const noexcept
    {
        return _info->caps;
    }

    std::uint64_t Info::mode() const noexcept
    {
        return _info->mode;
    }

    std::size_t Info::maxMessageSize() const noexcept
    {
        return _info->ep_attr->max_msg_size;
    }

    std::size_t Info::cqDataSize() const noexcept
    {
        return _info->domain_attr->cq_data_size;
    }

    std::uint64_t Info::mrMode() const noexcept
    {
        return static_cast<std::uint64_t>(_info->domain_attr->mr_mode);
    }

    std::size_t Info::mrKeySize() const noexcept
    {
        return _info->domain_attr->mr_key_size;
    }

    std::size_t Info::injectSize() const noexcept
    {
        return _info->tx_attr->inject_size;
    }

    std::size_t Info::transmitSize() const noexcept
    {
        return _info->tx_attr->size;
    }

    std::size_t Info::receiveSize() const noexcept
    {
        return _info->rx_attr->size;
    }

    std::size_t Info::transmitIovLimit() const noexcept
    {
        return _info->tx_attr->iov_limit;
    }

    std::size_t Info::receiveIovLimit() const noexcept
    {
        return _info->rx_attr->iov_limit;
    }

    std::size_t Info::rmaIovLimit() const noexcept
    {
        return _info->tx_attr->rma_iov_limit;
    }

    std::uint64_t Info::messageOrder() const noexcept
    {
        return _info->tx_attr->msg_order;
    }

    std::uint64_t Info::transmitOpFlags() const noexcept
    {
        return _info->tx_attr->op_flags;
    }

    bool Info::requiresRxCqData() const noexcept
    {
        return ((_info->mode | _info->rx_attr->mode) & FI_RX_CQ_DATA) != 0;
    }

    std::span<std::byte const> Info::destinationAddress() const noexcept
    {
        if (_info->dest_addr == nullptr)
        {
            return {};
        }
        return {static_cast<std::byte const*>(_info->dest_addr), _info->dest_addrlen};
    }
}
