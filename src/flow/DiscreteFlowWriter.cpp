// SPDX-License-Identifier: Apache-2.0
#include "flow/DiscreteFlowWriter.hpp"

#include <atomic>
#include <cstring>

#include "common/Logging.hpp"
#include "time/Timing.hpp"

namespace mxl
{
    mxlStatus DiscreteFlowWriter::grainInfo(std::uint64_t index, mxlGrainInfo* out) const noexcept
    {
        if (out == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        std::memcpy(out, flow().grainHeader(static_cast<std::uint32_t>(index % flow().grainCount())), sizeof(mxlGrainInfo));
        return MXL_STATUS_OK;
    }

    void DiscreteFlowWriter::claimSlot(std::uint64_t index) noexcept
    {
        auto& f = flow();
        auto* header = f.grainHeader(static_cast<std::uint32_t>(index % f.grainCount()));
        // validSlices drops to 0 before the index changes, so a reader that sees the new index can
        // never pair it with the old grain's slice count.
        std::atomic_ref<std::uint16_t>{header->validSlices}.store(0, std::memory_order_relaxed);
        std::atomic_ref<std::uint32_t>{header->flags}.store(0, std::memory_order_relaxed);
        header->version = grainInfoVersion;
        header->size = sizeof(mxlGrainInfo);
        header->grainSize = f.grainSize();
        header->totalSlices = f.totalSlices();
        std::atomic_ref<std::uint64_t>{header->index}.store(index, std::memory_order_release);
    }

    void DiscreteFlowWriter::claim(std::uint64_t index) noexcept
    {
        auto* header = flow().grainHeader(static_cast<std::uint32_t>(index % flow().grainCount()));
        if (std::atomic_ref<std::uint64_t>{header->index}.load(std::memory_order_relaxed) != index)
        {
            claimSlot(index);
        }
    }

    mxlStatus DiscreteFlowWriter::openGrain(std::uint64_t index, mxlGrainInfo* out, std::uint8_t** payload) noexcept
    {
        if (out == nullptr || payload == nullptr || index == undefined)
        {
            return MXL_ERR_INVALID_ARG;
        }
        _openIndex = undefined;
        if (_keepArrived)
        {
            // A grain that a newer one has replaced in its slot is gone: reopening it would take the
            // slot (and the head) back from the newer grain.
            auto const* header = flow().grainHeader(static_cast<std::uint32_t>(index % flow().grainCount()));
            auto const held = std::atomic_ref<std::uint64_t const>{header->index}.load(std::memory_order_acquire);
            if (held != undefined && held > index)
            {
                return MXL_ERR_OUT_OF_RANGE_TOO_LATE;
            }
            claim(index);
        }
        else
        {
            claimSlot(index);
        }
        auto const slot = static_cast<std::uint32_t>(index % flow().grainCount());
        std::memcpy(out, flow().grainHeader(slot), sizeof(mxlGrainInfo));
        *payload = flow().grainPayload(slot);
        _openIndex = index;
        return MXL_STATUS_OK;
    }

    mxlStatus DiscreteFlowWriter::cancelGrain() noexcept
    {
        if (!grainOpen())
        {
            return MXL_ERR_INVALID_STATE;
        }
        _openIndex = undefined;
        return MXL_STATUS_OK;
    }

    mxlStatus DiscreteFlowWriter::commitGrain(mxlGrainInfo const& grain) noexcept
    {
        if (!grainOpen())
        {
            return MXL_ERR_INVALID_STATE;
        }
        if (grain.index != _openIndex)
        {
            return MXL_ERR_INVALID_ARG;
        }
        return publish(_openIndex, grain.validSlices, grain.flags);
    }

    mxlStatus DiscreteFlowWriter::commitArrived(std::uint64_t index, std::uint16_t validSlices, std::uint32_t flags) noexcept
    {
        if (index == undefined)
        {
            return MXL_ERR_INVALID_ARG;
        }
        claim(index);
        _openIndex = index;
        return publish(index, validSlices, flags);
    }

    mxlStatus DiscreteFlowWriter::publish(std::uint64_t index, std::uint16_t validSlices, std::uint32_t flags) noexcept
    {
        auto& f = flow();
        auto* header = f.grainHeader(static_cast<std::uint32_t>(index % f.grainCount()));
        std::atomic_ref<std::uint16_t> valid{header->validSlices};
        if (validSlices > f.totalSlices() || validSlices < valid.load(std::memory_order_relaxed))
        {
            return MXL_ERR_INVALID_ARG;
        }
        std::atomic_ref<std::uint32_t>{header->flags}.store(flags, std::memory_order_relaxed);
        valid.store(validSlices, std::memory_order_release);

        auto head = f.headIndex();
        auto const current = head.load(std::memory_order_relaxed);
        auto const grainCount = f.grainCount();
        if (index > current)
        {
            head.store(index, std::memory_order_release);
        }
        else if (index + grainCount <= current)
        {
            // Older than the whole ring: the writer rewound (restart, clock step). The head follows it
            // so that new grains are seen; slots still holding newer indices read as TOO_LATE.
            log().info("flow {}: writer rewound from grain {} to {}", formatUuid(f.id()), current, index);
            head.store(index, std::memory_order_release);
        }
        stampWrite(taiNow());
        f.signal();

        if (validSlices == f.totalSlices() || (flags & MXL_GRAIN_FLAG_INVALID) != 0)
        {
            _openIndex = undefined;
        }
        return MXL_STATUS_OK;
    }
}
