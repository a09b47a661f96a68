// SPDX-License-Identifier: Apache-2.0
#include "ofi/EventQueue.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include <rdma/fi_errno.h>

#include "ofi/Error.hpp"

namespace mxl::ofi
{
    namespace
    {
        CmEventKind kindOf(std::uint32_t code) noexcept
        {
            switch (code)
            {
                case FI_CONNREQ:   return CmEventKind::ConnectionRequest;
                case FI_CONNECTED: return CmEventKind::Connected;
                case FI_SHUTDOWN:  return CmEventKind::Shutdown;
                default:           return CmEventKind::Other;
            }
        }
    }

    Expected<EventQueue> EventQueue::open(Fabric& fabric, std::size_t size)
    {
        auto attr = fi_eq_attr{};
        attr.size = size;
        attr.wait_obj = FI_WAIT_FD;
        fid_eq* eq = nullptr;
        if (auto const rc = fi_eq_open(fabric.raw(), &attr, &eq, nullptr); rc != 0)
        {
            return fiFail("fi_eq_open", fabric.providerName(), rc);
        }
        auto owned = FidPtr<fid_eq>{eq};
        auto const fd = waitFdOf(&eq->fid);
        if (fd < 0)
        {
            return fiFail("fi_control(FI_GETWAIT) on an event queue", fabric.providerName(), fd);
        }
        return EventQueue{std::move(owned), fabric.raw(), fd, std::string{fabric.providerName()}};
    }

    EventQueue::EventQueue(FidPtr<fid_eq> eq, fid_fabric* fabric, int waitFd, std::string provider) noexcept
        : _provider{std::move(provider)}
        , _fabric{fabric}
        , _waitFd{waitFd}
        , _eq{std::move(eq)}
    {}

    Expected<std::optional<CmEvent>> EventQueue::read()
    {
        // Room for connection data too: a peer may send some (tcp: up to 256 bytes), and a short
        // buffer fails the read.
        alignas(fi_eq_cm_entry) std::array<std::byte, sizeof(fi_eq_cm_entry) + 256> buffer{};
        std::uint32_t code = 0;
        auto const rc = fi_eq_read(_eq.get(), &code, buffer.data(), buffer.size(), 0);
        if (rc == -FI_EAGAIN)
        {
            return std::optional<CmEvent>{};
        }
        if (rc == -FI_EAVAIL)
        {
            auto error = readError();
            if (!error)
            {
                return error.take_error();
            }
            return std::optional<CmEvent>{std::move(error).value()};
        }
        if (rc < 0)
        {
            return fiFail("fi_eq_read", _provider, rc);
        }

        auto entry = fi_eq_cm_entry{};
        std::memcpy(&entry, buffer.data(), sizeof(entry));
        auto event = CmEvent{};
        event.kind = kindOf(code);
        event.code = code;
        event.fid = entry.fid;
        if (code == FI_CONNREQ && entry.info != nullptr)
        {
            event.info.emplace(entry.info);
        }
        // fi_eq_read answers the bytes it wrote: the entry, then any connection data.
        if ((code == FI_CONNREQ || code == FI_CONNECTED) && static_cast<std::size_t>(rc) > sizeof(entry))
        {
            auto const end = std::min(static_cast<std::size_t>(rc), buffer.size());
            event.data.assign(buffer.begin() + static_cast<std::ptrdiff_t>(sizeof(entry)), buffer.begin() + static_cast<std::ptrdiff_t>(end));
        }
        return std::optional<CmEvent>{std::move(event)};
    }

    Expected<CmEvent> EventQueue::readError()
    {
        auto entry = fi_eq_err_entry{};
        if (auto const rc = fi_eq_readerr(_eq.get(), &entry, 0); rc < 0)
        {
            return fiFail("fi_eq_readerr", _provider, rc);
        }
        auto event = CmEvent{};
        event.kind = CmEventKind::Error;
        event.fid = entry.fid;
        event.error = entry.err;
        std::array<char, 256> buffer{};
        auto const* text = fi_eq_strerror(_eq.get(), entry.prov_errno, entry.err_data, buffer.data(), buffer.size());
        event.message = std::string{fi_strerror(entry.err)};
        if (text != nullptr && *text != '\0')
        {
            event.message += " (";
            event.message += text;
            event.message += ")";
        }
        return event;
    }

    Expected<CmEvent> EventQueue::wait(std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (true)
        {
            auto event = read();
            if (!event)
            {
                return event.take_error();
            }
            if (event.value())
            {
                return std::move(*event.value());
            }
            auto const now = std::chrono::steady_clock::now();
            if (now >= deadline)
            {
                return fail(MXL_ERR_TIMEOUT,
                    "no connection event within " + std::to_string(timeout.count()) + " ms on provider " + _provider);
            }
            // Rounded up: poll's millisecond granularity must not end the wait before the deadline.
            switch (waitForFd(_fabric, &_eq->fid, _waitFd, std::chrono::ceil<std::chrono::milliseconds>(deadline - now)))
            {
                case WaitResult::Ready:
                case WaitResult::TimedOut:    break;
                case WaitResult::Interrupted: return fail(MXL_ERR_INTERRUPTED, "waiting for a connection event was interrupted");
                case WaitResult::Failed:
                    return fail(MXL_ERR_INTERNAL, "waiting on the event queue's fd failed on provider " + _provider);
            }
        }
    }

    bool EventQueue::tryWait() const noexcept
    {
        fid_t fids[] = {&_eq->fid};
        return fi_trywait(_fabric, fids, 1) == 0;
    }
}
