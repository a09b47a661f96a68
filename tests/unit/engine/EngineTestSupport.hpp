// SPDX-License-Identifier: Apache-2.0
#pragma once

// Helpers for the engine's unit and integration tests: an instance that destroys itself, a pipe
// for handshakes between forked processes, payload patterns derived from a grain index, and a
// probe that tells when a process or thread sleeps in a futex.

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "base/Uuid.hpp"

namespace mxl::test
{
    inline std::string newFlowId()
    {
        return formatUuid(randomUuid().value());
    }

    /// An mxlInstance destroyed (with every reader, writer and group it owns) at scope exit.
    class ScopedInstance
    {
    public:
        explicit ScopedInstance(std::string const& domain, char const* options = nullptr)
            : _instance{::mxlCreateInstance(domain.c_str(), options)}
        {}

        ~ScopedInstance()
        {
            if (_instance != nullptr)
            {
                ::mxlDestroyInstance(_instance);
            }
        }

        ScopedInstance(ScopedInstance const&) = delete;
        ScopedInstance& operator=(ScopedInstance const&) = delete;

        [[nodiscard]] mxlInstance get() const noexcept
        {
            return _instance;
        }

        explicit operator bool() const noexcept
        {
            return _instance != nullptr;
        }

    private:
        mxlInstance _instance;
    };

    /// One-way channel of fixed-size messages between forked processes (or threads). Both ends stay
    /// open in both processes; receive() is bounded by a timeout so a dead peer cannot hang a test.
    class Pipe
    {
    public:
        Pipe()
        {
            if (::pipe2(_fds, O_CLOEXEC) != 0)
            {
                _fds[0] = _fds[1] = -1;
            }
        }

        ~Pipe()
        {
            for (int const fd : _fds)
            {
                if (fd >= 0)
                {
                    ::close(fd);
                }
            }
        }

        Pipe(Pipe const&) = delete;
        Pipe& operator=(Pipe const&) = delete;

        template<typename T>
        bool send(T const& message) const noexcept
        {
            static_assert(std::is_trivially_copyable_v<T>);
            auto const* bytes = reinterpret_cast<char const*>(&message);
            std::size_t done = 0;
            while (done < sizeof(T))
            {
                auto const n = ::write(_fds[1], bytes + done, sizeof(T) - done);
                if (n < 0)
                {
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    return false;
                }
                done += static_cast<std::size_t>(n);
            }
            return true;
        }

        template<typename T>
        std::optional<T> receive(std::chrono::milliseconds timeout = std::chrono::seconds{20}) const noexcept
        {
            static_assert(std::is_trivially_copyable_v<T>);
            T message{};
            auto* bytes = reinterpret_cast<char*>(&message);
            std::size_t done = 0;
            auto const deadline = std::chrono::steady_clock::now() + timeout;
            while (done < sizeof(T))
            {
                auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
                if (left.count() < 0)
                {
                    return std::nullopt;
                }
                pollfd p{_fds[0], POLLIN, 0};
                auto const ready = ::poll(&p, 1, static_cast<int>(left.count()));
                if (ready < 0 && errno == EINTR)
                {
                    continue;
                }
                if (ready <= 0)
                {
                    return std::nullopt;
                }
                auto const n = ::read(_fds[0], bytes + done, sizeof(T) - done);
                if (n <= 0)
                {
                    if (n < 0 && errno == EINTR)
                    {
                        continue;
                    }
                    return std::nullopt;
                }
                done += static_cast<std::size_t>(n);
            }
            return message;
        }

    private:
        int _fds[2];
    };

    /// Byte `offset` of the payload of grain `index` as written by writer `generation`: different
    /// for neighbouring grains, offsets and writers, so a grain read for another can never pass.
    inline std::uint8_t patternByte(std::uint64_t index, std::size_t offset, std::uint8_t generation = 0) noexcept
    {
        auto const mixed = index * 0x9E37'79B9'7F4A'7C15ULL + offset * 0x0100'0000'01B3ULL + generation * 0x5851'F42D'4C95'7F2DULL;
        return static_cast<std::uint8_t>((mixed >> 29) ^ (mixed >> 7) ^ (offset & 0xFF));
    }

    inline void fillPattern(std::uint8_t* payload, std::size_t begin, std::size_t end, std::uint64_t index, std::uint8_t generation = 0) noexcept
    {
        for (auto i = begin; i < end; ++i)
        {
            payload[i] = patternByte(index, i, generation);
        }
    }

    /// Offset of the first byte in [begin, end) that differs from the pattern, or end.
    inline std::size_t firstPatternMismatch(std::uint8_t const* payload, std::size_t begin, std::size_t end, std::uint64_t index,
        std::uint8_t generation = 0) noexcept
    {
        for (auto i = begin; i < end; ++i)
        {
            if (payload[i] != patternByte(index, i, generation))
            {
                return i;
            }
        }
        return end;
    }

    /// Opens grain index, fills its whole payload with the pattern and commits every slice.
    inline mxlStatus writeWholeGrain(mxlFlowWriter writer, std::uint64_t index, std::uint8_t generation = 0)
    {
        mxlGrainInfo info{};
        std::uint8_t* payload = nullptr;
        if (auto const s = ::mxlFlowWriterOpenGrain(writer, index, &info, &payload); s != MXL_STATUS_OK)
        {
            return s;
        }
        fillPattern(payload, 0, info.grainSize, index, generation);
        info.validSlices = info.totalSlices;
        return ::mxlFlowWriterCommitGrain(writer, &info);
    }

    /// The system call a thread is blocked in, from /proc/<pid>/task/<tid>/syscall; -1 if running or
    /// unknown.
    inline long currentSyscall(pid_t pid, pid_t tid)
    {
        std::ifstream in{"/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/syscall"};
        std::string first;
        if (!(in >> first) || first == "running")
        {
            return -1;
        }
        try
        {
            return std::stol(first);
        }
        catch (...)
        {
            return -1;
        }
    }

    /// Waits until thread tid of process pid sleeps in futex(2). False if it did not within the
    /// timeout (or /proc does not tell), so callers can go on with a weaker test.
    inline bool waitUntilInFutex(pid_t pid, pid_t tid, std::chrono::milliseconds timeout = std::chrono::seconds{5})
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline)
        {
            if (currentSyscall(pid, tid) == SYS_futex)
            {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
        }
        return false;
    }
}
