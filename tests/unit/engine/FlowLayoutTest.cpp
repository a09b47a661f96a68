// SPDX-License-Identifier: Apache-2.0
// The bytes on disk: flows created through the C API are read back as raw files and compared with
// the MXL 1.x layout, offset by offset.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/flowinfo.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "base/Uuid.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    std::vector<std::uint8_t> readFile(std::filesystem::path const& path)
    {
        std::vector<std::uint8_t> bytes(std::filesystem::file_size(path));
        int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        EXPECT_GE(fd, 0) << path;
        if (fd >= 0)
        {
            EXPECT_EQ(::pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
            ::close(fd);
        }
        return bytes;
    }

    /// The first `size` bytes of a file, without reading the rest.
    std::vector<std::uint8_t> readPrefix(std::filesystem::path const& path, std::size_t size)
    {
        std::vector<std::uint8_t> bytes(size);
        int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        EXPECT_GE(fd, 0) << path;
        if (fd >= 0)
        {
            EXPECT_EQ(::pread(fd, bytes.data(), size, 0), static_cast<ssize_t>(size));
            ::close(fd);
        }
        return bytes;
    }

    std::vector<std::uint8_t> readRange(std::filesystem::path const& path, std::size_t offset, std::size_t size)
    {
        std::vector<std::uint8_t> bytes(size);
        int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        EXPECT_GE(fd, 0) << path;
        if (fd >= 0)
        {
            EXPECT_EQ(::pread(fd, bytes.data(), size, static_cast<off_t>(offset)), static_cast<ssize_t>(size));
            ::close(fd);
        }
        return bytes;
    }

    template<typename T>
    T at(std::vector<std::uint8_t> const& bytes, std::size_t offset)
    {
        T value{};
        if (offset + sizeof(T) > bytes.size())
        {
            ADD_FAILURE() << "offset " << offset << " beyond " << bytes.size() << " bytes";
            return value;
        }
        std::memcpy(&value, bytes.data() + offset, sizeof(T));
        return value;
    }

    std::filesystem::path flowDirOf(TestDomain const& domain, std::string const& id)
    {
        return domain.path() / (id + ".mxl-flow");
    }

    /// Sets the process umask for a scope.
    class ScopedUmask
    {
    public:
        explicit ScopedUmask(mode_t mask)
            : _previous{::umask(mask)}
        {}

        ~ScopedUmask()
        {
            ::umask(_previous);
        }

        ScopedUmask(ScopedUmask const&) = delete;
        ScopedUmask& operator=(ScopedUmask const&) = delete;

    private:
        mode_t _previous;
    };
}

TEST(FlowLayout, DiscreteDataFileHasTheMxlHeaderAtTheDocumentedOffsets)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 1920, 1080, 60000, 1001).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_STATUS_OK);

    auto const dataPath = flowDirOf(domain, id) / "data";
    ASSERT_EQ(std::filesystem::file_size(dataPath), 2064U);
    auto bytes = readFile(dataPath);

    EXPECT_EQ(at<std::uint32_t>(bytes, 0), 1U);
    EXPECT_EQ(at<std::uint32_t>(bytes, 4), 2048U);
    auto const uuid = mxl::parseUuid(id);
    ASSERT_TRUE(uuid.has_value());
    EXPECT_EQ(std::memcmp(bytes.data() + 8, uuid->data(), 16), 0);
    EXPECT_EQ(at<std::uint32_t>(bytes, 24), static_cast<std::uint32_t>(MXL_DATA_FORMAT_VIDEO));
    EXPECT_EQ(at<std::uint32_t>(bytes, 28), 0U);
    EXPECT_EQ(at<std::int64_t>(bytes, 32), 60000);
    EXPECT_EQ(at<std::int64_t>(bytes, 40), 1001);
    EXPECT_EQ(at<std::uint32_t>(bytes, 48), 1080U);
    EXPECT_EQ(at<std::uint32_t>(bytes, 52), 1080U);
    EXPECT_EQ(at<std::uint32_t>(bytes, 56), static_cast<std::uint32_t>(MXL_PAYLOAD_LOCATION_HOST_MEMORY));
    EXPECT_EQ(at<std::int32_t>(bytes, 60), -1);
    EXPECT_EQ(at<std::uint32_t>(bytes, 136), 5120U);
    EXPECT_EQ(at<std::uint32_t>(bytes, 140), 0U);
    EXPECT_EQ(at<std::uint32_t>(bytes, 144), 0U);
    EXPECT_EQ(at<std::uint32_t>(bytes, 148), 0U);
    EXPECT_EQ(at<std::uint32_t>(bytes, 152), 11U);
    EXPECT_EQ(at<std::uint64_t>(bytes, 200), 0U);

    struct stat st{};
    ASSERT_EQ(::stat(dataPath.c_str(), &st), 0);
    EXPECT_EQ(at<std::uint64_t>(bytes, 2048), static_cast<std::uint64_t>(st.st_ino));

    auto const counterBefore = at<std::uint32_t>(bytes, 2056);
    std::uint64_t const index = 123'456'789;
    ASSERT_EQ(writeWholeGrain(writer, index), MXL_STATUS_OK);
    bytes = readFile(dataPath);
    EXPECT_EQ(at<std::uint64_t>(bytes, 200), index);
    EXPECT_NE(at<std::uint64_t>(bytes, 208), 0U) << "lastWriteTime";
    EXPECT_EQ(at<std::uint32_t>(bytes, 2056), counterBefore + 1);

    ASSERT_EQ(writeWholeGrain(writer, index + 1), MXL_STATUS_OK);
    bytes = readFile(dataPath);
    EXPECT_EQ(at<std::uint64_t>(bytes, 200), index + 1);
    EXPECT_EQ(at<std::uint32_t>(bytes, 2056), counterBefore + 2);
}

