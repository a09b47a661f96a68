// SPDX-License-Identifier: Apache-2.0
#include "replication/Offer.hpp"

#include "flow/Flow.hpp"

namespace mxl::fabric
{
    Expected<FlowOffer> makeFlowOffer(Domain& domain, Uuid const& flowId)
    {
        auto flow = Flow::open(domain.flowDir(flowId), FlowAccess::ReadOnly);
        if (!flow)
        {
            return flow.take_error();
        }
        auto def = domain.flowDefinition(formatUuid(flowId));
        if (!def)
        {
            return def.take_error();
        }
        FlowOffer offer;
        offer.flowId = flowId;
        offer.config = (*flow)->info().config;
        if ((*flow)->discrete())
        {
            offer.grainSize = (*flow)->grainSize();
            offer.totalSlices = (*flow)->totalSlices();
        }
        else
        {
            offer.sampleWordSize = static_cast<std::uint16_t>((*flow)->sampleWordSize());
        }
        offer.flowDef = std::move(*def);
        return offer;
    }
}
