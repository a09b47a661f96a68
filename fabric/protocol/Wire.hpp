// SPDX-License-Identifier: Apache-2.0
#pragma once

// The one codec of every message between hosts: the bridges' control messages (fabric/control) and
// the fabric messages (FlowOffer, RegionGrant: fabric/protocol). Fields are written one by one,
// little-endian whatever the host's byte order, and only scalars can be put or got: a struct has to
// be written field by field, so that its padding and the host's layout never reach the wire (checked
// at compile time). The reader never reads past its input: every read reports failure instead, and
// decoders turn that into an error naming the field.
//
// Both kinds of message travel in the same frame: a 12-byte header (magic, version, type, body
// length) and the body.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mxl::fabric
{
    namespace wire
    {
        /// What put and get accept: integers, enums (as their underlying integer) and IEEE doubles.
        template<typename T>
        inline constexpr bool scalar = (std::is_integral_v<T> && !std::is_same_v<T, bool>) || std::is_enum_v<T> || std::is_same_v<T, double>;

        /// The unsigned integer a scalar's bits are shifted in.
        template<typename T>
        struct BitsOf
        {
            using type = std::make_unsigned_t<T>;
        };
        template<typename T>
            requires std::is_enum_v<T>
        struct BitsOf<T>
        {
            using type = std::make_unsigned_t<std::underlying_type_t<T>>;
        };
        template<>
        struct BitsOf<double>
        {
            using type = std::uint64_t;
        };
        template<typename T>
        using Bits = typename BitsOf<T>::type;

        template<typename T>
        constexpr void store(T value, std::byte* out) noexcept
        {
            auto bits = std::bit_cast<Bits<T>>(value);
            for (std::size_t i = 0; i < sizeof(T); ++i)
            {
                out[i] = static_cast<std::byte>(bits & 0xFFU);
                bits = static_cast<Bits<T>>(bits >> 8);
            }
        }

        template<typename T>
        constexpr T load(std::byte const* in) noexcept
        {
            Bits<T> bits = 0;
            for (std::size_t i = sizeof(T); i-- > 0;)
            {
                bits = static_cast<Bits<T>>((bits << 8) | static_cast<Bits<T>>(in[i]));
            }
            return std::bit_cast<T>(bits);
        }

        // The byte order does not depend on the host: 0x0102 is written 02 01 everywhere.
        static_assert([] {
            std::byte b[2]{};
            store(std::uint16_t{0x0102}, b);
            return b[0] == std::byte{0x02} && b[1] == std::byte{0x01} && load<std::uint16_t>(b) == 0x0102;
        }());
        static_assert([] {
            std::byte b[8]{};
            store(std::int64_t{-2}, b);
            return b[0] == std::byte{0xFE} && b[7] == std::byte{0xFF} && load<std::int64_t>(b) == -2;
        }());
    }

    class WireWriter
    {
    public:
        template<typename T>
        void put(T value)
        {
            static_assert(wire::scalar<T>, "only scalars go on the wire as they are: write a struct field by field");
            auto const at = _bytes.size();
            _bytes.resize(at + sizeof(T));
            wire::store(value, _bytes.data() + at);
        }

        /// Overwrites a scalar written earlier at offset (a length known only at the end).
        template<typename T>
        void patch(std::size_t offset, T value) noexcept
        {
            static_assert(wire::scalar<T>);
            wire::store(value, _bytes.data() + offset);
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
            static_assert(wire::scalar<T>, "only scalars come off the wire as they are: read a struct field by field");
            if (_input.size() - _offset < sizeof(T))
            {
                return false;
            }
            out = wire::load<T>(_input.data() + _offset);
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

        /// Exactly out.size() bytes, copied (ids, keys, reserved fields).
        [[nodiscard]] bool fixed(std::span<std::byte> out) noexcept
        {
            std::span<std::byte const> raw;
            if (!bytes(out.size(), raw))
            {
                return false;
            }
            std::memcpy(out.data(), raw.data(), out.size());
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

    /// The frame both kinds of message travel in.
    struct FrameHeader
    {
        std::uint32_t magic{0};
        std::uint16_t version{0};
        std::uint16_t type{0};
        std::uint32_t length{0}; ///< Of the body that follows.
    };

    inline constexpr std::size_t frameHeaderSize = 12;

    /// Starts a frame: the header with a zero length, which endFrame sets once the body is written.
    inline void beginFrame(WireWriter& w, std::uint32_t magic, std::uint16_t version, std::uint16_t type)
    {
        w.put(magic);
        w.put(version);
        w.put(type);
        w.put(std::uint32_t{0});
    }

    /// Sets the length of the body written after beginFrame.
    inline void endFrame(WireWriter& w) noexcept
    {
        w.patch(8, static_cast<std::uint32_t>(w.data().size() - frameHeaderSize));
    }

    /// The header at the start of bytes; nothing when fewer than frameHeaderSize bytes are there.
    [[nodiscard]] inline std::optional<FrameHeader> readFrameHeader(std::span<std::byte const> bytes) noexcept
    {
        WireReader r{bytes};
        FrameHeader h;
        if (!r.get(h.magic) || !r.get(h.version) || !r.get(h.type) || !r.get(h.length))
        {
            return std::nullopt;
        }
        return h;
    }
}
