// SPDX-License-Identifier: Apache-2.0
#include "api/Checks.hpp"

#include <cstring>

#include <fmt/format.h>

#include "api/Providers.hpp"
#include "common/Logging.hpp"

namespace mxl::fabric::api
{
    Expected<void> checkInterfaceConfig(mxlFabricsInterfaceConfig const& config)
    {
        if (config.version != MXL_FABRICS_API_VERSION)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("interface config version {} (this library implements version {})", config.version,
                MXL_FABRICS_API_VERSION));
        }
        if (config.caps.version != MXL_FABRICS_API_VERSION)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("interface caps version {} (this library implements version {})",
                config.caps.version, MXL_FABRICS_API_VERSION));
        }
        if (!checkedProvider(config.provider))
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("provider value {} is none of mxlFabricsProvider's", enumValue(config.provider)));
        }
        return {};
    }

    mxlStatus copyString(std::string_view text, char* out, std::size_t* size) noexcept
    {
        auto const needed = text.size() + 1;
        if (out == nullptr)
        {
            *size = needed;
            return MXL_STATUS_OK;
        }
        auto const given = *size;
        *size = needed;
        if (given < needed)
        {
            return MXL_ERR_STRLEN;
        }
        std::memcpy(out, text.data(), text.size());
        out[text.size()] = '\0';
        return MXL_STATUS_OK;
    }

    mxlStatus notImplemented(char const* function) noexcept
    {
        try
        {
            log().error("{}: not implemented yet (the fabrics core is still to come, see docs/fabrics-api.md)", function);
        }
        catch (...)
        {
            // The answer matters more than the log line.
        }
        return MXL_ERR_UNSUPPORTED_OPERATION;
    }
}
