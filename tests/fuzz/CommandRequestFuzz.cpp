// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes in a command ring slot, as any process that may write the ring
// file can put there (fabric/remote/Requests.hpp), and in a reply slot. Never a crash, never a read
// past the slot; a refusal always names a field; an accepted request is canonical (encoding it
// again gives the same bytes), so that nothing in a slot goes unchecked.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "remote/Requests.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    using namespace mxl::fabric::remote;
    std::array<std::byte, layout::entrySize> entry{};
    std::memcpy(entry.data(), data, std::min(size, entry.size()));
    auto const position = entryPosition(entry);
    auto request = decodeRequest(entry, position, 256);
    if (!request)
    {
        if (request.error().message.find("field '") == std::string::npos)
        {
            std::abort(); // a refusal names the field
        }
    }
    else
    {
        std::array<std::byte, layout::entrySize> again{};
        encodeRequest(*request, position, again);
        if (again != entry)
        {
            std::abort(); // accepted bytes are the one encoding of what they mean
        }
        if (decodeRequest(entry, position + 1, 256))
        {
            std::abort(); // a slot's bytes are for its own position only
        }
    }

    std::array<std::byte, layout::replyBodySize> reply{};
    std::memcpy(reply.data(), data, std::min(size, reply.size()));
    if (auto r = decodeReply(reply))
    {
        std::array<std::byte, layout::replyBodySize> again{};
        encodeReply(*r, again);
        if (again != reply)
        {
            std::abort();
        }
    }
    return 0;
}
