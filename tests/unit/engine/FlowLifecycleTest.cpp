// SPDX-License-Identifier: Apache-2.0
// Creating, adopting, conflicting, deleting and recreating flows; handles that are NULL, released or
// of the wrong kind; domains that do not exist; flow files that are corrupt.

#include <cstdint>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>
#include "EngineTestSupport.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    std::filesystem::path flowDirOf(TestDomain const& domain, std::string const& id)
    {
        return domain.path() / (id + ".mxl-flow");
    }

    template<typename T>
    void patch(std::filesystem::path const& path, off_t offset, T value)
    {
        int const fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0) << path;
        EXPECT_EQ(::pwrite(fd, &value, sizeof(T), offset), static_cast<ssize_t>(sizeof(T)));
        ::close(fd);
    }

    mxlStatus createWriter(mxlInstance instance, std::string const& def, mxlFlowWriter* writer, bool* created = nullptr)
    {
        return mxlCreateFlowWriter(instance, def.c_str(), nullptr, writer, nullptr, created);
    }
}

TEST(FlowLifecycle, SecondWriterWithTheSameGeometryAdoptsTheFlow)
{
    TestDomain domain;
    ScopedInstance first{domain.str()};
    ScopedInstance second{domain.str()};
    ASSERT_TRUE(first);
    ASSERT_TRUE(second);
    auto const id = newFlowId();
    mxlFlowWriter a = nullptr;
    mxlFlowWriter b = nullptr;
    bool created = false;
    ASSERT_EQ(createWriter(first.get(), flowDef(id, "v210", 64, 8, 25, 1), &a, &created), MXL_STATUS_OK);
    EXPECT_TRUE(created);
    // Another label does not change the geometry.
    auto other = nlohmann::json::parse(flowDef(id, "v210", 64, 8, 25, 1));
    other["label"] = "another label";
    ASSERT_EQ(createWriter(second.get(), other.dump(), &b, &created), MXL_STATUS_OK);
    EXPECT_FALSE(created);

    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(first.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    ASSERT_EQ(writeWholeGrain(a, 10), MXL_STATUS_OK);
    ASSERT_EQ(writeWholeGrain(b, 11, 1), MXL_STATUS_OK);
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    ASSERT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 10, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(firstPatternMismatch(payload, 0, info.grainSize, 10), info.grainSize);
    ASSERT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 11, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(firstPatternMismatch(payload, 0, info.grainSize, 11, 1), info.grainSize);

    // Releasing one of two writers keeps the flow; releasing the last removes it.
    ASSERT_EQ(mxlReleaseFlowWriter(first.get(), a), MXL_STATUS_OK);
    EXPECT_TRUE(std::filesystem::exists(flowDirOf(domain, id)));
    bool active = false;
    ASSERT_EQ(mxlIsFlowActive(first.get(), id.c_str(), &active), MXL_STATUS_OK);
    EXPECT_TRUE(active);
    ASSERT_EQ(writeWholeGrain(b, 12, 1), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 12, &info, &payload), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowWriter(second.get(), b), MXL_STATUS_OK);
    EXPECT_FALSE(std::filesystem::exists(flowDirOf(domain, id)));
    EXPECT_EQ(mxlIsFlowActive(first.get(), id.c_str(), &active), MXL_ERR_FLOW_NOT_FOUND);
}

