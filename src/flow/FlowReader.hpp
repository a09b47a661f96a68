// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <mxl/mxl.h>
#include "flow/Flow.hpp"
#include "sync/Futex.hpp"
#include "time/Timing.hpp"

namespace mxl
{
    /// What discrete and continuous readers share: the read-only flow and the futex wait loop.
    class FlowReader
    {
    public:
        explicit FlowReader(std::unique_ptr<Flow> flow) noexcept
            : _flow{std::move(flow)}
        {}

        virtual ~FlowReader() = default;
        FlowReader(FlowReader const&) = delete;
        FlowReader& operator=(FlowReader const&) = delete;

        [[nodiscard]] Flow& flow() const noexcept
        {
            return *_flow;
        }

        [[nodiscard]] bool discrete() const noexcept
        {
            return _flow->discrete();
        }

    protected:
        /// Evaluates attempt() until it stops answering TOO_EARLY or timeoutNs passes, sleeping on the
        /// flow's futex in between. A flow that was removed gives FLOW_INVALID instead of TOO_EARLY,
        /// with or without a timeout.
        template<typename Attempt>
        mxlStatus waitFor(std::uint64_t timeoutNs, Attempt&& attempt) const noexcept
        {
            auto status = attempt();
            if (status != MXL_ERR_OUT_OF_RANGE_TOO_EARLY)
            {
                return status;
            }
            if (timeoutNs == 0)
            {
                // A removed flow never becomes ready: "not yet" would have the caller poll forever.
                return _flow->removed() ? MXL_ERR_FLOW_INVALID : status;
            }
            auto const deadline = monotonicNow() + timeoutNs;
            std::atomic_ref<std::uint32_t> counter{*_flow->syncCounter()};
            for (;;)
            {
                auto const seen = counter.load(std::memory_order_acquire);
                status = attempt();
                if (status != MXL_ERR_OUT_OF_RANGE_TOO_EARLY)
                {
                    return status;
                }
                if (_flow->removed())
                {
                    return MXL_ERR_FLOW_INVALID;
                }
                auto const now = monotonicNow();
                if (now >= deadline)
                {
                    return status;
                }
                // Bounded so that a flow removed by software that does not wake readers is still noticed.
                futexWait(_flow->syncCounter(), seen, std::min<std::uint64_t>(deadline - now, maxSleepNs));
            }
        }

        /// Marks the flow as read, for the writer's lastReadTime; at most once a millisecond.
        void noteRead() noexcept
        {
            auto const now = monotonicNow();
            if (now - _lastTouch >= 1'000'000ULL)
            {
                _lastTouch = now;
                _flow->touchAccess();
            }
        }

    private:
        static constexpr std::uint64_t maxSleepNs = 200'000'000ULL;

        std::unique_ptr<Flow> _flow;
        std::uint64_t _lastTouch{0};
    };
}
