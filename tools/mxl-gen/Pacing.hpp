// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include <mxl/time.h>

namespace mxl::gen
{
    /// Sleeps until TAI time `ts` (mxlSleepUntil) in steps of at most 50 ms, so that a stop request
    /// is honoured promptly even at low grain rates. Returns false when stopped.
    inline bool sleepUntilUnlessStopped(std::uint64_t ts, std::atomic<bool> const& stop) noexcept
    {
        constexpr std::uint64_t step = 50'000'000;
        for (;;)
        {
            if (stop.load(std::memory_order_relaxed))
            {
                return false;
            }
            auto const now = mxlGetTime();
            if (now >= ts)
            {
                return true;
            }
            mxlSleepUntil(std::min(ts, now + step));
        }
    }
}