TEST(FlowLayout, GrainFilesHoldTheGrainHeaderAndThePayloadAt8192)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    mxlFlowConfigInfo config{};
    // v210a: the key plane follows the fill plane in the same file.
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210a", 96, 20, 25, 1).c_str(), nullptr, &writer, &config, nullptr), MXL_STATUS_OK);
    ASSERT_EQ(config.discrete.grainCount, 5U);
    std::uint32_t const fillLine = 256; // ceil(96 / 48) x 128
    std::uint32_t const keyLine = 128;  // ceil(96 / 3) x 4
    std::uint32_t const grainSize = (fillLine + keyLine) * 20;
    EXPECT_EQ(config.discrete.sliceSizes[0], fillLine);
    EXPECT_EQ(config.discrete.sliceSizes[1], keyLine);

    auto const grains = flowDirOf(domain, id) / "grains";
    for (std::uint32_t slot = 0; slot < 5; ++slot)
    {
        auto const path = grains / ("data." + std::to_string(slot));
        ASSERT_TRUE(std::filesystem::exists(path)) << path;
        EXPECT_EQ(std::filesystem::file_size(path), 8192U + grainSize);
        auto const header = readPrefix(path, 4096);
        EXPECT_EQ(at<std::uint32_t>(header, 0), 1U);
        EXPECT_EQ(at<std::uint32_t>(header, 4), 4096U);
        EXPECT_EQ(at<std::uint32_t>(header, 20), grainSize);
        EXPECT_EQ(at<std::uint16_t>(header, 24), 20U);
        EXPECT_EQ(at<std::uint16_t>(header, 26), 0U);
    }
    EXPECT_FALSE(std::filesystem::exists(grains / "data.5"));

    // Grain 1002 lives in slot 1002 % 5 = 2. Commit 7 of 20 slices, marked invalid, to see every field move.
    std::uint64_t const index = 1002;
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, index, &info, &payload), MXL_STATUS_OK);
    fillPattern(payload, 0, grainSize, index);
    info.validSlices = 7;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &info), MXL_STATUS_OK);

    auto const path = grains / "data.2";
    auto header = readPrefix(path, 4096);
    EXPECT_EQ(at<std::uint64_t>(header, 8), index);
    EXPECT_EQ(at<std::uint32_t>(header, 16), 0U);
    EXPECT_EQ(at<std::uint32_t>(header, 20), grainSize);
    EXPECT_EQ(at<std::uint16_t>(header, 24), 20U);
    EXPECT_EQ(at<std::uint16_t>(header, 26), 7U);

    info.validSlices = 9;
    info.flags = MXL_GRAIN_FLAG_INVALID;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &info), MXL_STATUS_OK);
    header = readPrefix(path, 4096);
    EXPECT_EQ(at<std::uint32_t>(header, 16), static_cast<std::uint32_t>(MXL_GRAIN_FLAG_INVALID));
    EXPECT_EQ(at<std::uint16_t>(header, 26), 9U);

    auto const filePayload = readRange(path, 8192, grainSize);
    EXPECT_EQ(firstPatternMismatch(filePayload.data(), 0, grainSize, index), grainSize);
    // The other slots were not touched.
    EXPECT_EQ(at<std::uint16_t>(readPrefix(grains / "data.1", 4096), 26), 0U);
}

