// SPDX-License-Identifier: Apache-2.0
#pragma once

// The objects behind the fabrics C API's handles, and the tables that validate them (libmxl's
// HandleTable, src/api/HandleTable.hpp: a NULL, made-up or destroyed handle is refused, never
// dereferenced).
//
// Each kind of handle carries its own tag in bits 24..31 (a HandleTable handle leaves bits 20..31
// zero), so that a handle of one kind passed where another is expected (a target where an
// instance is expected, or an mxlInstance of libmxl) matches nothing instead of another object
// that happens to sit in the same slot of another table.

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <mxl/fabrics.h>
#include "api/Endpoints.hpp"
#include "api/HandleTable.hpp"
#include "api/TargetInfo.hpp"

namespace mxl::fabric::api
{
    /// A target: its endpoint once set up.
    struct Target
    {
        std::uintptr_t owner{0}; ///< The handle of its fabrics instance.
        std::unique_ptr<TargetEndpoint> endpoint;
    };

    /// An initiator: its endpoint once set up.
    struct Initiator
    {
        std::uintptr_t owner{0};
        std::mutex mutex; ///< Serialises setup against the calls that use the endpoint.
        std::unique_ptr<InitiatorEndpoint> endpoint;
    };

    struct FabricsInstance
    {
        /// The mxlInstance's handle, not a pointer to it: the application may destroy it first, and
        /// every use looks it up again (mxl::toInstance), so that is noticed instead of followed.
        std::uintptr_t mxlInstance{0};
        std::mutex mutex;
        std::unordered_map<std::uintptr_t, std::unique_ptr<Target>> targets;
        std::unordered_map<std::uintptr_t, std::unique_ptr<Initiator>> initiators;
    };

    /// A HandleTable whose handles carry Tag.
    template<typename T, std::uintptr_t Tag>
    class TaggedTable
    {
    public:
        static_assert(Tag > 0 && Tag < 256);

        /// The handle of object, or 0 when the table is full.
        std::uintptr_t insert(T* object)
        {
            auto const handle = _table.insert(object);
            return handle == 0 ? 0 : handle | tagBits;
        }

        [[nodiscard]] T* lookup(void const* handle) const noexcept
        {
            auto const untagged = untag(handle);
            return untagged == nullptr ? nullptr : _table.lookup(untagged);
        }

        T* remove(void const* handle) noexcept
        {
            auto const untagged = untag(handle);
            return untagged == nullptr ? nullptr : _table.remove(untagged);
        }

    private:
        static constexpr std::uintptr_t tagBits = Tag << 24;
        static constexpr std::uintptr_t tagMask = std::uintptr_t{0xFF} << 24;

        static void const* untag(void const* handle) noexcept
        {
            auto const value = reinterpret_cast<std::uintptr_t>(handle);
            if ((value & tagMask) != tagBits)
            {
                return nullptr;
            }
            return reinterpret_cast<void const*>(value & ~tagMask);
        }

        HandleTable<T> _table;
    };

    TaggedTable<FabricsInstance, 0xF1>& fabricsInstanceTable();
    TaggedTable<Target, 0xF2>& targetTable();
    TaggedTable<Initiator, 0xF3>& initiatorTable();
    /// TargetInfos belong to the application (freed with mxlFabricsFreeTargetInfo), to no instance.
    TaggedTable<TargetInfo, 0xF4>& targetInfoTable();

    /// Registers info as a new TargetInfo handle for the application, written to *out.
    [[nodiscard]] mxlStatus handOutTargetInfo(char const* function, TargetInfo info, mxlFabricsTargetInfo* out);

    inline FabricsInstance* toFabricsInstance(mxlFabricsInstance handle) noexcept
    {
        return fabricsInstanceTable().lookup(handle);
    }

    inline Target* toTarget(mxlFabricsTarget handle) noexcept
    {
        return targetTable().lookup(handle);
    }

    inline Initiator* toInitiator(mxlFabricsInitiator handle) noexcept
    {
        return initiatorTable().lookup(handle);
    }

    inline TargetInfo* toTargetInfo(mxlFabricsTargetInfo handle) noexcept
    {
        return targetInfoTable().lookup(handle);
    }
}
