// SPDX-License-Identifier: Apache-2.0
#pragma once

// How libfabric failures become mxl errors: every message names the call, the provider and
// libfabric's own explanation, so a log line is enough to tell which layer refused what.

#include <string_view>

#include "base/Expected.hpp"

namespace mxl::ofi
{
    /// The mxlStatus a caller should act on for a (positive or negative) libfabric errno.
    [[nodiscard]] mxlStatus statusFromFiErrno(int fiErrno) noexcept;

    /// `return fiFail("fi_mr_reg", provider, rc);` with the status derived from rc.
    [[nodiscard]] Unexpected fiFail(std::string_view call, std::string_view provider, long rc);

    /// As above, for calls whose errno means something specific to the caller (e.g. fi_getinfo's
    /// FI_ENODATA is "no such fabric", not an internal failure).
    [[nodiscard]] Unexpected fiFail(mxlStatus status, std::string_view call, std::string_view provider, long rc);

    /// Errors that cannot be returned (destructors) are logged; nothing else in this layer logs.
    void logError(std::string_view message) noexcept;
}
