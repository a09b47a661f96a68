// SPDX-License-Identifier: Apache-2.0
// Synchronization groups: waiting for the video grain and the audio samples of one moment together.

#include <atomic>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>
#include "EngineTestSupport.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    constexpr mxlRational videoRate{50, 1};
    constexpr mxlRational audioRate{48000, 1};

    /// A 50 Hz video flow and a 48 kHz audio flow, a reader of each, and a group holding both.
    class SyncGroup : public ::testing::Test
    {
    protected:
        void SetUp() override
        {
            ASSERT_TRUE(instance);
            ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(videoId, "v210", 64, 8, 50, 1).c_str(), nullptr, &videoWriter, nullptr, nullptr),
                MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(audioId, "audio", 0, 0, 48000, 1, 2).c_str(), nullptr, &audioWriter, nullptr,
                          nullptr),
                MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowReader(instance.get(), videoId.c_str(), nullptr, &videoReader), MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowReader(instance.get(), audioId.c_str(), nullptr, &audioReader), MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowSynchronizationGroup(instance.get(), &group), MXL_STATUS_OK);
            ASSERT_EQ(mxlFlowSynchronizationGroupAddReader(group, videoReader), MXL_STATUS_OK);
            ASSERT_EQ(mxlFlowSynchronizationGroupAddReader(group, audioReader), MXL_STATUS_OK);
        }

        /// Commits audio up to (not including) sample index `end`.
        mxlStatus writeAudioUpTo(std::uint64_t end)
        {
            mxlMutableWrappedMultiBufferSlice out{};
            if (auto const s = mxlFlowWriterOpenSamples(audioWriter, end, 480, &out); s != MXL_STATUS_OK)
            {
                return s;
            }
            return mxlFlowWriterCommitSamples(audioWriter);
        }

        TestDomain domain;
        ScopedInstance instance{domain.str()};
        std::string videoId = newFlowId();
        std::string audioId = newFlowId();
        mxlFlowWriter videoWriter = nullptr;
        mxlFlowWriter audioWriter = nullptr;
        mxlFlowReader videoReader = nullptr;
        mxlFlowReader audioReader = nullptr;
        mxlFlowSynchronizationGroup group = nullptr;
        std::uint64_t const t = mxlGetTime();
        std::uint64_t const videoIndex = mxlTimestampToIndex(&videoRate, t);
        std::uint64_t const audioIndex = mxlTimestampToIndex(&audioRate, t);
    };
}

TEST_F(SyncGroup, TimesOutWhileOneFlowIsMissingAndSucceedsOnceBothCommitted)
{
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 10'000'000), MXL_ERR_TIMEOUT);
    ASSERT_EQ(writeWholeGrain(videoWriter, videoIndex), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 10'000'000), MXL_ERR_TIMEOUT);
    // Audio up to just before the time asked is not enough.
    ASSERT_EQ(writeAudioUpTo(audioIndex - 1), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 10'000'000), MXL_ERR_TIMEOUT);

    // The audio writer commits while the group waits (once this thread sleeps in the futex).
    auto const waiterTid = static_cast<pid_t>(::syscall(SYS_gettid));
    auto audio = std::async(std::launch::async, [&] {
        (void)waitUntilInFutex(::getpid(), waiterTid);
        return writeAudioUpTo(audioIndex + 480);
    });
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 10'000'000'000ULL), MXL_STATUS_OK);
    EXPECT_EQ(audio.get(), MXL_STATUS_OK);
    // Both are there now: no wait at all.
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 0), MXL_STATUS_OK);
}

TEST_F(SyncGroup, WaitsForTheVideoWriterToo)
{
    ASSERT_EQ(writeAudioUpTo(audioIndex + 480), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 10'000'000), MXL_ERR_TIMEOUT);
    auto const waiterTid = static_cast<pid_t>(::syscall(SYS_gettid));
    auto video = std::async(std::launch::async, [&] {
        (void)waitUntilInFutex(::getpid(), waiterTid);
        return writeWholeGrain(videoWriter, videoIndex);
    });
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 10'000'000'000ULL), MXL_STATUS_OK);
    EXPECT_EQ(video.get(), MXL_STATUS_OK);
}

