// SPDX-License-Identifier: Apache-2.0
#include "time/Timing.hpp"

#include <atomic>
#include <cerrno>
#include <ctime>

#include "common/Logging.hpp"

namespace mxl
{
    namespace
    {
        std::uint64_t readClock(clockid_t clock) noexcept
        {
            timespec ts{};
            ::clock_gettime(clock, &ts);
            return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
        }

        std::atomic<bool> taiChecked{false};

        void warnOnceIfTaiUnset() noexcept
        {
            if (taiChecked.exchange(true, std::memory_order_relaxed))
            {
                return;
            }
            if (taiOffsetUnset())
            {
                log().warn("CLOCK_TAI equals UTC: the kernel's TAI offset is not set (run a PTP or NTP daemon that sets it, "
                           "or 'adjtimex --tai 37'); media timestamps will be 37 s off true TAI");
            }
        }
    }

    bool taiOffsetUnset() noexcept
    {
        auto const tai = readClock(CLOCK_TAI);
        auto const utc = readClock(CLOCK_REALTIME);
        auto const diff = tai > utc ? tai - utc : utc - tai;
        return diff < 500'000'000ULL;
    }

    std::uint64_t taiNow() noexcept
    {
        warnOnceIfTaiUnset();
        return readClock(CLOCK_TAI);
    }

    std::uint64_t monotonicNow() noexcept
    {
        return readClock(CLOCK_MONOTONIC);
    }

    void sleepForNs(std::uint64_t ns) noexcept
    {
        timespec ts{static_cast<time_t>(ns / 1'000'000'000ULL), static_cast<long>(ns % 1'000'000'000ULL)};
        while (::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        {
        }
    }

    void sleepUntilTai(std::uint64_t taiTs) noexcept
    {
        warnOnceIfTaiUnset();
        timespec ts{static_cast<time_t>(taiTs / 1'000'000'000ULL), static_cast<long>(taiTs % 1'000'000'000ULL)};
        while (::clock_nanosleep(CLOCK_TAI, TIMER_ABSTIME, &ts, nullptr) == EINTR)
        {
        }
    }
}
