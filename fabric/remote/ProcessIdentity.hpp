// SPDX-License-Identifier: Apache-2.0
#pragma once

// Who a client of the command ring is: its pid and its start time, the pair that names one process
// for as long as the host runs (a pid alone is reused).
//
// What a check proves, and what it does not (docs/remote-flows.md): that a process with this pid
// and this start time exists now in the checker's pid namespace, or that it does not (the process
// is gone, or the pair was forged: the pid belongs to a process started at another time). It does
// not prove that the process named wrote the request: every process that may write the ring file
// can claim any live identity.

#include <cstdint>
#include <string>

#include <sys/types.h>

#include "base/Expected.hpp"

namespace mxl::fabric::remote
{
    struct ProcessIdentity
    {
        std::uint32_t pid{0};
        /// Field 22 of /proc/<pid>/stat: clock ticks from boot to the process's start.
        std::uint64_t startTime{0};

        friend bool operator==(ProcessIdentity const&, ProcessIdentity const&) = default;
    };

    enum class Liveness
    {
        Alive,    ///< the pid runs and started at that time
        Gone,     ///< no process has that pid
        Mismatch, ///< the pid runs but started at another time: reused, or the pair is forged
        Unknown,  ///< /proc did not say (hidepid, another pid namespace's /proc)
    };

    /// The identity of the calling process.
    Expected<ProcessIdentity> selfIdentity();

    /// The identity of the process with this pid now; MXL_ERR_NOT_FOUND when there is none.
    Expected<ProcessIdentity> identityOf(pid_t pid);

    /// Whether the process named by identity still runs.
    Liveness check(ProcessIdentity const& identity);

    /// The start time in the text of a /proc/<pid>/stat file (field 22, counted after the command
    /// name, which may hold spaces and parentheses); 0 when the text is not such a line.
    std::uint64_t parseStartTime(std::string const& statLine) noexcept;
}
