// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/rational.h>
#include <mxl/time.h>
#include <spdlog/spdlog.h>

namespace mxl::gen
{
    /// One generated flow: its writer and the loop that fills it, run on a thread of its own.
    class Generator
    {
    public:
        virtual ~Generator() = default;

        /// Writes until `stop` is set. Returns false on a write error (logged).
        virtual bool run(std::atomic<bool> const& stop) = 0;

        /// Grains (or samples, for audio) skipped because the generator fell behind TAI time.
        [[nodiscard]] std::uint64_t skipped() const noexcept
        {
            return _skipped.load(std::memory_order_relaxed);
        }

        [[nodiscard]] std::string const& id() const noexcept
        {
            return _id;
        }

        /// What skipped() counts: "grains" or "samples".
        [[nodiscard]] virtual char const* unit() const noexcept
        {
            return "grains";
        }

    protected:
        Generator(mxlFlowWriter writer, std::string id, mxlRational rate)
            : _writer{writer}
            , _id{std::move(id)}
            , _rate{rate}
        {}

        /// The grain to write next: `next`, or the current grain when the generator fell more than a
        /// grain behind TAI time (the grains between are skipped, counted and logged; kind names the
        /// flow in the log: "video", "anc").
        std::uint64_t catchUp(std::uint64_t next, char const* kind)
        {
            auto const current = mxlGetCurrentIndex(&_rate);
            if (current <= next + 1)
            {
                return next;
            }
            _skipped.fetch_add(current - next, std::memory_order_relaxed);
            spdlog::warn("{} {}: {} grain(s) behind TAI time; skipping to grain {} ({} skipped in all)", kind, _id, current - next, current, skipped());
            return current;
        }

        mxlFlowWriter _writer;
        std::string _id;
        mxlRational _rate;
        std::atomic<std::uint64_t> _skipped{0};
    };
}
