// SPDX-License-Identifier: Apache-2.0
#include "flow/Flow.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fmt/format.h>

#include "common/DomainFile.hpp"
#include "common/Logging.hpp"
#include "sync/Futex.hpp"
#include "time/Timing.hpp"

namespace mxl
{
    namespace
    {
        Unexpected openError(std::filesystem::path const& path, int err)
        {
            if (err == ENOENT || err == ENOTDIR)
            {
                return fail(MXL_ERR_FLOW_NOT_FOUND, fmt::format("{}: no such flow file", path.string()));
            }
            if (err == EACCES || err == EPERM || err == EROFS)
            {
                return fail(MXL_ERR_PERMISSION_DENIED, fmt::format("{}: {}", path.string(), std::strerror(err)));
            }
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("{}: {}", path.string(), std::strerror(err)));
        }

        Unexpected invalid(std::filesystem::path const& path, std::string const& what)
        {
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("{}: {}", path.string(), what));
        }

        struct OpenedFile
        {
            Fd fd;
            Mapping map;
        };

        /// Opens and maps a whole file, taking LOCK_SH for writers. The size must be at least
        /// minSize; the mapping covers the file's real size.
        Expected<OpenedFile> openAndMap(std::filesystem::path const& path, FlowAccess access, std::size_t minSize)
        {
            bool const rw = access == FlowAccess::ReadWrite;
            // Never blocks or follows a link: a FIFO or a symlink to a device where a flow file
            // should be is refused, naming what it is.
            auto opened = openDomainFile(path, rw ? O_RDWR : O_RDONLY);
            if (!opened)
            {
                return opened.take_error();
            }
            auto fd = std::move(*opened);
            struct stat st{};
            if (::fstat(fd.get(), &st) != 0)
            {
                return openError(path, errno);
            }
            auto const size = static_cast<std::size_t>(st.st_size);
            if (size < minSize)
            {
                return invalid(path, fmt::format("truncated: {} bytes, at least {} expected", size, minSize));
            }
            if (rw && ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0)
            {
                return fail(MXL_ERR_CONFLICT, fmt::format("{}: being removed (locked exclusively)", path.string()));
            }
            // MAP_POPULATE: page tables are filled now, at open, not by first-touch faults while
            // grains stream (a 1080p grain is 1350 pages).
            void* base = ::mmap(nullptr, size, rw ? (PROT_READ | PROT_WRITE) : PROT_READ, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
            if (base == MAP_FAILED)
            {
                return openError(path, errno);
            }
            return OpenedFile{std::move(fd), Mapping{base, size}};
        }
    }

    Flow::Flow(std::filesystem::path dir, FlowAccess access)
        : _dir{std::move(dir)}
        , _access{access}
    {}

    Flow::~Flow() = default;

    Expected<std::unique_ptr<Flow>> Flow::open(std::filesystem::path const& dir, FlowAccess access)
    {
        // The flow directory itself must be the domain's own, not a link to somewhere else.
        struct stat st{};
        if (::lstat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
        {
            return invalid(dir, S_ISLNK(st.st_mode) ? "a symbolic link, not a flow directory" : "not a flow directory");
        }
        std::unique_ptr<Flow> flow{new Flow{dir, access}};
        if (auto r = flow->openData(); !r)
        {
            return r.take_error();
        }
        auto const r = flow->discrete() ? flow->openGrains() : flow->openChannels();
        if (!r)
        {
            return Unexpected{r.error()};
        }
        // Optional (only lastReadTime depends on it), but never anything but a regular file.
        if (auto accessFile = openDomainFile(dir / "access", O_RDONLY); accessFile)
        {
            flow->_accessFd = std::move(*accessFile);
        }
        return flow;
    }

    Expected<void> Flow::openData()
    {
        auto const path = _dir / "data";
        auto opened = openAndMap(path, _access, sizeof(FlowData));
        if (!opened)
        {
            return opened.take_error();
        }
        _dataFd = std::move(opened->fd);
        _dataMap = std::move(opened->map);

        auto const& info = data()->info;
        if (info.version != flowInfoVersion)
        {
            return invalid(path, fmt::format("unsupported flow header version {} (this library reads version {})", info.version, flowInfoVersion));
        }
        if (info.size != sizeof(mxlFlowInfo))
        {
            return invalid(path, fmt::format("flow header size is {}; expected {}", info.size, sizeof(mxlFlowInfo)));
        }
        auto const& common = info.config.common;
        if (!mxlIsSupportedDataFormat(common.format))
        {
            return invalid(path, fmt::format("unsupported data format {}", common.format));
        }
        if (!isValidRate(common.grainRate))
        {
            return invalid(path, fmt::format("invalid grain rate {}/{}", common.grainRate.numerator, common.grainRate.denominator));
        }
        if (mxlIsDiscreteDataFormat(common.format))
        {
            auto const& d = info.config.discrete;
            if (d.grainCount == 0 || d.grainCount > maxGrainCount)
            {
                return invalid(path, fmt::format("grain count {} out of range 1..{}", d.grainCount, maxGrainCount));
            }
            if (d.sliceSizes[0] == 0)
            {
                return invalid(path, "slice size of plane 0 is 0");
            }
        }
        else
        {
            auto const& c = info.config.continuous;
            if (c.channelCount == 0 || c.channelCount > maxChannelCount)
            {
                return invalid(path, fmt::format("channel count {} out of range 1..{}", c.channelCount, maxChannelCount));
            }
            if (c.bufferLength < 2 || c.bufferLength > (1U << 30))
            {
                return invalid(path, fmt::format("buffer length {} out of range", c.bufferLength));
            }
        }
        return {};
    }

    Expected<void> Flow::openGrains()
    {
        auto const& d = info().config.discrete;
        std::uint64_t sliceBytes = 0;
        for (auto const s : d.sliceSizes)
        {
            sliceBytes += s;
        }
        _grainFds.reserve(d.grainCount);
        _grainMaps.reserve(d.grainCount);
        for (std::uint32_t slot = 0; slot < d.grainCount; ++slot)
        {
            auto const path = _dir / grainFileName(slot);
            auto opened = openAndMap(path, _access, grainPayloadOffset);
            if (!opened)
            {
                return opened.take_error();
            }
            auto const* header = opened->map.as<mxlGrainInfo>();
            auto const payloadBytes = opened->map.size() - grainPayloadOffset;
            if (header->version != grainInfoVersion || header->size != sizeof(mxlGrainInfo))
            {
                return invalid(path, fmt::format("unsupported grain header (version {}, size {})", header->version, header->size));
            }
            if (header->grainSize != payloadBytes)
            {
                return invalid(path, fmt::format("grain size {} does not match the file's {} payload bytes", header->grainSize, payloadBytes));
            }
            if (header->totalSlices == 0 || sliceBytes * header->totalSlices != header->grainSize)
            {
                return invalid(path, fmt::format("{} slices of {} bytes do not make a grain of {} bytes", header->totalSlices, sliceBytes,
                                         header->grainSize));
            }
            if (slot == 0)
            {
                _grainSize = header->grainSize;
                _totalSlices = header->totalSlices;
            }
            else if (header->grainSize != _grainSize || header->totalSlices != _totalSlices)
            {
                return invalid(path, "grain geometry differs from grain 0");
            }
            _grainFds.push_back(std::move(opened->fd));
            _grainMaps.push_back(std::move(opened->map));
        }
        return {};
    }

    Expected<void> Flow::openChannels()
    {
        auto const path = _dir / "channels";
        auto const& c = info().config.continuous;
        auto opened = openAndMap(path, _access, 1);
        if (!opened)
        {
            return opened.take_error();
        }
        auto const samples = static_cast<std::uint64_t>(c.channelCount) * c.bufferLength;
        auto const size = opened->map.size();
        if (size % samples != 0 || (size / samples != 4 && size / samples != 8))
        {
            return invalid(path, fmt::format("{} bytes is not {} channels x {} samples of 4 or 8 bytes", size, c.channelCount, c.bufferLength));
        }
        _sampleWordSize = static_cast<std::uint32_t>(size / samples);
        _bufferLength = c.bufferLength;
        _channelsFd = std::move(opened->fd);
        _channelsMap = std::move(opened->map);
        return {};
    }

    Uuid Flow::id() const noexcept
    {
        Uuid id{};
        std::memcpy(id.data(), info().config.common.id, id.size());
        return id;
    }

    bool Flow::discrete() const noexcept
    {
        return mxlIsDiscreteDataFormat(info().config.common.format);
    }

    void Flow::signal() const noexcept
    {
        std::atomic_ref<std::uint32_t>{*syncCounter()}.fetch_add(1, std::memory_order_release);
        futexWakeAll(syncCounter());
    }

    bool Flow::removed() const noexcept
    {
        struct stat st{};
        return ::fstat(_dataFd.get(), &st) != 0 || st.st_nlink == 0;
    }

    void Flow::touchAccess() const noexcept
    {
        if (_accessFd.valid())
        {
            timespec const times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
            ::futimens(_accessFd.get(), times);
        }
    }

    std::uint64_t Flow::accessTime() const noexcept
    {
        struct stat st{};
        if (!_accessFd.valid() || ::fstat(_accessFd.get(), &st) != 0 || (st.st_atim.tv_sec == 0 && st.st_atim.tv_nsec == 0))
        {
            return 0;
        }
        // atime is CLOCK_REALTIME; the header keeps TAI.
        auto const realtime = static_cast<std::uint64_t>(st.st_atim.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(st.st_atim.tv_nsec);
        timespec tai{}, utc{};
        ::clock_gettime(CLOCK_TAI, &tai);
        ::clock_gettime(CLOCK_REALTIME, &utc);
        // The offset is a whole number of seconds; round away the nanoseconds between the two reads.
        auto const deltaNs = (static_cast<std::int64_t>(tai.tv_sec) - utc.tv_sec) * 1'000'000'000LL + (tai.tv_nsec - utc.tv_nsec);
        auto const offsetS = (deltaNs + 500'000'000LL) / 1'000'000'000LL;
        return realtime + static_cast<std::uint64_t>(offsetS) * 1'000'000'000ULL;
    }

    bool Flow::hasWriter() const noexcept
    {
        auto opened = openDomainFile(_dir / "data", O_RDONLY);
        if (!opened)
        {
            return false;
        }
        auto const probe = std::move(*opened);
        if (::flock(probe.get(), LOCK_EX | LOCK_NB) == 0)
        {
            ::flock(probe.get(), LOCK_UN);
            return false;
        }
        return errno == EWOULDBLOCK;
    }
}
