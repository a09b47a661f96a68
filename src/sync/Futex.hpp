// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

namespace mxl
{
    /// Sleeps while *word == expected, for at most timeoutNs (shared futex: works across processes
    /// on a MAP_SHARED mapping, including a PROT_READ one). Spurious wake-ups are allowed; callers
    /// re-check their condition. Returns false when the timeout elapsed.
    bool futexWait(std::uint32_t const* word, std::uint32_t expected, std::uint64_t timeoutNs) noexcept;

    /// Wakes every waiter on word.
    void futexWakeAll(std::uint32_t* word) noexcept;
}
