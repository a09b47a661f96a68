// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes from a peer, decoded as a flow offer and as a region grant, are
// refused with an error or decoded into fields that encode back to the very same bytes and decode
// again to the same fields; never a crash, never a read past the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "protocol/Messages.hpp"

namespace
{
    bool sameRegion(mxl::ofi::RemoteRegion const& a, mxl::ofi::RemoteRegion const& b) noexcept
    {
        return a.address == b.address && a.length == b.length && a.key == b.key;
    }

    bool same(mxl::fabric::FlowOffer const& a, mxl::fabric::FlowOffer const& b) noexcept
    {
        return a.flowId == b.flowId && std::memcmp(&a.config, &b.config, sizeof a.config) == 0 && a.grainSize == b.grainSize &&
               a.totalSlices == b.totalSlices && a.sampleWordSize == b.sampleWordSize && a.flowDef == b.flowDef;
    }

    bool same(mxl::fabric::RegionGrant const& a, mxl::fabric::RegionGrant const& b) noexcept
    {
        if (a.flowId != b.flowId || a.epoch != b.epoch || a.connectKey != b.connectKey || a.provider != b.provider || a.transfer != b.transfer || a.node != b.node ||
            a.service != b.service || !sameRegion(a.commitRing, b.commitRing) || a.commitEntries != b.commitEntries ||
            a.maxChunk != b.maxChunk || a.regions.size() != b.regions.size())
        {
            return false;
        }
        for (std::size_t i = 0; i < a.regions.size(); ++i)
        {
            if (!sameRegion(a.regions[i], b.regions[i]))
            {
                return false;
            }
        }
        return true;
    }

    template<typename Message, typename Decode>
    void checkRoundTrip(std::span<std::byte const> input, Decode decode)
    {
        auto decoded = decode(input);
        if (!decoded)
        {
            auto const status = decoded.error().status;
            if ((status != MXL_ERR_INVALID_ARG && status != MXL_ERR_UNSUPPORTED_OPERATION) || decoded.error().message.empty())
            {
                std::abort();
            }
            return;
        }
        Message const& first = decoded.value();
        auto const encoded = mxl::fabric::encode(first);
        if (encoded.size() != input.size() || std::memcmp(encoded.data(), input.data(), input.size()) != 0)
        {
            std::abort();
        }
        auto again = decode(std::span<std::byte const>{encoded});
        if (!again || !same(again.value(), first))
        {
            std::abort();
        }
    }
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const input = std::as_bytes(std::span{data, size});
    checkRoundTrip<mxl::fabric::FlowOffer>(input, [](auto m) { return mxl::fabric::decodeFlowOffer(m); });
    checkRoundTrip<mxl::fabric::RegionGrant>(input, [](auto m) { return mxl::fabric::decodeRegionGrant(m); });
    (void)mxl::fabric::peekMessageType(input);
    return 0;
}