TEST(FlowLifecycle, ReopeningAFlowWithAnotherGeometryConflictsWhileItsWriterLives)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);

    auto const videoId = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(videoId, "v210", 64, 8, 25, 1), &writer), MXL_STATUS_OK);
    struct Case
    {
        char const* what;
        std::string def;
    };
    auto bitDepth64 = nlohmann::json::parse(flowDef(videoId, "audio", 0, 0, 48000, 1, 2));
    for (auto const& c : std::vector<Case>{
             {"other width", flowDef(videoId, "v210", 128, 8, 25, 1)},
             {"other height", flowDef(videoId, "v210", 64, 10, 25, 1)},
             {"other rate", flowDef(videoId, "v210", 64, 8, 50, 1)},
             {"other rate denominator", flowDef(videoId, "v210", 64, 8, 25, 2)},
             {"with a key plane", flowDef(videoId, "v210a", 64, 8, 25, 1)},
             {"data instead of video", flowDef(videoId, "smpte291", 0, 0, 25, 1)},
             {"audio instead of video", flowDef(videoId, "audio", 0, 0, 48000, 1, 2)},
         })
    {
        SCOPED_TRACE(c.what);
        mxlFlowWriter other = nullptr;
        EXPECT_EQ(createWriter(instance.get(), c.def, &other), MXL_ERR_CONFLICT);
        EXPECT_EQ(other, nullptr);
    }

    auto const audioId = newFlowId();
    ASSERT_EQ(createWriter(instance.get(), flowDef(audioId, "audio", 0, 0, 48000, 1, 2), &writer), MXL_STATUS_OK);
    auto doubles = nlohmann::json::parse(flowDef(audioId, "audio", 0, 0, 48000, 1, 2));
    doubles["bit_depth"] = 64;
    for (auto const& c : std::vector<Case>{
             {"other channel count", flowDef(audioId, "audio", 0, 0, 48000, 1, 4)},
             {"other sample rate", flowDef(audioId, "audio", 0, 0, 44100, 1, 2)},
             {"other bit depth", doubles.dump()},
         })
    {
        SCOPED_TRACE(c.what);
        mxlFlowWriter other = nullptr;
        EXPECT_EQ(createWriter(instance.get(), c.def, &other), MXL_ERR_CONFLICT);
    }
    // The existing flows are untouched.
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), videoId.c_str(), nullptr, &reader), MXL_STATUS_OK);
    mxlFlowConfigInfo config{};
    ASSERT_EQ(mxlFlowReaderGetConfigInfo(reader, &config), MXL_STATUS_OK);
    EXPECT_EQ(config.common.grainRate.numerator, 25);
    EXPECT_EQ(config.discrete.sliceSizes[0], 256U);
}

TEST(FlowLifecycle, FlowDefinitionIsReturnedVerbatimAndTooSmallBuffersLearnTheSize)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    auto const def = flowDef(id, "v210a", 64, 8, 25, 1);
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), def, &writer), MXL_STATUS_OK);

    std::size_t size = 0;
    EXPECT_EQ(mxlGetFlowDef(instance.get(), id.c_str(), nullptr, &size), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(size, def.size() + 1);

    std::vector<char> small(def.size());
    size = small.size();
    EXPECT_EQ(mxlGetFlowDef(instance.get(), id.c_str(), small.data(), &size), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(size, def.size() + 1);

    std::vector<char> exact(def.size() + 1, 'x');
    size = exact.size();
    ASSERT_EQ(mxlGetFlowDef(instance.get(), id.c_str(), exact.data(), &size), MXL_STATUS_OK);
    EXPECT_EQ(size, def.size() + 1);
    EXPECT_EQ(std::string(exact.data()), def);

    std::vector<char> large(def.size() + 100, 'x');
    size = large.size();
    ASSERT_EQ(mxlGetFlowDef(instance.get(), id.c_str(), large.data(), &size), MXL_STATUS_OK);
    EXPECT_EQ(std::string(large.data()), def);

    size = large.size();
    EXPECT_EQ(mxlGetFlowDef(instance.get(), newFlowId().c_str(), large.data(), &size), MXL_ERR_FLOW_NOT_FOUND);
    EXPECT_EQ(mxlGetFlowDef(instance.get(), "not-a-uuid", large.data(), &size), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlGetFlowDef(instance.get(), id.c_str(), large.data(), nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlGetFlowDef(instance.get(), nullptr, large.data(), &size), MXL_ERR_INVALID_ARG);
}

TEST(FlowLifecycle, ReaderOfAFlowWhoseLastWriterWasReleasedGetsFlowInvalid)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(id, "v210", 64, 8, 25, 1), &writer), MXL_STATUS_OK);
    ASSERT_EQ(writeWholeGrain(writer, 50), MXL_STATUS_OK);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);

    // A reader blocked on the next grain is woken by the removal.
    std::atomic<pid_t> tid{0};
    auto blocked = std::async(std::launch::async, [&] {
        tid = static_cast<pid_t>(::syscall(SYS_gettid));
        mxlGrainInfo info{};
        std::uint8_t* payload = nullptr;
        return mxlFlowReaderGetGrain(reader, 51, 10'000'000'000ULL, &info, &payload);
    });
    while (tid.load() == 0)
    {
        std::this_thread::yield();
    }
    (void)waitUntilInFutex(::getpid(), tid.load());
    ASSERT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
    EXPECT_FALSE(std::filesystem::exists(flowDirOf(domain, id)));
    ASSERT_EQ(blocked.wait_for(std::chrono::seconds{5}), std::future_status::ready);
    EXPECT_EQ(blocked.get(), MXL_ERR_FLOW_INVALID);

    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 51, &info, &payload), MXL_ERR_FLOW_INVALID);
    EXPECT_EQ(mxlFlowReaderGetGrainSliceNonBlocking(reader, 51, 1, &info, &payload), MXL_ERR_FLOW_INVALID);
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, 51, 1'000'000, &info, &payload), MXL_ERR_FLOW_INVALID);
    mxlFlowInfo flowInfo{};
    EXPECT_EQ(mxlFlowReaderGetInfo(reader, &flowInfo), MXL_ERR_FLOW_INVALID);
    mxlFlowRuntimeInfo runtime{};
    EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(reader, &runtime), MXL_ERR_FLOW_INVALID);
    // No new reader for a flow that is gone.
    mxlFlowReader late = nullptr;
    EXPECT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &late), MXL_ERR_FLOW_NOT_FOUND);
    EXPECT_EQ(mxlReleaseFlowReader(instance.get(), reader), MXL_STATUS_OK);
}

