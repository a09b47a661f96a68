// SPDX-License-Identifier: Apache-2.0
// A writer process restarts with its index rewound (a restart, a clock step): readers must never take
// what a slot still holds from before for the grain they ask for.

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    constexpr std::uint8_t firstRun = 1;
    constexpr std::uint8_t secondRun = 2;

    struct Restarted
    {
        int status;
        int created;
    };
}

TEST(WriterRestart, RewoundIndicesNeverHandReadersAnotherGrainsBytes)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    auto const def = flowDef(id, "v210", 64, 16, 25, 1); // a ring of 5 grains
    std::size_t const grainBytes = 16 * 256;

    // The second writer process opens its instance while the first still runs, as a supervisor that
    // restarts a writer would: an instance opened on a domain with a stale flow collects it.
    Pipe firstDone;
    Pipe secondReady;
    Pipe secondGo;
    Pipe secondDone;
    Pipe never;
    ChildProcess first{[&] {
        ScopedInstance own{domain.str()};
        mxlFlowWriter writer = nullptr;
        if (!own || mxlCreateFlowWriter(own.get(), def.c_str(), nullptr, &writer, nullptr, nullptr) != MXL_STATUS_OK)
        {
            return 1;
        }
        for (std::uint64_t i = 1000; i <= 1010; ++i)
        {
            if (writeWholeGrain(writer, i, firstRun) != MXL_STATUS_OK)
            {
                return 2;
            }
        }
        firstDone.send(1);
        (void)never.receive<int>(std::chrono::seconds{60});
        return 3;
    }};
    ASSERT_EQ(firstDone.receive<int>(), std::optional<int>{1});
    ChildProcess second{[&] {
        ScopedInstance own{domain.str()};
        if (!own)
        {
            return 1;
        }
        secondReady.send(1);
        if (!secondGo.receive<int>().has_value())
        {
            return 2;
        }
        mxlFlowWriter writer = nullptr;
        bool created = true;
        Restarted result{mxlCreateFlowWriter(own.get(), def.c_str(), nullptr, &writer, nullptr, &created), created ? 1 : 0};
        if (result.status == MXL_STATUS_OK)
        {
            result.status = writeWholeGrain(writer, 10, secondRun);
        }
        secondDone.send(result);
        (void)never.receive<int>(std::chrono::seconds{60});
        return 0;
    }};
    ASSERT_EQ(secondReady.receive<int>(), std::optional<int>{1});

    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    ASSERT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 1008, &info, &payload), MXL_STATUS_OK);
    ASSERT_EQ(firstPatternMismatch(payload, 0, grainBytes, 1008, firstRun), grainBytes);

    // The first writer crashes; the second takes the flow over and starts again at grain 10.
    first.kill(SIGKILL);
    ASSERT_EQ(first.wait(), std::nullopt);
    ASSERT_TRUE(secondGo.send(1));
    auto const restarted = secondDone.receive<Restarted>();
    ASSERT_TRUE(restarted.has_value());
    ASSERT_EQ(restarted->status, MXL_STATUS_OK);
    EXPECT_EQ(restarted->created, 0) << "the restarted writer should adopt the flow";

    // Grain 10 has the new content.
    ASSERT_EQ(mxlFlowReaderGetGrain(reader, 10, 100'000'000, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(info.index, 10U);
    EXPECT_EQ(firstPatternMismatch(payload, 0, grainBytes, 10, secondRun), grainBytes);

    // Every old index is either refused or still its own bytes; 1010 shared grain 10's slot.
    for (std::uint64_t i = 995; i <= 1015; ++i)
    {
        SCOPED_TRACE(i);
        for (std::uint16_t const minSlices : {std::uint16_t{MXL_GRAIN_VALID_SLICES_ANY}, std::uint16_t{MXL_GRAIN_VALID_SLICES_ALL}})
        {
            auto const status = mxlFlowReaderGetGrainSliceNonBlocking(reader, i, minSlices, &info, &payload);
            if (status == MXL_STATUS_OK)
            {
                EXPECT_EQ(info.index, i);
                EXPECT_EQ(firstPatternMismatch(payload, 0, grainBytes, i, firstRun), grainBytes);
            }
            else
            {
                EXPECT_TRUE(status == MXL_ERR_OUT_OF_RANGE_TOO_LATE || status == MXL_ERR_OUT_OF_RANGE_TOO_EARLY) << status;
            }
        }
    }
    EXPECT_NE(mxlFlowReaderGetGrainNonBlocking(reader, 1010, &info, &payload), MXL_STATUS_OK);
    auto const status1008 = mxlFlowReaderGetGrain(reader, 1008, 10'000'000, &info, &payload);
    if (status1008 == MXL_STATUS_OK)
    {
        EXPECT_EQ(firstPatternMismatch(payload, 0, grainBytes, 1008, firstRun), grainBytes);
    }
    // Earlier indices than the restart point that share slots with old grains are not returned either.
    for (std::uint64_t i = 6; i < 10; ++i)
    {
        EXPECT_NE(mxlFlowReaderGetGrainSliceNonBlocking(reader, i, MXL_GRAIN_VALID_SLICES_ANY, &info, &payload), MXL_STATUS_OK) << i;
    }
    mxlFlowRuntimeInfo runtime{};
    ASSERT_EQ(mxlFlowReaderGetRuntimeInfo(reader, &runtime), MXL_STATUS_OK);
    EXPECT_EQ(runtime.headIndex, 10U);
}
