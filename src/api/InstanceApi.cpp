// SPDX-License-Identifier: Apache-2.0
#include <cerrno>
#include <cstring>

#include <linux/magic.h>
#include <sys/vfs.h>

#include <mxl/mxl.h>
#include "api/Guard.hpp"
#include "api/Instance.hpp"

namespace mxl
{
    HandleTable<Instance>& instanceTable()
    {
        static HandleTable<Instance> table;
        return table;
    }

    HandleTable<FlowReader>& readerTable()
    {
        static HandleTable<FlowReader> table;
        return table;
    }

    HandleTable<FlowWriter>& writerTable()
    {
        static HandleTable<FlowWriter> table;
        return table;
    }

    HandleTable<SyncGroup>& groupTable()
    {
        static HandleTable<SyncGroup> table;
        return table;
    }
}

using namespace mxl;

extern "C" MXL_EXPORT mxlStatus mxlGetVersion(mxlVersionType* out_version)
{
    if (out_version == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    out_version->major = MXL_VERSION_MAJOR;
    out_version->minor = MXL_VERSION_MINOR;
    out_version->bugfix = MXL_VERSION_PATCH;
    out_version->build = 0;
    out_version->full = MXL_VERSION_STRING;
    return MXL_STATUS_OK;
}

extern "C" MXL_EXPORT mxlInstance mxlCreateInstance(char const* in_mxlDomain, char const* in_options)
{
    mxlInstance result = nullptr;
    guarded("mxlCreateInstance", [&] {
        if (in_mxlDomain == nullptr)
        {
            log().error("mxlCreateInstance: no domain path given");
            return MXL_ERR_INVALID_ARG;
        }
        auto domain = Domain::open(in_mxlDomain, in_options);
        if (!domain)
        {
            return report("mxlCreateInstance", domain.error());
        }
        auto instance = std::make_unique<Instance>();
        instance->domain = std::move(*domain);
        auto const handle = instanceTable().insert(instance.get());
        if (handle == 0)
        {
            log().error("mxlCreateInstance: too many instances");
            return MXL_ERR_UNKNOWN;
        }
        instance.release();
        result = fromValue<mxlInstance>(handle);
        return MXL_STATUS_OK;
    });
    return result;
}

extern "C" MXL_EXPORT mxlStatus mxlDestroyInstance(mxlInstance in_instance)
{
    return guarded("mxlDestroyInstance", [&] {
        std::unique_ptr<Instance> instance{instanceTable().remove(in_instance)};
        if (!instance)
        {
            return MXL_ERR_INVALID_ARG;
        }
        std::lock_guard lock{instance->mutex};
        for (auto& [handle, group] : instance->groups)
        {
            groupTable().remove(fromValue<void*>(handle));
        }
        for (auto& [handle, reader] : instance->readers)
        {
            readerTable().remove(fromValue<void*>(handle));
        }
        for (auto& [handle, writer] : instance->writers)
        {
            writerTable().remove(fromValue<void*>(handle));
            instance->domain->releaseWriter(std::move(writer));
        }
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlGarbageCollectFlows(mxlInstance in_instance)
{
    return guarded("mxlGarbageCollectFlows", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto removed = instance->domain->collectGarbage();
        if (!removed)
        {
            return report("mxlGarbageCollectFlows", removed.error());
        }
        for (auto const& id : *removed)
        {
            log().info("garbage collected stale flow {}", formatUuid(id));
        }
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlIsTmpFs(char const* in_path, bool* out_isTmpFs)
{
    if (in_path == nullptr || out_isTmpFs == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    struct statfs fs{};
    if (::statfs(in_path, &fs) != 0)
    {
        // Saved first: logging (creating the logger on first use) may change errno.
        int const err = errno;
        log().error("mxlIsTmpFs: {}: {}", in_path, std::strerror(err));
        return err == ENOENT ? MXL_ERR_FLOW_NOT_FOUND : MXL_ERR_INVALID_ARG;
    }
    *out_isTmpFs = fs.f_type == TMPFS_MAGIC;
    return MXL_STATUS_OK;
}
