// SPDX-License-Identifier: Apache-2.0
#include "mxl-bench/LocalBench.hpp"

#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fmt/format.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>
#include "toolkit/Cli.hpp"
#include "mxl-bench/BenchDomain.hpp"
#include "mxl-bench/Clock.hpp"
#include "mxl-bench/MessagePipe.hpp"
#include "mxl-bench/Stats.hpp"
#include "base/Uuid.hpp"

namespace mxl::bench
{
    namespace
    {

        void check(mxlStatus status, char const* what)
        {
            if (status != MXL_STATUS_OK)
            {
                throw std::runtime_error{fmt::format("{} failed with status {}", what, static_cast<int>(status))};
            }
        }

        std::string videoFlowDef(LocalOptions const& o, std::string const& id)
        {
            return fmt::format(R"({{"id":"{}","format":"urn:x-nmos:format:video","label":"mxl-bench","media_type":"video/{}",
                "tags":{{"urn:x-nmos:tag:grouphint/v1.0":["mxl-bench:video"]}},"grain_rate":{{"numerator":{},"denominator":{}}},
                "frame_width":{},"frame_height":{},"interlace_mode":"progressive"}})",
                id, o.mediaType, o.rateNumerator, o.rateDenominator, o.width, o.height);
        }

        /// Slices that make batch b of a grain visible (the last batch takes the remainder).
        std::uint32_t batchEnd(std::uint32_t b, std::uint32_t batches, std::uint32_t totalSlices) noexcept
        {
            return b + 1 == batches ? totalSlices : (b + 1) * (totalSlices / batches);
        }

        /// The reader process: follows grains first..first+count-1 slice batch by slice batch and
        /// sends one latency sample per batch (UINT64_MAX for a batch it missed). The writer stamps
        /// each batch's commit time into the batch's first line, so a sample is exactly "commit
        /// call on the writer" to "call returned on the reader".
        int readerProcess(std::string const& domain, std::string const& flowId, std::uint64_t first, std::uint64_t count,
            std::uint32_t batches, std::uint32_t totalSlices, std::uint32_t line, MessagePipe const& ready, MessagePipe const& results)
        {
            auto instance = mxlCreateInstance(domain.c_str(), nullptr);
            mxlFlowReader reader = nullptr;
            if (instance == nullptr || mxlCreateFlowReader(instance, flowId.c_str(), nullptr, &reader) != MXL_STATUS_OK)
            {
                return 2;
            }
            ready.send(std::string{"ready"});

            std::vector<std::uint64_t> latencies;
            latencies.reserve(count * batches);
            for (std::uint64_t g = 0; g < count; ++g)
            {
                std::uint32_t measured = 0;
                while (measured < batches)
                {
                    mxlGrainInfo info;
                    std::uint8_t* payload = nullptr;
                    auto const target = static_cast<std::uint16_t>(batchEnd(measured, batches, totalSlices));
                    auto const status = mxlFlowReaderGetGrainSlice(reader, first + g, target, 2'000'000'000ULL, &info, &payload);
                    auto const now = monotonicNs();
                    if (status != MXL_STATUS_OK)
                    {
                        latencies.insert(latencies.end(), batches - measured, UINT64_MAX);
                        break;
                    }
                    while (measured < batches && info.validSlices >= batchEnd(measured, batches, totalSlices))
                    {
                        std::uint64_t committedAt;
                        std::memcpy(&committedAt, payload + static_cast<std::size_t>(measured) * (totalSlices / batches) * line, sizeof committedAt);
                        latencies.push_back(now - committedAt);
                        ++measured;
                    }
                }
            }
            results.send(latencies.data(), latencies.size() * sizeof(std::uint64_t));
            mxlReleaseFlowReader(instance, reader);
            mxlDestroyInstance(instance);
            return 0;
        }
    }

    nlohmann::json runLocal(LocalOptions const& o)
    {
        if (o.batches == 0 || o.batches > o.height)
        {
            throw std::invalid_argument{fmt::format("--slices must be between 1 and the frame height ({})", o.height)};
        }
        BenchDomain domain{o.domain};
        auto const flowId = tools::newFlowId();
        auto const def = videoFlowDef(o, flowId);

        auto instance = mxlCreateInstance(domain.path.c_str(), nullptr);
        if (instance == nullptr)
        {
            throw std::runtime_error{fmt::format("cannot open domain {}", domain.path)};
        }
        mxlFlowWriter writer = nullptr;
        mxlFlowConfigInfo config;
        check(mxlCreateFlowWriter(instance, def.c_str(), nullptr, &writer, &config, nullptr), "mxlCreateFlowWriter");

        mxlGrainInfo probe;
        check(mxlFlowWriterGetGrainInfo(writer, 0, &probe), "mxlFlowWriterGetGrainInfo");
        auto const grainSize = probe.grainSize;
        auto const totalSlices = probe.totalSlices;
        auto const line = config.discrete.sliceSizes[0];
        auto const perBatch = totalSlices / o.batches;
        auto const periodNs = static_cast<std::uint64_t>(1e9 * static_cast<double>(o.rateDenominator) / static_cast<double>(o.rateNumerator));
        auto const grains = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(o.durationS * 1e9 / static_cast<double>(periodNs)));

        std::vector<std::uint8_t> source(grainSize);
        for (std::size_t i = 0; i < source.size(); ++i)
        {
            source[i] = static_cast<std::uint8_t>(i * 131 + 7);
        }

        // Phase 1: paced writer, reader in another process.
        auto const first = mxlGetCurrentIndex(&config.common.grainRate) + 10;
        MessagePipe ready, results;
        auto const child = ::fork();
        if (child < 0)
        {
            throw std::runtime_error{"fork failed"};
        }
        if (child == 0)
        {
            ::_exit(readerProcess(domain.path, flowId, first, grains, o.batches, totalSlices, line, ready, results));
        }
        if (!ready.receive(60'000))
        {
            throw std::runtime_error{"the reader process failed to start"};
        }

        std::vector<std::uint64_t> openCommit;
        openCommit.reserve(grains * o.batches);
        auto const cpuStart = processCpuNs();
        auto const start = monotonicNs() + 20'000'000ULL;
        for (std::uint64_t g = 0; g < grains; ++g)
        {
            mxlGrainInfo info;
            std::uint8_t* payload = nullptr;
            auto const t0 = monotonicNs();
            check(mxlFlowWriterOpenGrain(writer, first + g, &info, &payload), "mxlFlowWriterOpenGrain");
            auto const openNs = monotonicNs() - t0;
            for (std::uint32_t b = 0; b < o.batches; ++b)
            {
                sleepUntilMonotonic(start + g * periodNs + (b + 1) * periodNs / o.batches);
                auto const firstSlice = b * perBatch;
                auto const endSlice = batchEnd(b, o.batches, totalSlices);
                for (std::uint32_t plane = 0; plane < MXL_MAX_PLANES_PER_GRAIN && config.discrete.sliceSizes[plane] != 0; ++plane)
                {
                    std::size_t planeOffset = 0;
                    for (std::uint32_t p = 0; p < plane; ++p)
                    {
                        planeOffset += static_cast<std::size_t>(config.discrete.sliceSizes[p]) * totalSlices;
                    }
                    auto const size = config.discrete.sliceSizes[plane];
                    std::memcpy(payload + planeOffset + static_cast<std::size_t>(firstSlice) * size,
                        source.data() + planeOffset + static_cast<std::size_t>(firstSlice) * size, static_cast<std::size_t>(endSlice - firstSlice) * size);
                }
                auto const now = monotonicNs();
                std::memcpy(payload + static_cast<std::size_t>(firstSlice) * line, &now, sizeof now);
                info.validSlices = static_cast<std::uint16_t>(endSlice);
                auto const c0 = monotonicNs();
                check(mxlFlowWriterCommitGrain(writer, &info), "mxlFlowWriterCommitGrain");
                openCommit.push_back(monotonicNs() - c0 + (b == 0 ? openNs : 0));
            }
        }
        auto const writerCpuNs = processCpuNs() - cpuStart;

        std::vector<std::uint64_t> latencies;
        if (auto const bytes = results.receive(60'000))
        {
            latencies.resize(bytes->size() / sizeof(std::uint64_t));
            std::memcpy(latencies.data(), bytes->data(), latencies.size() * sizeof(std::uint64_t));
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        std::uint64_t missed = 0;
        std::erase_if(latencies, [&](std::uint64_t v) {
            missed += v == UINT64_MAX;
            return v == UINT64_MAX;
        });

        // Phase 2: unpaced writes of whole grains, next to memcpy into a tmpfs file of the same
        // ring size (what any shared-memory transport has to do at least).
        auto const throughputGrains = std::max<std::uint32_t>(o.throughputGrains, config.discrete.grainCount);
        auto const base = first + grains + 100;
        auto writeGrain = [&](std::uint64_t index) {
            mxlGrainInfo info;
            std::uint8_t* payload = nullptr;
            check(mxlFlowWriterOpenGrain(writer, index, &info, &payload), "mxlFlowWriterOpenGrain");
            std::memcpy(payload, source.data(), grainSize);
            info.validSlices = totalSlices;
            check(mxlFlowWriterCommitGrain(writer, &info), "mxlFlowWriterCommitGrain");
        };
        for (std::uint32_t g = 0; g < config.discrete.grainCount; ++g)
        {
            writeGrain(base + g);
        }
        auto const t0 = monotonicNs();
        for (std::uint64_t g = 0; g < throughputGrains; ++g)
        {
            writeGrain(base + config.discrete.grainCount + g);
        }
        auto const mxlNs = monotonicNs() - t0;

        auto const ringBytes = static_cast<std::size_t>(grainSize) * config.discrete.grainCount;
        auto const rawPath = domain.path + "/.mxl-bench-baseline";
        auto const fd = ::open(rawPath.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || ::posix_fallocate(fd, 0, static_cast<off_t>(ringBytes)) != 0)
        {
            throw std::runtime_error{"cannot create the baseline buffer"};
        }
        auto* raw = static_cast<std::uint8_t*>(::mmap(nullptr, ringBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        ::close(fd);
        ::unlink(rawPath.c_str());
        // Both sides run on warm pages: the flow's ring was written by the latency phase.
        for (std::uint32_t g = 0; g < config.discrete.grainCount; ++g)
        {
            std::memcpy(raw + static_cast<std::size_t>(g) * grainSize, source.data(), grainSize);
        }
        auto const r0 = monotonicNs();
        for (std::uint64_t g = 0; g < throughputGrains; ++g)
        {
            std::memcpy(raw + (g % config.discrete.grainCount) * grainSize, source.data(), grainSize);
        }
        auto const rawNs = monotonicNs() - r0;
        ::munmap(raw, ringBytes);

        mxlReleaseFlowWriter(instance, writer);
        mxlDestroyInstance(instance);

        auto const bytes = static_cast<double>(grainSize) * throughputGrains;
        auto const throughput = bytes / (static_cast<double>(mxlNs) / 1e9);
        auto const baseline = bytes / (static_cast<double>(rawNs) / 1e9);
        return {
            {"benchmark", "local"},
            {"media_type", "video/" + o.mediaType},
            {"frame", fmt::format("{}x{}", o.width, o.height)},
            {"rate", fmt::format("{}/{}", o.rateNumerator, o.rateDenominator)},
            {"slice_batches", o.batches},
            {"grain_bytes", grainSize},
            {"grains", grains},
            {"skipped", missed},
            {"latency_us", percentilesUs(latencies).toJson()},
            {"open_commit_us", percentilesUs(openCommit).toJson()},
            {"cpu_per_grain_us", static_cast<double>(writerCpuNs) / 1000.0 / static_cast<double>(grains)},
            {"throughput_grains", throughputGrains},
            {"throughput_bytes_per_s", throughput},
            {"baseline_bytes_per_s", baseline},
            {"ratio", throughput / baseline},
            {"reader_exit", WIFEXITED(status) ? WEXITSTATUS(status) : -1},
        };
    }
}
