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

namespace
{
    /// Waits (without committing anything) until a reader sees a lastReadTime of at least after.
    bool readTimeReaches(mxlFlowReader reader, std::uint64_t after)
    {
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
        while (std::chrono::steady_clock::now() < deadline)
        {
            if (runtimeOf(reader).lastReadTime >= after)
            {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
        }
        return false;
    }
}

// MXL 1.x: a read shows up in lastReadTime at once (the writer's side watches the access file), not
// only at the writer's next commit. Nothing is committed after the reads here.
TEST(AccessTime, LastReadTimeAdvancesOnReadWithoutACommit)
{
    TestDomain domain;
    ScopedInstance writing{domain.str()};
    ScopedInstance reading{domain.str()};
    auto const id = mxl::test::newFlowId();
    mxlFlowWriter writer;
    ASSERT_EQ(mxlCreateFlowWriter(writing.get(), mxl::test::flowDef(id, "v210", 64, 8, 50, 1).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_STATUS_OK);
    std::uint64_t index = 100;
    ASSERT_EQ(mxl::test::writeWholeGrain(writer, index), MXL_STATUS_OK);
    mxlFlowReader reader;
    ASSERT_EQ(mxlCreateFlowReader(reading.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    mxlFlowReader writersView;
    ASSERT_EQ(mxlCreateFlowReader(writing.get(), id.c_str(), nullptr, &writersView), MXL_STATUS_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    EXPECT_EQ(runtimeOf(reader).lastReadTime, 0U) << "nobody read the flow yet";

    for (auto* grainRead : {+[](mxlFlowReader r, std::uint64_t i, mxlGrainInfo* info, std::uint8_t** payload) {
             return mxlFlowReaderGetGrain(r, i, 0, info, payload);
         },
             +[](mxlFlowReader r, std::uint64_t i, mxlGrainInfo* info, std::uint8_t** payload) {
                 return mxlFlowReaderGetGrainSlice(r, i, MXL_GRAIN_VALID_SLICES_ANY, 0, info, payload);
             }})
    {
        std::this_thread::sleep_for(std::chrono::milliseconds{2}); // readers mark at most once a millisecond
        auto const before = runtimeOf(reader).lastReadTime;
        auto const readAt = mxlGetTime();
        mxlGrainInfo info;
        std::uint8_t* payload = nullptr;
        ASSERT_EQ(grainRead(reader, index, &info, &payload), MXL_STATUS_OK);
        EXPECT_TRUE(readTimeReaches(reader, readAt)) << "lastReadTime stayed at " << runtimeOf(reader).lastReadTime << " after a read at " << readAt;
        EXPECT_GT(runtimeOf(reader).lastReadTime, before);
        EXPECT_TRUE(readTimeReaches(writersView, readAt)) << "the writer's instance does not see the read";
    }
    EXPECT_EQ(mxlReleaseFlowReader(writing.get(), writersView), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowReader(reading.get(), reader), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowWriter(writing.get(), writer), MXL_STATUS_OK);
}

TEST(AccessTime, LastReadTimeAdvancesOnSampleReadWithoutACommit)
{
    TestDomain domain;
    ScopedInstance writing{domain.str()};
    ScopedInstance reading{domain.str()};
    auto const id = mxl::test::newFlowId();
    mxlFlowWriter writer;
    ASSERT_EQ(mxlCreateFlowWriter(writing.get(), mxl::test::flowDef(id, "audio", 0, 0, 48000, 1, 2).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_STATUS_OK);
    mxlMutableWrappedMultiBufferSlice slices;
    ASSERT_EQ(mxlFlowWriterOpenSamples(writer, 48000, 480, &slices), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowWriterCommitSamples(writer), MXL_STATUS_OK);
    mxlFlowReader reader;
    ASSERT_EQ(mxlCreateFlowReader(reading.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    EXPECT_EQ(runtimeOf(reader).lastReadTime, 0U) << "nobody read the flow yet";

    auto const readAt = mxlGetTime();
    mxlWrappedMultiBufferSlice read;
    ASSERT_EQ(mxlFlowReaderGetSamples(reader, 48000, 480, 0, &read), MXL_STATUS_OK);
    EXPECT_TRUE(readTimeReaches(reader, readAt)) << "lastReadTime stayed at " << runtimeOf(reader).lastReadTime << " after a read at " << readAt;
    EXPECT_EQ(mxlReleaseFlowReader(reading.get(), reader), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowWriter(writing.get(), writer), MXL_STATUS_OK);
}
