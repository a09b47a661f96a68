// SPDX-License-Identifier: Apache-2.0
#include "mxl-bench/FabricStages.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <stdexcept>
#include <vector>

#include <sys/mman.h>

#include "mxl-bench/Clock.hpp"
#include "mxl-bench/Stats.hpp"

namespace mxl::bench
{
    namespace
    {
        constexpr std::uint64_t unarmed = UINT64_MAX;

        class Recorder final : public fabric::StageObserver
        {
        public:
            explicit Recorder(StageTable& table)
                : _table{table}
            {}

            void reached(fabric::Stage stage, std::uint64_t index, std::uint16_t validSlices) noexcept override
            {
                auto const column = static_cast<StageTable::Column>(StageTable::Noticed + static_cast<std::size_t>(stage));
                _table.stampSlices(column, index, validSlices, monotonicNs());
            }

        private:
            StageTable& _table;
        };
    }

    /// At the start of the mapping, written by the process that arms the table, read by all.
    struct StageTable::Header
    {
        std::atomic<std::uint64_t> first{unarmed};
        std::atomic<std::uint32_t> totalSlices{0};
    };

    char const* stageName(StageTable::Column column) noexcept
    {
        switch (column)
        {
            case StageTable::Commit: return "commit";
            case StageTable::Noticed: return "sender_noticed";
            case StageTable::Posted: return "writes_posted";
            case StageTable::PayloadCompleted: return "payload_completed";
            case StageTable::RecordLanded: return "record_landed";
            case StageTable::ReaderWoke: return "reader_woke";
            case StageTable::columnCount: break;
        }
        return "?";
    }

    StageTable::StageTable(std::uint64_t grains, std::uint32_t batches)
        : _grains{grains}
        , _batches{batches}
        , _bytes{sizeof(Header) + static_cast<std::size_t>(grains) * batches * columnCount * sizeof(std::uint64_t)}
        , _mapping{::mmap(nullptr, _bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)}
    {
        if (_mapping == MAP_FAILED)
        {
            throw std::runtime_error{"cannot map the stage table"};
        }
        _header = new (_mapping) Header{};
    }

    StageTable::~StageTable()
    {
        ::munmap(_mapping, _bytes);
    }

    std::uint64_t* StageTable::row(std::uint64_t grain, std::uint32_t batch) const noexcept
    {
        return reinterpret_cast<std::uint64_t*>(static_cast<std::byte*>(_mapping) + sizeof(Header)) + (grain * _batches + batch) * columnCount;
    }

    void StageTable::arm(std::uint64_t first, std::uint16_t totalSlices) noexcept
    {
        _header->totalSlices.store(totalSlices, std::memory_order_relaxed);
        _header->first.store(first, std::memory_order_release);
    }

    void StageTable::stamp(Column column, std::uint64_t index, std::uint32_t batch, std::uint64_t ns) noexcept
    {
        auto const first = _header->first.load(std::memory_order_acquire);
        if (first == unarmed || index < first || index - first >= _grains || batch >= _batches)
        {
            return;
        }
        std::atomic_ref<std::uint64_t>{row(index - first, batch)[column]}.store(ns, std::memory_order_relaxed);
    }

    void StageTable::stampSlices(Column column, std::uint64_t index, std::uint16_t validSlices, std::uint64_t ns) noexcept
    {
        // Batch b ends at (b + 1) * (total / batches), the last one at total (as the writer commits).
        auto const total = _header->totalSlices.load(std::memory_order_relaxed);
        auto const per = total / _batches;
        if (per == 0)
        {
            return;
        }
        if (validSlices == total)
        {
            stamp(column, index, _batches - 1, ns);
        }
        else if (validSlices % per == 0 && validSlices / per >= 1)
        {
            stamp(column, index, validSlices / per - 1, ns);
        }
    }

    std::shared_ptr<fabric::StageObserver> StageTable::observer()
    {
        return std::make_shared<Recorder>(*this);
    }

