// SPDX-License-Identifier: Apache-2.0
#include "ofi/MemoryRegion.hpp"

#include <cassert>
#include <cerrno>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include <rdma/fi_errno.h>

#include "base/Random.hpp"
#include "ofi/Error.hpp"

namespace mxl::ofi
{
    namespace
    {
        // Enough attempts that a collision with an existing key is never the reason to give up.
        constexpr int kKeyAttempts = 8;

        bool randomKey(std::size_t keySize, std::uint64_t& key) noexcept
        {
            if (!fillRandom(std::as_writable_bytes(std::span{&key, 1})))
            {
                return false;
            }
            if (keySize > 0 && keySize < sizeof(key))
            {
                key &= (std::uint64_t{1} << (keySize * 8)) - 1;
            }
            return true;
        }
    }

    Expected<MemoryRegion> MemoryRegion::create(Domain& domain, std::span<std::byte const> memory, std::uint64_t access, Endpoint* endpoint)
    {
        auto const provider = domain.providerName();
        auto const mode = domain.mrMode();
        if (access == 0 || (access & ~kMemoryAccessFlags) != 0)
        {
            return fail(MXL_ERR_INVALID_ARG,
                "memory registration needs access flags among read, write, remote read, remote write, send, recv");
        }
        if (memory.empty())
        {
            return fail(MXL_ERR_INVALID_ARG, "cannot register an empty memory range");
        }
        auto const bindToEndpoint = (mode & FI_MR_ENDPOINT) != 0;
        if (bindToEndpoint && endpoint == nullptr)
        {
            return fail(MXL_ERR_INVALID_ARG,
                "provider " + std::string{provider} + " binds memory regions to endpoints (FI_MR_ENDPOINT): pass one");
        }

        auto const providerKeys = (mode & FI_MR_PROV_KEY) != 0;
        fid_mr* mr = nullptr;
        long rc = -FI_ENOKEY;
        for (int attempt = 0; attempt < kKeyAttempts && rc == -FI_ENOKEY; ++attempt)
        {
            auto requestedKey = std::uint64_t{0};
            if (!providerKeys && !randomKey(domain.mrKeySize(), requestedKey))
            {
                return fail(MXL_ERR_INTERNAL, std::string{"no random bytes for a memory region key (getrandom: "} + std::strerror(errno) + ")");
            }
            rc = fi_mr_reg(domain.raw(), memory.data(), memory.size(), access, 0, requestedKey, 0, &mr, nullptr);
            if (providerKeys)
            {
                break;
            }
        }
        if (rc != 0)
        {
            return fiFail("fi_mr_reg", provider, rc);
        }
        auto owned = FidPtr<fid_mr>{mr};

        if (bindToEndpoint)
        {
            if (auto const bound = fi_mr_bind(mr, endpoint->fid(), 0); bound != 0)
            {
                return fiFail("fi_mr_bind", provider, bound);
            }
            if (auto const enabled = fi_mr_enable(mr); enabled != 0)
            {
                return fiFail("fi_mr_enable", provider, enabled);
            }
        }
        return MemoryRegion{std::move(owned), memory, (mode & FI_MR_VIRT_ADDR) != 0};
    }

    MemoryRegion::MemoryRegion(FidPtr<fid_mr> mr, std::span<std::byte const> memory, bool virtualAddresses) noexcept
        : _memory{memory}
        , _virtualAddresses{virtualAddresses}
        , _mr{std::move(mr)}
    {}

    std::uint64_t MemoryRegion::remoteAddress(void const* p) const noexcept
    {
        auto const* byte = static_cast<std::byte const*>(p);
        assert(byte >= _memory.data() && byte <= _memory.data() + _memory.size());
        if (_virtualAddresses)
        {
            return reinterpret_cast<std::uintptr_t>(byte);
        }
        return static_cast<std::uint64_t>(byte - _memory.data());
    }

    RemoteRegion MemoryRegion::remoteRegion() const noexcept
    {
        return RemoteRegion{remoteAddress(_memory.data()), _memory.size(), key()};
    }
}
