// SPDX-License-Identifier: Apache-2.0
#pragma once

// The messages of the command ring: a request in the bytes of one ring slot, a reply in the bytes
// of one reply slot. Fixed-size fields at fixed offsets, little-endian (docs/remote-flows.md has the
// tables). Decoding is a pure function of the bytes that validates every field and names the first
// one that is wrong; it is fuzzed (tests/fuzz/CommandRequestFuzz.cpp).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "remote/CommandRingLayout.hpp"
#include "remote/ProcessIdentity.hpp"

namespace mxl::fabric::remote
{
    inline constexpr std::uint8_t requestVersion = 1;

    /// The reply slot of a request that wants no reply.
    inline constexpr std::uint32_t noReply = 0xFFFF'FFFFU;

    inline constexpr std::size_t maxHostLength = 176;
    inline constexpr std::size_t maxReasonLength = 80;
    /// The longest wait an Acquire may ask the bridge for.
    inline constexpr std::uint32_t maxAcquireTimeoutMs = 600'000;

    enum class RequestKind : std::uint8_t
    {
        Acquire = 1, ///< import a remote flow into this domain and lease it to the client
        Release = 2, ///< end a lease
    };

    struct AcquireRequest
    {
        std::string host; ///< the remote bridge: a DNS name or an IP address (IPv6 without brackets)
        std::uint16_t port{0};
        Uuid flowId{};
        std::uint32_t timeoutMs{0}; ///< how long the bridge may try before it replies Timeout

        friend bool operator==(AcquireRequest const&, AcquireRequest const&) = default;
    };

    struct ReleaseRequest
    {
        std::uint64_t leaseId{0};

        friend bool operator==(ReleaseRequest const&, ReleaseRequest const&) = default;
    };

    struct Request
    {
        ProcessIdentity client;
        std::uint64_t requestId{0};      ///< the client's own number for it, echoed in the reply
        std::uint32_t replySlot{noReply}; ///< where the reply goes, or noReply
        std::uint32_t replyGeneration{0}; ///< the reply slot's generation when the client claimed it
        std::variant<AcquireRequest, ReleaseRequest> body;

        [[nodiscard]] RequestKind kind() const noexcept
        {
            return body.index() == 0 ? RequestKind::Acquire : RequestKind::Release;
        }

        friend bool operator==(Request const&, Request const&) = default;
    };

    using EntryBytes = std::span<std::byte, layout::entrySize>;
    using ConstEntryBytes = std::span<std::byte const, layout::entrySize>;

    /// Writes request into a slot's bytes, for ring position `position`. Every byte is written
    /// (unused ones zero). Does not check the request: a bad one is refused by the decoder.
    void encodeRequest(Request const& request, std::uint64_t position, EntryBytes out) noexcept;

    /// The request in a slot's bytes taken from ring position `position`, for a ring of replyCount
    /// reply slots; or MXL_ERR_INVALID_ARG and a sentence naming the field that is wrong.
    Expected<Request> decodeRequest(ConstEntryBytes in, std::uint64_t position, std::uint32_t replyCount);

    /// The position a slot's bytes claim to be for (the decoder checks it against the real one).
    std::uint64_t entryPosition(ConstEntryBytes in) noexcept;

    /// The checksum over a slot's bytes (its own field counted as zero): catches the bytes of a
    /// producer that wrote on after its slot was reclaimed, not a forger.
    std::uint32_t entryChecksum(ConstEntryBytes in) noexcept;

    /// A reply's status, on the wire; toStatus maps it to the C API's.
    enum class ReplyStatus : std::uint32_t
    {
        Ok = 0,
        Timeout = 1,          ///< MXL_ERR_TIMEOUT
        NotFound = 2,         ///< MXL_ERR_NOT_FOUND: no such flow, lease or remote bridge
        NoFabric = 3,         ///< MXL_ERR_NO_FABRIC
        PermissionDenied = 4, ///< MXL_ERR_PERMISSION_DENIED: e.g. the client's identity does not check out
        InvalidArg = 5,       ///< MXL_ERR_INVALID_ARG: the request was refused by the decoder
        Busy = 6,             ///< MXL_ERR_NOT_READY: the client is over its rate; try later
        Internal = 7,         ///< MXL_ERR_INTERNAL
    };
    inline constexpr std::uint32_t replyStatusCount = 8;

    mxlStatus toStatus(ReplyStatus status) noexcept;

    struct Reply
    {
        ReplyStatus status{ReplyStatus::Ok};
        std::uint64_t requestId{0};
        std::uint64_t leaseId{0}; ///< the lease an Acquire was granted (0 otherwise)
        std::string reason;       ///< printable ASCII, at most maxReasonLength; cut if longer

        friend bool operator==(Reply const&, Reply const&) = default;
    };

    using ReplyBytes = std::span<std::byte, layout::replyBodySize>;
    using ConstReplyBytes = std::span<std::byte const, layout::replyBodySize>;

    void encodeReply(Reply const& reply, ReplyBytes out) noexcept;

    /// The reply in a reply slot's bytes, or MXL_ERR_INVALID_ARG naming the wrong field.
    Expected<Reply> decodeReply(ConstReplyBytes in);
}
