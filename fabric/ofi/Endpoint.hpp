// SPDX-License-Identifier: Apache-2.0
#pragma once

// A data endpoint: connected (FI_EP_MSG) or reliable-datagram (FI_EP_RDM). Posting work is the
// hot path: it never allocates and reports a full queue (FI_EAGAIN) apart from failures, so the
// caller can drain completions and retry.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <sys/uio.h>

#include "base/Expected.hpp"
#include "ofi/AddressVector.hpp"
#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/EventQueue.hpp"
#include "ofi/Fid.hpp"
#include "ofi/Info.hpp"
#include "ofi/RemoteRegion.hpp"

namespace mxl::ofi
{
    /// The outcome of posting an operation.
    class [[nodiscard]] PostResult
    {
    public:
        constexpr explicit PostResult(long rc) noexcept
            : _rc{rc}
        {}

        /// The operation is queued; its completion will arrive on the transmit (or receive) CQ.
        [[nodiscard]] constexpr bool posted() const noexcept { return _rc == 0; }
        /// The queue is full: read completions, then post again.
        [[nodiscard]] constexpr bool again() const noexcept { return _rc == -FI_EAGAIN; }
        /// Positive fi errno when neither posted nor again (0 otherwise); fi_strerror describes it.
        [[nodiscard]] constexpr int error() const noexcept { return posted() || again() ? 0 : static_cast<int>(_rc < 0 ? -_rc : _rc); }

    private:
        long _rc;
    };

    /// The queues an endpoint reports to. Completions of both directions must have a CQ bound
    /// (they may be the same one): tcp in libfabric 1.17 crashes in fi_writemsg otherwise.
    struct EndpointQueues
    {
        CompletionQueue& transmit;
        CompletionQueue& receive;
        EventQueue* events{nullptr};        ///< Required for FI_EP_MSG.
        AddressVector* addresses{nullptr};  ///< Required for FI_EP_RDM.
    };

    /// Must be destroyed before its queues, address vector and domain, and after memory regions
    /// bound to it (FI_MR_ENDPOINT).
    class Endpoint
    {
    public:
        /// Opens, binds and enables an endpoint. For an accepted connection, `info` is the
        /// ConnectionRequest event's Info; for a client, one from Hints::destination.
        [[nodiscard]] static Expected<Endpoint> open(Domain& domain, Info const& info, EndpointQueues queues);

        /// FI_EP_MSG: starts connecting to the Info's destination, sending `data` with the request
        /// (the peer's ConnectionRequest event carries it; providers bound its size, verbs' rdma_cm
        /// to 56 bytes). FI_CONNECTED (or an error event) follows on the EventQueue.
        [[nodiscard]] Expected<void> connect(std::span<std::byte const> data = {});
        /// FI_EP_MSG: accepts the connection request this endpoint was opened from.
        [[nodiscard]] Expected<void> accept();
        [[nodiscard]] Expected<void> shutdown();

        /// The local address, to be inserted into a peer's AddressVector (FI_EP_RDM).
        [[nodiscard]] Expected<std::vector<std::byte>> address() const;

        /// RMA write of `source` (inside a region registered with FI_WRITE, whose desc() is
        /// `desc`) to `target` on `peer` (FI_ADDR_UNSPEC on connected endpoints).
        PostResult write(std::span<std::byte const> source, void* desc, RmaTarget target, void* context,
            fi_addr_t peer = FI_ADDR_UNSPEC) noexcept;

        /// As write(), and the peer's receive CQ reports FI_REMOTE_CQ_DATA with `data` once the
        /// bytes are in place. `data` must fit in cqDataSize() bytes (FI_EINVAL otherwise).
        PostResult writeWithData(std::span<std::byte const> source, void* desc, RmaTarget target, std::uint64_t data,
            void* context, fi_addr_t peer = FI_ADDR_UNSPEC) noexcept;

        PostResult send(std::span<std::byte const> message, void* desc, void* context, fi_addr_t peer = FI_ADDR_UNSPEC) noexcept;

        /// Sends one message gathered from parts (e.g. a header and a payload that stay where they
        /// are), descs[i] being the desc() of the region holding parts[i]. At most
        /// transmitIovLimit() parts (FI_EINVAL otherwise).
        PostResult sendv(std::span<iovec const> parts, void** descs, void* context, fi_addr_t peer = FI_ADDR_UNSPEC) noexcept;

        /// Posts a buffer for one incoming message (or, if requiresRxCqData(), one remote CQ data).
        PostResult recv(std::span<std::byte> buffer, void* desc, void* context, fi_addr_t peer = FI_ADDR_UNSPEC) noexcept;

        /// True when every incoming write with data consumes a posted receive (FI_RX_CQ_DATA).
        [[nodiscard]] bool requiresRxCqData() const noexcept { return _requiresRxCqData; }
        [[nodiscard]] std::size_t cqDataSize() const noexcept { return _cqDataSize; }
        [[nodiscard]] std::size_t transmitIovLimit() const noexcept { return _transmitIovLimit; }
        [[nodiscard]] std::string_view providerName() const noexcept { return _provider; }
        [[nodiscard]] fid_t fid() const noexcept { return &_ep->fid; }
        [[nodiscard]] fid_ep* raw() const noexcept { return _ep.get(); }

    private:
        Endpoint(FidPtr<fid_ep> ep, Info const& info);

        PostResult writeMessage(std::span<std::byte const> source, void* desc, RmaTarget target, std::uint64_t data,
            std::uint64_t flags, void* context, fi_addr_t peer) noexcept;

        std::string _provider;
        std::vector<std::byte> _destination;
        fi_ep_type _type;
        std::uint64_t _writeFlags;
        std::size_t _cqDataSize;
        std::size_t _transmitIovLimit;
        bool _requiresRxCqData;
        FidPtr<fid_ep> _ep;
    };
}
