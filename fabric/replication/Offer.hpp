// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "domain/Domain.hpp"
#include "protocol/Messages.hpp"

namespace mxl::fabric
{
    /// What a sink needs to mirror local flow flowId: its definition and header configuration.
    /// Errors: FLOW_NOT_FOUND, FLOW_INVALID.
    Expected<FlowOffer> makeFlowOffer(Domain& domain, Uuid const& flowId);
}