TEST(FlowLifecycle, AudioReaderOfAReleasedFlowGetsFlowInvalid)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(id, "audio", 0, 0, 48000, 1, 2), &writer), MXL_STATUS_OK);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
    mxlWrappedMultiBufferSlice slices{};
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, 1000, 100, &slices), MXL_ERR_FLOW_INVALID);
    EXPECT_EQ(mxlFlowReaderGetSamples(reader, 1000, 100, 1'000'000, &slices), MXL_ERR_FLOW_INVALID);
}

TEST(FlowLifecycle, RecreatedFlowGivesFlowInvalidToReadersOfTheOldOne)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    auto const def = flowDef(id, "v210", 64, 8, 25, 1);
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), def, &writer), MXL_STATUS_OK);
    ASSERT_EQ(writeWholeGrain(writer, 5), MXL_STATUS_OK);
    mxlFlowReader oldReader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &oldReader), MXL_STATUS_OK);

    ASSERT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
    bool created = false;
    ASSERT_EQ(createWriter(instance.get(), def, &writer, &created), MXL_STATUS_OK);
    EXPECT_TRUE(created);
    ASSERT_EQ(writeWholeGrain(writer, 6, 1), MXL_STATUS_OK);

    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    EXPECT_EQ(mxlFlowReaderGetGrain(oldReader, 6, 1'000'000, &info, &payload), MXL_ERR_FLOW_INVALID);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(oldReader, 6, &info, &payload), MXL_ERR_FLOW_INVALID);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(oldReader, 7, &info, &payload), MXL_ERR_FLOW_INVALID);

    mxlFlowReader newReader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &newReader), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowReaderGetGrainNonBlocking(newReader, 6, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(firstPatternMismatch(payload, 0, info.grainSize, 6, 1), info.grainSize);
}

TEST(FlowLifecycle, DestroyingAnInstanceReleasesItsWritersAndInvalidatesItsHandles)
{
    TestDomain domain;
    auto const id = newFlowId();
    auto* instance = mxlCreateInstance(domain.str().c_str(), nullptr);
    ASSERT_NE(instance, nullptr);
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance, flowDef(id, "v210", 64, 8, 25, 1), &writer), MXL_STATUS_OK);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance, id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    mxlFlowSynchronizationGroup group = nullptr;
    ASSERT_EQ(mxlCreateFlowSynchronizationGroup(instance, &group), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowSynchronizationGroupAddReader(group, reader), MXL_STATUS_OK);

    ASSERT_EQ(mxlDestroyInstance(instance), MXL_STATUS_OK);
    EXPECT_FALSE(std::filesystem::exists(flowDirOf(domain, id)));
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 0, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowWriterOpenGrain(writer, 0, &info, &payload), MXL_ERR_INVALID_FLOW_WRITER);
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, mxlGetTime(), 0), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlDestroyInstance(instance), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlGarbageCollectFlows(instance), MXL_ERR_INVALID_ARG);
}

