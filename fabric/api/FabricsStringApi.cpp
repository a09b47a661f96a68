// SPDX-License-Identifier: Apache-2.0
// The fabrics C API's conversions (mxl/fabrics.h): providers to and from their names, TargetInfos to
// and from their string form (api/TargetInfo.hpp). A TargetInfo is a secret: no line logged here
// holds any of it, only what is wrong with it.
#include <cstring>
#include <string>

#include <openssl/crypto.h>

#include <mxl/fabrics.h>
#include "api/Checks.hpp"
#include "api/Guard.hpp"
#include "api/Handles.hpp"
#include "api/Instance.hpp"
#include "api/Providers.hpp"
#include "api/TargetInfo.hpp"

using namespace mxl;
using namespace mxl::fabric::api;

namespace
{
    /// Clears a copy of a secret before its memory goes back to the allocator.
    struct Wiped
    {
        std::string text;

        ~Wiped()
        {
            ::OPENSSL_cleanse(text.data(), text.size());
        }
    };
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsProviderFromString(char const* in_string, mxlFabricsProvider* out_provider)
{
    return guarded("mxlFabricsProviderFromString", [&] {
        if (in_string == nullptr || out_provider == nullptr)
        {
            log().error("mxlFabricsProviderFromString: no string or no place for the provider (NULL)");
            return MXL_ERR_INVALID_ARG;
        }
        // Provider names are short: compare at most a few bytes more than the longest.
        auto const length = ::strnlen(in_string, 16);
        auto const provider = providerFromText(std::string_view{in_string, length});
        if (!provider)
        {
            log().error("mxlFabricsProviderFromString: not a provider name (any, tcp, verbs, efa, shm)");
            return MXL_ERR_INVALID_ARG;
        }
        *out_provider = *provider;
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsProviderToString(mxlFabricsProvider in_provider, char* out_string, size_t* inout_stringSize)
{
    return guarded("mxlFabricsProviderToString", [&] {
        if (inout_stringSize == nullptr)
        {
            log().error("mxlFabricsProviderToString: no size (NULL)");
            return MXL_ERR_INVALID_ARG;
        }
        auto const text = providerText(in_provider);
        if (text.empty())
        {
            log().error("mxlFabricsProviderToString: provider value {} is none of mxlFabricsProvider's", enumValue(in_provider));
            return MXL_ERR_INVALID_ARG;
        }
        return copyString(text, out_string, inout_stringSize);
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsTargetInfoToString(mxlFabricsTargetInfo in_targetInfo, char* out_string, size_t* inout_stringSize)
{
    return guarded("mxlFabricsTargetInfoToString", [&] {
        auto const* info = toTargetInfo(in_targetInfo);
        if (info == nullptr || inout_stringSize == nullptr)
        {
            log().error("mxlFabricsTargetInfoToString: not a TargetInfo (NULL, freed or not one), or no size (NULL)");
            return MXL_ERR_INVALID_ARG;
        }
        auto const text = Wiped{formatTargetInfo(*info)};
        return copyString(text.text, out_string, inout_stringSize);
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsTargetInfoFromString(char const* in_string, mxlFabricsTargetInfo* out_targetInfo)
{
    constexpr auto function = "mxlFabricsTargetInfoFromString";
    return guarded(function, [&] {
        if (in_string == nullptr || out_targetInfo == nullptr)
        {
            log().error("{}: no string or no place for the TargetInfo (NULL)", function);
            return MXL_ERR_INVALID_ARG;
        }
        // Bounded: a string longer than any TargetInfo is refused without reading all of it.
        auto const length = ::strnlen(in_string, maxTargetInfoLength + 1);
        auto parsed = parseTargetInfo(std::string_view{in_string, length});
        if (!parsed)
        {
            return report(function, parsed.error());
        }
        return handOutTargetInfo(function, std::move(*parsed), out_targetInfo);
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsFreeTargetInfo(mxlFabricsTargetInfo in_info)
{
    return guarded("mxlFabricsFreeTargetInfo", [&] {
        std::unique_ptr<TargetInfo> info{targetInfoTable().remove(in_info)};
        if (!info)
        {
            log().error("mxlFabricsFreeTargetInfo: not a TargetInfo (NULL, freed already or not one)");
            return MXL_ERR_INVALID_ARG;
        }
        ::OPENSSL_cleanse(info->grant.connectKey.data(), info->grant.connectKey.size());
        return MXL_STATUS_OK;
    });
}

namespace mxl::fabric::api
{
    mxlStatus handOutTargetInfo(char const* function, TargetInfo info, mxlFabricsTargetInfo* out)
    {
        auto owned = std::make_unique<TargetInfo>(std::move(info));
        auto const handle = targetInfoTable().insert(owned.get());
        if (handle == 0)
        {
            log().error("{}: too many TargetInfos", function);
            return MXL_ERR_UNKNOWN;
        }
        owned.release();
        *out = fromValue<mxlFabricsTargetInfo>(handle);
        return MXL_STATUS_OK;
    }
}
