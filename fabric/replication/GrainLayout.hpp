// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <mxl/flowinfo.h>

namespace mxl::fabric
{
    /// A byte range inside a grain's payload.
    struct ByteRange
    {
        std::size_t offset;
        std::size_t length;
    };

    /// Where slices live in a grain: planes one after the other (v210a: fill, then key), each
    /// totalSlices slices of its own slice size.
    class GrainLayout
    {
    public:
        GrainLayout(std::uint32_t const (&sliceSizes)[MXL_MAX_PLANES_PER_GRAIN], std::uint16_t totalSlices) noexcept
            : _totalSlices{totalSlices}
        {
            std::size_t offset = 0;
            for (std::size_t p = 0; p < MXL_MAX_PLANES_PER_GRAIN && sliceSizes[p] != 0; ++p)
            {
                _planes[p] = {offset, sliceSizes[p]};
                offset += static_cast<std::size_t>(sliceSizes[p]) * totalSlices;
                ++_planeCount;
            }
        }

        /// The bytes of slices [first, last) of every plane; returns how many ranges were written.
        std::size_t ranges(std::uint16_t first, std::uint16_t last, std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN>& out) const noexcept
        {
            for (std::size_t p = 0; p < _planeCount; ++p)
            {
                out[p] = {_planes[p].offset + first * _planes[p].length, static_cast<std::size_t>(last - first) * _planes[p].length};
            }
            return _planeCount;
        }

        [[nodiscard]] std::size_t bytes(std::uint16_t first, std::uint16_t last) const noexcept
        {
            std::size_t total = 0;
            for (std::size_t p = 0; p < _planeCount; ++p)
            {
                total += static_cast<std::size_t>(last - first) * _planes[p].length;
            }
            return total;
        }

        [[nodiscard]] std::uint16_t totalSlices() const noexcept
        {
            return _totalSlices;
        }

    private:
        std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN> _planes{};
        std::size_t _planeCount{0};
        std::uint16_t _totalSlices;
    };
}