TEST(FlowLifecycle, NullAndReleasedHandlesAreRefusedWithoutCrashing)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const videoId = newFlowId();
    auto const audioId = newFlowId();
    mxlFlowWriter videoWriter = nullptr;
    mxlFlowWriter audioWriter = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(videoId, "v210", 64, 8, 25, 1), &videoWriter), MXL_STATUS_OK);
    ASSERT_EQ(createWriter(instance.get(), flowDef(audioId, "audio", 0, 0, 48000, 1, 1), &audioWriter), MXL_STATUS_OK);
    mxlFlowReader videoReader = nullptr;
    mxlFlowReader audioReader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), videoId.c_str(), nullptr, &videoReader), MXL_STATUS_OK);
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), audioId.c_str(), nullptr, &audioReader), MXL_STATUS_OK);
    mxlFlowSynchronizationGroup group = nullptr;
    ASSERT_EQ(mxlCreateFlowSynchronizationGroup(instance.get(), &group), MXL_STATUS_OK);

    // A second writer and reader of each kind, released, to get stale handles.
    mxlFlowWriter releasedWriter = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(videoId, "v210", 64, 8, 25, 1), &releasedWriter), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowWriter(instance.get(), releasedWriter), MXL_STATUS_OK);
    mxlFlowWriter releasedAudioWriter = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(audioId, "audio", 0, 0, 48000, 1, 1), &releasedAudioWriter), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowWriter(instance.get(), releasedAudioWriter), MXL_STATUS_OK);
    // (A reader of another flow: a second create of videoId's reader would answer videoReader again.)
    auto const otherId = newFlowId();
    mxlFlowWriter otherWriter = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(otherId, "v210", 64, 8, 25, 1), &otherWriter), MXL_STATUS_OK);
    mxlFlowReader releasedReader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), otherId.c_str(), nullptr, &releasedReader), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowReader(instance.get(), releasedReader), MXL_STATUS_OK);
    mxlFlowSynchronizationGroup releasedGroup = nullptr;
    ASSERT_EQ(mxlCreateFlowSynchronizationGroup(instance.get(), &releasedGroup), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowSynchronizationGroup(instance.get(), releasedGroup), MXL_STATUS_OK);
    auto* releasedInstance = mxlCreateInstance(domain.str().c_str(), nullptr);
    ASSERT_NE(releasedInstance, nullptr);
    ASSERT_EQ(mxlDestroyInstance(releasedInstance), MXL_STATUS_OK);
    // Values no call ever returned.
    auto const forgedReader = reinterpret_cast<mxlFlowReader>(std::uintptr_t{0x1234'5678});
    auto const forgedWriter = reinterpret_cast<mxlFlowWriter>(std::uintptr_t{0xFFFF'FFFF'0000'0001ULL});
    auto const forgedInstance = reinterpret_cast<mxlInstance>(std::uintptr_t{0x7});

    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    mxlFlowInfo flowInfo{};
    mxlFlowConfigInfo config{};
    mxlFlowRuntimeInfo runtime{};
    mxlWrappedMultiBufferSlice slices{};
    mxlMutableWrappedMultiBufferSlice mutableSlices{};
    std::size_t count = 0;

    for (auto const badReader : {mxlFlowReader{nullptr}, releasedReader, forgedReader})
    {
        EXPECT_EQ(mxlFlowReaderGetInfo(badReader, &flowInfo), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetConfigInfo(badReader, &config), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(badReader, &runtime), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetGrain(badReader, 0, 1000, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetGrainSlice(badReader, 0, 1, 1000, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(badReader, 0, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetGrainSliceNonBlocking(badReader, 0, 1, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetMaxReadLengthSamples(badReader, &count), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetSamples(badReader, 100, 10, 1000, &slices), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(badReader, 100, 10, &slices), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlReleaseFlowReader(instance.get(), badReader), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowSynchronizationGroupAddReader(group, badReader), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowSynchronizationGroupAddPartialGrainReader(group, badReader, 1), MXL_ERR_INVALID_FLOW_READER);
        EXPECT_EQ(mxlFlowSynchronizationGroupRemoveReader(group, badReader), MXL_ERR_INVALID_FLOW_READER);
    }
    for (auto const badWriter : {mxlFlowWriter{nullptr}, releasedWriter, releasedAudioWriter, forgedWriter})
    {
        EXPECT_EQ(mxlFlowWriterGetGrainInfo(badWriter, 0, &info), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlFlowWriterOpenGrain(badWriter, 0, &info, &payload), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlFlowWriterCancelGrain(badWriter), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlFlowWriterCommitGrain(badWriter, &info), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlFlowWriterGetMaxWriteLengthSamples(badWriter, &count), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlFlowWriterOpenSamples(badWriter, 100, 10, &mutableSlices), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlFlowWriterCancelSamples(badWriter), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlFlowWriterCommitSamples(badWriter), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlReleaseFlowWriter(instance.get(), badWriter), MXL_ERR_INVALID_FLOW_WRITER);
    }
    for (auto const badGroup : {mxlFlowSynchronizationGroup{nullptr}, releasedGroup})
    {
        EXPECT_EQ(mxlFlowSynchronizationGroupAddReader(badGroup, videoReader), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFlowSynchronizationGroupAddPartialGrainReader(badGroup, videoReader, 1), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFlowSynchronizationGroupRemoveReader(badGroup, videoReader), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(badGroup, mxlGetTime(), 1000), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlReleaseFlowSynchronizationGroup(instance.get(), badGroup), MXL_ERR_INVALID_ARG);
    }
    auto const def = flowDef(newFlowId(), "v210", 64, 8, 25, 1);
    mxlFlowWriter w = nullptr;
    mxlFlowReader r = nullptr;
    mxlFlowSynchronizationGroup g = nullptr;
    bool flag = false;
    char buffer[16];
    std::size_t size = sizeof(buffer);
    for (auto const badInstance : {mxlInstance{nullptr}, releasedInstance, forgedInstance})
    {
        EXPECT_EQ(mxlCreateFlowWriter(badInstance, def.c_str(), nullptr, &w, nullptr, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlReleaseFlowWriter(badInstance, videoWriter), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlCreateFlowReader(badInstance, videoId.c_str(), nullptr, &r), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlReleaseFlowReader(badInstance, videoReader), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlIsFlowActive(badInstance, videoId.c_str(), &flag), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlGetFlowDef(badInstance, videoId.c_str(), buffer, &size), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlGarbageCollectFlows(badInstance), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlCreateFlowSynchronizationGroup(badInstance, &g), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlReleaseFlowSynchronizationGroup(badInstance, group), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlDestroyInstance(badInstance), MXL_ERR_INVALID_ARG);
    }
    // NULL arguments next to valid handles.
    EXPECT_EQ(mxlCreateFlowWriter(instance.get(), nullptr, nullptr, &w, nullptr, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlCreateFlowWriter(instance.get(), def.c_str(), nullptr, nullptr, nullptr, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlCreateFlowReader(instance.get(), nullptr, nullptr, &r), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlCreateFlowReader(instance.get(), videoId.c_str(), nullptr, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlIsFlowActive(instance.get(), videoId.c_str(), nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlIsFlowActive(instance.get(), nullptr, &flag), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlCreateFlowSynchronizationGroup(instance.get(), nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlGetVersion(nullptr), MXL_ERR_INVALID_ARG);

    // The valid handles still work after all that.
    ASSERT_EQ(writeWholeGrain(videoWriter, 3), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(videoReader, 3, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowReaderGetMaxReadLengthSamples(audioReader, &count), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowWriterGetMaxWriteLengthSamples(audioWriter, &count), MXL_STATUS_OK);
}

TEST(FlowLifecycle, HandlesCannotBeReleasedThroughAnotherInstance)
{
    TestDomain domain;
    ScopedInstance owner{domain.str()};
    ScopedInstance other{domain.str()};
    ASSERT_TRUE(owner);
    ASSERT_TRUE(other);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(owner.get(), flowDef(id, "v210", 64, 8, 25, 1), &writer), MXL_STATUS_OK);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(owner.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    mxlFlowSynchronizationGroup group = nullptr;
    ASSERT_EQ(mxlCreateFlowSynchronizationGroup(owner.get(), &group), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowWriter(other.get(), writer), MXL_ERR_INVALID_FLOW_WRITER);
    EXPECT_EQ(mxlReleaseFlowReader(other.get(), reader), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlReleaseFlowSynchronizationGroup(other.get(), group), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(writeWholeGrain(writer, 1), MXL_STATUS_OK);
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 1, &info, &payload), MXL_STATUS_OK);
}

TEST(FlowLifecycle, GrainCallsAreRefusedOnAudioFlows)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(id, "audio", 0, 0, 48000, 1, 2), &writer), MXL_STATUS_OK);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, 0, 1000, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowReaderGetGrainSlice(reader, 0, 1, 1000, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 0, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowReaderGetGrainSliceNonBlocking(reader, 0, 1, &info, &payload), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowWriterGetGrainInfo(writer, 0, &info), MXL_ERR_INVALID_FLOW_WRITER);
    EXPECT_EQ(mxlFlowWriterOpenGrain(writer, 0, &info, &payload), MXL_ERR_INVALID_FLOW_WRITER);
    EXPECT_EQ(mxlFlowWriterCancelGrain(writer), MXL_ERR_INVALID_FLOW_WRITER);
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &info), MXL_ERR_INVALID_FLOW_WRITER);
    // The info calls work on every kind of reader.
    mxlFlowInfo flowInfo{};
    EXPECT_EQ(mxlFlowReaderGetInfo(reader, &flowInfo), MXL_STATUS_OK);
    EXPECT_EQ(flowInfo.config.common.format, static_cast<std::uint32_t>(MXL_DATA_FORMAT_AUDIO));
}

TEST(Domain, MissingDomainGivesNoInstance)
{
    EXPECT_EQ(mxlCreateInstance("/dev/shm/mxl-test-this-domain-does-not-exist/x", nullptr), nullptr);
    EXPECT_EQ(mxlCreateInstance(nullptr, nullptr), nullptr);
    TestDomain domain;
    auto const file = domain.path() / "plain-file";
    {
        std::ofstream{file} << "not a directory";
    }
    EXPECT_EQ(mxlCreateInstance(file.c_str(), nullptr), nullptr);
}

TEST(Domain, ReaderOfAnUnknownOrMalformedFlowIdIsRefused)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    mxlFlowReader reader = nullptr;
    EXPECT_EQ(mxlCreateFlowReader(instance.get(), newFlowId().c_str(), nullptr, &reader), MXL_ERR_FLOW_NOT_FOUND);
    EXPECT_EQ(mxlCreateFlowReader(instance.get(), "not-a-uuid", nullptr, &reader), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlCreateFlowReader(instance.get(), "../../etc/passwd", nullptr, &reader), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(reader, nullptr);
    bool active = true;
    EXPECT_EQ(mxlIsFlowActive(instance.get(), newFlowId().c_str(), &active), MXL_ERR_FLOW_NOT_FOUND);
    EXPECT_EQ(mxlIsFlowActive(instance.get(), "nope", &active), MXL_ERR_INVALID_ARG);
}

TEST(Domain, FlowIdsAreCaseInsensitive)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    std::string upper = id;
    for (auto& ch : upper)
    {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(upper, "v210", 64, 8, 25, 1), &writer), MXL_STATUS_OK);
    // The directory name is lowercase, and both spellings reach the flow.
    EXPECT_TRUE(std::filesystem::exists(flowDirOf(domain, id)));
    mxlFlowReader reader = nullptr;
    EXPECT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
    EXPECT_EQ(mxlCreateFlowReader(instance.get(), upper.c_str(), nullptr, &reader), MXL_STATUS_OK);
}

TEST(Domain, DevShmIsTmpFs)
{
    bool tmpfs = false;
    ASSERT_EQ(mxlIsTmpFs("/dev/shm", &tmpfs), MXL_STATUS_OK);
    EXPECT_TRUE(tmpfs);
    TestDomain domain;
    tmpfs = false;
    ASSERT_EQ(mxlIsTmpFs(domain.str().c_str(), &tmpfs), MXL_STATUS_OK);
    EXPECT_TRUE(tmpfs);
    ASSERT_EQ(mxlIsTmpFs("/proc", &tmpfs), MXL_STATUS_OK);
    EXPECT_FALSE(tmpfs);
    EXPECT_EQ(mxlIsTmpFs(nullptr, &tmpfs), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlIsTmpFs("/dev/shm", nullptr), MXL_ERR_INVALID_ARG);
}

TEST(Domain, IsTmpFsOfAMissingPathIsFlowNotFound)
{
    bool tmpfs = true;
    EXPECT_EQ(mxlIsTmpFs("/dev/shm/mxl-test-no-such-path/deeper", &tmpfs), MXL_ERR_FLOW_NOT_FOUND);
}

TEST(Domain, VersionIsReported)
{
    mxlVersionType version{};
    ASSERT_EQ(mxlGetVersion(&version), MXL_STATUS_OK);
    ASSERT_NE(version.full, nullptr);
    EXPECT_EQ(std::string{version.full},
        std::to_string(version.major) + "." + std::to_string(version.minor) + "." + std::to_string(version.bugfix));
}

namespace
{
    struct Corruption
    {
        char const* what;
        char const* media;
        std::function<void(std::filesystem::path const&)> apply;
    };
}

TEST(CorruptFlow, ReaderRefusesCorruptFlowFilesWithFlowInvalid)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const truncate = [](std::filesystem::path const& p, std::uintmax_t size) { std::filesystem::resize_file(p, size); };
    std::vector<Corruption> const corruptions = {
        {"data version 2", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 0, 2); }},
        {"data version 0", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 0, 0); }},
        {"data header size 1024", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 4, 1024); }},
        {"data truncated to 100 bytes", "v210", [&](auto const& dir) { truncate(dir / "data", 100); }},
        {"data truncated to 2063 bytes", "v210", [&](auto const& dir) { truncate(dir / "data", 2063); }},
        {"data empty", "v210", [&](auto const& dir) { truncate(dir / "data", 0); }},
        {"unknown format", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 24, 9); }},
        {"zero grain rate", "v210", [](auto const& dir) { patch<std::int64_t>(dir / "data", 32, 0); }},
        {"zero rate denominator", "v210", [](auto const& dir) { patch<std::int64_t>(dir / "data", 40, 0); }},
        {"zero grain count", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 152, 0); }},
        {"huge grain count", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 152, 0x7FFF'FFFF); }},
        {"zero slice size", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 136, 0); }},
        {"slice size disagrees with grains", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 136, 512); }},
        {"grain file truncated to 100 bytes", "v210", [&](auto const& dir) { truncate(dir / "grains" / "data.0", 100); }},
        {"grain file truncated by one byte", "v210", [&](auto const& dir) { truncate(dir / "grains" / "data.3", 8192 + 2048 - 1); }},
        {"grain file one byte longer", "v210", [&](auto const& dir) { truncate(dir / "grains" / "data.4", 8192 + 2048 + 1); }},
        {"grain header grainSize wrong", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "grains" / "data.2", 20, 4096); }},
        {"grain header grainSize zero", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "grains" / "data.0", 20, 0); }},
        {"grain header version 2", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "grains" / "data.1", 0, 2); }},
        {"grain header size wrong", "v210", [](auto const& dir) { patch<std::uint32_t>(dir / "grains" / "data.1", 4, 8192); }},
        {"grain totalSlices wrong", "v210", [](auto const& dir) { patch<std::uint16_t>(dir / "grains" / "data.1", 24, 7); }},
        {"grain totalSlices zero", "v210", [](auto const& dir) { patch<std::uint16_t>(dir / "grains" / "data.0", 24, 0); }},
        {"channels truncated", "audio", [&](auto const& dir) { truncate(dir / "channels", 4096); }},
        {"channels empty", "audio", [&](auto const& dir) { truncate(dir / "channels", 0); }},
        {"zero channels", "audio", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 136, 0); }},
        {"buffer length disagrees with channels", "audio", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 140, 1000); }},
        {"buffer length zero", "audio", [](auto const& dir) { patch<std::uint32_t>(dir / "data", 140, 0); }},
    };
    for (auto const& c : corruptions)
    {
        SCOPED_TRACE(c.what);
        auto const id = newFlowId();
        auto const def = std::string{c.media} == "audio" ? flowDef(id, "audio", 0, 0, 48000, 1, 2) : flowDef(id, "v210", 64, 8, 25, 1);
        mxlFlowWriter writer = nullptr;
        ASSERT_EQ(createWriter(instance.get(), def, &writer), MXL_STATUS_OK);
        c.apply(flowDirOf(domain, id));
        mxlFlowReader reader = nullptr;
        EXPECT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_ERR_FLOW_INVALID);
        EXPECT_EQ(reader, nullptr);
        ASSERT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
    }
}

