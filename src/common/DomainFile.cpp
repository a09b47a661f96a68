// SPDX-License-Identifier: Apache-2.0
#include "common/DomainFile.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace mxl
{
    namespace
    {
        char const* kindOf(mode_t mode) noexcept
        {
            switch (mode & S_IFMT)
            {
                case S_IFDIR: return "a directory";
                case S_IFIFO: return "a named pipe (FIFO)";
                case S_IFSOCK: return "a socket";
                case S_IFCHR: return "a character device";
                case S_IFBLK: return "a block device";
                case S_IFLNK: return "a symbolic link";
                default: return "not a regular file";
            }
        }
    }

    Expected<Fd> openDomainFile(std::filesystem::path const& path, int flags)
    {
        Fd fd{::open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
        if (!fd.valid())
        {
            auto const error = errno;
            switch (error)
            {
                case ENOENT:
                case ENOTDIR: return fail(MXL_ERR_FLOW_NOT_FOUND, fmt::format("{} does not exist", path.string()));
                case EACCES:
                case EPERM:
                case EROFS: return fail(MXL_ERR_PERMISSION_DENIED, fmt::format("{} may not be opened ({})", path.string(), std::strerror(error)));
                case ELOOP: return fail(MXL_ERR_FLOW_INVALID, fmt::format("{} is a symbolic link; files in a domain are never followed", path.string()));
                case EISDIR: return fail(MXL_ERR_FLOW_INVALID, fmt::format("{} is a directory, not a regular file", path.string()));
                default: return fail(MXL_ERR_FLOW_INVALID, fmt::format("cannot open {} ({})", path.string(), std::strerror(error)));
            }
        }
        struct stat st{};
        if (::fstat(fd.get(), &st) != 0)
        {
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("cannot stat {} ({})", path.string(), std::strerror(errno)));
        }
        if (!S_ISREG(st.st_mode))
        {
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("{} is {}, not a regular file", path.string(), kindOf(st.st_mode)));
        }
        // O_NONBLOCK was for the open alone (it means nothing to a regular file, but say what we mean).
        if (auto const status = ::fcntl(fd.get(), F_GETFL); status >= 0)
        {
            ::fcntl(fd.get(), F_SETFL, status & ~O_NONBLOCK);
        }
        return fd;
    }

    Expected<std::string> readDomainFile(std::filesystem::path const& path, std::size_t maxBytes)
    {
        auto fd = openDomainFile(path, O_RDONLY);
        if (!fd)
        {
            return fd.take_error();
        }
        struct stat st{};
        if (::fstat(fd->get(), &st) != 0)
        {
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("cannot stat {} ({})", path.string(), std::strerror(errno)));
        }
        if (static_cast<std::uint64_t>(st.st_size) > maxBytes)
        {
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("{} is {} bytes, more than the {} allowed", path.string(), st.st_size, maxBytes));
        }
        std::string text;
        text.resize(maxBytes + 1);
        std::size_t got = 0;
        while (got < text.size())
        {
            auto const n = ::read(fd->get(), text.data() + got, text.size() - got);
            if (n < 0)
            {
                if (errno == EINTR)
                {
                    continue;
                }
                return fail(MXL_ERR_FLOW_INVALID, fmt::format("cannot read {} ({})", path.string(), std::strerror(errno)));
            }
            if (n == 0)
            {
                break;
            }
            got += static_cast<std::size_t>(n);
        }
        if (got > maxBytes)
        {
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("{} grew beyond the {} bytes allowed while it was read", path.string(), maxBytes));
        }
        text.resize(got);
        return text;
    }
}
