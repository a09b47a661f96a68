// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary connection data from anyone who reaches a sink's data endpoint, checked
// as a connect proof (fabric/protocol/ConnectProof.hpp) under a fixed key, flow and epoch. Never a
// crash, never a read past the input; anything but the one valid proof is refused with a reason; a
// valid proof is admitted once and its replay refused. The same bytes as an RDM data endpoint's hello
// (protocol/DataHello.hpp): decoded only when well formed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "protocol/ConnectProof.hpp"
#include "protocol/DataHello.hpp"

namespace
{
    mxl::fabric::ConnectKey const key = [] {
        mxl::fabric::ConnectKey k{};
        for (std::size_t i = 0; i < k.size(); ++i)
        {
            k[i] = static_cast<std::byte>(i * 7 + 1);
        }
        return k;
    }();
    mxl::Uuid const flowId{};
    constexpr std::uint64_t epoch = 0x0102030405060708ULL;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const input = std::as_bytes(std::span{data, size});
    auto const verdict = mxl::fabric::verifyConnectProof(input, key, flowId, epoch);
    if (verdict && verdict->empty())
    {
        std::abort(); // a refusal always says why
    }
    mxl::fabric::ConnectProofChecker checker;
    auto const first = checker.admit(input, key, flowId, epoch);
    if (first.has_value() != verdict.has_value())
    {
        std::abort(); // the checker agrees with the verifier on a fresh nonce
    }
    if (!first && !checker.admit(input, key, flowId, epoch))
    {
        std::abort(); // a replay is refused
    }
    // The same bytes as what an RDM source sends instead of a connection request.
    if (auto hello = mxl::fabric::decodeDataHello(input); hello && mxl::fabric::encode(*hello).size() != size)
    {
        std::abort(); // a hello decodes only from exactly its own encoding
    }
    return 0;
}
