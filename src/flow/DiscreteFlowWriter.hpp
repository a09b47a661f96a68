// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

#include <mxl/mxl.h>
#include "flow/FlowWriter.hpp"

namespace mxl
{
    /// Writes grains in place. At most one grain is open at a time; partial commits publish slices
    /// progressively.
    class DiscreteFlowWriter final : public FlowWriter
    {
    public:
        using FlowWriter::FlowWriter;

        mxlStatus grainInfo(std::uint64_t index, mxlGrainInfo* out) const noexcept;
        mxlStatus openGrain(std::uint64_t index, mxlGrainInfo* out, std::uint8_t** payload) noexcept;
        mxlStatus cancelGrain() noexcept;
        mxlStatus commitGrain(mxlGrainInfo const& grain) noexcept;

        /// Publishes slices that are already in the slot (the bridge's mirror: the bytes arrived by
        /// RDMA). Claims the slot if it holds another index. Same rules as commitGrain otherwise.
        mxlStatus commitArrived(std::uint64_t index, std::uint16_t validSlices, std::uint32_t flags) noexcept;

        /// Makes the slot of index hold index with no valid slices, unless it already does: a mirror
        /// calls this for the grain it expects next, so that readers stop reading the slot's old
        /// grain before new bytes land in it.
        void claim(std::uint64_t index) noexcept;

        [[nodiscard]] bool grainOpen() const noexcept
        {
            return _openIndex != undefined;
        }

        /// For the writer of a fabrics target (mxl/fabrics.h): grains land in its flow from the fabric
        /// and are published as they land, and the application then opens and commits each one, as
        /// MXL's fabrics API asks. Opening a grain its slot already holds then opens it as it is
        /// (its valid slices stay readable) instead of starting it over, so that this commit changes
        /// nothing; a grain that a newer one already replaced is OUT_OF_RANGE_TOO_LATE. Any other
        /// writer starts a reopened grain over.
        void openArrivedGrainsAsTheyAre() noexcept
        {
            _keepArrived = true;
        }

    private:
        static constexpr std::uint64_t undefined = UINT64_MAX;

        void claimSlot(std::uint64_t index) noexcept;
        mxlStatus publish(std::uint64_t index, std::uint16_t validSlices, std::uint32_t flags) noexcept;

        std::uint64_t _openIndex{undefined};
        bool _keepArrived{false};
    };
}
