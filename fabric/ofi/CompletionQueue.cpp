// SPDX-License-Identifier: Apache-2.0
#include "ofi/CompletionQueue.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <utility>

#include "ofi/Error.hpp"

namespace mxl::ofi
{
    Expected<CompletionQueue> CompletionQueue::open(Domain& domain, std::size_t size)
    {
        auto attr = fi_cq_attr{};
        attr.size = size;
        attr.format = FI_CQ_FORMAT_DATA;
        attr.wait_obj = FI_WAIT_FD;
        attr.wait_cond = FI_CQ_COND_NONE;
        fid_cq* cq = nullptr;
        auto rc = fi_cq_open(domain.raw(), &attr, &cq, nullptr);
        auto owned = FidPtr<fid_cq>{rc == 0 ? cq : nullptr};
        auto fd = rc == 0 ? waitFdOf(&cq->fid) : -FI_ENOSYS;
        if (rc == -FI_ENOSYS || rc == -FI_EOPNOTSUPP || rc == -FI_EINVAL || fd == -FI_ENOSYS || fd == -FI_EOPNOTSUPP)
        {
            // No wait fd here (shm and udp;ofi_rxd in libfabric 1.17): a queue without a wait object,
            // which the caller polls at a backing-off interval (pollTimeout), never spinning.
            owned.reset();
            attr.wait_obj = FI_WAIT_NONE;
            rc = fi_cq_open(domain.raw(), &attr, &cq, nullptr);
            owned = FidPtr<fid_cq>{rc == 0 ? cq : nullptr};
            fd = -1;
        }
        if (rc != 0)
        {
            return fiFail("fi_cq_open", domain.providerName(), rc);
        }
        if (fd < -1)
        {
            return fiFail("fi_control(FI_GETWAIT) on a completion queue", domain.providerName(), fd);
        }
        return CompletionQueue{std::move(owned), domain.fabric(), fd, std::string{domain.providerName()}};
    }

    CompletionQueue::CompletionQueue(FidPtr<fid_cq> cq, fid_fabric* fabric, int waitFd, std::string provider) noexcept
        : _provider{std::move(provider)}
        , _fabric{fabric}
        , _waitFd{waitFd}
        , _cq{std::move(cq)}
    {}

    ssize_t CompletionQueue::read(std::span<fi_cq_data_entry> entries) noexcept
    {
        auto const rc = fi_cq_read(_cq.get(), entries.data(), entries.size());
        _idleReads = rc == -FI_EAGAIN ? _idleReads + 1 : 0;
        return rc == -FI_EAGAIN ? 0 : rc;
    }

    bool CompletionQueue::readError(CompletionError& error) noexcept
    {
        auto entry = fi_cq_err_entry{};
        if (fi_cq_readerr(_cq.get(), &entry, 0) <= 0)
        {
            return false;
        }
        error = CompletionError{};
        error.context = entry.op_context;
        error.flags = entry.flags;
        error.length = entry.len;
        error.data = entry.data;
        error.error = entry.err;
        error.providerError = entry.prov_errno;
        auto& message = error.providerMessage;
        auto const* text = fi_cq_strerror(_cq.get(), entry.prov_errno, entry.err_data, message.data(), message.size());
        if (text != nullptr && text != error.providerMessage.data())
        {
            std::strncpy(error.providerMessage.data(), text, error.providerMessage.size() - 1);
        }
        return true;
    }

    bool CompletionQueue::tryWait() const noexcept
    {
        if (_waitFd < 0)
        {
            return true; // nothing to arm: the caller sleeps for pollTimeout()
        }
        fid_t fids[] = {&_cq->fid};
        return fi_trywait(_fabric, fids, 1) == 0;
    }

    WaitResult CompletionQueue::wait(std::chrono::milliseconds timeout) const noexcept
    {
        if (_waitFd < 0)
        {
            auto const pause = pollTimeout(timeout);
            ::nanosleep(&pause, nullptr);
            return WaitResult::Ready;
        }
        return waitForFd(_fabric, &_cq->fid, _waitFd, timeout);
    }

    timespec CompletionQueue::pollTimeout(std::chrono::milliseconds longest) const noexcept
    {
        using namespace std::chrono;
        auto wait = duration_cast<nanoseconds>(longest);
        if (_waitFd < 0)
        {
            // After a completion, 20-80 us for about 5 ms (a provider such as shm moves a peer's
            // writes only when this side polls, so a slow poll here is a slow write there), then
            // doubling up to 1 ms: quick while data flows, about a thousand wake-ups a second idle.
            constexpr unsigned hotReads = 64;
            auto const step = _idleReads < hotReads ? std::min<unsigned>(_idleReads, 2) : std::min<unsigned>(_idleReads - hotReads + 3, 6);
            auto const backoff = microseconds{20} * (1U << step);
            wait = std::min<nanoseconds>(wait, std::min<nanoseconds>(backoff, milliseconds{1}));
        }
        return timespec{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    }
}
