// SPDX-License-Identifier: Apache-2.0
// The command ring's file: created by the bridge under a temporary name and renamed into place,
// opened by clients after checking its header and size without mapping it.
#include "remote/CommandRing.hpp"

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fmt/format.h>

#include "base/Random.hpp"
#include "protocol/Wire.hpp"
#include "remote/CommandRingState.hpp"

namespace mxl::fabric::remote
{
    using namespace layout;

    namespace
    {
        /// Read and write for the bridge's user and group: clients must write (claim slots, publish,
        /// wait on futexes); others get nothing, not even a look at who asks for what.
        constexpr mode_t ringMode = 0660;

        Unexpected ioError(std::filesystem::path const& path, std::string_view action, int err)
        {
            auto const status = err == EACCES || err == EPERM || err == EROFS ? MXL_ERR_PERMISSION_DENIED
                                : err == ENOENT                               ? MXL_ERR_NOT_FOUND
                                                                              : MXL_ERR_UNKNOWN;
            return fail(status, fmt::format("{}: cannot {}: {}", path.string(), action, std::strerror(err)));
        }

        Unexpected refuse(std::filesystem::path const& path, std::string const& what)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("{}: {}", path.string(), what));
        }

        Expected<void*> mapShared(std::filesystem::path const& path, int fd, std::size_t size)
        {
            void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (base == MAP_FAILED)
            {
                return ioError(path, "map the command ring", errno);
            }
            return base;
        }

        void writeHeader(std::byte* h, RingOptions const& o, ProcessIdentity const& owner) noexcept
        {
            wire::store(ringMagic, h + magicOffset);
            wire::store(ringVersion, h + versionOffset);
            wire::store(static_cast<std::uint32_t>(headerSize), h + headerSizeOffset);
            wire::store(o.slotCount, h + slotCountOffset);
            wire::store(static_cast<std::uint32_t>(slotSize), h + slotSizeOffset);
            wire::store(o.replyCount, h + replyCountOffset);
            wire::store(static_cast<std::uint32_t>(replySize), h + replySizeOffset);
            wire::store(static_cast<std::uint64_t>(fileSize(o.slotCount, o.replyCount)), h + fileSizeOffset);
            wire::store(static_cast<std::uint64_t>(o.slotTimeout.count()), h + slotTimeoutOffset);
            wire::store(owner.pid, h + ownerPidOffset);
            wire::store(owner.startTime, h + ownerStartOffset);
        }
    }

    CommandRing::CommandRing(std::unique_ptr<State> state) noexcept
        : _state{std::move(state)}
    {}

    CommandRing::CommandRing(CommandRing&&) noexcept = default;
    CommandRing& CommandRing::operator=(CommandRing&&) noexcept = default;

    CommandRing::~CommandRing()
    {
        if (_state && _state->creator)
        {
            // Only our own file: a newer bridge may have put its ring in place since.
            struct stat named{};
            if (::stat(_state->path.c_str(), &named) == 0 && named.st_dev == _state->identity.st_dev && named.st_ino == _state->identity.st_ino)
            {
                ::unlink(_state->path.c_str());
            }
        }
    }

    std::optional<std::string> CommandRing::damage() const
    {
        auto const& s = *_state;
        std::array<std::byte, ownerStartOffset + 8> now;
        std::memcpy(now.data(), s.map.data(), now.size());
        if (std::memcmp(now.data(), s.header.data(), now.size()) != 0)
        {
            return fmt::format("{}: its header was overwritten", s.path.string());
        }
        auto const tail = s.u64(tailOffset).load(std::memory_order_acquire);
        auto const head = s.u64(headOffset).load(std::memory_order_acquire);
        if (tail > head && tail - head > s.slotCount)
        {
            return fmt::format("{}: its tail ({}) is more than a lap ahead of its head ({})", s.path.string(), tail, head);
        }
        struct stat named{};
        if (::stat(s.path.c_str(), &named) != 0 || named.st_dev != s.identity.st_dev || named.st_ino != s.identity.st_ino)
        {
            return fmt::format("{}: the file was removed or replaced", s.path.string());
        }
        return std::nullopt;
    }

    Expected<CommandRing> CommandRing::create(std::filesystem::path const& domain, RingOptions const& options)
    {
        auto const path = domain / ringFileName;
        if (!std::has_single_bit(options.slotCount) || options.slotCount < minSlots || options.slotCount > maxSlots)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("command ring: {} slots is not a power of two from {} to {}", options.slotCount, minSlots, maxSlots));
        }
        if (options.replyCount < minReplies || options.replyCount > maxReplies)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("command ring: {} reply slots is not from {} to {}", options.replyCount, minReplies, maxReplies));
        }
        if (options.slotTimeout.count() <= 0)
        {
            return fail(MXL_ERR_INVALID_ARG, "command ring: the slot timeout must be positive");
        }
        auto self = selfIdentity();
        if (!self)
        {
            return self.take_error();
        }
        auto suffix = randomU64("the command ring's temporary name");
        if (!suffix)
        {
            return suffix.take_error();
        }
        auto const temporary = domain / fmt::format("{}.{}.{:016x}.tmp", ringFileName, self->pid, *suffix);
        Fd fd{::open(temporary.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, ringMode)};
        if (!fd.valid())
        {
            return ioError(temporary, "create the command ring", errno);
        }
        auto const size = fileSize(options.slotCount, options.replyCount);
        auto const abandon = [&](std::string_view action) {
            auto const err = errno;
            ::unlink(temporary.c_str());
            return ioError(temporary, action, err);
        };
        // The umask must not take the group's write access away: clients need it.
        if (::fchmod(fd.get(), ringMode) != 0)
        {
            return abandon("set the command ring's mode");
        }
        if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
        {
            return abandon("size the command ring");
        }
        auto base = mapShared(temporary, fd.get(), size);
        if (!base)
        {
            ::unlink(temporary.c_str());
            return base.take_error();
        }
        auto state = std::make_unique<State>();
        state->map = Mapping{*base, size};
        writeHeader(reinterpret_cast<std::byte*>(state->map.data()), options, *self);
        std::memcpy(state->header.data(), state->map.data(), state->header.size());
        state->mask = options.slotCount - 1;
        for (std::uint64_t i = 0; i < options.slotCount; ++i)
        {
            state->u64(slotOffset(i) + slotSequenceOffset).store(i, std::memory_order_relaxed);
        }
        if (::fstat(fd.get(), &state->identity) != 0)
        {
            return abandon("stat the command ring");
        }
        // Only now does the ring get its name: a client opens a whole ring or none.
        if (::rename(temporary.c_str(), path.c_str()) != 0)
        {
            return abandon(fmt::format("rename it to {}", path.string()));
        }
        state->path = path;
        state->fd = std::move(fd);
        state->creator = true;
        state->slotCount = options.slotCount;
        state->mask = options.slotCount - 1;
        state->replyCount = options.replyCount;
        state->slotTimeoutNs = static_cast<std::uint64_t>(options.slotTimeout.count());
        state->owner = *self;
        state->lastSweep.assign(options.replyCount, 0);
        return CommandRing{std::move(state)};
    }

    Expected<CommandRing> CommandRing::open(std::filesystem::path const& domain)
    {
        auto const path = domain / ringFileName;
        // O_NONBLOCK: a FIFO planted there must not block the open; it is refused below.
        Fd fd{::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
        if (!fd.valid())
        {
            auto const err = errno;
            if (err == ENOENT)
            {
                return fail(MXL_ERR_NOT_FOUND, fmt::format("{}: no command ring: is an mxl-fabric-bridge serving domain {}?", path.string(), domain.string()));
            }
            return ioError(path, "open the command ring", err);
        }
        struct stat st{};
        if (::fstat(fd.get(), &st) != 0)
        {
            return ioError(path, "stat the command ring", errno);
        }
        if (!S_ISREG(st.st_mode))
        {
            return refuse(path, "not a regular file");
        }
        auto const actual = static_cast<std::uint64_t>(st.st_size);
        if (actual < headerSize)
        {
            return refuse(path, fmt::format("truncated: {} bytes, less than the {}-byte header", actual, headerSize));
        }
        std::byte h[headerSize];
        if (::pread(fd.get(), h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
        {
            return ioError(path, "read the command ring's header", errno);
        }
        if (auto const magic = wire::load<std::uint64_t>(h + magicOffset); magic != ringMagic)
        {
            return refuse(path, fmt::format("not a command ring (magic {:#018x}, not {:#018x})", magic, ringMagic));
        }
        if (auto const version = wire::load<std::uint32_t>(h + versionOffset); version != ringVersion)
        {
            return refuse(path, fmt::format("command ring version {}; this build knows version {}", version, ringVersion));
        }
        auto const sizes = std::array{wire::load<std::uint32_t>(h + headerSizeOffset), wire::load<std::uint32_t>(h + slotSizeOffset),
            wire::load<std::uint32_t>(h + replySizeOffset)};
        if (sizes != std::array{static_cast<std::uint32_t>(headerSize), static_cast<std::uint32_t>(slotSize), static_cast<std::uint32_t>(replySize)})
        {
            return refuse(path, fmt::format("header, slot and reply sizes {}, {} and {} bytes; this build's are {}, {} and {}", sizes[0], sizes[1],
                                    sizes[2], headerSize, slotSize, replySize));
        }
        auto const slots = wire::load<std::uint32_t>(h + slotCountOffset);
        auto const replies = wire::load<std::uint32_t>(h + replyCountOffset);
        if (!std::has_single_bit(slots) || slots < minSlots || slots > maxSlots || replies < minReplies || replies > maxReplies)
        {
            return refuse(path, fmt::format("{} slots and {} reply slots: out of range", slots, replies));
        }
        auto const expected = fileSize(slots, replies);
        if (auto const declared = wire::load<std::uint64_t>(h + fileSizeOffset); declared != expected)
        {
            return refuse(path, fmt::format("its header gives a size of {} bytes, its counts {}", declared, expected));
        }
        if (actual != expected)
        {
            return refuse(path, fmt::format("{}: {} bytes, its header says {}", actual < expected ? "truncated" : "too long", actual, expected));
        }
        auto const timeout = wire::load<std::uint64_t>(h + slotTimeoutOffset);
        if (timeout == 0)
        {
            return refuse(path, "slot timeout is zero");
        }
        auto base = mapShared(path, fd.get(), expected);
        if (!base)
        {
            return base.take_error();
        }
        auto state = std::make_unique<State>();
        state->map = Mapping{*base, expected};
        state->path = path;
        state->fd = std::move(fd);
        state->identity = st;
        state->slotCount = slots;
        state->mask = slots - 1;
        state->replyCount = replies;
        state->slotTimeoutNs = timeout;
        state->owner = {wire::load<std::uint32_t>(h + ownerPidOffset), wire::load<std::uint64_t>(h + ownerStartOffset)};
        state->lastSweep.assign(replies, 0);
        return CommandRing{std::move(state)};
    }

    std::filesystem::path const& CommandRing::path() const noexcept
    {
        return _state->path;
    }

    std::uint32_t CommandRing::slotCount() const noexcept
    {
        return _state->slotCount;
    }

    std::uint32_t CommandRing::replyCount() const noexcept
    {
        return _state->replyCount;
    }

    std::chrono::nanoseconds CommandRing::slotTimeout() const noexcept
    {
        return std::chrono::nanoseconds{static_cast<std::int64_t>(_state->slotTimeoutNs)};
    }

    ProcessIdentity CommandRing::owner() const noexcept
    {
        return _state->owner;
    }

    std::uint64_t CommandRing::skippedSlots() const noexcept
    {
        return _state->skipped.load(std::memory_order_relaxed);
    }
}
