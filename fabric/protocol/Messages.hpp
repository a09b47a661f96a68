// SPDX-License-Identifier: Apache-2.0
#pragma once

// The two messages that set up replication of one flow between a source and a sink:
//   FlowOffer   (source -> sink): the flow's definition and header configuration, so that the sink
//                can create a mirror with the same id, geometry and ring length.
//   RegionGrant (sink -> source): where the source may write: the mirror's grain payload areas
//                (or audio channels), the commit ring, the fabric address to connect to, the
//                session epoch, and the key the source proves it holds when it connects (see
//                ConnectProof.hpp). Keys in a grant are secrets: never log a grant. A SendReceive grant
//                carries no regions and no commit ring: the source sends messages of at most maxChunk
//                payload bytes instead (see BounceHeader.hpp). Encoded as flowId, epoch, connect key,
//                provider, transfer, node, service, commit ring, commit entries, region count,
//                maxChunk, data address (u16 length, bytes), regions.
// Both are framed as: magic "MXLF" (u32), version (u16), type (u16), body length (u32), body.
// Decoders check every length and count and refuse anything malformed with MXL_ERR_INVALID_ARG and
// a message naming the field; they never read past their input.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <mxl/flowinfo.h>
#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "ofi/RemoteRegion.hpp"
#include "protocol/ConnectProof.hpp"

namespace mxl::fabric
{
    inline constexpr std::uint32_t messageMagic = 0x464C584DU; // "MXLF" little-endian
    /// 1: offers, grants, commit records. 2: sink credit (Claim records, CreditRecord messages): a
    /// source of version 1 would never claim, and a sink of version 1 refuses Claim records, so the
    /// two do not mix; the offer or grant of the other version is refused naming both versions.
    /// 3: the grant carries the data endpoint's connect key, and a source connects with a proof of it
    /// (a sink of version 3 refuses a connection without one).
    /// 4: the grant carries the sink's data endpoint address for connectionless (FI_EP_RDM) endpoints;
    /// a version 3 source would try to connect to a sink that does not listen.
    inline constexpr std::uint16_t protocolVersion = 4;
    /// The largest data endpoint address a grant carries (fi_getname: efa 32 bytes, shm a name).
    inline constexpr std::size_t maxDataAddressSize = 256;
    inline constexpr std::size_t messageHeaderSize = 12;
    inline constexpr std::size_t maxFlowDefinitionSize = 64 * 1024;
    inline constexpr std::size_t maxMessageSize = 4 * 1024 * 1024;

    enum class MessageType : std::uint16_t
    {
        FlowOffer = 1,
        RegionGrant = 2,
    };

    struct FlowOffer
    {
        Uuid flowId{};
        mxlFlowConfigInfo config{};
        std::uint32_t grainSize{0};      ///< Discrete flows.
        std::uint16_t totalSlices{0};    ///< Discrete flows.
        std::uint16_t sampleWordSize{0}; ///< Continuous flows.
        std::string flowDef;
    };

    /// How the source moves bytes to this sink.
    enum class Transfer : std::uint8_t
    {
        Rma = 1,         ///< RDMA writes into the granted regions, commit records with immediate data.
        SendReceive = 2, ///< Messages into the sink's bounce buffers, copied on arrival.
    };

    struct RegionGrant
    {
        Uuid flowId{};
        std::uint64_t epoch{0};          ///< Non-zero; a restarted sink has a new one.
        ConnectKey connectKey{};         ///< Secret: proves a connection to the data endpoint comes from this grant's holder.
        std::string provider;            ///< libfabric provider name, e.g. "tcp".
        Transfer transfer{Transfer::Rma};
        std::string node;                ///< Where the sink listens (connected endpoints).
        std::string service;
        ofi::RemoteRegion commitRing{};
        std::uint32_t commitEntries{0};
        std::vector<ofi::RemoteRegion> regions; ///< One per grain slot, or one for all channels.
        /// SendReceive: the most payload bytes one message may carry (the sink's bounce buffers).
        std::uint32_t maxChunk{0};
        /// The sink's reliable-datagram (FI_EP_RDM) endpoint, as fi_getname gave it: the source inserts
        /// it into its address vector. Empty for connected endpoints (node and service then).
        std::vector<std::byte> address;
    };

    std::vector<std::byte> encode(FlowOffer const& offer);
    std::vector<std::byte> encode(RegionGrant const& grant);

    Expected<FlowOffer> decodeFlowOffer(std::span<std::byte const> message);
    Expected<RegionGrant> decodeRegionGrant(std::span<std::byte const> message);

    /// The type of a framed message, after checking magic, version and length.
    Expected<MessageType> peekMessageType(std::span<std::byte const> message);
}
