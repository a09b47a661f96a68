// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>

#include <mxl/rational.h>

namespace mxl::gen
{
    struct FlowIdentity
    {
        std::string id;
        std::string label;
        /// The group hint's group; the role is the media kind (video, audio, anc).
        std::string group;
    };

    /// NMOS IS-04 flow definitions of the flows mxl-gen writes.
    std::string videoFlowDefinition(FlowIdentity const& who, std::string const& mediaType, std::uint32_t width, std::uint32_t height,
        mxlRational rate);
    std::string audioFlowDefinition(FlowIdentity const& who, std::uint32_t channels, mxlRational sampleRate);
    std::string ancFlowDefinition(FlowIdentity const& who, mxlRational rate);
}
