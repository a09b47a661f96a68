// SPDX-License-Identifier: Apache-2.0
#include "remote/Requests.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <initializer_list>

#include <fmt/format.h>

#include "protocol/Wire.hpp"

namespace mxl::fabric::remote
{
    namespace
    {
        using wire::load;
        using wire::store;

        // A request's bytes (docs/remote-flows.md has the same table).
        constexpr std::size_t versionAt = 0;     // u8
        constexpr std::size_t kindAt = 1;        // u8
        constexpr std::size_t reserved0At = 2;   // u16, zero
        constexpr std::size_t replySlotAt = 4;   // u32
        constexpr std::size_t replyGenAt = 8;    // u32
        constexpr std::size_t pidAt = 12;        // u32
        constexpr std::size_t startTimeAt = 16;  // u64
        constexpr std::size_t requestIdAt = 24;  // u64
        constexpr std::size_t positionAt = 32;   // u64
        constexpr std::size_t checksumAt = 40;   // u32
        constexpr std::size_t reserved1At = 44;  // u32, zero
        constexpr std::size_t bodyAt = 48;
        // Acquire
        constexpr std::size_t portAt = 48;       // u16
        constexpr std::size_t hostLengthAt = 50; // u8
        constexpr std::size_t reserved2At = 51;  // u8, zero
        constexpr std::size_t timeoutAt = 52;    // u32
        constexpr std::size_t flowIdAt = 56;     // 16 bytes
        constexpr std::size_t hostAt = 72;       // maxHostLength bytes, zero after hostLength
        // Release
        constexpr std::size_t leaseIdAt = 48;    // u64, then zeros

        static_assert(hostAt + maxHostLength == layout::entrySize);
        static_assert(maxHostLength <= 0xFF);

        // A reply's bytes.
        constexpr std::size_t statusAt = 0;          // u32
        constexpr std::size_t reasonLengthAt = 4;    // u8
        constexpr std::size_t replyReservedAt = 5;   // 3 bytes, zero
        constexpr std::size_t replyRequestIdAt = 8;  // u64
        constexpr std::size_t replyLeaseIdAt = 16;   // u64
        constexpr std::size_t reasonAt = 24;         // maxReasonLength bytes, zero after reasonLength

        static_assert(reasonAt + maxReasonLength == layout::replyBodySize);

        constexpr std::uint32_t maxPid = 1U << 22; // the kernel's PID_MAX_LIMIT

        bool allZero(std::span<std::byte const> bytes) noexcept
        {
            static constexpr std::byte zeros[layout::entrySize]{};
            return bytes.size() <= sizeof zeros && std::memcmp(bytes.data(), zeros, bytes.size()) == 0;
        }

        bool hostCharacter(char c) noexcept
        {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '_' ||
                   c == '%';
        }

