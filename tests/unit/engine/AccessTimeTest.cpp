// SPDX-License-Identifier: Apache-2.0
// Readers mark the flow's `access` file after reading; writers mirror it into lastReadTime, so that
// an operator can tell whether anybody reads a flow, on noatime mounts too.
#include <thread>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/time.h>

#include "EngineTestSupport.hpp"
#include "support/TestDomain.hpp"

namespace
{
    using mxl::test::ScopedInstance;
    using mxl::test::TestDomain;

    mxlFlowRuntimeInfo runtimeOf(mxlFlowReader reader)
    {
        mxlFlowRuntimeInfo runtime{};
        EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(reader, &runtime), MXL_STATUS_OK);
        return runtime;
    }

    /// Commits grains until the writer has had time to mirror the access time (it looks at most
    /// every 10 ms), then returns what readers see.
    mxlFlowRuntimeInfo commitFor(mxlFlowWriter writer, mxlFlowReader reader, std::uint64_t& index, std::chrono::milliseconds span)
    {
        auto const end = std::chrono::steady_clock::now() + span;
        while (std::chrono::steady_clock::now() < end)
        {
            EXPECT_EQ(mxl::test::writeWholeGrain(writer, index++), MXL_STATUS_OK);
            std::this_thread::sleep_for(std::chrono::milliseconds{2});
        }
        return runtimeOf(reader);
    }
}

TEST(AccessTime, AnUnreadFlowReportsNoLastReadTime)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    auto const id = mxl::test::newFlowId();
    mxlFlowWriter writer;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), mxl::test::flowDef(id, "v210", 64, 8, 50, 1).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_STATUS_OK);
    mxlFlowReader reader;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);

    std::uint64_t index = 100;
    auto const runtime = commitFor(writer, reader, index, std::chrono::milliseconds{40});
    EXPECT_EQ(runtime.lastReadTime, 0U) << "nobody read the flow";
    EXPECT_NE(runtime.lastWriteTime, 0U);
}

TEST(AccessTime, AReadShowsUpAsLastReadTimeThroughTheWriter)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    auto const id = mxl::test::newFlowId();
    mxlFlowWriter writer;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), mxl::test::flowDef(id, "v210", 64, 8, 50, 1).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_STATUS_OK);
    mxlFlowReader reader;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);

    std::uint64_t index = 100;
    ASSERT_EQ(mxl::test::writeWholeGrain(writer, index), MXL_STATUS_OK);
    mxlGrainInfo info;
    std::uint8_t* payload = nullptr;
    auto const before = mxlGetTime();
    ASSERT_EQ(mxlFlowReaderGetGrain(reader, index, 0, &info, &payload), MXL_STATUS_OK);
    ++index;

    auto const runtime = commitFor(writer, reader, index, std::chrono::milliseconds{40});
    // Both are TAI; the access time has the file system's resolution, so allow a little slack.
    EXPECT_GE(runtime.lastReadTime + 20'000'000ULL, before);
    EXPECT_LE(runtime.lastReadTime, mxlGetTime());
}
