// SPDX-License-Identifier: Apache-2.0
// The fabrics C API (mxl/fabrics.h): instances, the lifecycle of targets and initiators, and the
// interface list. Setup and data path: FabricsCoreApi.cpp; strings: FabricsStringApi.cpp.
#include <mxl/fabrics.h>
#include "api/Checks.hpp"
#include "api/Guard.hpp"
#include "api/Handles.hpp"
#include "api/Instance.hpp"
#include "api/Interfaces.hpp"
#include "api/Options.hpp"
#include "api/Providers.hpp"

namespace mxl::fabric::api
{
    TaggedTable<FabricsInstance, 0xF1>& fabricsInstanceTable()
    {
        static TaggedTable<FabricsInstance, 0xF1> table;
        return table;
    }

    TaggedTable<Target, 0xF2>& targetTable()
    {
        static TaggedTable<Target, 0xF2> table;
        return table;
    }

    TaggedTable<Initiator, 0xF3>& initiatorTable()
    {
        static TaggedTable<Initiator, 0xF3> table;
        return table;
    }

    TaggedTable<TargetInfo, 0xF4>& targetInfoTable()
    {
        static TaggedTable<TargetInfo, 0xF4> table;
        return table;
    }
}

using namespace mxl;
using namespace mxl::fabric::api;

