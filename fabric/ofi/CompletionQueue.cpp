// SPDX-License-Identifier: Apache-2.0
#include "ofi/CompletionQueue.hpp"

#include <cstring>
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
        if (auto const rc = fi_cq_open(domain.raw(), &attr, &cq, nullptr); rc != 0)
        {
            return fiFail("fi_cq_open", domain.providerName(), rc);
        }
        auto owned = FidPtr<fid_cq>{cq};
        auto const fd = waitFdOf(&cq->fid);
        if (fd < 0)
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
        fid_t fids[] = {&_cq->fid};
        return fi_trywait(_fabric, fids, 1) == 0;
    }

    WaitResult CompletionQueue::wait(std::chrono::milliseconds timeout) const noexcept
    {
        return waitForFd(_fabric, &_cq->fid, _waitFd, timeout);
    }
}
