// SPDX-License-Identifier: Apache-2.0
#pragma once

// The control channel between two bridges: TCP carrying TLS 1.3 with the pre-shared key (Tls.hpp,
// Connection.hpp); inside it, one frame per message.
//
//   frame   = magic "MXLC" (u32 LE) | version (u16) | type (u16) | body length (u32) | body
//
// Protocol 2. After the TLS handshake (which proves that both sides hold the key) a session starts
// with Hello both ways, then Capabilities both ways. After that: Catalogue, Subscribe/Unsubscribe,
// Offer/Grant (carrying the fabric layer's FlowOffer and RegionGrant, each tagged with the exporter's
// offer epoch), Started, FlowGone, Heartbeat(Reply), Error and Goodbye. Protocol 1 sent these frames
// in clear text with an HMAC trailer after a Hello/Auth challenge-response; its Auth (type 2) does not
// exist in protocol 2, and a protocol-1 peer is refused by name (Connection.hpp).
// Decoders check every length, count and enumeration and refuse anything malformed with
// MXL_ERR_INVALID_ARG and a message naming the message type and field; they never read past their
// input. All integers are little-endian; strings are u16-length-prefixed UTF-8.
// A body holds the message's fields in declaration order: ids as raw bytes, bools as one byte (0 or
// 1), lists as a u32 count then the elements, byte blobs as a u32 length then the bytes. Every message
// compares with == (for tests, and to tell whether a Catalogue changed).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"

namespace mxl::bridge
{
    inline constexpr std::uint32_t controlMagic = 0x434C584DU; // "MXLC" little-endian
    inline constexpr std::uint16_t controlVersion = 2;
    inline constexpr std::size_t controlHeaderSize = 12;
    /// Largest body accepted (an Offer carries a flow definition of up to 64 KiB; a Grant one region
    /// descriptor per grain slot).
    inline constexpr std::size_t maxControlBody = 1024 * 1024;
    /// A catalogue is sent in pages: at most this many entries each (each well under 2.1 KiB, so that a
    /// page stays far below maxControlBody however long the labels), and at most maxCataloguePages pages.
    inline constexpr std::size_t maxCatalogueEntries = 256;
    inline constexpr std::uint32_t maxCataloguePages = 4096;
    /// A Grant's region grant is sent in parts of at most maxGrantChunk bytes, at most maxGrantParts of
    /// them (4 MiB: a ring of 100,000 grain slots needs about 2.4 MB of region descriptors). Parts this
    /// small also leave room between them for other sessions' messages and heartbeats.
    inline constexpr std::size_t maxGrantChunk = 64 * 1024;
    inline constexpr std::uint32_t maxGrantParts = 64;
    inline constexpr std::size_t maxProviders = 32;
    inline constexpr std::size_t maxTextSize = 1024; ///< Labels, reasons, provider names.
    inline constexpr std::size_t macSize = 32;

    using Mac = std::array<std::byte, macSize>;

    enum class ControlType : std::uint16_t
    {
        Hello = 1,
        RetiredAuth = 2, ///< Protocol 1's Auth; refused as an unknown type.
        Capabilities = 3,
        CatalogueRequest = 4,
        Catalogue = 5,
        Subscribe = 6,
        Unsubscribe = 7,
        Offer = 8,
        Grant = 9,
        Started = 10,
        FlowGone = 11,
        Heartbeat = 12,
        HeartbeatReply = 13,
        Error = 14,
        Goodbye = 15,
    };

    /// First message both ways. flags bit 0: this bridge runs --insecure (no key); both sides must agree.
    struct Hello
    {
        std::uint16_t minVersion{controlVersion};
        std::uint16_t maxVersion{controlVersion};
        Uuid bridgeId{};
        std::uint8_t flags{0};
        std::string software; ///< "mxl-fabric-bridge 0.1", for logs.

        bool operator==(Hello const&) const = default;
    };
    inline constexpr std::uint8_t helloInsecure = 0x01;

    /// Holds the place of protocol 1's Auth (type 2) in ControlMessage, whose alternatives follow the
    /// type numbers; never sent, and refused when received.
    struct RetiredAuth
    {
        bool operator==(RetiredAuth const&) const = default;
    };

    /// Data transfers a bridge can take part in (bit set).
    inline constexpr std::uint8_t transferRma = 0x01;
    inline constexpr std::uint8_t transferSendReceive = 0x02;

    struct Capabilities
    {
        std::vector<std::string> providers; ///< Replication-capable providers, best first ("verbs", "tcp").
        std::uint32_t cqDataSize{0};        ///< Immediate data bytes the best provider offers.
        std::uint32_t maxMessageSize{0};    ///< Largest control body this bridge accepts.
        std::uint8_t transfers{0};