extern "C" MXL_EXPORT mxlStatus mxlFabricsCreateInstance(mxlInstance in_instance, char const* options, mxlFabricsInstance* out_fabricsInstance)
{
    constexpr auto function = "mxlFabricsCreateInstance";
    return guarded(function, [&] {
        if (out_fabricsInstance == nullptr)
        {
            log().error("{}: no place for the instance (NULL)", function);
            return MXL_ERR_INVALID_ARG;
        }
        if (toInstance(in_instance) == nullptr)
        {
            log().error("{}: not an mxlInstance (NULL, destroyed or not one)", function);
            return MXL_ERR_INVALID_ARG;
        }
        if (auto checked = checkInstanceOptions(options); !checked)
        {
            return report(function, checked.error());
        }
        auto instance = std::make_unique<FabricsInstance>();
        instance->mxlInstance = handleValue(in_instance);
        auto const handle = fabricsInstanceTable().insert(instance.get());
        if (handle == 0)
        {
            log().error("{}: too many fabrics instances", function);
            return MXL_ERR_UNKNOWN;
        }
        instance.release();
        *out_fabricsInstance = fromValue<mxlFabricsInstance>(handle);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsDestroyInstance(mxlFabricsInstance in_instance)
{
    return guarded("mxlFabricsDestroyInstance", [&] {
        std::unique_ptr<FabricsInstance> instance{fabricsInstanceTable().remove(in_instance)};
        if (!instance)
        {
            log().error("mxlFabricsDestroyInstance: not a fabrics instance (NULL, destroyed or not one)");
            return MXL_ERR_INVALID_ARG;
        }
        // Like mxlDestroyInstance: what the instance still owns goes with it, and its handles die.
        std::lock_guard lock{instance->mutex};
        for (auto const& [handle, target] : instance->targets)
        {
            targetTable().remove(fromValue<void*>(handle));
        }
        for (auto const& [handle, initiator] : instance->initiators)
        {
            initiatorTable().remove(fromValue<void*>(handle));
        }
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsGetInterfaces(mxlFabricsInstance in_instance, mxlFabricsInterfaceConfig const* query,
    mxlFabricsInterfaceList** out_list)
{
    constexpr auto function = "mxlFabricsGetInterfaces";
    return guarded(function, [&] {
        if (toFabricsInstance(in_instance) == nullptr || out_list == nullptr)
        {
            log().error("{}: not a fabrics instance, or no place for the list (NULL)", function);
            return MXL_ERR_INVALID_ARG;
        }
        InterfaceQuery wanted;
        if (query != nullptr)
        {
            if (auto checked = checkInterfaceConfig(*query); !checked)
            {
                return report(function, checked.error());
            }
            wanted.provider = checkedProvider(query->provider);
            if (query->address.node != nullptr)
            {
                wanted.node = query->address.node;
            }
        }
        auto found = probeInterfaces(wanted);
        if (!found)
        {
            return report(function, found.error());
        }
        *out_list = makeInterfaceList(std::move(*found));
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsFreeInterfaceList(mxlFabricsInterfaceList* in_list)
{
    return guarded("mxlFabricsFreeInterfaceList", [&] {
        if (in_list == nullptr)
        {
            return MXL_STATUS_OK; // What GetInterfaces answers when nothing matches.
        }
        if (!freeInterfaceList(in_list))
        {
            log().error("mxlFabricsFreeInterfaceList: not a list from mxlFabricsGetInterfaces (or freed already)");
            return MXL_ERR_INVALID_ARG;
        }
        return MXL_STATUS_OK;
    });
}

namespace
{
    /// Creates an object of one instance, registered in the instance (ownership) and in its table.
    template<typename Object, typename Table, typename Handle>
    mxlStatus createOwned(char const* function, mxlFabricsInstance in_instance, Handle* out, Table& table,
        std::unordered_map<std::uintptr_t, std::unique_ptr<Object>> FabricsInstance::*owned)
    {
        auto* instance = toFabricsInstance(in_instance);
        if (instance == nullptr || out == nullptr)
        {
            log().error("{}: not a fabrics instance, or no place for the handle (NULL)", function);
            return MXL_ERR_INVALID_ARG;
        }
        auto object = std::make_unique<Object>();
        object->owner = handleValue(in_instance);
        auto const handle = table.insert(object.get());
        if (handle == 0)
        {
            log().error("{}: too many handles", function);
            return MXL_ERR_UNKNOWN;
        }
        std::lock_guard lock{instance->mutex};
        (instance->*owned).emplace(handle, std::move(object));
        *out = fromValue<Handle>(handle);
        return MXL_STATUS_OK;
    }

    /// Destroys an object of that instance; one of another instance is refused (and left alone).
    template<typename Object, typename Table>
    mxlStatus destroyOwned(char const* function, mxlFabricsInstance in_instance, void const* handle, Table& table,
        std::unordered_map<std::uintptr_t, std::unique_ptr<Object>> FabricsInstance::*owned)
    {
        auto* instance = toFabricsInstance(in_instance);
        if (instance == nullptr)
        {
            log().error("{}: not a fabrics instance (NULL, destroyed or not one)", function);
            return MXL_ERR_INVALID_ARG;
        }
        std::lock_guard lock{instance->mutex};
        auto const it = (instance->*owned).find(handleValue(handle));
        if (it == (instance->*owned).end())
        {
            log().error("{}: not a handle of this instance (NULL, destroyed, or of another instance)", function);
            return MXL_ERR_INVALID_ARG;
        }
        table.remove(handle);
        (instance->*owned).erase(it);
        return MXL_STATUS_OK;
    }
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsCreateTarget(mxlFabricsInstance in_fabricsInstance, mxlFabricsTarget* out_target)
{
    return guarded("mxlFabricsCreateTarget", [&] {
        return createOwned<Target>("mxlFabricsCreateTarget", in_fabricsInstance, out_target, targetTable(), &FabricsInstance::targets);
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsDestroyTarget(mxlFabricsInstance in_fabricsInstance, mxlFabricsTarget in_target)
{
    return guarded("mxlFabricsDestroyTarget", [&] {
        return destroyOwned<Target>("mxlFabricsDestroyTarget", in_fabricsInstance, in_target, targetTable(), &FabricsInstance::targets);
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsCreateInitiator(mxlFabricsInstance in_fabricsInstance, mxlFabricsInitiator* out_initiator)
{
    return guarded("mxlFabricsCreateInitiator", [&] {
        return createOwned<Initiator>("mxlFabricsCreateInitiator", in_fabricsInstance, out_initiator, initiatorTable(),
            &FabricsInstance::initiators);
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsDestroyInitiator(mxlFabricsInstance in_fabricsInstance, mxlFabricsInitiator in_initiator)
{
    return guarded("mxlFabricsDestroyInitiator", [&] {
        return destroyOwned<Initiator>("mxlFabricsDestroyInitiator", in_fabricsInstance, in_initiator, initiatorTable(),
            &FabricsInstance::initiators);
    });
}
