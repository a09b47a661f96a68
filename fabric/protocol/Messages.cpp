// SPDX-License-Identifier: Apache-2.0
#include "protocol/Messages.hpp"

#include <fmt/format.h>

#include "flow/FlowLayout.hpp"
#include "protocol/BounceHeader.hpp"
#include "protocol/CommitRecord.hpp"
#include "protocol/Wire.hpp"

namespace mxl::fabric
{
    namespace
    {
        constexpr std::size_t maxNameLength = 255;
        constexpr std::uint32_t maxRegions = maxGrainCount;

        Unexpected malformed(char const* message, std::string_view what)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("malformed {}: {}", message, what));
        }

        static_assert(messageHeaderSize == frameHeaderSize);

        /// A writer with the frame's header begun; finish() ends the frame.
        WireWriter framed(MessageType type)
        {
            WireWriter w;
            beginFrame(w, messageMagic, protocolVersion, static_cast<std::uint16_t>(type));
            return w;
        }

        std::vector<std::byte> finish(WireWriter& w)
        {
            endFrame(w);
            return std::move(w.data());
        }

        /// Checks the frame and returns a reader over the body.
        Expected<WireReader> unframe(std::span<std::byte const> message, MessageType expected, char const* name)
        {
            auto type = peekMessageType(message);
            if (!type)
            {
                return type.take_error();
            }
            if (*type != expected)
            {
                return malformed(name, fmt::format("message type {} where {} was expected", static_cast<int>(*type), static_cast<int>(expected)));
            }
            return WireReader{message.subspan(messageHeaderSize)};
        }

        // The flow's configuration, field by field in the order of mxlFlowConfigInfo (on a
        // little-endian host the same bytes as the struct, which has no padding). The union is written
        // as the view the format uses; the other view's bytes are the same bytes.
        void putConfig(WireWriter& w, mxlFlowConfigInfo const& c)
        {
            auto const& m = c.common;
            w.bytes(std::as_bytes(std::span{m.id}));
            w.put(m.format);
            w.put(m.flags);
            w.put(m.grainRate.numerator);
            w.put(m.grainRate.denominator);
            w.put(m.maxCommitBatchSizeHint);
            w.put(m.maxSyncBatchSizeHint);
            w.put(m.payloadLocation);
            w.put(m.deviceIndex);
            w.bytes(std::as_bytes(std::span{m.reserved}));
            if (mxlIsDiscreteDataFormat(m.format))
            {
                for (auto const size : c.discrete.sliceSizes)
                {
                    w.put(size);
                }
                w.put(c.discrete.grainCount);
                w.bytes(std::as_bytes(std::span{c.discrete.reserved}));
            }
            else
            {
                w.put(c.continuous.channelCount);
                w.put(c.continuous.bufferLength);
                w.bytes(std::as_bytes(std::span{c.continuous.reserved}));
            }
        }

        bool getConfig(WireReader& r, mxlFlowConfigInfo& c) noexcept
        {
            auto& m = c.common;
            if (!r.fixed(std::as_writable_bytes(std::span{m.id})) || !r.get(m.format) || !r.get(m.flags) || !r.get(m.grainRate.numerator) ||
                !r.get(m.grainRate.denominator) || !r.get(m.maxCommitBatchSizeHint) || !r.get(m.maxSyncBatchSizeHint) ||
                !r.get(m.payloadLocation) || !r.get(m.deviceIndex) || !r.fixed(std::as_writable_bytes(std::span{m.reserved})))
            {
                return false;
            }
            if (mxlIsDiscreteDataFormat(m.format))
            {
                for (auto& size : c.discrete.sliceSizes)
                {
                    if (!r.get(size))
                    {
                        return false;
                    }
                }
                return r.get(c.discrete.grainCount) && r.fixed(std::as_writable_bytes(std::span{c.discrete.reserved}));
            }
            return r.get(c.continuous.channelCount) && r.get(c.continuous.bufferLength) &&
                   r.fixed(std::as_writable_bytes(std::span{c.continuous.reserved}));
        }
        static_assert(sizeof(mxlFlowConfigInfo) == 192 && sizeof(mxlDiscreteFlowConfigInfo) == sizeof(mxlContinuousFlowConfigInfo),
            "putConfig and getConfig write every byte of the configuration");

        void putRegion(WireWriter& w, ofi::RemoteRegion const& r)
        {
            w.put(r.address);
            w.put(r.length);
            w.put(r.key);
        }

        bool getRegion(WireReader& r, ofi::RemoteRegion& out) noexcept
        {
            return r.get(out.address) && r.get(out.length) && r.get(out.key);
        }
    }

    Expected<MessageType> peekMessageType(std::span<std::byte const> message)
    {
        auto const header = readFrameHeader(message);
        if (!header)
        {
            return malformed("message", fmt::format("{} bytes is shorter than the {}-byte header", message.size(), messageHeaderSize));
        }
        auto const [magic, version, type, length] = *header;
        auto const remaining = message.size() - frameHeaderSize;
        if (magic != messageMagic)
        {
            return malformed("message", "bad magic (not an mxl-fabric message)");
        }
        if (version != protocolVersion)
        {
            return fail(MXL_ERR_UNSUPPORTED_OPERATION,
                fmt::format("peer speaks protocol version {}; this build speaks version {}", version, protocolVersion));
        }
        if (length != remaining)
        {
            return malformed("message", fmt::format("body length field says {} bytes, {} present", length, remaining));
        }
        if (type != static_cast<std::uint16_t>(MessageType::FlowOffer) && type != static_cast<std::uint16_t>(MessageType::RegionGrant))
        {
            return malformed("message", fmt::format("unknown message type {}", type));
        }
        return static_cast<MessageType>(type);
    }

    std::vector<std::byte> encode(FlowOffer const& offer)
    {
        auto w = framed(MessageType::FlowOffer);
        w.bytes(std::as_bytes(std::span{offer.flowId}));
        putConfig(w, offer.config);
        w.put(offer.grainSize);
        w.put(offer.totalSlices);
        w.put(offer.sampleWordSize);
        w.string32(offer.flowDef);
        return finish(w);
    }

    Expected<FlowOffer> decodeFlowOffer(std::span<std::byte const> message)
    {
        auto reader = unframe(message, MessageType::FlowOffer, "flow offer");
        if (!reader)
        {
            return reader.take_error();
        }
        auto& r = *reader;
        FlowOffer offer;
        std::span<std::byte const> id;
        if (!r.bytes(offer.flowId.size(), id) || !getConfig(r, offer.config) || !r.get(offer.grainSize) || !r.get(offer.totalSlices) ||
            !r.get(offer.sampleWordSize) || !r.string<std::uint32_t>(offer.flowDef, maxFlowDefinitionSize))
        {
            return malformed("flow offer", "truncated or over-long field");
        }
        if (r.remaining() != 0)
        {
            return malformed("flow offer", fmt::format("{} trailing bytes", r.remaining()));
        }
        std::memcpy(offer.flowId.data(), id.data(), offer.flowId.size());
        if (std::memcmp(offer.flowId.data(), offer.config.common.id, offer.flowId.size()) != 0)
        {
            return malformed("flow offer", "flow id differs from the configuration's id");
        }
        auto const& c = offer.config;
        if (!mxlIsSupportedDataFormat(c.common.format))
        {
            return malformed("flow offer", fmt::format("unsupported data format {}", c.common.format));
        }
        if (c.common.grainRate.numerator <= 0 || c.common.grainRate.denominator <= 0)
        {
            return malformed("flow offer", "invalid grain rate");
        }
        if (mxlIsDiscreteDataFormat(c.common.format))
        {
            std::uint64_t sliceBytes = 0;
            for (auto const s : c.discrete.sliceSizes)
            {
                sliceBytes += s;
            }
            if (c.discrete.grainCount == 0 || c.discrete.grainCount > maxGrainCount || offer.totalSlices == 0 ||
                sliceBytes * offer.totalSlices != offer.grainSize)
            {
                return malformed("flow offer", fmt::format("inconsistent grain geometry ({} grains, {} slices of {} bytes, grain size {})",
                                                   c.discrete.grainCount, offer.totalSlices, sliceBytes, offer.grainSize));
            }
        }
        else if (c.continuous.channelCount == 0 || c.continuous.channelCount > maxChannelCount || c.continuous.bufferLength < 2 ||
                 c.continuous.bufferLength > (1U << 30) || (offer.sampleWordSize != 4 && offer.sampleWordSize != 8))
        {
            return malformed("flow offer", "inconsistent channel geometry");
        }
        return offer;
    }

    std::vector<std::byte> encode(RegionGrant const& grant)
    {
        auto w = framed(MessageType::RegionGrant);
        w.bytes(std::as_bytes(std::span{grant.flowId}));
        w.put(grant.epoch);
        w.bytes(grant.connectKey);
        w.string16(grant.provider);
        w.put(static_cast<std::uint8_t>(grant.transfer));
        w.string16(grant.node);
        w.string16(grant.service);
        putRegion(w, grant.commitRing);
        w.put(grant.commitEntries);
        w.put(static_cast<std::uint32_t>(grant.regions.size()));
        w.put(grant.maxChunk);
        w.put(static_cast<std::uint16_t>(grant.address.size()));
        w.bytes(grant.address);
        for (auto const& region : grant.regions)
        {
            putRegion(w, region);
        }
        return finish(w);
    }

    Expected<RegionGrant> decodeRegionGrant(std::span<std::byte const> message)
    {
        auto reader = unframe(message, MessageType::RegionGrant, "region grant");
        if (!reader)
        {
            return reader.take_error();
        }
        auto& r = *reader;
        RegionGrant grant;
        std::span<std::byte const> id;
        std::uint8_t transfer = 0;
        std::uint32_t count = 0;
        std::uint16_t addressLength = 0;
        if (!r.bytes(grant.flowId.size(), id) || !r.get(grant.epoch) || !r.fixed(grant.connectKey) ||
            !r.string<std::uint16_t>(grant.provider, maxNameLength) ||
            !r.get(transfer) || !r.string<std::uint16_t>(grant.node, maxNameLength) || !r.string<std::uint16_t>(grant.service, maxNameLength) ||
            !getRegion(r, grant.commitRing) || !r.get(grant.commitEntries) || !r.get(count) || !r.get(grant.maxChunk) ||
            !r.get(addressLength))
        {
            return malformed("region grant", "truncated or over-long field");
        }
        if (addressLength > maxDataAddressSize)
        {
            return malformed("region grant", fmt::format("a data endpoint address of {} bytes (at most {})", addressLength, maxDataAddressSize));
        }
        std::span<std::byte const> address;
        if (!r.bytes(addressLength, address))
        {
            return malformed("region grant", "truncated data endpoint address");
        }
        grant.address.assign(address.begin(), address.end());
        std::memcpy(grant.flowId.data(), id.data(), grant.flowId.size());
        if (grant.epoch == 0)
        {
            return malformed("region grant", "epoch 0");
        }
        if (transfer != static_cast<std::uint8_t>(Transfer::Rma) && transfer != static_cast<std::uint8_t>(Transfer::SendReceive))
        {
            return malformed("region grant", fmt::format("unknown transfer mode {}", transfer));
        }
        grant.transfer = static_cast<Transfer>(transfer);
        if (count > maxRegions)
        {
            return malformed("region grant", fmt::format("{} regions (at most {})", count, maxRegions));
        }
        if (r.remaining() != static_cast<std::size_t>(count) * 24)
        {
            return malformed("region grant", fmt::format("{} regions announced, {} bytes follow", count, r.remaining()));
        }
        grant.regions.resize(count);
        for (auto& region : grant.regions)
        {
            if (!getRegion(r, region))
            {
                return malformed("region grant", "truncated region");
            }
        }
        if (grant.transfer == Transfer::Rma)
        {
            if (grant.commitEntries == 0 || grant.commitEntries > 65536 ||
                grant.commitRing.length != static_cast<std::uint64_t>(grant.commitEntries) * sizeof(CommitRecord))
            {
                return malformed("region grant", "commit ring size does not match its entry count");
            }
            if (grant.regions.empty())
            {
                return malformed("region grant", "no regions granted");
            }
            return grant;
        }
        if (!grant.address.empty())
        {
            return malformed("region grant", "a send/receive grant for a reliable-datagram endpoint (only RMA runs over those)");
        }
        // Send/receive needs neither, but whatever is announced stays bounded and consistent.
        if (grant.commitEntries > 65536 || grant.commitRing.length != static_cast<std::uint64_t>(grant.commitEntries) * sizeof(CommitRecord))
        {
            return malformed("region grant", "commit ring size does not match its entry count");
        }
        if (grant.maxChunk == 0 || grant.maxChunk > maxBounceChunkSize)
        {
            return malformed("region grant", fmt::format("send/receive chunk of {} bytes (1 to {})", grant.maxChunk, maxBounceChunkSize));
        }
        return grant;
    }
}