TEST(FlowLayout, ContinuousDataFileAndChannelsFile)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "audio", 0, 0, 48000, 1, 3).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_STATUS_OK);
    auto const dir = flowDirOf(domain, id);
    auto const bytes = readFile(dir / "data");
    EXPECT_EQ(at<std::uint32_t>(bytes, 24), static_cast<std::uint32_t>(MXL_DATA_FORMAT_AUDIO));
    EXPECT_EQ(at<std::int64_t>(bytes, 32), 48000);
    EXPECT_EQ(at<std::int64_t>(bytes, 40), 1);
    EXPECT_EQ(at<std::uint32_t>(bytes, 136), 3U);
    EXPECT_EQ(at<std::uint32_t>(bytes, 140), 19456U);
    EXPECT_EQ(std::filesystem::file_size(dir / "channels"), 3U * 19456U * 4U);
    EXPECT_FALSE(std::filesystem::exists(dir / "grains"));

    // Sample n of channel c at c x bufferLength x 4 + (n % bufferLength) x 4.
    std::uint64_t const index = 19456ULL * 7 + 100;
    mxlMutableWrappedMultiBufferSlice slices{};
    ASSERT_EQ(mxlFlowWriterOpenSamples(writer, index, 10, &slices), MXL_STATUS_OK);
    for (std::size_t c = 0; c < 3; ++c)
    {
        auto* samples = reinterpret_cast<float*>(static_cast<std::uint8_t*>(slices.base.fragments[0].pointer) + c * slices.stride);
        for (std::size_t n = 0; n < 10; ++n)
        {
            samples[n] = static_cast<float>(c * 1000 + n);
        }
    }
    ASSERT_EQ(mxlFlowWriterCommitSamples(writer), MXL_STATUS_OK);
    EXPECT_EQ(at<std::uint64_t>(readFile(dir / "data"), 200), index);
    auto const channels = readFile(dir / "channels");
    for (std::size_t c = 0; c < 3; ++c)
    {
        for (std::size_t n = 0; n < 10; ++n)
        {
            auto const sample = index - 10 + n;
            EXPECT_EQ(at<float>(channels, c * 19456 * 4 + (sample % 19456) * 4), static_cast<float>(c * 1000 + n));
        }
    }
}

TEST(FlowLayout, FlowDirectoryHoldsTheDefinitionVerbatimAndAnAccessFile)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    auto const def = flowDef(id, "smpte291", 0, 0, 50, 1);
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), def.c_str(), nullptr, &writer, nullptr, nullptr), MXL_STATUS_OK);
    auto const dir = flowDirOf(domain, id);
    auto const stored = readFile(dir / "flow_def.json");
    EXPECT_EQ(std::string(stored.begin(), stored.end()), def);
    EXPECT_TRUE(std::filesystem::is_regular_file(dir / "access"));
    EXPECT_EQ(std::filesystem::file_size(dir / "access"), 0U);
    EXPECT_EQ(std::filesystem::file_size(dir / "grains" / "data.0"), 8192U + 4096U);
    // Nothing but the flow is left in the domain: no temporary directories.
    std::vector<std::string> names;
    for (auto const& entry : std::filesystem::directory_iterator{domain.path()})
    {
        names.push_back(entry.path().filename().string());
    }
    EXPECT_EQ(names, (std::vector<std::string>{id + ".mxl-flow"}));
}

TEST(FlowLayout, FilesAre0664AndDirectories0775MinusUmask)
{
    for (mode_t const mask : {mode_t{0002}, mode_t{0022}, mode_t{0027}})
    {
        SCOPED_TRACE(mask);
        ScopedUmask umask{mask};
        TestDomain domain;
        ScopedInstance instance{domain.str()};
        ASSERT_TRUE(instance);
        auto const id = newFlowId();
        mxlFlowWriter writer = nullptr;
        ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 64, 4, 25, 1).c_str(), nullptr, &writer, nullptr, nullptr),
            MXL_STATUS_OK);
        auto const dir = flowDirOf(domain, id);
        auto const modeOf = [](std::filesystem::path const& p) {
            struct stat st{};
            EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
            return st.st_mode & 07777;
        };
        EXPECT_EQ(modeOf(dir), 0775 & ~mask);
        EXPECT_EQ(modeOf(dir / "grains"), 0775 & ~mask);
        for (auto const* file : {"data", "flow_def.json", "access", "grains/data.0", "grains/data.4"})
        {
            SCOPED_TRACE(file);
            EXPECT_EQ(modeOf(dir / file), 0664 & ~mask);
        }
    }
}