        Unexpected refuse(std::string_view field, std::string const& what)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("request field '{}': {}", field, what));
        }

        template<typename T>
        T get(std::span<std::byte const> in, std::size_t at) noexcept
        {
            return load<T>(in.data() + at);
        }
    }

    std::uint32_t entryChecksum(ConstEntryBytes in) noexcept
    {
        // Four independent lanes of an FNV-like multiply over the slot's little-endian 64-bit
        // words (the checksum's own bytes counted as zero), folded at the end: a dependency chain
        // of 8 multiplications instead of 31, as both sides compute it for every request.
        static_assert(layout::entrySize % 8 == 0 && checksumAt % 8 == 0);
        constexpr std::size_t words = layout::entrySize / 8;
        constexpr std::uint64_t prime = 0x0000'0100'0000'01b3ULL;
        auto const word = [&](std::size_t i) noexcept {
            std::uint64_t w;
            if constexpr (std::endian::native == std::endian::little)
            {
                std::memcpy(&w, in.data() + i * 8, 8); // what wire::load gives, in one load
            }
            else
            {
                w = load<std::uint64_t>(in.data() + i * 8);
            }
            return i * 8 == checksumAt ? w & 0xFFFF'FFFF'0000'0000ULL : w;
        };
        std::uint64_t a = 0xcbf2'9ce4'8422'2325ULL, b = 0x9e37'79b9'7f4a'7c15ULL, c = 0xc2b2'ae3d'27d4'eb4fULL, d = 0x1656'67b1'9e37'79f9ULL;
        std::size_t i = 0;
        for (; i + 4 <= words; i += 4)
        {
            a = (a ^ word(i)) * prime;
            b = (b ^ word(i + 1)) * prime;
            c = (c ^ word(i + 2)) * prime;
            d = (d ^ word(i + 3)) * prime;
        }
        for (; i < words; ++i)
        {
            a = (a ^ word(i)) * prime;
        }
        std::uint64_t h = 0;
        for (auto lane : {a, b, c, d})
        {
            lane ^= lane >> 29;
            h = (h ^ lane) * prime;
            h ^= h >> 32;
        }
        return static_cast<std::uint32_t>(h);
    }

    std::uint64_t entryPosition(ConstEntryBytes in) noexcept
    {
        return get<std::uint64_t>(in, positionAt);
    }

    void encodeRequest(Request const& request, std::uint64_t position, EntryBytes out) noexcept
    {
        std::memset(out.data(), 0, out.size());
        auto* const p = out.data();
        store(requestVersion, p + versionAt);
        store(static_cast<std::uint8_t>(request.kind()), p + kindAt);
        store(request.replySlot, p + replySlotAt);
        store(request.replyGeneration, p + replyGenAt);
        store(request.client.pid, p + pidAt);
        store(request.client.startTime, p + startTimeAt);
        store(request.requestId, p + requestIdAt);
        store(position, p + positionAt);
        if (auto const* acquire = std::get_if<AcquireRequest>(&request.body))
        {
            auto const length = std::min(acquire->host.size(), maxHostLength);
            store(acquire->port, p + portAt);
            store(static_cast<std::uint8_t>(length), p + hostLengthAt);
            store(acquire->timeoutMs, p + timeoutAt);
            std::memcpy(p + flowIdAt, acquire->flowId.data(), acquire->flowId.size());
            std::memcpy(p + hostAt, acquire->host.data(), length);
        }
        else
        {
            store(std::get<ReleaseRequest>(request.body).leaseId, p + leaseIdAt);
        }
        store(entryChecksum(out), p + checksumAt);
    }

    Expected<Request> decodeRequest(ConstEntryBytes in, std::uint64_t position, std::uint32_t replyCount)
    {
        if (auto const version = get<std::uint8_t>(in, versionAt); version != requestVersion)
        {
            return refuse("version", fmt::format("{} is not this ring's version {}", version, requestVersion));
        }
        if (auto const sum = get<std::uint32_t>(in, checksumAt), expected = entryChecksum(in); sum != expected)
        {
            return refuse("checksum", fmt::format("{:#010x} does not match the bytes ({:#010x}): torn or damaged", sum, expected));
        }
        if (auto const claimed = get<std::uint64_t>(in, positionAt); claimed != position)
        {
            return refuse("position", fmt::format("{} is not the slot's position {}: a late write into a reclaimed slot", claimed, position));
        }
        if (get<std::uint16_t>(in, reserved0At) != 0 || get<std::uint32_t>(in, reserved1At) != 0)
        {
            return refuse("reserved", "must be zero");
        }
        Request r;
        r.replySlot = get<std::uint32_t>(in, replySlotAt);
        if (r.replySlot != noReply && r.replySlot >= replyCount)
        {
            return refuse("replySlot", fmt::format("{} is beyond the ring's {} reply slots", r.replySlot, replyCount));
        }
        r.replyGeneration = get<std::uint32_t>(in, replyGenAt);
        if (r.replyGeneration >= (1U << (32 - layout::generationShift)))
        {
            return refuse("replyGeneration", fmt::format("{} does not fit the 30 bits of a generation", r.replyGeneration));
        }
        r.client.pid = get<std::uint32_t>(in, pidAt);
        if (r.client.pid == 0 || r.client.pid > maxPid)
        {
            return refuse("clientPid", fmt::format("{} is not a pid (1 to {})", r.client.pid, maxPid));
        }
        r.client.startTime = get<std::uint64_t>(in, startTimeAt);
        if (r.client.startTime == 0)
        {
            return refuse("clientStartTime", "is zero");
        }
        r.requestId = get<std::uint64_t>(in, requestIdAt);
        auto const body = in.subspan(bodyAt);
        switch (auto const kind = get<std::uint8_t>(in, kindAt); kind)
        {
        case static_cast<std::uint8_t>(RequestKind::Acquire):
        {
            AcquireRequest a;
            a.port = get<std::uint16_t>(in, portAt);
            if (a.port == 0)
            {
                return refuse("port", "is zero");
            }
            if (get<std::uint8_t>(in, reserved2At) != 0)
            {
                return refuse("reserved", "must be zero");
            }
            a.timeoutMs = get<std::uint32_t>(in, timeoutAt);
            if (a.timeoutMs > maxAcquireTimeoutMs)
            {
                return refuse("timeoutMs", fmt::format("{} is above the limit of {}", a.timeoutMs, maxAcquireTimeoutMs));
            }
            std::memcpy(a.flowId.data(), in.data() + flowIdAt, a.flowId.size());
            if (a.flowId == Uuid{})
            {
                return refuse("flowId", "is the nil UUID");
            }
            auto const length = get<std::uint8_t>(in, hostLengthAt);
            if (length == 0 || length > maxHostLength)
            {
                return refuse("hostLength", fmt::format("{} is not between 1 and {}", length, maxHostLength));
            }
            a.host.assign(reinterpret_cast<char const*>(in.data() + hostAt), length);
            if (!std::all_of(a.host.begin(), a.host.end(), hostCharacter) || a.host.front() == '-')
            {
                return refuse("host", "holds a character that is in no host name or address");
            }
            if (!allZero(in.subspan(hostAt + length)))
            {
                return refuse("host", "is not zero after its length");
            }
            r.body = std::move(a);
            break;
        }
        case static_cast<std::uint8_t>(RequestKind::Release):
        {
            ReleaseRequest rel{get<std::uint64_t>(in, leaseIdAt)};
            if (rel.leaseId == 0)
            {
                return refuse("leaseId", "is zero");
            }
            if (!allZero(body.subspan(8)))
            {
                return refuse("body", "a Release is zero after its lease id");
            }
            r.body = rel;
            break;
        }
        default:
            return refuse("kind", fmt::format("{} is no request kind (1 Acquire, 2 Release)", kind));
        }
        return r;
    }

    mxlStatus toStatus(ReplyStatus status) noexcept
    {
        switch (status)
        {
        case ReplyStatus::Ok: return MXL_STATUS_OK;
        case ReplyStatus::Timeout: return MXL_ERR_TIMEOUT;
        case ReplyStatus::NotFound: return MXL_ERR_NOT_FOUND;
        case ReplyStatus::NoFabric: return MXL_ERR_NO_FABRIC;
        case ReplyStatus::PermissionDenied: return MXL_ERR_PERMISSION_DENIED;
        case ReplyStatus::InvalidArg: return MXL_ERR_INVALID_ARG;
        case ReplyStatus::Busy: return MXL_ERR_NOT_READY;
        case ReplyStatus::Internal: return MXL_ERR_INTERNAL;
        }
        return MXL_ERR_UNKNOWN;
    }

    void encodeReply(Reply const& reply, ReplyBytes out) noexcept
    {
        std::memset(out.data(), 0, out.size());
        auto* const p = out.data();
        std::size_t length = 0;
        for (auto c : reply.reason)
        {
            if (length == maxReasonLength)
            {
                break;
            }
            p[reasonAt + length++] = static_cast<std::byte>(c >= 0x20 && c < 0x7F ? c : '?');
        }
        store(static_cast<std::uint32_t>(reply.status), p + statusAt);
        store(static_cast<std::uint8_t>(length), p + reasonLengthAt);
        store(reply.requestId, p + replyRequestIdAt);
        store(reply.leaseId, p + replyLeaseIdAt);
    }

    Expected<Reply> decodeReply(ConstReplyBytes in)
    {
        auto const status = get<std::uint32_t>(in, statusAt);
        if (status >= replyStatusCount)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("reply field 'status': {} is no reply status", status));
        }
        auto const length = get<std::uint8_t>(in, reasonLengthAt);
        if (length > maxReasonLength)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("reply field 'reasonLength': {} is above {}", length, maxReasonLength));
        }
        if (!allZero(in.subspan(replyReservedAt, 3)) || !allZero(in.subspan(reasonAt + length)))
        {
            return fail(MXL_ERR_INVALID_ARG, "reply field 'reserved': must be zero");
        }
        Reply r;
        r.status = static_cast<ReplyStatus>(status);
        r.requestId = get<std::uint64_t>(in, replyRequestIdAt);
        r.leaseId = get<std::uint64_t>(in, replyLeaseIdAt);
        r.reason.assign(reinterpret_cast<char const*>(in.data() + reasonAt), length);
        if (!std::all_of(r.reason.begin(), r.reason.end(), [](char c) { return c >= 0x20 && c < 0x7F; }))
        {
            return fail(MXL_ERR_INVALID_ARG, "reply field 'reason': not printable ASCII");
        }
        return r;
    }
}
