// SPDX-License-Identifier: Apache-2.0
#include "ofi/Wait.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>

#include <poll.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>

namespace mxl::ofi
{
    WaitResult waitForFd(fid_fabric* fabric, fid_t waitable, int fd, std::chrono::milliseconds timeout) noexcept
    {
        fid_t fids[] = {waitable};
        auto const rc = fi_trywait(fabric, fids, 1);
        if (rc == -FI_EAGAIN)
        {
            return WaitResult::Ready;
        }
        if (rc != 0)
        {
            return WaitResult::Failed;
        }
        auto const millis = static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, INT_MAX));
        auto pfd = pollfd{fd, POLLIN, 0};
        auto const ready = ::poll(&pfd, 1, millis);
        if (ready > 0)
        {
            return WaitResult::Ready;
        }
        if (ready == 0)
        {
            return WaitResult::TimedOut;
        }
        return errno == EINTR ? WaitResult::Interrupted : WaitResult::Failed;
    }

    int waitFdOf(fid_t waitable) noexcept
    {
        int fd = -1;
        if (auto const rc = fi_control(waitable, FI_GETWAIT, &fd); rc != 0)
        {
            return rc < 0 ? rc : -rc;
        }
        return fd;
    }
}
