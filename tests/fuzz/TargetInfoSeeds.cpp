// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpus of fuzz_targetinfo into the directory given: TargetInfo strings of both
// transfer modes, and near misses (another format version, a truncated string, bad base64, trailing
// bytes after the grant). The keys in them are made up.
// Usage: fuzz_targetinfo_seeds <directory>
#include <cstdio>
#include <fstream>
#include <string>

#include "api/Base64.hpp"
#include "api/TargetInfo.hpp"

namespace
{
    mxl::fabric::RegionGrant grant(mxl::fabric::Transfer transfer)
    {
        mxl::fabric::RegionGrant g;
        g.flowId = {0x5f, 0xbe, 0xc3, 0xb1, 0x1b, 0x0f, 0x41, 0x7d, 0x90, 0x59, 0x8b, 0x94, 0xa4, 0x71, 0x97, 0xed};
        g.epoch = 0x0102030405060708ULL;
        for (std::size_t i = 0; i < g.connectKey.size(); ++i)
        {
            g.connectKey[i] = static_cast<std::byte>(i * 7 + 1);
        }
        g.provider = "tcp";
        g.transfer = transfer;
        g.node = "192.0.2.7";
        g.service = "7401";
        if (transfer == mxl::fabric::Transfer::Rma)
        {
            g.commitEntries = 4;
            g.commitRing = {0x10000, 4 * 32, 0x77};
            g.regions = {{0x20000, 8192, 0x78}, {0x30000, 8192, 0x79}};
        }
        else
        {
            g.maxChunk = 65536;
        }
        return g;
    }
}

int main(int argc, char** argv)
{
    if (argc != 2)
    {
        std::fprintf(stderr, "usage: fuzz_targetinfo_seeds DIR\n");
        return 2;
    }
    auto write = [&](std::string const& name, std::string const& text) {
        std::ofstream out{std::string{argv[1]} + "/" + name, std::ios::binary | std::ios::trunc};
        out << text;
    };
    namespace api = mxl::fabric::api;
    auto const rma = api::makeTargetInfo(grant(mxl::fabric::Transfer::Rma));
    auto const sendReceive = api::makeTargetInfo(grant(mxl::fabric::Transfer::SendReceive));
    if (!rma || !sendReceive)
    {
        std::fprintf(stderr, "seed grant refused\n");
        return 1;
    }
    auto const valid = api::formatTargetInfo(*rma);
    write("valid_rma", valid);
    write("valid_send_receive", api::formatTargetInfo(*sendReceive));
    auto const body = valid.substr(valid.find(':') + 1);
    write("version2", std::string{api::targetInfoFormat} + "2:" + body);
    write("truncated", valid.substr(0, valid.size() - 5));
    write("bad_base64", valid.substr(0, valid.size() - 4) + "A*==");
    auto bytes = mxl::fabric::encode(rma->grant);
    bytes.resize(bytes.size() + 2);
    write("trailing_bytes", std::string{api::targetInfoFormat} + "1:" + api::encodeBase64(bytes));
    return 0;
}
