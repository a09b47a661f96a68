// SPDX-License-Identifier: Apache-2.0
#include <mxl/flow.h>
#include "api/Guard.hpp"
#include "api/Instance.hpp"

using namespace mxl;

extern "C" MXL_EXPORT mxlStatus mxlCreateFlowSynchronizationGroup(mxlInstance in_instance, mxlFlowSynchronizationGroup* out_group)
{
    return guarded("mxlCreateFlowSynchronizationGroup", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr || out_group == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto group = std::make_unique<SyncGroup>(handleValue(in_instance));
        auto const handle = groupTable().insert(group.get());
        if (handle == 0)
        {
            return MXL_ERR_UNKNOWN;
        }
        std::lock_guard lock{instance->mutex};
        instance->groups.emplace(handle, std::move(group));
        *out_group = fromValue<mxlFlowSynchronizationGroup>(handle);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlReleaseFlowSynchronizationGroup(mxlInstance in_instance, mxlFlowSynchronizationGroup group)
{
    return guarded("mxlReleaseFlowSynchronizationGroup", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        std::lock_guard lock{instance->mutex};
        auto const it = instance->groups.find(handleValue(group));
        if (it == instance->groups.end())
        {
            return MXL_ERR_INVALID_ARG;
        }
        groupTable().remove(group);
        instance->groups.erase(it);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFlowSynchronizationGroupAddPartialGrainReader(mxlFlowSynchronizationGroup group, mxlFlowReader reader,
    uint16_t in_minValidSlices)
{
    return guarded("mxlFlowSynchronizationGroupAddReader", [&] {
        auto* g = toGroup(group);
        if (g == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto* r = toReader(reader);
        if (r == nullptr)
        {
            return MXL_ERR_INVALID_FLOW_READER;
        }
        // A reader of another instance would stay in the group after its release (only the group's
        // instance removes released readers from its groups) and be used after it was freed.
        auto* owner = toInstance(fromValue<mxlInstance>(g->owner()));
        if (owner == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        std::lock_guard lock{owner->mutex};
        if (!owner->readers.contains(handleValue(reader)))
        {
            log().error("mxlFlowSynchronizationGroupAddReader: the reader belongs to another instance than the group");
            return MXL_ERR_INVALID_FLOW_READER;
        }
        g->add(r, in_minValidSlices);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFlowSynchronizationGroupAddReader(mxlFlowSynchronizationGroup group, mxlFlowReader reader)
{
    return mxlFlowSynchronizationGroupAddPartialGrainReader(group, reader, MXL_GRAIN_VALID_SLICES_ALL);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowSynchronizationGroupRemoveReader(mxlFlowSynchronizationGroup group, mxlFlowReader reader)
{
    auto* g = toGroup(group);
    if (g == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    auto* r = toReader(reader);
    if (r == nullptr || !g->remove(r))
    {
        return MXL_ERR_INVALID_FLOW_READER;
    }
    return MXL_STATUS_OK;
}

extern "C" MXL_EXPORT mxlStatus mxlFlowSynchronizationGroupWaitForDataAt(mxlFlowSynchronizationGroup group, uint64_t in_timestamp,
    uint64_t in_timeoutNs)
{
    auto* g = toGroup(group);
    if (g == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    return g->waitForDataAt(in_timestamp, in_timeoutNs);
}
