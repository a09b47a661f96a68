// SPDX-License-Identifier: Apache-2.0
// A writer process streaming grains as fast as it can and a reader process checking every one.

#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    constexpr std::uint64_t firstIndex = 5'000;
    constexpr std::uint64_t grains = 300;
    constexpr std::size_t grainBytes = 16 * 256; // 64x16 v210

    struct Tally
    {
        std::uint64_t verified;  // read, copied and still the same grain afterwards: bytes compared
        std::uint64_t corrupt;   // verified grains whose bytes or header were not the grain asked for
        std::uint64_t tooLate;   // the writer lapped the reader before it asked
        std::uint64_t overtaken; // the writer reclaimed the slot while the reader copied it
        std::uint64_t errors;    // any other status
        std::int32_t lastError;
    };
}

TEST(Streaming, ReaderProcessVerifiesEveryGrainOfAWriterProcessWithoutCorruption)
{
    TestDomain domain;
    auto const id = newFlowId();
    auto const def = flowDef(id, "v210", 64, 16, 1000, 1); // 200 ms at 1 kHz: a ring of 200 grains

    Pipe created;
    Pipe go;
    Pipe written;
    Pipe finish;
    Pipe readerReady;
    Pipe tallies;
    ChildProcess writerProcess{[&] {
        ScopedInstance own{domain.str()};
        mxlFlowWriter writer = nullptr;
        mxlFlowConfigInfo config{};
        if (!own || mxlCreateFlowWriter(own.get(), def.c_str(), nullptr, &writer, &config, nullptr) != MXL_STATUS_OK ||
            config.discrete.grainCount != 200)
        {
            return 1;
        }
        created.send(1);
        if (!go.receive<int>().has_value())
        {
            return 2;
        }
        for (auto i = firstIndex; i < firstIndex + grains; ++i)
        {
            if (writeWholeGrain(writer, i) != MXL_STATUS_OK)
            {
                return 3;
            }
        }
        written.send(1);
        // The flow goes away with its writer: stay until the reader is done.
        (void)finish.receive<int>(std::chrono::seconds{60});
        return 0;
    }};
    ASSERT_EQ(created.receive<int>(), std::optional<int>{1}) << "writer process failed";

    ChildProcess readerProcess{[&] {
        ScopedInstance own{domain.str()};
        mxlFlowReader reader = nullptr;
        if (!own || mxlCreateFlowReader(own.get(), id.c_str(), nullptr, &reader) != MXL_STATUS_OK)
        {
            return 1;
        }
        readerReady.send(1);
        Tally tally{};
        std::vector<std::uint8_t> copy(grainBytes);
        for (auto i = firstIndex; i < firstIndex + grains; ++i)
        {
            mxlGrainInfo info{};
            std::uint8_t* payload = nullptr;
            auto const status = mxlFlowReaderGetGrain(reader, i, 5'000'000'000ULL, &info, &payload);
            if (status == MXL_ERR_OUT_OF_RANGE_TOO_LATE)
            {
                ++tally.tooLate;
                continue;
            }
            if (status != MXL_STATUS_OK)
            {
                ++tally.errors;
                tally.lastError = status;
                continue;
            }
            std::memcpy(copy.data(), payload, grainBytes);
            std::atomic_thread_fence(std::memory_order_acquire);
            // Only a copy taken while the slot still held grain i says anything about grain i.
            mxlGrainInfo after{};
            std::uint8_t* again = nullptr;
            if (mxlFlowReaderGetGrainNonBlocking(reader, i, &after, &again) != MXL_STATUS_OK || after.index != i)
            {
                ++tally.overtaken;
                continue;
            }
            ++tally.verified;
            auto const headerRight = info.index == i && info.validSlices == info.totalSlices && info.grainSize == grainBytes &&
                                     (info.flags & MXL_GRAIN_FLAG_INVALID) == 0;
            if (!headerRight || firstPatternMismatch(copy.data(), 0, grainBytes, i) != grainBytes)
            {
                ++tally.corrupt;
            }
        }
        tallies.send(tally);
        return 0;
    }};
    ASSERT_EQ(readerReady.receive<int>(), std::optional<int>{1}) << "reader process failed";

    ASSERT_TRUE(go.send(1));
    auto const tally = tallies.receive<Tally>(std::chrono::seconds{30});
    ASSERT_TRUE(tally.has_value()) << "no tally from the reader";
    EXPECT_EQ(written.receive<int>(), std::optional<int>{1}) << "the writer did not write every grain";
    ASSERT_TRUE(finish.send(1));
    EXPECT_EQ(readerProcess.wait(), std::optional<int>{0});
    EXPECT_EQ(writerProcess.wait(), std::optional<int>{0});

    EXPECT_EQ(tally->corrupt, 0U);
    EXPECT_EQ(tally->errors, 0U) << "last error " << tally->lastError;
    EXPECT_EQ(tally->verified + tally->tooLate + tally->overtaken + tally->errors, grains);
    // The ring holds 200 grains: a reader can lose only the ones it was lapped on, never most of them.
    EXPECT_GT(tally->verified, grains / 3);
    RecordProperty("verified", static_cast<int>(tally->verified));
    RecordProperty("tooLate", static_cast<int>(tally->tooLate));
    RecordProperty("overtaken", static_cast<int>(tally->overtaken));
}
