// SPDX-License-Identifier: Apache-2.0
// A domain that can only be read (a read-only bind mount of a live domain): readers work, nothing
// that writes does.

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    /// A read-only view of a directory at a fresh path under /dev/shm, unmounted and removed at scope
    /// exit. Root ignores file modes, so only a read-only mount really takes write access away.
    class ReadOnlyBindMount
    {
    public:
        explicit ReadOnlyBindMount(std::filesystem::path const& source)
        {
            std::string pattern = "/dev/shm/mxl-test-ro-XXXXXX";
            if (::mkdtemp(pattern.data()) == nullptr)
            {
                _error = std::string{"mkdtemp: "} + std::strerror(errno);
                return;
            }
            _target = pattern;
            if (::mount(source.c_str(), _target.c_str(), nullptr, MS_BIND, nullptr) != 0)
            {
                _error = std::string{"bind mount: "} + std::strerror(errno);
                return;
            }
            _mounted = true;
            if (::mount(nullptr, _target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
            {
                _error = std::string{"read-only remount: "} + std::strerror(errno);
                return;
            }
            _readOnly = true;
        }

        ~ReadOnlyBindMount()
        {
            if (_mounted)
            {
                ::umount2(_target.c_str(), MNT_DETACH);
            }
            if (!_target.empty())
            {
                ::rmdir(_target.c_str());
            }
        }

        ReadOnlyBindMount(ReadOnlyBindMount const&) = delete;
        ReadOnlyBindMount& operator=(ReadOnlyBindMount const&) = delete;

        [[nodiscard]] bool ready() const noexcept
        {
            return _readOnly;
        }

        [[nodiscard]] std::string const& error() const noexcept
        {
            return _error;
        }

        [[nodiscard]] std::string str() const
        {
            return _target.string();
        }

    private:
        std::filesystem::path _target;
        bool _mounted{false};
        bool _readOnly{false};
        std::string _error;
    };

    class ReadOnlyDomain : public ::testing::Test
    {
    protected:
        void SetUp() override
        {
            if (!view.ready())
            {
                GTEST_SKIP() << "cannot make a read-only bind mount (" << view.error()
                             << "); these tests need root or CAP_SYS_ADMIN in a mount namespace";
            }
            ASSERT_NE(::access(view.str().c_str(), W_OK), 0) << "the view is writable";
            ASSERT_EQ(errno, EROFS);
            ASSERT_TRUE(writable);
            ASSERT_EQ(mxlCreateFlowWriter(writable.get(), flowDef(videoId, "v210", 64, 8, 25, 1).c_str(), nullptr, &videoWriter, nullptr, nullptr),
                MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowWriter(writable.get(), flowDef(audioId, "audio", 0, 0, 48000, 1, 2).c_str(), nullptr, &audioWriter, nullptr,
                          nullptr),
                MXL_STATUS_OK);
        }

        TestDomain domain;
        ReadOnlyBindMount view{domain.path()};
        ScopedInstance writable{domain.str()};
        std::string videoId = newFlowId();
        std::string audioId = newFlowId();
        mxlFlowWriter videoWriter = nullptr;
        mxlFlowWriter audioWriter = nullptr;
    };
}

TEST_F(ReadOnlyDomain, ReadersReadGrainsWrittenThroughTheWritablePath)
{
    ScopedInstance readOnly{view.str()};
    ASSERT_TRUE(readOnly) << "an instance on a read-only domain";
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(readOnly.get(), videoId.c_str(), nullptr, &reader), MXL_STATUS_OK);
    for (std::uint64_t i = 100; i < 110; ++i)
    {
        ASSERT_EQ(writeWholeGrain(videoWriter, i), MXL_STATUS_OK);
        mxlGrainInfo info{};
        std::uint8_t* payload = nullptr;
        ASSERT_EQ(mxlFlowReaderGetGrain(reader, i, 0, &info, &payload), MXL_STATUS_OK);
        EXPECT_EQ(info.index, i);
        EXPECT_EQ(firstPatternMismatch(payload, 0, info.grainSize, i), info.grainSize);
    }
    mxlFlowRuntimeInfo runtime{};
    ASSERT_EQ(mxlFlowReaderGetRuntimeInfo(reader, &runtime), MXL_STATUS_OK);
    EXPECT_EQ(runtime.headIndex, 109U);

    bool active = false;
    ASSERT_EQ(mxlIsFlowActive(readOnly.get(), videoId.c_str(), &active), MXL_STATUS_OK);
    EXPECT_TRUE(active);
    char def[4096];
    std::size_t size = sizeof(def);
    ASSERT_EQ(mxlGetFlowDef(readOnly.get(), videoId.c_str(), def, &size), MXL_STATUS_OK);
    EXPECT_EQ(std::string{def}, flowDef(videoId, "v210", 64, 8, 25, 1));
}

