// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>

#include "base/Fd.hpp"
#include "flow/AccessWatcher.hpp"
#include "flow/Flow.hpp"

namespace mxl
{
    /// What discrete and continuous writers share: the flow (opened read-write, locked LOCK_SH) and
    /// the duty of mirroring readers' access time into the header.
    class FlowWriter
    {
    public:
        explicit FlowWriter(std::unique_ptr<Flow> flow) noexcept
            : _flow{std::move(flow)}
        {}

        virtual ~FlowWriter() = default;
        FlowWriter(FlowWriter const&) = delete;
        FlowWriter& operator=(FlowWriter const&) = delete;

        [[nodiscard]] Flow& flow() const noexcept
        {
            return *_flow;
        }

        [[nodiscard]] bool discrete() const noexcept
        {
            return _flow->discrete();
        }

        /// Hands the flow back (for release: the caller decides whether it was the last writer).
        /// The watch on its readers ends first: it writes into the flow's mapping.
        std::unique_ptr<Flow> takeFlow() noexcept
        {
            _accessWatch.reset();
            return std::move(_flow);
        }

        /// Readers' reads are recorded in lastReadTime as they happen (see AccessWatcher).
        void watchAccess(std::unique_ptr<AccessWatch> watch) noexcept
        {
            _accessWatch = std::move(watch);
        }

    protected:
        /// Stamps lastWriteTime and, at most every 10 ms, copies the readers' access time into
        /// lastReadTime (a stat per commit would cost more than the commit).
        void stampWrite(std::uint64_t now) noexcept
        {
            auto& runtime = _flow->data()->info.runtime;
            std::atomic_ref<std::uint64_t>{runtime.lastWriteTime}.store(now, std::memory_order_relaxed);
            if (now - _lastReadMirror >= 10'000'000ULL)
            {
                _lastReadMirror = now;
                if (auto const readTime = _flow->accessTime(); readTime != 0)
                {
                    storeLaterTime(&runtime.lastReadTime, readTime);
                }
            }
        }

    private:
        std::unique_ptr<Flow> _flow;
        std::uint64_t _lastReadMirror{0};
        std::unique_ptr<AccessWatch> _accessWatch; ///< Declared after _flow: goes before the mapping does.
    };
}
