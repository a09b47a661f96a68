// SPDX-License-Identifier: Apache-2.0
#pragma once

// Length-prefixed messages between mxl-bench's processes (fork), with timeouts.

#include <cerrno>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace mxl::bench
{
    inline bool writeAll(int fd, void const* data, std::size_t size) noexcept
    {
        auto const* p = static_cast<std::uint8_t const*>(data);
        while (size > 0)
        {
            auto const n = ::write(fd, p, size);
            if (n <= 0)
            {
                if (n < 0 && errno == EINTR)
                {
                    continue;
                }
                return false;
            }
            p += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }

    inline bool readAll(int fd, void* data, std::size_t size, int timeoutMs = -1) noexcept
    {
        auto* p = static_cast<std::uint8_t*>(data);
        while (size > 0)
        {
            pollfd pfd{fd, POLLIN, 0};
            auto const ready = ::poll(&pfd, 1, timeoutMs);
            if (ready < 0 && errno == EINTR)
            {
                continue;
            }
            if (ready <= 0)
            {
                return false;
            }
            auto const n = ::read(fd, p, size);
            if (n <= 0)
            {
                if (n < 0 && errno == EINTR)
                {
                    continue;
                }
                return false;
            }
            p += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }

    /// One direction of communication between two forked processes.
    class MessagePipe
    {
    public:
        MessagePipe()
        {
            if (::pipe2(_fds, O_CLOEXEC) != 0)
            {
                throw std::runtime_error{"pipe2 failed"};
            }
        }

        ~MessagePipe()
        {
            ::close(_fds[0]);
            ::close(_fds[1]);
        }

        MessagePipe(MessagePipe const&) = delete;
        MessagePipe& operator=(MessagePipe const&) = delete;

        bool send(void const* data, std::size_t size) const noexcept
        {
            auto const length = static_cast<std::uint32_t>(size);
            return writeAll(_fds[1], &length, sizeof length) && writeAll(_fds[1], data, size);
        }

        bool send(std::string const& text) const noexcept
        {
            return send(text.data(), text.size());
        }

        /// The next message, or nothing after timeoutMs (-1: wait forever) or when the writer died.
        std::optional<std::string> receive(int timeoutMs = -1) const
        {
            std::uint32_t length = 0;
            if (!readAll(_fds[0], &length, sizeof length, timeoutMs))
            {
                return std::nullopt;
            }
            std::string message(length, '\0');
            if (!readAll(_fds[0], message.data(), length, timeoutMs))
            {
                return std::nullopt;
            }
            return message;
        }

    private:
        int _fds[2]{-1, -1};
    };
}
