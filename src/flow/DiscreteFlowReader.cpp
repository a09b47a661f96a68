// SPDX-License-Identifier: Apache-2.0
#include "flow/DiscreteFlowReader.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace mxl
{
    mxlStatus DiscreteFlowReader::getGrain(std::uint64_t index, std::uint16_t minValidSlices, std::uint64_t timeoutNs, mxlGrainInfo* out,
        std::uint8_t** payload) noexcept
    {
        if (out == nullptr || payload == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto const status = waitFor(timeoutNs, [&] { return tryGetGrain(index, minValidSlices, out, payload); });
        if (status == MXL_STATUS_OK)
        {
            noteRead();
        }
        return status;
    }

    mxlStatus DiscreteFlowReader::tryGetGrain(std::uint64_t index, std::uint16_t minValidSlices, mxlGrainInfo* out,
        std::uint8_t** payload) const noexcept
    {
        auto& f = flow();
        auto const head = f.headIndex().load(std::memory_order_acquire);
        auto const grainCount = f.grainCount();
        if (index > head)
        {
            return MXL_ERR_OUT_OF_RANGE_TOO_EARLY;
        }
        if (index + grainCount <= head)
        {
            return MXL_ERR_OUT_OF_RANGE_TOO_LATE;
        }

        auto const slot = static_cast<std::uint32_t>(index % grainCount);
        auto const* header = f.grainHeader(slot);
        std::atomic_ref<std::uint64_t const> const slotIndex{header->index};
        auto const held = slotIndex.load(std::memory_order_acquire);
        if (held != index)
        {
            // The slot still holds an older grain (this one is not opened yet) or already a newer one.
            return held > index ? MXL_ERR_OUT_OF_RANGE_TOO_LATE : MXL_ERR_OUT_OF_RANGE_TOO_EARLY;
        }
        auto const valid = std::atomic_ref<std::uint16_t const>{header->validSlices}.load(std::memory_order_acquire);
        auto const flags = std::atomic_ref<std::uint32_t const>{header->flags}.load(std::memory_order_relaxed);
        auto const needed = std::min<std::uint16_t>(minValidSlices, f.totalSlices());
        if (valid < needed && (flags & MXL_GRAIN_FLAG_INVALID) == 0)
        {
            return MXL_ERR_OUT_OF_RANGE_TOO_EARLY;
        }

        std::memcpy(out, header, sizeof(mxlGrainInfo));
        out->validSlices = valid;
        out->flags = flags;
        out->index = index;
        // The writer may have reclaimed the slot while we copied: never hand out a header of another grain.
        if (slotIndex.load(std::memory_order_acquire) != index)
        {
            return MXL_ERR_OUT_OF_RANGE_TOO_LATE;
        }
        *payload = f.grainPayload(slot);
        return MXL_STATUS_OK;
    }
}