TEST(CorruptFlow, StaleFlowWithAnEmptyDataFileIsCollectedWithoutCrashing)
{
    TestDomain domain;
    auto const id = newFlowId();
    {
        // A writer that dies leaves a stale flow; then its data file loses its content.
        Pipe created;
        ChildProcess writer{[&] {
            ScopedInstance instance{domain.str()};
            mxlFlowWriter w = nullptr;
            if (!instance || mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 64, 8, 25, 1).c_str(), nullptr, &w, nullptr, nullptr) !=
                                 MXL_STATUS_OK)
            {
                return 1;
            }
            created.send(1);
            ::_exit(0);
        }};
        ASSERT_TRUE(created.receive<int>().has_value());
        ASSERT_EQ(writer.wait(), std::optional<int>{0});
    }
    ASSERT_TRUE(std::filesystem::exists(flowDirOf(domain, id)));
    std::filesystem::resize_file(flowDirOf(domain, id) / "data", 0);

    // In a child, so that a crash is a failed test rather than a dead test program.
    ChildProcess collector{[&] {
        ScopedInstance instance{domain.str()};
        if (!instance)
        {
            return 2;
        }
        return mxlGarbageCollectFlows(instance.get()) == MXL_STATUS_OK ? 0 : 3;
    }};
    EXPECT_EQ(collector.wait(), std::optional<int>{0}) << "collector died of signal " << collector.termSignal();
    EXPECT_FALSE(std::filesystem::exists(flowDirOf(domain, id)));
}

