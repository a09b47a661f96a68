// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: any text handed to mxlFabricsTargetInfoFromString (the parser behind it) is
// refused with a status and a message, or parsed into a TargetInfo whose string form is that very
// text (the format is canonical) and parses again to the same grant; never a crash, never a read
// past the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/TargetInfo.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const text = std::string_view{reinterpret_cast<char const*>(data), size};
    auto parsed = mxl::fabric::api::parseTargetInfo(text);
    if (!parsed)
    {
        auto const status = parsed.error().status;
        if ((status != MXL_ERR_INVALID_ARG && status != MXL_ERR_UNSUPPORTED_OPERATION) || parsed.error().message.empty())
        {
            std::abort();
        }
        return 0;
    }
    auto const again = mxl::fabric::api::formatTargetInfo(parsed.value());
    if (again != text)
    {
        std::abort();
    }
    auto twice = mxl::fabric::api::parseTargetInfo(again);
    if (!twice || twice->provider != parsed->provider || mxl::fabric::encode(twice->grant) != mxl::fabric::encode(parsed->grant))
    {
        std::abort();
    }
    return 0;
}
