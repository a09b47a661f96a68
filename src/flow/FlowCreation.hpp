// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <filesystem>

#include <mxl/flowinfo.h>
#include "base/Expected.hpp"
#include "base/Fd.hpp"
#include "flow/FlowDefinition.hpp"

namespace mxl
{
    /// The header configuration of a new flow: geometry from the definition, ring length from the
    /// history, hints from the options (validated against the geometry).
    Expected<mxlFlowConfigInfo> makeFlowConfig(FlowDefinition const& def, WriterOptions const& options, std::uint64_t historyNs);

    /// True when two configurations describe the same media geometry (format, rate, slices or
    /// channels). Ring length and hints may differ: a second writer adopts the existing ring.
    bool sameGeometry(mxlFlowConfigInfo const& a, mxlFlowConfigInfo const& b) noexcept;

    /// Builds the flow's files in a temporary directory of the domain and renames it into place
    /// atomically. Returns the new `data` file, locked LOCK_SH, so that no garbage collector takes
    /// the flow for stale before the caller opens it. Errors: EXISTS (the flow appeared meanwhile),
    /// PERMISSION_DENIED, UNKNOWN.
    Expected<Fd> createFlowFiles(std::filesystem::path const& domain, FlowDefinition const& def, mxlFlowConfigInfo const& config);

    /// Removes a flow directory so that it disappears at once (rename to a temporary name, wake
    /// readers, then delete). The caller holds LOCK_EX on its `data`.
    Expected<void> removeFlowDirectory(std::filesystem::path const& domain, std::filesystem::path const& flowDir);
}