TEST(GarbageCollection, RemovesOnlyStaleFlowsAndLeavesOtherEntriesAlone)
{
    TestDomain domain;
    auto const staleId = newFlowId();
    {
        Pipe created;
        ChildProcess writer{[&] {
            ScopedInstance instance{domain.str()};
            mxlFlowWriter w = nullptr;
            if (!instance || mxlCreateFlowWriter(instance.get(), flowDef(staleId, "v210", 64, 8, 25, 1).c_str(), nullptr, &w, nullptr, nullptr) !=
                                 MXL_STATUS_OK)
            {
                return 1;
            }
            created.send(1);
            // Dies without releasing: the flow stays, with nobody holding its lock.
            ::_exit(0);
        }};
        ASSERT_TRUE(created.receive<int>().has_value());
        ASSERT_EQ(writer.wait(), std::optional<int>{0});
    }
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    // Opening the domain collected the stale flow already.
    EXPECT_FALSE(std::filesystem::exists(flowDirOf(domain, staleId)));

    auto const liveId = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(liveId, "v210", 64, 8, 25, 1), &writer), MXL_STATUS_OK);
    std::filesystem::create_directory(domain.path() / "not-a-flow");
    std::filesystem::create_directory(domain.path() / "not-a-uuid.mxl-flow");
    {
        std::ofstream{domain.path() / "notes.txt"} << "hello";
    }
    ASSERT_EQ(mxlGarbageCollectFlows(instance.get()), MXL_STATUS_OK);
    EXPECT_TRUE(std::filesystem::exists(flowDirOf(domain, liveId)));
    EXPECT_TRUE(std::filesystem::exists(domain.path() / "not-a-flow"));
    EXPECT_TRUE(std::filesystem::exists(domain.path() / "not-a-uuid.mxl-flow"));
    EXPECT_TRUE(std::filesystem::exists(domain.path() / "notes.txt"));
    bool active = false;
    ASSERT_EQ(mxlIsFlowActive(instance.get(), liveId.c_str(), &active), MXL_STATUS_OK);
    EXPECT_TRUE(active);
}

