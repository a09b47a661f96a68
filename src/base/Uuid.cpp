// SPDX-License-Identifier: Apache-2.0
#include "base/Uuid.hpp"

#include "base/Random.hpp"

namespace mxl
{
    namespace
    {
        int hexValue(char c) noexcept
        {
            if (c >= '0' && c <= '9')
            {
                return c - '0';
            }
            if (c >= 'a' && c <= 'f')
            {
                return c - 'a' + 10;
            }
            if (c >= 'A' && c <= 'F')
            {
                return c - 'A' + 10;
            }
            return -1;
        }
    }

    std::optional<Uuid> parseUuid(std::string_view text) noexcept
    {
        if (text.size() != 36)
        {
            return std::nullopt;
        }
        Uuid id{};
        std::size_t byte = 0;
        for (std::size_t i = 0; i < text.size();)
        {
            if (i == 8 || i == 13 || i == 18 || i == 23)
            {
                if (text[i] != '-')
                {
                    return std::nullopt;
                }
                ++i;
                continue;
            }
            int const hi = hexValue(text[i]);
            int const lo = hexValue(text[i + 1]);
            if (hi < 0 || lo < 0)
            {
                return std::nullopt;
            }
            id[byte++] = static_cast<std::uint8_t>((hi << 4) | lo);
            i += 2;
        }
        return id;
    }

    std::string formatUuid(Uuid const& id)
    {
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        out.reserve(36);
        for (std::size_t i = 0; i < id.size(); ++i)
        {
            if (i == 4 || i == 6 || i == 8 || i == 10)
            {
                out.push_back('-');
            }
            out.push_back(digits[id[i] >> 4]);
            out.push_back(digits[id[i] & 0xF]);
        }
        return out;
    }

    Expected<Uuid> randomUuid()
    {
        Uuid id{};
        if (auto r = fillRandom(std::as_writable_bytes(std::span{id}), "a UUID"); !r)
        {
            return r.take_error();
        }
        id[6] = static_cast<std::uint8_t>((id[6] & 0x0F) | 0x40);
        id[8] = static_cast<std::uint8_t>((id[8] & 0x3F) | 0x80);
        return id;
    }
}