TEST_F(ReadOnlyDomain, BlockedReaderIsWokenByACommitOnTheWritablePath)
{
    ScopedInstance readOnly{view.str()};
    ASSERT_TRUE(readOnly);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(readOnly.get(), videoId.c_str(), nullptr, &reader), MXL_STATUS_OK);
    std::atomic<pid_t> tid{0};
    auto waiting = std::async(std::launch::async, [&] {
        tid = static_cast<pid_t>(::syscall(SYS_gettid));
        mxlGrainInfo info{};
        std::uint8_t* payload = nullptr;
        auto const status = mxlFlowReaderGetGrain(reader, 500, 10'000'000'000ULL, &info, &payload);
        return status == MXL_STATUS_OK && firstPatternMismatch(payload, 0, info.grainSize, 500) == info.grainSize;
    });
    while (tid.load() == 0)
    {
        std::this_thread::yield();
    }
    (void)waitUntilInFutex(::getpid(), tid.load());
    ASSERT_EQ(writeWholeGrain(videoWriter, 500), MXL_STATUS_OK);
    ASSERT_EQ(waiting.wait_for(std::chrono::seconds{5}), std::future_status::ready);
    EXPECT_TRUE(waiting.get());
}

TEST_F(ReadOnlyDomain, AudioReadersReadSamples)
{
    ScopedInstance readOnly{view.str()};
    ASSERT_TRUE(readOnly);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(readOnly.get(), audioId.c_str(), nullptr, &reader), MXL_STATUS_OK);
    mxlMutableWrappedMultiBufferSlice out{};
    ASSERT_EQ(mxlFlowWriterOpenSamples(audioWriter, 96000, 480, &out), MXL_STATUS_OK);
    for (std::size_t c = 0; c < out.count; ++c)
    {
        auto* samples = reinterpret_cast<float*>(static_cast<std::uint8_t*>(out.base.fragments[0].pointer) + c * out.stride);
        for (std::size_t n = 0; n < 480; ++n)
        {
            samples[n] = static_cast<float>(c * 480 + n);
        }
    }
    ASSERT_EQ(mxlFlowWriterCommitSamples(audioWriter), MXL_STATUS_OK);
    mxlWrappedMultiBufferSlice in{};
    ASSERT_EQ(mxlFlowReaderGetSamples(reader, 96000, 480, 0, &in), MXL_STATUS_OK);
    ASSERT_EQ(in.count, 2U);
    ASSERT_EQ(in.base.fragments[0].size, 480 * sizeof(float));
    for (std::size_t c = 0; c < in.count; ++c)
    {
        auto const* samples = reinterpret_cast<float const*>(static_cast<std::uint8_t const*>(in.base.fragments[0].pointer) + c * in.stride);
        for (std::size_t n = 0; n < 480; ++n)
        {
            ASSERT_EQ(samples[n], static_cast<float>(c * 480 + n));
        }
    }
}