TEST(FlowLifecycle, OneReaderPerFlowPerInstanceIsReferenceCounted)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ScopedInstance other{domain.str()};
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(createWriter(instance.get(), flowDef(id, "v210", 64, 8, 25, 1), &writer), MXL_STATUS_OK);
    ASSERT_EQ(mxl::test::writeWholeGrain(writer, 10), MXL_STATUS_OK);

    // As in MXL 1.x: the same handle for the same flow on the same instance (the id in any case).
    mxlFlowReader first = nullptr;
    mxlFlowReader second = nullptr;
    mxlFlowReader third = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &first), MXL_STATUS_OK);
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &second), MXL_STATUS_OK);
    std::string upper = id;
    for (auto& c : upper)
    {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), upper.c_str(), nullptr, &third), MXL_STATUS_OK);
    EXPECT_EQ(first, second);
    EXPECT_EQ(first, third);
    mxlFlowReader elsewhere = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(other.get(), id.c_str(), nullptr, &elsewhere), MXL_STATUS_OK);
    EXPECT_NE(elsewhere, first) << "another instance has a reader of its own";

    // In a group, the reader stays until its last release.
    mxlFlowSynchronizationGroup group = nullptr;
    ASSERT_EQ(mxlCreateFlowSynchronizationGroup(instance.get(), &group), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowSynchronizationGroupAddReader(group, first), MXL_STATUS_OK);
    mxlRational const rate{25, 1};
    auto const grain11 = mxlIndexToTimestamp(&rate, 11);

    mxlFlowRuntimeInfo runtime{};
    for (int release = 0; release < 2; ++release)
    {
        SCOPED_TRACE(release);
        ASSERT_EQ(mxlReleaseFlowReader(instance.get(), first), MXL_STATUS_OK);
        EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(first, &runtime), MXL_STATUS_OK) << "released fewer times than created: still valid";
        EXPECT_EQ(runtime.headIndex, 10U);
        EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, grain11, 0), MXL_ERR_TIMEOUT) << "the group still waits for the reader";
    }
    ASSERT_EQ(mxlReleaseFlowReader(instance.get(), first), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(first, &runtime), MXL_ERR_INVALID_FLOW_READER) << "the last release ends the handle";
    EXPECT_EQ(mxlReleaseFlowReader(instance.get(), first), MXL_ERR_INVALID_FLOW_READER) << "one release too many";
    EXPECT_EQ(mxlFlowSynchronizationGroupWaitForDataAt(group, grain11, 0), MXL_ERR_INVALID_ARG) << "the last release left the group empty";

    // After the last release a create opens the flow anew: a working handle.
    mxlFlowReader again = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &again), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(again, &runtime), MXL_STATUS_OK);

    // A reader whose flow was removed and recreated is not handed out again.
    ASSERT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
    ASSERT_EQ(createWriter(instance.get(), flowDef(id, "v210", 64, 8, 25, 1), &writer), MXL_STATUS_OK);
    mxlFlowReader recreated = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &recreated), MXL_STATUS_OK);
    EXPECT_NE(recreated, again);
    EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(again, &runtime), MXL_ERR_FLOW_INVALID);
    EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(recreated, &runtime), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowReader(instance.get(), again), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowReader(instance.get(), recreated), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowReader(other.get(), elsewhere), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowSynchronizationGroup(instance.get(), group), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
}
