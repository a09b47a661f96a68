// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpus of fuzz_commandrequest into the directory given: valid requests of each
// kind (files named valid_*, which command_ring_test decodes) and near misses.
#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "remote/Requests.hpp"

int main(int argc, char** argv)
{
    using namespace mxl::fabric::remote;
    if (argc != 2)
    {
        std::fprintf(stderr, "usage: fuzz_commandrequest_seeds DIR\n");
        return 2;
    }
    using Entry = std::array<std::byte, layout::entrySize>;
    auto write = [&](std::string const& name, Entry const& bytes, std::size_t size) {
        std::ofstream out{std::string{argv[1]} + "/" + name, std::ios::binary | std::ios::trunc};
        out.write(reinterpret_cast<char const*>(bytes.data()), static_cast<std::streamsize>(size));
    };
    mxl::Uuid flow{};
    for (std::size_t i = 0; i < flow.size(); ++i)
    {
        flow[i] = static_cast<std::uint8_t>(0xA0 + i);
    }
    Entry e{};
    encodeRequest(Request{{4242, 123456}, 1, 7, 3, AcquireRequest{"bridge-a.example", 7400, flow, 5000}}, 1000, e);
    write("valid_acquire", e, e.size());
    encodeRequest(Request{{4242, 123456}, 2, 7, 3, AcquireRequest{"fd00::1", 7400, flow, 0}}, 3, e);
    write("valid_acquire_ipv6", e, e.size());
    encodeRequest(Request{{17, 99}, 3, noReply, 0, ReleaseRequest{0x1122334455667788ULL}}, 0, e);
    write("valid_release", e, e.size());
    write("truncated", e, e.size() - 9);
    e[0] = std::byte{2};
    write("version2", e, e.size());
    return 0;
}
