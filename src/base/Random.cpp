// SPDX-License-Identifier: Apache-2.0
#include "base/Random.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <sys/random.h>

namespace mxl
{
    bool fillRandom(std::span<std::byte> out) noexcept
    {
        std::size_t done = 0;
        while (done < out.size())
        {
            auto const n = ::getrandom(out.data() + done, out.size() - done, 0);
            if (n < 0 && errno == EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                if (n == 0)
                {
                    errno = EIO;
                }
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

    Expected<void> fillRandom(std::span<std::byte> out, std::string_view what)
    {
        if (!fillRandom(out))
        {
            return fail(MXL_ERR_INTERNAL, "no random bytes for " + std::string{what} + " (getrandom: " + std::strerror(errno) + ")");
        }
        return {};
    }

    Expected<std::uint64_t> randomU64(std::string_view what)
    {
        std::uint64_t value = 0;
        if (auto r = fillRandom(std::as_writable_bytes(std::span{&value, 1}), what); !r)
        {
            return r.take_error();
        }
        return value;
    }

    Expected<std::uint64_t> randomEpoch(std::string_view what)
    {
        // 2^-64 per draw: the loop is for correctness, not because it ever turns twice.
        while (true)
        {
            auto value = randomU64(what);
            if (!value || *value != 0)
            {
                return value;
            }
        }
    }
}
