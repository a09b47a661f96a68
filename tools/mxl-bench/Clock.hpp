// SPDX-License-Identifier: Apache-2.0
#pragma once

// Clocks for measuring: monotonic time (comparable between processes on one host), the process's
// CPU time, and sleeping to a monotonic deadline.

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace mxl::bench
{
    inline std::uint64_t clockNs(clockid_t clock) noexcept
    {
        timespec ts{};
        ::clock_gettime(clock, &ts);
        return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
    }

    inline std::uint64_t monotonicNs() noexcept
    {
        return clockNs(CLOCK_MONOTONIC);
    }

    inline std::uint64_t processCpuNs() noexcept
    {
        return clockNs(CLOCK_PROCESS_CPUTIME_ID);
    }

    inline void sleepUntilMonotonic(std::uint64_t ns) noexcept
    {
        timespec ts{static_cast<time_t>(ns / 1'000'000'000ULL), static_cast<long>(ns % 1'000'000'000ULL)};
        while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR)
        {
        }
    }
}
