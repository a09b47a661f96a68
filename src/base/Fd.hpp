// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <utility>

#include <unistd.h>

namespace mxl
{
    /// Owns a file descriptor.
    class Fd
    {
    public:
        Fd() = default;

        explicit Fd(int fd) noexcept
            : _fd{fd}
        {}

        Fd(Fd&& other) noexcept
            : _fd{std::exchange(other._fd, -1)}
        {}

        Fd& operator=(Fd&& other) noexcept
        {
            if (this != &other)
            {
                reset(std::exchange(other._fd, -1));
            }
            return *this;
        }

        Fd(Fd const&) = delete;
        Fd& operator=(Fd const&) = delete;

        ~Fd()
        {
            reset();
        }

        [[nodiscard]] int get() const noexcept
        {
            return _fd;
        }

        [[nodiscard]] bool valid() const noexcept
        {
            return _fd >= 0;
        }

        void reset(int fd = -1) noexcept
        {
            if (_fd >= 0)
            {
                ::close(_fd);
            }
            _fd = fd;
        }

    private:
        int _fd{-1};
    };
}
