// SPDX-License-Identifier: Apache-2.0
#include "mxl-bench/NoiseBench.hpp"

#include <cerrno>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mxl-bench/Stats.hpp"

namespace mxl::bench
{
    namespace
    {
        std::uint64_t nowNs() noexcept
        {
            timespec ts{};
            ::clock_gettime(CLOCK_MONOTONIC, &ts);
            return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
        }

        /// The all-CPU line of /proc/stat: total, idle (idle + iowait) and steal jiffies.
        struct CpuTimes
        {
            std::uint64_t total{0};
            std::uint64_t idle{0};
            std::uint64_t steal{0};
            bool known{false};
        };

        CpuTimes readCpuTimes()
        {
            std::ifstream stat{"/proc/stat"};
            std::string line;
            if (!std::getline(stat, line) || !line.starts_with("cpu "))
            {
                return {};
            }
            std::istringstream fields{line.substr(4)};
            std::vector<std::uint64_t> v;
            std::uint64_t x = 0;
            while (fields >> x)
            {
                v.push_back(x);
            }
            if (v.size() < 8)
            {
                return {};
            }
            CpuTimes t;
            // user nice system idle iowait irq softirq steal [guest guest_nice: already in user and nice]
            for (std::size_t i = 0; i < 8; ++i)
            {
                t.total += v[i];
            }
            t.idle = v[3] + v[4];
            t.steal = v[7];
            t.known = true;
            return t;
        }
    }

    nlohmann::json runNoise(NoiseOptions const& options)
    {
        auto const periodNs = std::uint64_t{options.periodUs} * 1000ULL;
        auto const count = static_cast<std::size_t>(options.durationS * 1e9 / static_cast<double>(periodNs));
        std::vector<std::uint64_t> late;
        late.reserve(count);
        auto const before = readCpuTimes();
        auto deadline = nowNs() + periodNs;
        for (std::size_t i = 0; i < count; ++i)
        {
            timespec const at{static_cast<time_t>(deadline / 1'000'000'000ULL), static_cast<long>(deadline % 1'000'000'000ULL)};
            while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR)
            {
            }
            auto const woke = nowNs();
            late.push_back(woke > deadline ? woke - deadline : 0);
            deadline += periodNs;
            if (woke > deadline)
            {
                // Slept through whole periods: count the lateness once, then keep to the grid.
                deadline += (woke - deadline) / periodNs * periodNs + periodNs;
            }
        }
        auto const after = readCpuTimes();

        nlohmann::json result{
            {"benchmark", "noise"},
            {"duration_s", options.durationS},
            {"period_us", options.periodUs},
            {"wake_late_us", percentilesUs(late).toJson()},
        };
        if (before.known && after.known && after.total > before.total)
        {
            auto const total = static_cast<double>(after.total - before.total);
            result["cpu_busy"] = 1.0 - static_cast<double>(after.idle - before.idle) / total;
            result["cpu_steal"] = static_cast<double>(after.steal - before.steal) / total;
        }
        else
        {
            result["cpu_busy"] = nullptr;
            result["cpu_steal"] = nullptr;
        }
        return result;
    }
}
