// SPDX-License-Identifier: Apache-2.0
#pragma once

// The control messages' field codec (private to fabric/control): how ids, texts and blobs are
// written, and BodyReader, which reads a body field by field and names the first field that is
// wrong. Scalars and the frame are fabric/protocol/Wire.hpp's, shared with the fabric messages.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "control/Protocol.hpp"
#include "protocol/Wire.hpp"

namespace mxl::bridge::codec
{
    using fabric::WireReader;
    using fabric::WireWriter;

        /// Longer text would not fit the peer's limit; cut before a character that straddles the limit.
        inline std::string_view clipText(std::string_view text) noexcept
        {
            if (text.size() <= maxTextSize)
            {
                return text;
            }
            std::size_t end = maxTextSize;
            while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U)
            {
                --end;
            }
            return text.substr(0, end);
        }

        inline void putUuid(WireWriter& w, Uuid const& id)
        {
            w.bytes(std::as_bytes(std::span{id}));
        }

        inline void putText(WireWriter& w, std::string_view text)
        {
            w.string16(clipText(text));
        }

        inline void putBlob(WireWriter& w, std::vector<std::byte> const& blob)
        {
            w.put(static_cast<std::uint32_t>(blob.size()));
            w.bytes(blob);
        }

        /// Reads a body field by field; the first failure records a sentence naming the field.
        class BodyReader
        {
        public:
            BodyReader(std::span<std::byte const> body, char const* message) noexcept
                : _reader{body}
                , _message{message}
            {}

            template<typename T>
            bool get(char const* field, T& out)
            {
                return _reader.get(out) || truncated(field, sizeof(T));
            }

            bool fixed(char const* field, std::span<std::byte> out)
            {
                return _reader.fixed(out) || truncated(field, out.size());
            }

            bool uuid(char const* field, Uuid& out)
            {
                return fixed(field, std::as_writable_bytes(std::span{out}));
            }

            bool flag(char const* field, bool& out)
            {
                std::uint8_t value = 0;
                if (!get(field, value))
                {
                    return false;
                }
                if (value > 1)
                {
                    return refuse(fmt::format("{} is {}, not 0 or 1", field, value));
                }
                out = value == 1;
                return true;
            }

            /// A text of the peer's (a name, a label, a reason): it reaches logs and the status area, so
            /// control characters (a newline that would forge a log line, terminal escapes) become '?'.
            bool text(char const* field, std::string& out)
            {
                std::uint16_t length = 0;
                std::span<std::byte const> raw;
                if (!get(field, length) || !lengthAtMost(field, length, maxTextSize) || !bytes(field, length, raw))
                {
                    return false;
                }
                out.assign(reinterpret_cast<char const*>(raw.data()), raw.size());
                for (auto& c : out)
                {
                    auto const byte = static_cast<unsigned char>(c);
                    if (byte < 0x20 || byte == 0x7F)
                    {
                        c = '?';
                    }
                }
                return true;
            }

            bool blob(char const* field, std::vector<std::byte>& out)
            {
                std::uint32_t length = 0;
                std::span<std::byte const> raw;
                if (!get(field, length) || !lengthAtMost(field, length, maxControlBody) || !bytes(field, length, raw))
                {
                    return false;
                }
                out.assign(raw.begin(), raw.end());
                return true;
            }

            bool count(char const* field, std::size_t max, std::uint32_t& out)
            {
                if (!get(field, out))
                {
                    return false;
                }
                return out <= max || refuse(fmt::format("{} {} exceeds {}", field, out, max));
            }

            bool epoch(std::uint64_t& out)
            {
                if (!get("offerEpoch", out))
                {
                    return false;
                }
                return out != 0 || refuse("offerEpoch is 0");
            }

            bool refuse(std::string what)
            {
                _what = std::move(what);
                return false;
            }

            /// Names the list element that failed: "flows[3]: label truncated ...".
            bool inElement(char const* list, std::size_t index)
            {
                _what = fmt::format("{}[{}]: {}", list, index, _what);
                return false;
            }

            bool end()
            {
                return _reader.remaining() == 0 || refuse(fmt::format("{} trailing bytes", _reader.remaining()));
            }

            [[nodiscard]] Unexpected error() const
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("control message {}: {}", _message, _what));
            }

        private:
            bool truncated(char const* field, std::size_t needed)
            {
                return refuse(fmt::format("{} truncated ({} bytes needed, {} left)", field, needed, _reader.remaining()));
            }

            bool lengthAtMost(char const* field, std::size_t length, std::size_t max)
            {
                return length <= max || refuse(fmt::format("{} length {} exceeds {}", field, length, max));
            }

            bool bytes(char const* field, std::size_t length, std::span<std::byte const>& out)
            {
                return _reader.bytes(length, out) || truncated(field, length);
            }

            WireReader _reader;
            char const* _message;
            std::string _what;
        };
}
