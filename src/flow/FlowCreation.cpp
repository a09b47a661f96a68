// SPDX-License-Identifier: Apache-2.0
#include "flow/FlowCreation.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fmt/format.h>

#include "base/Fd.hpp"
#include "common/Logging.hpp"
#include "common/Mapping.hpp"
#include "flow/FlowLayout.hpp"
#include "sync/Futex.hpp"
#include "time/Timing.hpp"

namespace mxl
{
    namespace
    {
        Unexpected systemError(std::filesystem::path const& path, char const* what, int err)
        {
            auto const status = (err == EACCES || err == EPERM || err == EROFS) ? MXL_ERR_PERMISSION_DENIED : MXL_ERR_UNKNOWN;
            return fail(status, fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
        }

        /// Creates a file of exactly `size` bytes, allocated now so that a full tmpfs fails here
        /// and not with SIGBUS in a writer later.
        Expected<Fd> createFile(std::filesystem::path const& path, std::size_t size)
        {
            Fd fd{::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0664)};
            if (!fd.valid())
            {
                return systemError(path, "cannot create", errno);
            }
            if (size > 0)
            {
                if (int const err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size)); err != 0)
                {
                    return systemError(path, fmt::format("cannot allocate {} bytes for", size).c_str(), err);
                }
            }
            return fd;
        }

        Expected<Mapping> mapWritable(Fd const& fd, std::size_t size, std::filesystem::path const& path)
        {
            void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
            if (base == MAP_FAILED)
            {
                return systemError(path, "cannot map", errno);
            }
            return Mapping{base, size};
        }

        Expected<void> writeWholeFile(std::filesystem::path const& path, std::string const& text)
        {
            auto fd = createFile(path, 0);
            if (!fd)
            {
                return fd.take_error();
            }
            std::size_t done = 0;
            while (done < text.size())
            {
                auto const n = ::write(fd->get(), text.data() + done, text.size() - done);
                if (n < 0)
                {
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    return systemError(path, "cannot write", errno);
                }
                done += static_cast<std::size_t>(n);
            }
            return {};
        }

        /// Temporary directory that deletes itself unless released.
        class TempDir
        {
        public:
            explicit TempDir(std::filesystem::path path)
                : _path{std::move(path)}
            {}

            TempDir(TempDir const&) = delete;
            TempDir& operator=(TempDir const&) = delete;

            ~TempDir()
            {
                if (!_path.empty())
                {
                    std::error_code ec;
                    std::filesystem::remove_all(_path, ec);
                }
            }

            [[nodiscard]] std::filesystem::path const& path() const noexcept
            {
                return _path;
            }

            void release() noexcept
            {
                _path.clear();
            }

        private:
            std::filesystem::path _path;
        };

        Expected<std::filesystem::path> makeTempDir(std::filesystem::path const& domain)
        {
            auto pattern = (domain / (std::string{tempDirPrefix} + "XXXXXXXXXXXXXXXX")).string();
            if (::mkdtemp(pattern.data()) == nullptr)
            {
                return systemError(domain, "cannot create a flow in domain", errno);
            }
            // mkdtemp makes 0700; flows are readable by the group and others (minus umask).
            mode_t const mask = ::umask(0);
            ::umask(mask);
            ::chmod(pattern.c_str(), 0775 & ~mask);
            return std::filesystem::path{pattern};
        }

        std::uint32_t ceilDiv100(mxlRational const& r) noexcept
        {
            auto const perHundredth = static_cast<std::uint64_t>(r.numerator) / (static_cast<std::uint64_t>(r.denominator) * 100);
            return perHundredth == 0 ? 1U : static_cast<std::uint32_t>(perHundredth);
        }
    }

    Expected<mxlFlowConfigInfo> makeFlowConfig(FlowDefinition const& def, WriterOptions const& options, std::uint64_t historyNs)
    {
        mxlFlowConfigInfo config{};
        std::memcpy(config.common.id, def.id.data(), def.id.size());
        config.common.format = def.format;
        config.common.flags = 0;
        config.common.grainRate = def.rate;
        config.common.payloadLocation = MXL_PAYLOAD_LOCATION_HOST_MEMORY;
        config.common.deviceIndex = -1;

        std::uint32_t maxCommit = 0;
        std::uint32_t defaultCommit = 0;
        if (def.discrete())
        {
            auto const grains = itemsInDuration(def.rate, historyNs);
            if (grains == 0 || grains > maxGrainCount)
            {
                return fail(MXL_ERR_UNKNOWN, fmt::format("a history of {} ns at {}/{} grains per second gives {} grains; it must give 1 to {}",
                                                 historyNs, def.rate.numerator, def.rate.denominator, grains, maxGrainCount));
            }
            std::memcpy(config.discrete.sliceSizes, def.sliceSizes.data(), sizeof(config.discrete.sliceSizes));
            config.discrete.grainCount = static_cast<std::uint32_t>(grains);
            maxCommit = def.totalSlices;
            defaultCommit = def.totalSlices;
        }
        else
        {
            auto const length = continuousBufferLength(def.rate, historyNs, def.sampleWordSize);
            auto const bytes = length * def.channelCount * def.sampleWordSize;
            if (length < 2 || length > (1U << 30) || bytes > (std::uint64_t{1} << 34))
            {
                return fail(MXL_ERR_UNKNOWN, fmt::format("a history of {} ns at {}/{} Hz gives {} samples per channel ({} bytes); out of range",
                                                 historyNs, def.rate.numerator, def.rate.denominator, length, bytes));
            }
            config.continuous.channelCount = def.channelCount;
            config.continuous.bufferLength = static_cast<std::uint32_t>(length);
            maxCommit = static_cast<std::uint32_t>(length / 2);
            defaultCommit = std::min(ceilDiv100(def.rate), maxCommit);
        }

        auto const commit = options.maxCommitBatchSizeHint != 0 ? options.maxCommitBatchSizeHint : defaultCommit;
        auto const sync = options.maxSyncBatchSizeHint != 0 ? options.maxSyncBatchSizeHint : commit;
        if (commit > maxCommit)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("writer option 'maxCommitBatchSizeHint' is {}; this flow allows at most {}", commit, maxCommit));
        }
        if (sync % commit != 0)
        {
            return fail(MXL_ERR_UNKNOWN,
                fmt::format("writer option 'maxSyncBatchSizeHint' ({}) must be a multiple of 'maxCommitBatchSizeHint' ({})", sync, commit));
        }
        config.common.maxCommitBatchSizeHint = commit;
        config.common.maxSyncBatchSizeHint = sync;
        return config;
    }

    bool sameGeometry(mxlFlowConfigInfo const& a, mxlFlowConfigInfo const& b) noexcept
    {
        if (std::memcmp(a.common.id, b.common.id, sizeof(a.common.id)) != 0 || a.common.format != b.common.format ||
            a.common.grainRate.numerator != b.common.grainRate.numerator || a.common.grainRate.denominator != b.common.grainRate.denominator)
        {
            return false;
        }
        if (mxlIsDiscreteDataFormat(a.common.format))
        {
            return std::memcmp(a.discrete.sliceSizes, b.discrete.sliceSizes, sizeof(a.discrete.sliceSizes)) == 0;
        }
        return a.continuous.channelCount == b.continuous.channelCount;
    }

    Expected<Fd> createFlowFiles(std::filesystem::path const& domain, FlowDefinition const& def, mxlFlowConfigInfo const& config)
    {
        auto tempPath = makeTempDir(domain);
        if (!tempPath)
        {
            return tempPath.take_error();
        }
        TempDir temp{*tempPath};
        auto const& dir = temp.path();

        auto dataFd = createFile(dir / "data", sizeof(FlowData));
        if (!dataFd)
        {
            return dataFd.take_error();
        }
        auto dataMap = mapWritable(*dataFd, sizeof(FlowData), dir / "data");
        if (!dataMap)
        {
            return dataMap.take_error();
        }
        ::flock(dataFd->get(), LOCK_SH);
        struct stat st{};
        ::fstat(dataFd->get(), &st);
        auto* data = dataMap->as<FlowData>();
        data->info.version = flowInfoVersion;
        data->info.size = sizeof(mxlFlowInfo);
        data->info.config = config;
        data->info.runtime.headIndex = 0;
        data->info.runtime.lastWriteTime = 0;
        data->info.runtime.lastReadTime = 0;
        data->state.inode = st.st_ino;
        data->state.syncCounter = 0;

        if (auto r = writeWholeFile(dir / "flow_def.json", def.json); !r)
        {
            return r.take_error();
        }
        auto access = createFile(dir / "access", 0);
        if (!access)
        {
            return access.take_error();
        }
        // atime 0 means "never read": otherwise writers would report the creation time as the last read.
        timespec const never[2] = {{0, 0}, {0, UTIME_OMIT}};
        ::futimens(access->get(), never);

        if (def.discrete())
        {
            if (::mkdir((dir / "grains").c_str(), 0775) != 0)
            {
                return systemError(dir / "grains", "cannot create", errno);
            }
            for (std::uint32_t slot = 0; slot < config.discrete.grainCount; ++slot)
            {
                auto const path = dir / grainFileName(slot);
                auto const size = grainPayloadOffset + def.grainSize;
                auto fd = createFile(path, size);
                if (!fd)
                {
                    return fd.take_error();
                }
                auto map = mapWritable(*fd, grainPayloadOffset, path);
                if (!map)
                {
                    return map.take_error();
                }
                auto* header = map->as<mxlGrainInfo>();
                header->version = grainInfoVersion;
                header->size = sizeof(mxlGrainInfo);
                header->index = 0;
                header->flags = 0;
                header->grainSize = def.grainSize;
                header->totalSlices = def.totalSlices;
                header->validSlices = 0;
            }
        }
        else
        {
            auto const size = static_cast<std::size_t>(config.continuous.channelCount) * config.continuous.bufferLength * def.sampleWordSize;
            if (auto fd = createFile(dir / "channels", size); !fd)
            {
                return fd.take_error();
            }
        }

        auto const finalPath = domain / flowDirName(def.id);
        if (::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, finalPath.c_str(), RENAME_NOREPLACE) != 0)
        {
            if (errno == EEXIST)
            {
                return fail(MXL_ERR_EXISTS, fmt::format("{} already exists", finalPath.string()));
            }
            return systemError(finalPath, "cannot publish flow", errno);
        }
        temp.release();
        return std::move(*dataFd);
    }

    Expected<void> removeFlowDirectory(std::filesystem::path const& domain, std::filesystem::path const& flowDir)
    {
        auto tempPath = makeTempDir(domain);
        if (!tempPath)
        {
            return tempPath.take_error();
        }
        // rename(2) replaces an empty directory, so the flow disappears from its name in one step.
        if (::rename(flowDir.c_str(), tempPath->c_str()) != 0)
        {
            auto const err = errno;
            ::rmdir(tempPath->c_str());
            return systemError(flowDir, "cannot remove flow", err);
        }
        // Readers blocked on this flow wake up, find it unlinked and report FLOW_INVALID.
        // Only a `data` file long enough for the sync counter is mapped: touching a page beyond the end
        // of a truncated file (a corrupt stale flow) would kill this process with SIGBUS.
        struct stat st{};
        if (Fd fd{::open((*tempPath / "data").c_str(), O_RDWR | O_CLOEXEC)};
            fd.valid() && ::fstat(fd.get(), &st) == 0 && static_cast<std::size_t>(st.st_size) >= sizeof(FlowData))
        {
            if (void* base = ::mmap(nullptr, sizeof(FlowData), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0); base != MAP_FAILED)
            {
                Mapping map{base, sizeof(FlowData)};
                auto* data = map.as<FlowData>();
                std::atomic_ref<std::uint32_t>{data->state.syncCounter}.fetch_add(1, std::memory_order_release);
                ::unlink((*tempPath / "data").c_str());
                futexWakeAll(&data->state.syncCounter);
            }
        }
        std::error_code ec;
        std::filesystem::remove_all(*tempPath, ec);
        if (ec)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("cannot delete {}: {}", tempPath->string(), ec.message()));
        }
        return {};
    }
}
