// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary text as the URI an application passes to mxlAcquireRemoteFlow
// (fabric/remote/RemoteUri.hpp). Never a crash; a refusal is INVALID_ARG and says it is about a
// remote flow URI; an accepted URI has a host that the command ring carries (not empty, within its
// length) and a port that is not 0.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "remote/RemoteUri.hpp"
#include "remote/Requests.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    using namespace mxl::fabric::remote;
    auto const uri = parseRemoteUri(std::string_view{reinterpret_cast<char const*>(data), size});
    if (!uri)
    {
        if (uri.error().status != MXL_ERR_INVALID_ARG || uri.error().message.find("remote flow URI") == std::string::npos)
        {
            std::abort();
        }
        return 0;
    }
    if (uri->host.empty() || uri->host.size() > maxHostLength || uri->port == 0)
    {
        std::abort();
    }
    return 0;
}
