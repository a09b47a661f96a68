// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpus of fuzz_connectproof into the directory given: the valid proof for the fuzz
// target's key, flow and epoch, and near misses (truncated, another version, a flipped MAC bit); and
// a reliable-datagram source's Hello and Bye carrying it.
#include <cstdio>
#include <fstream>
#include <string>

#include "protocol/ConnectProof.hpp"
#include "protocol/DataHello.hpp"

int main(int argc, char** argv)
{
    if (argc != 2)
    {
        std::fprintf(stderr, "usage: fuzz_connectproof_seeds DIR\n");
        return 2;
    }
    mxl::fabric::ConnectKey key{};
    for (std::size_t i = 0; i < key.size(); ++i)
    {
        key[i] = static_cast<std::byte>(i * 7 + 1);
    }
    mxl::fabric::ConnectNonce nonce{};
    nonce.fill(std::byte{0x33});
    auto proof = mxl::fabric::makeConnectProof(key, mxl::Uuid{}, 0x0102030405060708ULL, nonce);
    if (!proof)
    {
        std::fprintf(stderr, "%s\n", proof.error().message.c_str());
        return 1;
    }
    auto write = [&](std::string const& name, auto const& bytes, std::size_t size) {
        std::ofstream out{std::string{argv[1]} + "/" + name, std::ios::binary | std::ios::trunc};
        out.write(reinterpret_cast<char const*>(bytes.data()), static_cast<std::streamsize>(size));
    };
    write("valid", *proof, proof->size());
    write("truncated", *proof, proof->size() - 1);
    auto other = *proof;
    other[0] = std::byte{2};
    write("version2", other, other.size());
    other = *proof;
    other[other.size() - 1] ^= std::byte{1};
    write("flipped_mac", other, other.size());
    auto const hello = mxl::fabric::encode(mxl::fabric::DataHello{mxl::fabric::DataHelloKind::Hello, *proof, {std::byte{2}, std::byte{0}, std::byte{0x1c},
                                                                                                          std::byte{0xe8}, std::byte{127}, std::byte{0},
                                                                                                          std::byte{0}, std::byte{1}}});
    write("hello", hello, hello.size());
    auto const bye = mxl::fabric::encode(mxl::fabric::DataHello{mxl::fabric::DataHelloKind::Bye, *proof, {}});
    write("bye", bye, bye.size());
    return 0;
}