TEST(FlowLayout, PublicStructsHaveTheFormatOffsets)
{
    EXPECT_EQ(sizeof(mxlFlowConfigInfo), 192U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common), 0U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.id), 0U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.format), 16U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.flags), 20U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.grainRate), 24U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.grainRate.numerator), 24U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.grainRate.denominator), 32U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.maxCommitBatchSizeHint), 40U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.maxSyncBatchSizeHint), 44U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.payloadLocation), 48U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, common.deviceIndex), 52U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, discrete.sliceSizes), 128U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, discrete.grainCount), 144U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, continuous.channelCount), 128U);
    EXPECT_EQ(offsetof(mxlFlowConfigInfo, continuous.bufferLength), 132U);

    EXPECT_EQ(sizeof(mxlFlowRuntimeInfo), 64U);
    EXPECT_EQ(offsetof(mxlFlowRuntimeInfo, headIndex), 0U);
    EXPECT_EQ(offsetof(mxlFlowRuntimeInfo, lastWriteTime), 8U);
    EXPECT_EQ(offsetof(mxlFlowRuntimeInfo, lastReadTime), 16U);

    EXPECT_EQ(sizeof(mxlFlowInfo), 2048U);
    EXPECT_EQ(offsetof(mxlFlowInfo, version), 0U);
    EXPECT_EQ(offsetof(mxlFlowInfo, size), 4U);
    EXPECT_EQ(offsetof(mxlFlowInfo, config), 8U);
    EXPECT_EQ(offsetof(mxlFlowInfo, runtime), 200U);

    EXPECT_EQ(sizeof(mxlGrainInfo), 4096U);
    EXPECT_EQ(offsetof(mxlGrainInfo, version), 0U);
    EXPECT_EQ(offsetof(mxlGrainInfo, size), 4U);
    EXPECT_EQ(offsetof(mxlGrainInfo, index), 8U);
    EXPECT_EQ(offsetof(mxlGrainInfo, flags), 16U);
    EXPECT_EQ(offsetof(mxlGrainInfo, grainSize), 20U);
    EXPECT_EQ(offsetof(mxlGrainInfo, totalSlices), 24U);
    EXPECT_EQ(offsetof(mxlGrainInfo, validSlices), 26U);

    EXPECT_EQ(sizeof(mxlRational), 16U);
    EXPECT_EQ(sizeof(mxlWrappedMultiBufferSlice), 48U);
    EXPECT_EQ(offsetof(mxlWrappedMultiBufferSlice, stride), 32U);
    EXPECT_EQ(offsetof(mxlWrappedMultiBufferSlice, count), 40U);
}

TEST(FlowLayout, ReaderInfoMatchesTheDataFile)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    mxlFlowConfigInfo writerConfig{};
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 64, 8, 50, 1).c_str(), nullptr, &writer, &writerConfig, nullptr),
        MXL_STATUS_OK);
    ASSERT_EQ(writeWholeGrain(writer, 77), MXL_STATUS_OK);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);

    mxlFlowInfo info{};
    ASSERT_EQ(mxlFlowReaderGetInfo(reader, &info), MXL_STATUS_OK);
    auto const bytes = readFile(flowDirOf(domain, id) / "data");
    EXPECT_EQ(std::memcmp(&info, bytes.data(), 200), 0) << "header and configuration";
    EXPECT_EQ(info.runtime.headIndex, 77U);

    mxlFlowConfigInfo config{};
    ASSERT_EQ(mxlFlowReaderGetConfigInfo(reader, &config), MXL_STATUS_OK);
    EXPECT_EQ(std::memcmp(&config, &writerConfig, sizeof(config)), 0);
    mxlFlowRuntimeInfo runtime{};
    ASSERT_EQ(mxlFlowReaderGetRuntimeInfo(reader, &runtime), MXL_STATUS_OK);
    EXPECT_EQ(runtime.headIndex, 77U);
    EXPECT_GT(runtime.lastWriteTime, 0U);
}
