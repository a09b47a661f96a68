// SPDX-License-Identifier: Apache-2.0
#include "api/Base64.hpp"

#include <array>
#include <cstdint>

#include <fmt/format.h>

namespace mxl::fabric::api
{
    namespace
    {
        constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        constexpr std::uint8_t invalid = 0xFF;

        constexpr std::array<std::uint8_t, 256> makeDecodeTable()
        {
            std::array<std::uint8_t, 256> table{};
            table.fill(invalid);
            for (std::size_t i = 0; i < alphabet.size(); ++i)
            {
                table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
            }
            return table;
        }

        constexpr auto decodeTable = makeDecodeTable();
    }

    std::string encodeBase64(std::span<std::byte const> bytes)
    {
        std::string text;
        text.reserve((bytes.size() + 2) / 3 * 4);
        std::size_t i = 0;
        for (; i + 3 <= bytes.size(); i += 3)
        {
            auto const group = (std::to_integer<std::uint32_t>(bytes[i]) << 16) | (std::to_integer<std::uint32_t>(bytes[i + 1]) << 8) |
                               std::to_integer<std::uint32_t>(bytes[i + 2]);
            text += alphabet[(group >> 18) & 63];
            text += alphabet[(group >> 12) & 63];
            text += alphabet[(group >> 6) & 63];
            text += alphabet[group & 63];
        }
        auto const left = bytes.size() - i;
        if (left > 0)
        {
            auto group = std::to_integer<std::uint32_t>(bytes[i]) << 16;
            if (left == 2)
            {
                group |= std::to_integer<std::uint32_t>(bytes[i + 1]) << 8;
            }
            text += alphabet[(group >> 18) & 63];
            text += alphabet[(group >> 12) & 63];
            text += left == 2 ? alphabet[(group >> 6) & 63] : '=';
            text += '=';
        }
        return text;
    }

    Expected<std::vector<std::byte>> decodeBase64(std::string_view text)
    {
        if (text.size() % 4 != 0)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("base64 text of {} characters (not a multiple of 4)", text.size()));
        }
        // Padding: at most two '=', only at the very end.
        std::size_t padding = 0;
        while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=')
        {
            ++padding;
        }
        auto const data = text.substr(0, text.size() - padding);
        std::vector<std::byte> bytes;
        bytes.reserve(data.size() / 4 * 3 + 2);
        std::uint32_t group = 0;
        std::size_t bits = 0;
        for (std::size_t i = 0; i < data.size(); ++i)
        {
            auto const value = decodeTable[static_cast<unsigned char>(data[i])];
            if (value == invalid)
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("base64 text has a character outside the alphabet at offset {}", i));
            }
            group = (group << 6) | value;
            bits += 6;
            if (bits >= 8)
            {
                bits -= 8;
                bytes.push_back(static_cast<std::byte>((group >> bits) & 0xFF));
            }
        }
        // What is left of the last group: 4 bits before "==", 2 bits before "=". They must be zero, so
        // that no two texts decode to the same bytes. A last group of one character (6 bits) cannot
        // happen with a length that is a multiple of 4 and at most two '='.
        if ((group & ((1U << bits) - 1)) != 0)
        {
            return fail(MXL_ERR_INVALID_ARG, "base64 text has non-zero bits in its padding (not in canonical form)");
        }
        return bytes;
    }
}
