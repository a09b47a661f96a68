// SPDX-License-Identifier: Apache-2.0
#include "ofi/Error.hpp"

#include <cstdlib>
#include <string>

#include <rdma/fabric.h>
#include <rdma/fi_errno.h>
#include <spdlog/spdlog.h>

namespace mxl::ofi
{
    mxlStatus statusFromFiErrno(int fiErrno) noexcept
    {
        switch (std::abs(fiErrno))
        {
            case FI_EAGAIN:     return MXL_ERR_NOT_READY;
            case FI_ETIMEDOUT:  return MXL_ERR_TIMEOUT;
            case FI_EINTR:      return MXL_ERR_INTERRUPTED;
            case FI_EINVAL:
            case FI_EMSGSIZE:
            case FI_ETOOSMALL:  return MXL_ERR_INVALID_ARG;
            case FI_ENOSYS:
            case FI_EOPNOTSUPP: return MXL_ERR_UNSUPPORTED_OPERATION;
            case FI_ENODATA:    return MXL_ERR_NO_FABRIC;
            case FI_EACCES:
            case FI_EPERM:      return MXL_ERR_PERMISSION_DENIED;
            case FI_ENOKEY:
            case FI_EKEYREJECTED: return MXL_ERR_PERMISSION_DENIED;
            default:            return MXL_ERR_INTERNAL;
        }
    }

    Unexpected fiFail(std::string_view call, std::string_view provider, long rc)
    {
        return fiFail(statusFromFiErrno(static_cast<int>(rc)), call, provider, rc);
    }

    Unexpected fiFail(mxlStatus status, std::string_view call, std::string_view provider, long rc)
    {
        auto message = std::string{call};
        message += " failed on provider ";
        message += provider.empty() ? std::string_view{"(any)"} : provider;
        message += ": ";
        message += fi_strerror(static_cast<int>(rc < 0 ? -rc : rc));
        message += " (";
        message += std::to_string(rc);
        message += ")";
        return fail(status, std::move(message));
    }

    void logError(std::string_view message) noexcept
    {
        try
        {
            auto logger = spdlog::get("mxl");
            if (!logger)
            {
                logger = spdlog::default_logger();
            }
            logger->error("ofi: {}", message);
        }
        catch (...)
        {
            // A failing logger must not turn a destructor into std::terminate.
        }
    }
}
