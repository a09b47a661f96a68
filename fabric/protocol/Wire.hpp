// SPDX-License-Identifier: Apache-2.0
#pragma once

// Little-endian, bounds-checked encoding of control messages. The reader never reads past its
// input: every read reports failure instead, and decoders turn that into an error naming the field.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mxl::fabric
{
    class WireWriter
    {
    public:
        template<typename T>
        void put(T value)
        {
            static_assert(std::is_trivially_copyable_v<T>);
            auto const* p = reinterpret_cast<std::byte const*>(&value);
            _bytes.insert(_bytes.end(), p, p + sizeof(T));
        }

        void bytes(std::span<std::byte const> data)
        {
            _bytes.insert(_bytes.end(), data.begin(), data.end());
        }

        void string16(std::string_view text)
        {
            put(static_cast<std::uint16_t>(text.size()));
            bytes(std::as_bytes(std::span{text.data(), text.size()}));
        }

        void string32(std::string_view text)
        {
            put(static_cast<std::uint32_t>(text.size()));
            bytes(std::as_bytes(std::span{text.data(), text.size()}));
        }

        [[nodiscard]] std::vector<std::byte>& data() noexcept
        {
            return _bytes;
        }

    private:
        std::vector<std::byte> _bytes;
    };

    class WireReader
    {
    public:
        explicit WireReader(std::span<std::byte const> input) noexcept
            : _input{input}
        {}

        template<typename T>
        [[nodiscard]] bool get(T& out) noexcept
        {
            static_assert(std::is_trivially_copyable_v<T>);
            if (_input.size() - _offset < sizeof(T))
            {
                return false;
            }
            std::memcpy(&out, _input.data() + _offset, sizeof(T));
            _offset += sizeof(T);
            return true;
        }

        [[nodiscard]] bool bytes(std::size_t count, std::span<std::byte const>& out) noexcept
        {
            if (_input.size() - _offset < count)
            {
                return false;
            }
            out = _input.subspan(_offset, count);
            _offset += count;
            return true;
        }

        /// A length-prefixed string of at most maxLength bytes.
        template<typename Length>
        [[nodiscard]] bool string(std::string& out, std::size_t maxLength)
        {
            Length length{};
            std::span<std::byte const> raw;
            if (!get(length) || length > maxLength || !bytes(length, raw))
            {
                return false;
            }
            out.assign(reinterpret_cast<char const*>(raw.data()), raw.size());
            return true;
        }

        [[nodiscard]] std::size_t remaining() const noexcept
        {
            return _input.size() - _offset;
        }

    private:
        std::span<std::byte const> _input;
        std::size_t _offset{0};
    };
}
