// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <vector>

#include <mxl/mxl.h>
#include "flow/FlowReader.hpp"

namespace mxl
{
    /// Readers waited on together: ready at a TAI time when every reader has the grain or samples
    /// due at that time on its own rate.
    class SyncGroup
    {
    public:
        /// owner: an opaque tag of whoever created the group (the C API's instance handle). Only that
        /// owner learns when a member reader is released, so only its readers may join.
        explicit SyncGroup(std::uintptr_t owner) noexcept
            : _owner{owner}
        {}

        [[nodiscard]] std::uintptr_t owner() const noexcept
        {
            return _owner;
        }

        /// Adds reader, or updates its slice requirement if present.
        void add(FlowReader* reader, std::uint16_t minValidSlices);

        /// Returns false if reader was not a member.
        bool remove(FlowReader const* reader) noexcept;

        [[nodiscard]] bool empty() const noexcept
        {
            return _members.empty();
        }

        /// OK, TOO_LATE, TIMEOUT or FLOW_INVALID; INVALID_ARG for an empty group.
        mxlStatus waitForDataAt(std::uint64_t taiTimestamp, std::uint64_t timeoutNs) const noexcept;

    private:
        struct Member
        {
            FlowReader* reader;
            std::uint16_t minValidSlices;
        };

        std::uintptr_t _owner;
        std::vector<Member> _members;
    };
}
