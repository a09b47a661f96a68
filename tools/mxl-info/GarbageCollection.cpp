// SPDX-License-Identifier: Apache-2.0
#include "mxl-info/GarbageCollection.hpp"

#include <algorithm>

#include "domain/Domain.hpp"
#include "flow/Flow.hpp"
#include "flow/FlowLayout.hpp"
#include "mxl-info/FlowStatus.hpp"

namespace mxl::info
{
    Expected<std::vector<std::string>> collectStaleFlows(std::filesystem::path const& domain)
    {
        // Domain::open already collects stale flows of a writable domain and only logs how many, so
        // the stale flows are noted first to report them by id. libmxl's Domain, not the C API:
        // mxlCreateInstance and mxlGarbageCollectFlows do the same collection but only log the ids,
        // and the C API has no liveness probe that needs no instance, to note them beforehand.
        std::vector<std::string> stale;
        for (auto const& id : listFlowIds(domain))
        {
            auto flow = Flow::open(domain / (id + std::string{flowDirSuffix}), FlowAccess::ReadOnly);
            if (!flow || !(*flow)->hasWriter())
            {
                stale.push_back(id);
            }
        }

        auto opened = Domain::open(domain, nullptr);
        if (!opened)
        {
            return opened.take_error();
        }
        auto collected = (*opened)->collectGarbage();
        if (!collected)
        {
            return collected.take_error();
        }

        auto const remaining = listFlowIds(domain);
        std::vector<std::string> removed;
        for (auto const& id : stale)
        {
            if (!std::binary_search(remaining.begin(), remaining.end(), id))
            {
                removed.push_back(id);
            }
        }
        for (auto const& id : *collected)
        {
            removed.push_back(formatUuid(id));
        }
        std::sort(removed.begin(), removed.end());
        removed.erase(std::unique(removed.begin(), removed.end()), removed.end());
        return removed;
    }
}