    nlohmann::json StageTable::report(nlohmann::json const& machine) const
    {
        using Times = std::array<std::uint64_t, columnCount>;
        std::vector<Times> complete;
        complete.reserve(_grains * _batches);
        std::uint64_t incomplete = 0;
        for (std::uint64_t g = 0; g < _grains; ++g)
        {
            // A commit the Sender found together with the next one (it looked after both) travelled
            // with it: its stages are the later batch's.
            Times later{};
            std::vector<Times> grain(_batches);
            for (auto b = _batches; b-- > 0;)
            {
                for (std::size_t c = 0; c < columnCount; ++c)
                {
                    auto const ns = std::atomic_ref<std::uint64_t>{row(g, b)[c]}.load(std::memory_order_relaxed);
                    later[c] = ns != 0 || c == Commit || c == ReaderWoke ? ns : later[c];
                    grain[b][c] = later[c];
                }
            }
            for (auto const& t : grain)
            {
                if (std::any_of(t.begin(), t.end(), [](std::uint64_t ns) { return ns == 0; }))
                {
                    ++incomplete;
                    continue;
                }
                complete.push_back(t);
            }
        }

        std::array<std::vector<std::uint64_t>, columnCount> steps, sinceCommit;
        std::vector<std::uint64_t> totals;
        std::uint64_t outOfOrder = 0;
        for (auto const& t : complete)
        {
            for (std::size_t c = Noticed; c < columnCount; ++c)
            {
                outOfOrder += t[c] < t[c - 1] ? 1 : 0;
                steps[c].push_back(t[c] > t[c - 1] ? t[c] - t[c - 1] : 0);
                sinceCommit[c].push_back(t[c] > t[Commit] ? t[c] - t[Commit] : 0);
            }
            totals.push_back(sinceCommit[ReaderWoke].back());
        }

        nlohmann::json result{{"batches", complete.size()}, {"incomplete_batches", incomplete}, {"out_of_order", outOfOrder}};
        auto order = nlohmann::json::array();
        for (std::size_t c = Noticed; c < columnCount; ++c)
        {
            auto const column = static_cast<Column>(c);
            order.push_back(stageName(column));
            result[stageName(column)] = {{"step_us", percentilesUs(steps[c]).toJson()}, {"since_commit_us", percentilesUs(sinceCommit[c]).toJson()}};
        }
        result["order"] = order;

        // The tail: batches at or beyond the p99 of commit-to-readable. Each is put down to the stage
        // that took longest beyond its own median (a stage that is always slow is not the tail).
        std::array<double, columnCount> median{};
        for (std::size_t c = Noticed; c < columnCount; ++c)
        {
            median[c] = percentilesUs(steps[c]).p50 * 1000.0;
        }
        auto const threshold = percentilesUs(totals).p99 * 1000.0;
        std::array<std::uint64_t, columnCount> worstIn{};
        std::array<std::vector<std::uint64_t>, columnCount> excess;
        std::uint64_t tail = 0;
        for (std::size_t i = 0; i < complete.size(); ++i)
        {
            if (static_cast<double>(totals[i]) < threshold)
            {
                continue;
            }
            ++tail;
            std::size_t worst = Noticed;
            auto const over = [&](std::size_t c) { return static_cast<double>(steps[c][i]) - median[c]; };
            for (std::size_t c = Noticed; c < columnCount; ++c)
            {
                worst = over(c) > over(worst) ? c : worst;
            }
            ++worstIn[worst];
            excess[worst].push_back(static_cast<std::uint64_t>(std::max(0.0, over(worst))));
        }
        auto counts = nlohmann::json::object();
        std::size_t dominant = Noticed;
        for (std::size_t c = Noticed; c < columnCount; ++c)
        {
            counts[stageName(static_cast<Column>(c))] = worstIn[c];
            dominant = worstIn[c] > worstIn[dominant] ? c : dominant;
        }
        auto const dominantExcess = percentilesUs(excess[dominant]);
        nlohmann::json tailJson{{"threshold_us", threshold / 1000.0}, {"batches", tail}, {"stage_counts", counts},
            {"stage", tail > 0 ? nlohmann::json(stageName(static_cast<Column>(dominant))) : nlohmann::json(nullptr)},
            {"stage_excess_us", dominantExcess.toJson()}};
        result["machine"] = machine;
        // The machine's own sleep overshoot, measured beside the run. A tail whose excess is no more
        // than the worst wake-up of an idle probe in the same seconds can be the machine's doing (a
        // batch waits for three threads to wake up: the Sender, the Receiver, the reader); one far
        // beyond anything the probe saw cannot.
        auto const machineMax = machine.is_object() ? machine.at("wake_late_us").at("max").get<double>() : -1.0;
        tailJson["machine_wake_late_max_us"] = machine.is_object() ? nlohmann::json(machineMax) : nlohmann::json(nullptr);
        tailJson["within_machine_noise"] = tail > 0 && machineMax >= 0 && dominantExcess.p50 <= machineMax;
        result["tail"] = tailJson;
        result["attributed_to"] = tail == 0 ? nlohmann::json(nullptr)
                                  : tailJson.at("within_machine_noise").get<bool>() ? nlohmann::json("machine")
                                                                                    : tailJson.at("stage");
        return result;
    }
}
