// SPDX-License-Identifier: Apache-2.0
#pragma once

// Blocking on an event or completion queue without fi_eq_sread/fi_cq_sread, which can spin
// forever on some providers (shm in libfabric 1.17): fi_trywait, then poll on the wait fd with
// our own timeout.

#include <chrono>

#include <rdma/fabric.h>

namespace mxl::ofi
{
    enum class WaitResult
    {
        Ready,       ///< Something may be readable: read the queue (it may still be empty).
        TimedOut,
        Interrupted, ///< A signal arrived; the caller decides whether to wait again.
        Failed,      ///< fi_trywait or poll failed; reading the queue reports why.
    };

    /// Waits until `waitable` (an EQ or CQ opened with FI_WAIT_FD) may have entries, for at most
    /// `timeout`. Does not allocate.
    [[nodiscard]] WaitResult waitForFd(fid_fabric* fabric, fid_t waitable, int fd, std::chrono::milliseconds timeout) noexcept;

    /// The fd libfabric signals for an EQ or CQ opened with FI_WAIT_FD, or a negative fi errno.
    [[nodiscard]] int waitFdOf(fid_t waitable) noexcept;
}
