// SPDX-License-Identifier: Apache-2.0
#pragma once

// What we ask libfabric for (Hints) and what it offered (Info). The hints carry the modes this
// layer implements, so that the provider may only impose those; Info then says which ones it did.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <rdma/fabric.h>

#include "base/Expected.hpp"
#include "ofi/Provider.hpp"

namespace mxl::ofi
{
    /// The oldest libfabric API whose semantics this layer relies on (mr_mode bits, not BASIC/SCALABLE).
    inline constexpr std::uint32_t kApiVersion = FI_VERSION(1, 9);

    /// Registration modes MemoryRegion implements; a provider requiring any other is not offered.
    inline constexpr std::uint64_t kSupportedMrModes = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT;

    /// Operation modes callers can honour. FI_RX_CQ_DATA: the caller keeps receives posted on
    /// providers where remote CQ data consumes one (Info::requiresRxCqData tells).
    inline constexpr std::uint64_t kSupportedModes = FI_RX_CQ_DATA;

    /// Builder for fi_getinfo hints. The defaults are what the bridge needs and nothing more:
    /// connected endpoints, sending, receiving, writing and being written to (never being read),
    /// and 4 bytes of remote CQ data, which every provider we target offers.
    class Hints
    {
    public:
        /// Pins a provider by name and selects the endpoint type the bridge uses with it.
        Hints& provider(Provider provider);
        /// Pins a provider by its libfabric name (e.g. "tcp;ofi_rxm"); the endpoint type is unchanged.
        Hints& provider(std::string_view name);
        Hints& endpointType(fi_ep_type type) noexcept;
        Hints& capabilities(std::uint64_t caps) noexcept;
        /// A local address to listen on or bind to (FI_SOURCE). Service "0" picks a free port.
        Hints& source(std::string node, std::string service);
        /// The peer to connect to.
        Hints& destination(std::string node, std::string service);
        /// Minimum transmit and receive queue depths; 0 leaves the provider's default.
        Hints& queueSizes(std::size_t transmit, std::size_t receive) noexcept;
        /// Minimum size in bytes of remote CQ data; 0 when the caller never sends any.
        Hints& cqDataSize(std::size_t bytes) noexcept;
        /// Restricts the registration modes accepted to a subset of kSupportedMrModes.
        Hints& mrModes(std::uint64_t modes) noexcept;
        /// Completes writes only once their bytes are placed at the target (FI_DELIVERY_COMPLETE),
        /// so that a write the target refuses fails on the sender's CQ rather than completing.
        Hints& deliveryComplete(bool enabled = true) noexcept;
        /// Asks for message ordering (FI_ORDER_* bits), e.g. FI_ORDER_WAW so that a peer sees our
        /// writes placed in the order we posted them.
        Hints& messageOrder(std::uint64_t order) noexcept;

        [[nodiscard]] std::string const& providerName() const noexcept { return _provider; }
        [[nodiscard]] fi_ep_type endpointType() const noexcept { return _endpointType; }
        [[nodiscard]] std::uint64_t capabilities() const noexcept { return _caps; }
        [[nodiscard]] std::string const& node() const noexcept { return _node; }
        [[nodiscard]] std::string const& service() const noexcept { return _service; }
        [[nodiscard]] bool isSource() const noexcept { return _isSource; }
        [[nodiscard]] std::size_t transmitSize() const noexcept { return _txSize; }
        [[nodiscard]] std::size_t receiveSize() const noexcept { return _rxSize; }
        [[nodiscard]] std::size_t cqDataSize() const noexcept { return _cqDataSize; }
        [[nodiscard]] std::uint64_t mrModes() const noexcept { return _mrModes; }
        [[nodiscard]] bool deliveryComplete() const noexcept { return _deliveryComplete; }
        [[nodiscard]] std::uint64_t messageOrder() const noexcept { return _messageOrder; }

    private:
        std::string _provider;
        fi_ep_type _endpointType{FI_EP_MSG};
        std::uint64_t _caps{FI_MSG | FI_RMA | FI_SEND | FI_RECV | FI_WRITE | FI_REMOTE_WRITE};
        std::string _node;
        std::string _service;
        bool _isSource{false};
        std::size_t _txSize{0};
        std::size_t _rxSize{0};
        std::size_t _cqDataSize{4};
        std::uint64_t _mrModes{kSupportedMrModes};
        bool _deliveryComplete{false};
        std::uint64_t _messageOrder{0};
    };

    /// Owns an fi_info list (from fi_getinfo or a connection request). Accessors describe the
    /// first entry, the provider's preferred match.
    class Info
    {
    public:
        /// Fails with MXL_ERR_NO_FABRIC when no provider matches the hints.
        [[nodiscard]] static Expected<Info> query(Hints const& hints);

        /// Takes ownership of a list libfabric handed out (e.g. with an FI_CONNREQ event).
        explicit Info(fi_info* owned) noexcept;
        ~Info();
        Info(Info&& other) noexcept;
        Info& operator=(Info&& other) noexcept;
        Info(Info const&) = delete;
        Info& operator=(Info const&) = delete;

        [[nodiscard]] std::string_view providerName() const noexcept;
        [[nodiscard]] std::string_view domainName() const noexcept;
        [[nodiscard]] fi_ep_type endpointType() const noexcept;
        [[nodiscard]] std::uint64_t capabilities() const noexcept;
        [[nodiscard]] std::uint64_t mode() const noexcept;
        [[nodiscard]] std::size_t maxMessageSize() const noexcept;
        /// Bytes of remote CQ data; only that many low bytes of a 64-bit value reach the peer.
        [[nodiscard]] std::size_t cqDataSize() const noexcept;
        [[nodiscard]] std::uint64_t mrMode() const noexcept;
        [[nodiscard]] std::size_t mrKeySize() const noexcept;
        [[nodiscard]] std::size_t injectSize() const noexcept;
        [[nodiscard]] std::size_t transmitSize() const noexcept;
        [[nodiscard]] std::size_t receiveSize() const noexcept;
        [[nodiscard]] std::size_t transmitIovLimit() const noexcept;
        [[nodiscard]] std::size_t receiveIovLimit() const noexcept;
        [[nodiscard]] std::size_t rmaIovLimit() const noexcept;
        /// The default completion semantics of transmit operations (FI_DELIVERY_COMPLETE, ...).
        [[nodiscard]] std::uint64_t transmitOpFlags() const noexcept;
        /// The ordering the provider guarantees for our transmissions (FI_ORDER_* bits).
        [[nodiscard]] std::uint64_t messageOrder() const noexcept;
        /// True when remote CQ data from an RMA write consumes a posted receive buffer: the
        /// receiver must keep receives posted or such writes stall or fail.
        [[nodiscard]] bool requiresRxCqData() const noexcept;
        /// The peer's address for connected endpoints (empty when none was given).
        [[nodiscard]] std::span<std::byte const> destinationAddress() const noexcept;

        [[nodiscard]] fi_info* raw() const noexcept { return _info; }

    private:
        fi_info* _info;
    };
}
