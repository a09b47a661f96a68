// SPDX-License-Identifier: Apache-2.0
#include "sync/Futex.hpp"

#include <cerrno>
#include <climits>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mxl
{
    bool futexWait(std::uint32_t const* word, std::uint32_t expected, std::uint64_t timeoutNs) noexcept
    {
        timespec ts{static_cast<time_t>(timeoutNs / 1'000'000'000ULL), static_cast<long>(timeoutNs % 1'000'000'000ULL)};
        // Not FUTEX_PRIVATE_FLAG: waiters and wakers are in different processes.
        auto const rc = ::syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, nullptr, 0);
        return !(rc == -1 && errno == ETIMEDOUT);
    }

    void futexWakeAll(std::uint32_t* word) noexcept
    {
        ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
    }
}
