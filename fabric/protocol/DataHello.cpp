// SPDX-License-Identifier: Apache-2.0
#include "protocol/DataHello.hpp"

#include <fmt/format.h>

#include "protocol/Wire.hpp"

namespace mxl::fabric
{
    std::vector<std::byte> encode(DataHello const& hello)
    {
        WireWriter w;
        w.put(dataHelloMagic);
        w.put(static_cast<std::uint8_t>(hello.kind));
        w.bytes(hello.proof);
        w.put(static_cast<std::uint16_t>(hello.address.size()));
        w.bytes(hello.address);
        return std::move(w.data());
    }

    Expected<DataHello> decodeDataHello(std::span<std::byte const> message)
    {
        auto const malformed = [](std::string_view what) { return fail(MXL_ERR_INVALID_ARG, fmt::format("malformed data endpoint hello: {}", what)); };
        WireReader r{message};
        std::uint32_t magic = 0;
        std::uint8_t kind = 0;
        std::uint16_t length = 0;
        DataHello hello;
        if (!r.get(magic) || !r.get(kind) || !r.fixed(hello.proof) || !r.get(length))
        {
            return malformed("truncated");
        }
        if (magic != dataHelloMagic)
        {
            return malformed(fmt::format("magic {:#x}", magic));
        }
        if (kind != static_cast<std::uint8_t>(DataHelloKind::Hello) && kind != static_cast<std::uint8_t>(DataHelloKind::Bye))
        {
            return malformed(fmt::format("kind {}", kind));
        }
        hello.kind = static_cast<DataHelloKind>(kind);
        if (length > maxHelloAddressSize || (hello.kind == DataHelloKind::Hello) != (length != 0))
        {
            return malformed(fmt::format("an address of {} bytes for a {}", length, hello.kind == DataHelloKind::Hello ? "hello" : "bye"));
        }
        std::span<std::byte const> address;
        if (!r.bytes(length, address) || r.remaining() != 0)
        {
            return malformed("the address does not fill the rest of the message");
        }
        hello.address.assign(address.begin(), address.end());
        return hello;
    }
}
