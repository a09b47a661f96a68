// SPDX-License-Identifier: Apache-2.0
#pragma once

// Registered memory, following whatever the domain's mr_mode imposes, so that callers only ever
// deal in desc() for local buffers and remoteRegion()/remoteAddress() for what a peer needs.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <rdma/fi_domain.h>

#include "base/Expected.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Endpoint.hpp"
#include "ofi/Fid.hpp"
#include "ofi/RemoteRegion.hpp"

namespace mxl::ofi
{
    /// Access flags a region may be registered with. Remote write is granted only where asked:
    /// a region registered for FI_WRITE (as a write source) cannot be written by a peer.
    inline constexpr std::uint64_t kMemoryAccessFlags = FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE | FI_SEND | FI_RECV;

    class MemoryRegion
    {
    public:
        /// Registers `memory` with `access` (a non-empty subset of kMemoryAccessFlags). When the
        /// provider chooses keys (FI_MR_PROV_KEY) its key is used, otherwise a random one is
        /// requested, so that a peer cannot guess the key of a region it was not granted. With
        /// FI_MR_ENDPOINT the region is bound to `endpoint` (then required) and enabled; it must
        /// then be destroyed before that endpoint.
        [[nodiscard]] static Expected<MemoryRegion> create(Domain& domain, std::span<std::byte const> memory, std::uint64_t access,
            Endpoint* endpoint = nullptr);

        /// The local descriptor to pass with buffers inside this region (needed under FI_MR_LOCAL,
        /// harmless elsewhere).
        [[nodiscard]] void* desc() const noexcept { return fi_mr_desc(_mr.get()); }

        /// The key a peer needs. A secret: never log it.
        [[nodiscard]] std::uint64_t key() const noexcept { return fi_mr_key(_mr.get()); }

        /// The address a peer must use to reach `p` (inside the region): the virtual address under
        /// FI_MR_VIRT_ADDR, otherwise the offset from the start of the region.
        [[nodiscard]] std::uint64_t remoteAddress(void const* p) const noexcept;

        /// What to send a peer so that it can write anywhere in this region.
        [[nodiscard]] RemoteRegion remoteRegion() const noexcept;

        [[nodiscard]] std::span<std::byte const> memory() const noexcept { return _memory; }

    private:
        MemoryRegion(FidPtr<fid_mr> mr, std::span<std::byte const> memory, bool virtualAddresses) noexcept;

        std::span<std::byte const> _memory;
        bool _virtualAddresses;
        FidPtr<fid_mr> _mr;
    };
}
