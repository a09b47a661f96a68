// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mxl::info
{
    struct OpenOptions
    {
        std::string domain;
        std::string uri;        ///< mxl://HOST[:PORT]/FLOW-ID
        std::uint32_t timeoutMs{5000};
        std::chrono::milliseconds interval{500};
    };

    /// `mxl-info --open URI`: asks the domain's bridge for the remote flow (mxlAcquireRemoteFlow) and
    /// holds the lease while it shows the mirror's status: the --watch view on a terminal, otherwise
    /// one JSON line per interval. Releases the lease on q, Ctrl-C, SIGINT or SIGTERM. Returns the
    /// exit code (1 when the flow could not be acquired; the reason is on stderr).
    int openRemote(OpenOptions const& options);

    /// "MXL_ERR_NOT_FOUND" for a status.
    std::string statusName(int status);
}