        bool operator==(Capabilities const&) const = default;
    };

    struct CatalogueRequest
    {
        bool operator==(CatalogueRequest const&) const = default;
    };

    struct CatalogueEntry
    {
        Uuid flowId{};
        std::string label;
        std::string format; ///< "video", "audio", "data", ...
        bool active{false}; ///< A writer holds the flow.

        bool operator==(CatalogueEntry const&) const = default;
    };

    /// The flows this bridge exports, sent after Capabilities, on request and whenever it changes.
    /// Exporter -> importer: page `page` of `pages` of the exported flows.
    struct Catalogue
    {
        std::uint32_t page{0};
        std::uint32_t pages{1};
        std::vector<CatalogueEntry> flows;

        bool operator==(Catalogue const&) const = default;
    };

    struct Subscribe
    {
        Uuid flowId{};

        bool operator==(Subscribe const&) const = default;
    };

    struct Unsubscribe
    {
        Uuid flowId{};

        bool operator==(Unsubscribe const&) const = default;
    };

    /// Exporter -> importer: the flow is there; flowOffer is fabric::encode(FlowOffer). offerEpoch is
    /// new for every offer, and a Grant must quote it.
    struct Offer
    {
        Uuid flowId{};
        std::uint64_t offerEpoch{0};
        std::vector<std::byte> flowOffer;

        bool operator==(Offer const&) const = default;
    };

    /// Importer -> exporter: where to write; regionGrant is fabric::encode(RegionGrant). Contains keys.
    /// Importer -> exporter: part `part` of `parts` of the encoded RegionGrant for an offer; the exporter
    /// joins the parts in order (Bridge).
    struct Grant
    {
        Uuid flowId{};
        std::uint64_t offerEpoch{0};
        std::uint32_t part{0};
        std::uint32_t parts{1};
        std::vector<std::byte> regionGrant;

        bool operator==(Grant const&) const = default;
    };

    /// Exporter -> importer: the sender for that grant is connected and running.
    struct Started
    {
        Uuid flowId{};
        std::uint64_t offerEpoch{0};

        bool operator==(Started const&) const = default;
    };

    /// Exporter -> importer: the source flow was removed or recreated; the mirror must go.
    struct FlowGone
    {
        Uuid flowId{};
        std::uint64_t offerEpoch{0};
        std::string reason;

        bool operator==(FlowGone const&) const = default;
    };

    /// Times are TAI nanoseconds since the SMPTE epoch (mxlGetTime()).
    struct Heartbeat
    {
        std::uint64_t sequence{0};
        std::uint64_t sendTime{0};

        bool operator==(Heartbeat const&) const = default;
    };

    struct HeartbeatReply
    {
        std::uint64_t sequence{0};
        std::uint64_t echoTime{0};    ///< The Heartbeat's sendTime (t1).
        std::uint64_t receiveTime{0}; ///< When the Heartbeat arrived (t2).
        std::uint64_t sendTime{0};    ///< When this reply left (t3).

        bool operator==(HeartbeatReply const&) const = default;
    };

    /// code is an mxlStatus; flowId is nil for errors about the whole session.
    struct ControlError
    {
        std::int32_t code{0};
        Uuid flowId{};
        std::string reason;

        bool operator==(ControlError const&) const = default;
    };

    struct Goodbye
    {
        std::string reason;

        bool operator==(Goodbye const&) const = default;
    };

    using ControlMessage = std::variant<Hello, RetiredAuth, Capabilities, CatalogueRequest, Catalogue, Subscribe, Unsubscribe, Offer, Grant, Started,
        FlowGone, Heartbeat, HeartbeatReply, ControlError, Goodbye>;

    /// "Hello", "Offer", ... for logs.
    [[nodiscard]] char const* controlTypeName(ControlType type) noexcept;
    [[nodiscard]] ControlType controlType(ControlMessage const& message) noexcept;

    /// The whole frame (header and body). Text longer than maxTextSize is cut to it at
    /// a UTF-8 character boundary; counts and byte blobs are the caller's to keep within the limits
    /// above (a Catalogue of many long labels can exceed maxControlBody), else the peer refuses the frame.
    [[nodiscard]] std::vector<std::byte> encodeControl(ControlMessage const& message);

    /// The body length announced by a frame header, after checking magic, version, type and that
    /// the length is at most maxControlBody. header must hold at least controlHeaderSize bytes (fewer
    /// is an error). Errors: MXL_ERR_UNSUPPORTED_OPERATION for another protocol version, else
    /// MXL_ERR_INVALID_ARG.
    Expected<std::size_t> controlBodySize(std::span<std::byte const> header);

    /// Decodes one whole frame (header and body); trailing bytes are an error.
    Expected<ControlMessage> decodeControl(std::span<std::byte const> frame);
}