TEST_F(SyncGroup, TimeLongPastIsTooLate)
{
    ASSERT_EQ(writeWholeGrain(videoWriter, videoIndex), MXL_STATUS_OK);
    ASSERT_EQ(writeAudioUpTo(audioIndex + 480), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t - 10'000'000'000ULL, 10'000'000), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
    // The audio ring alone also knows it is too late.
    ASSERT_EQ(mxlFlowSynchronizationGroupRemoveReader(group, videoReader), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t - 10'000'000'000ULL, 10'000'000), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 0), MXL_STATUS_OK);
}

TEST_F(SyncGroup, PartialGrainReaderIsReadyWithEnoughSlices)
{
    ASSERT_EQ(writeAudioUpTo(audioIndex + 480), MXL_STATUS_OK);
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(videoWriter, videoIndex, &info, &payload), MXL_STATUS_OK);
    info.validSlices = 4;
    ASSERT_EQ(mxlFlowWriterCommitGrain(videoWriter, &info), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 5'000'000), MXL_ERR_TIMEOUT);
    // Adding a reader again updates its requirement.
    ASSERT_EQ(mxlFlowSynchronizationGroupAddPartialGrainReader(group, videoReader, 4), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 0), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowSynchronizationGroupAddPartialGrainReader(group, videoReader, 5), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 5'000'000), MXL_ERR_TIMEOUT);
}

TEST_F(SyncGroup, EmptyGroupIsAnInvalidArgument)
{
    mxlFlowSynchronizationGroup empty = nullptr;
    ASSERT_EQ(mxlCreateFlowSynchronizationGroup(instance.get(), &empty), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(empty, t, 1'000'000), MXL_ERR_INVALID_ARG);
    ASSERT_EQ(mxlFlowSynchronizationGroupRemoveReader(group, videoReader), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupRemoveReader(group, videoReader), MXL_ERR_INVALID_FLOW_READER);
    ASSERT_EQ(mxlFlowSynchronizationGroupRemoveReader(group, audioReader), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 1'000'000), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlReleaseFlowSynchronizationGroup(instance.get(), empty), MXL_STATUS_OK);
}

TEST_F(SyncGroup, ReleasedReaderLeavesItsGroups)
{
    mxlFlowSynchronizationGroup second = nullptr;
    ASSERT_EQ(mxlCreateFlowSynchronizationGroup(instance.get(), &second), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowSynchronizationGroupAddReader(second, audioReader), MXL_STATUS_OK);

    ASSERT_EQ(writeWholeGrain(videoWriter, videoIndex), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowReader(instance.get(), audioReader), MXL_STATUS_OK);
    // Without the audio reader, the video grain alone makes the group ready.
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 0), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupRemoveReader(group, audioReader), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(second, t, 0), MXL_ERR_INVALID_ARG);
    ASSERT_EQ(mxlReleaseFlowReader(instance.get(), videoReader), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 0), MXL_ERR_INVALID_ARG);
}

TEST_F(SyncGroup, ReaderOfAnotherInstanceNeverDanglesInAGroup)
{
    // In a child, so that a use of the released reader is a failed test, not a dead test program.
    ChildProcess child{[&] {
        ScopedInstance other{domain.str()};
        mxlFlowSynchronizationGroup foreign = nullptr;
        if (!other || mxlCreateFlowSynchronizationGroup(other.get(), &foreign) != MXL_STATUS_OK)
        {
            return 1;
        }
        (void)mxlFlowSynchronizationGroupAddReader(foreign, audioReader);
        if (mxlReleaseFlowReader(instance.get(), audioReader) != MXL_STATUS_OK)
        {
            return 2;
        }
        // Whether the group refused the reader or dropped it on release, it must not use it now.
        auto const status = mxlFlowSynchronizationGroupWaitForDataAt(foreign, t, 1'000'000);
        return status == MXL_ERR_INVALID_ARG ? 0 : 10 + static_cast<int>(status);
    }};
    auto const code = child.wait();
    EXPECT_EQ(code, std::optional<int>{0}) << "child died of signal " << child.termSignal();
}

TEST_F(SyncGroup, RemovedFlowIsReportedAsInvalid)
{
    ASSERT_EQ(writeAudioUpTo(audioIndex + 480), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowWriter(instance.get(), videoWriter), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, t, 10'000'000), MXL_ERR_FLOW_INVALID);
}

TEST_F(SyncGroup, ReaderOfAnotherInstanceCannotJoinAGroup)
{
    ScopedInstance other{domain.str()};
    ASSERT_TRUE(other);
    mxlFlowSynchronizationGroup foreign = nullptr;
    ASSERT_EQ(mxlCreateFlowSynchronizationGroup(other.get(), &foreign), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupAddReader(foreign, videoReader), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowSynchronizationGroupAddPartialGrainReader(foreign, audioReader, 1), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(foreign, t, 0), MXL_ERR_INVALID_ARG);
    mxlFlowReader own = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(other.get(), videoId.c_str(), nullptr, &own), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowSynchronizationGroupAddReader(foreign, own), MXL_STATUS_OK);
}
