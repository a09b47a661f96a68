// SPDX-License-Identifier: Apache-2.0
#include "remote/ProcessIdentity.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>
#include <fmt/format.h>

#include "base/Fd.hpp"

namespace mxl::fabric::remote
{
    namespace
    {
        /// Fields of /proc/<pid>/stat after the command name's closing parenthesis: field 3 (state)
        /// is the first, so the start time (22) is the 20th.
        constexpr int startTimeFieldAfterName = 20;

        Expected<std::string> readStat(pid_t pid)
        {
            auto const path = fmt::format("/proc/{}/stat", pid);
            Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
            if (!fd.valid())
            {
                auto const err = errno;
                auto const status = err == ENOENT || err == ESRCH ? MXL_ERR_NOT_FOUND : MXL_ERR_PERMISSION_DENIED;
                return fail(status, fmt::format("{}: {}", path, std::strerror(err)));
            }
            // A stat line is well under 1 KiB; the command name is at most 64 bytes.
            char buffer[1024];
            auto const n = ::read(fd.get(), buffer, sizeof buffer);
            if (n <= 0)
            {
                auto const err = n < 0 ? errno : EIO;
                // ESRCH: the process exited between open and read.
                return fail(err == ESRCH ? MXL_ERR_NOT_FOUND : MXL_ERR_UNKNOWN, fmt::format("{}: {}", path, std::strerror(err)));
            }
            return std::string{buffer, static_cast<std::size_t>(n)};
        }
    }

    std::uint64_t parseStartTime(std::string const& statLine) noexcept
    {
        auto const close = statLine.rfind(')');
        if (close == std::string::npos)
        {
            return 0;
        }
        std::string_view rest{statLine};
        rest.remove_prefix(close + 1);
        for (int field = 1; field <= startTimeFieldAfterName; ++field)
        {
            auto const start = rest.find_first_not_of(' ');
            if (start == std::string_view::npos)
            {
                return 0;
            }
            rest.remove_prefix(start);
            auto const end = std::min(rest.find(' '), rest.size());
            if (field == startTimeFieldAfterName)
            {
                std::uint64_t value = 0;
                auto const field22 = rest.substr(0, end);
                auto const [ptr, ec] = std::from_chars(field22.data(), field22.data() + field22.size(), value);
                bool const whole = ec == std::errc{} && ptr == field22.data() + field22.size();
                return whole ? value : 0;
            }
            rest.remove_prefix(end);
        }
        return 0;
    }

    Expected<ProcessIdentity> identityOf(pid_t pid)
    {
        if (pid <= 0)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("pid {} names no process", pid));
        }
        auto line = readStat(pid);
        if (!line)
        {
            return line.take_error();
        }
        auto const start = parseStartTime(*line);
        if (start == 0)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("/proc/{}/stat: no start time in '{}'", pid, *line));
        }
        return ProcessIdentity{static_cast<std::uint32_t>(pid), start};
    }

    Expected<ProcessIdentity> selfIdentity()
    {
        return identityOf(::getpid());
    }

    Liveness check(ProcessIdentity const& identity)
    {
        if (identity.pid == 0 || identity.pid > static_cast<std::uint32_t>(INT32_MAX))
        {
            return Liveness::Gone;
        }
        auto const now = identityOf(static_cast<pid_t>(identity.pid));
        if (!now)
        {
            return now.error().status == MXL_ERR_NOT_FOUND ? Liveness::Gone : Liveness::Unknown;
        }
        return now->startTime == identity.startTime ? Liveness::Alive : Liveness::Mismatch;
    }
}
