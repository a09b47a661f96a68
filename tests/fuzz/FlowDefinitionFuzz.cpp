// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: any byte string given as a flow definition (and as writer options) is either
// accepted with a consistent geometry or refused with a message; never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "flow/FlowCreation.hpp"
#include "flow/FlowDefinition.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    std::string_view const text{reinterpret_cast<char const*>(data), size};
    auto def = mxl::parseFlowDefinition(text);
    if (!def)
    {
        if (def.error().status != MXL_ERR_UNKNOWN || def.error().message.empty())
        {
            std::abort();
        }
        return 0;
    }
    if (def->discrete())
    {
        std::uint64_t sliceBytes = 0;
        for (auto s : def->sliceSizes)
        {
            sliceBytes += s;
        }
        if (def->totalSlices == 0 || sliceBytes * def->totalSlices != def->grainSize)
        {
            std::abort();
        }
    }
    else if (def->channelCount == 0 || (def->sampleWordSize != 4 && def->sampleWordSize != 8))
    {
        std::abort();
    }
    std::string const options{text};
    (void)mxl::parseWriterOptions(options.c_str());
    (void)mxl::makeFlowConfig(*def, mxl::WriterOptions{}, mxl::defaultHistoryNs);
    return 0;
}
