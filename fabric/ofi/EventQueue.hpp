// SPDX-License-Identifier: Apache-2.0
#pragma once

// Connection-management events of passive and connected endpoints.
//
// tcp (libfabric 1.17) advances a side's connection handshake only while that side's EQ is read:
// a client that never reads its EQ never reaches the server. Each process reading its own queues
// is enough; one thread driving both sides must read both.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rdma/fi_eq.h>

#include "base/Expected.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Fid.hpp"
#include "ofi/Info.hpp"
#include "ofi/Wait.hpp"

namespace mxl::ofi
{
    enum class CmEventKind
    {
        ConnectionRequest, ///< On a passive endpoint; `info` describes the peer: accept or reject it.
        Connected,
        Shutdown,          ///< The peer closed or the connection broke.
        Error,             ///< An error entry (e.g. connection refused); see `error` and `message`.
        Other,             ///< Any other libfabric event (`code` says which).
    };

    struct CmEvent
    {
        CmEventKind kind{CmEventKind::Other};
        std::uint32_t code{0};     ///< The libfabric event (FI_CONNREQ, ...); 0 for errors.
        fid_t fid{nullptr};        ///< The endpoint the event is about; compare with Endpoint::fid().
        std::optional<Info> info;  ///< ConnectionRequest only.
        /// ConnectionRequest and Connected: the connection data the peer sent with fi_connect or
        /// fi_accept (empty when none). Unauthenticated: whoever reached the port chose these bytes.
        std::vector<std::byte> data;
        int error{0};              ///< Error only: positive fi errno.
        std::string message;       ///< Error only: the provider's explanation.
    };

    /// An event queue with a pollable wait fd. Must be outlived by its Fabric and must outlive the
    /// endpoints bound to it.
    class EventQueue
    {
    public:
        [[nodiscard]] static Expected<EventQueue> open(Fabric& fabric, std::size_t size = 64);

        /// The next event, or nullopt when there is none yet. Never blocks.
        [[nodiscard]] Expected<std::optional<CmEvent>> read();

        /// The next event, waiting up to `timeout` on the wait fd. MXL_ERR_TIMEOUT when nothing
        /// arrived, MXL_ERR_INTERRUPTED when a signal cut the wait short.
        [[nodiscard]] Expected<CmEvent> wait(std::chrono::milliseconds timeout);

        /// For callers that multiplex several queues in their own poll/epoll loop: call tryWait()
        /// first and only block on waitFd() when it returns true.
        [[nodiscard]] int waitFd() const noexcept { return _waitFd; }
        [[nodiscard]] bool tryWait() const noexcept;

        [[nodiscard]] fid_eq* raw() const noexcept { return _eq.get(); }

    private:
        EventQueue(FidPtr<fid_eq> eq, fid_fabric* fabric, int waitFd, std::string provider) noexcept;

        [[nodiscard]] Expected<CmEvent> readError();

        std::string _provider;
        fid_fabric* _fabric;
        int _waitFd;
        FidPtr<fid_eq> _eq;
    };
}