TEST_F(ReadOnlyDomain, WritersAndGarbageCollectionArePermissionDenied)
{
    ScopedInstance readOnly{view.str()};
    ASSERT_TRUE(readOnly);
    mxlFlowWriter writer = nullptr;
    EXPECT_EQ(mxlCreateFlowWriter(readOnly.get(), flowDef(newFlowId(), "v210", 64, 8, 25, 1).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_ERR_PERMISSION_DENIED);
    // Joining an existing flow needs write access as well.
    EXPECT_EQ(mxlCreateFlowWriter(readOnly.get(), flowDef(videoId, "v210", 64, 8, 25, 1).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_ERR_PERMISSION_DENIED);
    EXPECT_EQ(writer, nullptr);
    EXPECT_EQ(mxlGarbageCollectFlows(readOnly.get()), MXL_ERR_PERMISSION_DENIED);
    // Nothing appeared in the domain.
    std::size_t entries = 0;
    for ([[maybe_unused]] auto const& entry : std::filesystem::directory_iterator{domain.path()})
    {
        ++entries;
    }
    EXPECT_EQ(entries, 2U);
}

TEST_F(ReadOnlyDomain, ReaderLearnsThatTheFlowWasRemovedThroughTheWritablePath)
{
    ScopedInstance readOnly{view.str()};
    ASSERT_TRUE(readOnly);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(readOnly.get(), videoId.c_str(), nullptr, &reader), MXL_STATUS_OK);
    ASSERT_EQ(mxlReleaseFlowWriter(writable.get(), videoWriter), MXL_STATUS_OK);
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, 1, 1'000'000, &info, &payload), MXL_ERR_FLOW_INVALID);
}

// Permission bits, not a read-only mount: a domain directory the user may not write. Root ignores
// permission bits, so this runs as an ordinary user only (ci/engine-as-user.sh runs the engine's
// tests as `nobody`; under root it says so and skips).
TEST(UnwritableDomain, AnOrdinaryUserReadsFlowsButCannotWriteOrCollect)
{
    if (::geteuid() == 0)
    {
        GTEST_SKIP() << "root ignores permission bits; ci/engine-as-user.sh runs this test as an ordinary user";
    }
    TestDomain domain;
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    {
        ScopedInstance owner{domain.str()};
        ASSERT_TRUE(owner);
        ASSERT_EQ(mxlCreateFlowWriter(owner.get(), flowDef(id, "v210", 64, 8, 25, 1).c_str(), nullptr, &writer, nullptr, nullptr), MXL_STATUS_OK);
        ASSERT_EQ(mxl::test::writeWholeGrain(writer, 7), MXL_STATUS_OK);
        // The flow stays (a writer's instance destroyed without releasing would remove it): keep the
        // writer and take write permission away from everybody, owner included.
        ASSERT_EQ(::chmod(domain.str().c_str(), 0555), 0);
        struct Restore
        {
            std::string path;
            ~Restore()
            {
                ::chmod(path.c_str(), 0755); // so that the domain can be removed whatever failed
            }
        } restore{domain.str()};

        ScopedInstance reading{domain.str()};
        ASSERT_TRUE(reading);
        mxlFlowWriter denied = nullptr;
        EXPECT_EQ(mxlCreateFlowWriter(reading.get(), flowDef(newFlowId(), "v210", 64, 8, 25, 1).c_str(), nullptr, &denied, nullptr, nullptr),
            MXL_ERR_PERMISSION_DENIED);
        EXPECT_EQ(denied, nullptr);
        EXPECT_EQ(mxlGarbageCollectFlows(reading.get()), MXL_ERR_PERMISSION_DENIED);
        mxlFlowReader reader = nullptr;
        ASSERT_EQ(mxlCreateFlowReader(reading.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
        mxlGrainInfo info{};
        std::uint8_t* payload = nullptr;
        EXPECT_EQ(mxlFlowReaderGetGrain(reader, 7, 0, &info, &payload), MXL_STATUS_OK);
        EXPECT_EQ(info.index, 7U);
        EXPECT_EQ(mxlReleaseFlowReader(reading.get(), reader), MXL_STATUS_OK);

        EXPECT_EQ(mxlReleaseFlowWriter(owner.get(), writer), MXL_STATUS_OK);
    }
}
