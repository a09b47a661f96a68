// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes from a peer bridge, decoded as one control frame, are refused
// with an error or decoded into a message that encodes back to the very same bytes and decodes
// again to the same message; read as a stream, they are cut into frames by their headers the way a
// connection cuts them. Never a crash, never a read past the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "control/Protocol.hpp"

namespace
{
    void checkFrame(std::span<std::byte const> input)
    {
        auto decoded = mxl::bridge::decodeControl(input);
        if (!decoded)
        {
            auto const status = decoded.error().status;
            if ((status != MXL_ERR_INVALID_ARG && status != MXL_ERR_UNSUPPORTED_OPERATION) || decoded.error().message.empty())
            {
                std::abort();
            }
            return;
        }
        // Texts come back with control characters replaced (one byte for one), so the frame re-encodes
        // to the same size, and to the same message once decoded again.
        auto const encoded = mxl::bridge::encodeControl(decoded.value());
        if (encoded.size() != input.size())
        {
            std::abort();
        }
        auto again = mxl::bridge::decodeControl(encoded);
        if (!again || !(again.value() == decoded.value()))
        {
            std::abort();
        }
    }

    void checkStream(std::span<std::byte const> stream)
    {
        while (stream.size() >= mxl::bridge::controlHeaderSize)
        {
            auto const body = mxl::bridge::controlBodySize(stream.first(mxl::bridge::controlHeaderSize));
            if (!body)
            {
                return;
            }
            if (body.value() > mxl::bridge::maxControlBody)
            {
                std::abort();
            }
            auto const frameSize = mxl::bridge::controlHeaderSize + body.value();
            if (stream.size() < frameSize)
            {
                return;
            }
            checkFrame(stream.first(frameSize));
            stream = stream.subspan(frameSize);
        }
    }
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const input = std::as_bytes(std::span{data, size});
    checkFrame(input);
    checkStream(input);
    return 0;
}
