// SPDX-License-Identifier: Apache-2.0
#include "control/Protocol.hpp"

#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "control/BodyReader.hpp"
#include "protocol/Wire.hpp"

namespace mxl::bridge
{
    namespace
    {
        using fabric::WireReader;
        using fabric::WireWriter;
        using namespace codec;

        // ControlType values are the variant's alternative indices plus one.
        static_assert(std::variant_size_v<ControlMessage> == static_cast<std::size_t>(ControlType::Goodbye));
        static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(ControlType::Offer) - 1, ControlMessage>, Offer>);
        static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(ControlType::Error) - 1, ControlMessage>, ControlError>);

        static_assert(controlHeaderSize == fabric::frameHeaderSize);

        bool knownType(std::uint16_t type) noexcept
        {
            return type >= static_cast<std::uint16_t>(ControlType::Hello) && type <= static_cast<std::uint16_t>(ControlType::Goodbye) &&
                   type != static_cast<std::uint16_t>(ControlType::RetiredAuth);
        }

        void write(WireWriter& w, Hello const& m)
        {
            w.put(m.minVersion);
            w.put(m.maxVersion);
            putUuid(w, m.bridgeId);
            w.put(m.flags);
            putText(w, m.software);
        }

        bool read(BodyReader& r, Hello& m)
        {
            if (!r.get("minVersion", m.minVersion) || !r.get("maxVersion", m.maxVersion) || !r.uuid("bridgeId", m.bridgeId) ||
                !r.get("flags", m.flags) || !r.text("software", m.software))
            {
                return false;
            }
            if (m.minVersion == 0 || m.minVersion > m.maxVersion)
            {
                return r.refuse(fmt::format("version range {}..{} is empty", m.minVersion, m.maxVersion));
            }
            return (m.flags & ~helloInsecure) == 0 || r.refuse(fmt::format("unknown flags 0x{:02x}", m.flags));
        }

        void write(WireWriter&, RetiredAuth const&) {}

        bool read(BodyReader& r, RetiredAuth&)
        {
            return r.refuse("protocol 1's Auth does not exist in protocol 2");
        }

        void write(WireWriter& w, Capabilities const& m)
        {
            w.put(static_cast<std::uint32_t>(m.providers.size()));
            for (auto const& provider : m.providers)
            {
                putText(w, provider);
            }
            w.put(m.cqDataSize);
            w.put(m.maxMessageSize);
            w.put(m.transfers);
        }

        bool read(BodyReader& r, Capabilities& m)
        {
            std::uint32_t count = 0;
            if (!r.count("providers count", maxProviders, count))
            {
                return false;
            }
            m.providers.resize(count);
            for (std::size_t i = 0; i < count; ++i)
            {
                if (!r.text("name", m.providers[i]))
                {
                    return r.inElement("providers", i);
                }
            }
            if (!r.get("cqDataSize", m.cqDataSize) || !r.get("maxMessageSize", m.maxMessageSize) || !r.get("transfers", m.transfers))
            {
                return false;
            }
            return (m.transfers & ~(transferRma | transferSendReceive)) == 0 || r.refuse(fmt::format("unknown transfers 0x{:02x}", m.transfers));
        }

        void write(WireWriter&, CatalogueRequest const&)
        {}

        bool read(BodyReader&, CatalogueRequest&)
        {
            return true;
        }

        /// part < parts, 1 <= parts <= max.
        bool pageOf(BodyReader& r, char const* what, std::uint32_t& part, std::uint32_t& parts, std::uint32_t max)
        {
            if (!r.get(what, part) || !r.get("of", parts))
            {
                return false;
            }
            if (parts == 0 || parts > max || part >= parts)
            {
                return r.refuse(fmt::format("{} {} of {} (at most {})", what, part, parts, max));
            }
            return true;
        }

        void write(WireWriter& w, Catalogue const& m)
        {
            w.put(m.page);
            w.put(m.pages);
            w.put(static_cast<std::uint32_t>(m.flows.size()));
            for (auto const& entry : m.flows)
            {
                putUuid(w, entry.flowId);
                putText(w, entry.label);
                putText(w, entry.format);
                w.put(static_cast<std::uint8_t>(entry.active ? 1 : 0));
            }
        }

        bool read(BodyReader& r, Catalogue& m)
        {
            std::uint32_t count = 0;
            if (!pageOf(r, "page", m.page, m.pages, maxCataloguePages) || !r.count("flows count", maxCatalogueEntries, count))
            {
                return false;
            }
            for (std::size_t i = 0; i < count; ++i)
            {
                auto& entry = m.flows.emplace_back();
                if (!r.uuid("flowId", entry.flowId) || !r.text("label", entry.label) || !r.text("format", entry.format) ||
                    !r.flag("active", entry.active))
                {
                    return r.inElement("flows", i);
                }
            }
            return true;
        }

        void write(WireWriter& w, Subscribe const& m)
        {
            putUuid(w, m.flowId);
        }

        bool read(BodyReader& r, Subscribe& m)
        {
            return r.uuid("flowId", m.flowId);
        }

        void write(WireWriter& w, Unsubscribe const& m)
        {
            putUuid(w, m.flowId);
        }

        bool read(BodyReader& r, Unsubscribe& m)
        {
            return r.uuid("flowId", m.flowId);
        }

        void write(WireWriter& w, Offer const& m)
        {
            putUuid(w, m.flowId);
            w.put(m.offerEpoch);
            putBlob(w, m.flowOffer);
        }

        bool read(BodyReader& r, Offer& m)
        {
            return r.uuid("flowId", m.flowId) && r.epoch(m.offerEpoch) && r.blob("flowOffer", m.flowOffer);
        }

        void write(WireWriter& w, Grant const& m)
        {
            putUuid(w, m.flowId);
            w.put(m.offerEpoch);
            w.put(m.part);
            w.put(m.parts);
            putBlob(w, m.regionGrant);
        }

        bool read(BodyReader& r, Grant& m)
        {
            if (!r.uuid("flowId", m.flowId) || !r.epoch(m.offerEpoch) || !pageOf(r, "part", m.part, m.parts, maxGrantParts) ||
                !r.blob("regionGrant", m.regionGrant))
            {
                return false;
            }
            return m.regionGrant.size() <= maxGrantChunk ||
                   r.refuse(fmt::format("a region grant part of {} bytes (at most {})", m.regionGrant.size(), maxGrantChunk));
        }

        void write(WireWriter& w, Started const& m)
        {
            putUuid(w, m.flowId);
            w.put(m.offerEpoch);
        }

        bool read(BodyReader& r, Started& m)
        {
            return r.uuid("flowId", m.flowId) && r.epoch(m.offerEpoch);
        }

        void write(WireWriter& w, FlowGone const& m)
        {
            putUuid(w, m.flowId);
            w.put(m.offerEpoch);
            putText(w, m.reason);
        }

        bool read(BodyReader& r, FlowGone& m)
        {
            return r.uuid("flowId", m.flowId) && r.epoch(m.offerEpoch) && r.text("reason", m.reason);
        }

        void write(WireWriter& w, Heartbeat const& m)
        {
            w.put(m.sequence);
            w.put(m.sendTime);
        }

        bool read(BodyReader& r, Heartbeat& m)
        {
            return r.get("sequence", m.sequence) && r.get("sendTime", m.sendTime);
        }

        void write(WireWriter& w, HeartbeatReply const& m)
        {
            w.put(m.sequence);
            w.put(m.echoTime);
            w.put(m.receiveTime);
            w.put(m.sendTime);
        }

        bool read(BodyReader& r, HeartbeatReply& m)
        {
            return r.get("sequence", m.sequence) && r.get("echoTime", m.echoTime) && r.get("receiveTime", m.receiveTime) &&
                   r.get("sendTime", m.sendTime);
        }

        void write(WireWriter& w, ControlError const& m)
        {
            w.put(m.code);
            putUuid(w, m.flowId);
            putText(w, m.reason);
        }

        bool read(BodyReader& r, ControlError& m)
        {
            return r.get("code", m.code) && r.uuid("flowId", m.flowId) && r.text("reason", m.reason);
        }

        void write(WireWriter& w, Goodbye const& m)
        {
            putText(w, m.reason);
        }

        bool read(BodyReader& r, Goodbye& m)
        {
            return r.text("reason", m.reason);
        }

        template<typename Message>
        Expected<ControlMessage> decodeBody(std::span<std::byte const> body, char const* name)
        {
            BodyReader r{body, name};
            Message message{};
            if (!read(r, message) || !r.end())
            {
                return r.error();
            }
            return ControlMessage{std::move(message)};
        }

        using BodyDecoder = Expected<ControlMessage> (*)(std::span<std::byte const>, char const*);

        template<std::size_t... Index>
        constexpr std::array<BodyDecoder, sizeof...(Index)> bodyDecoders(std::index_sequence<Index...>) noexcept
        {
            return {&decodeBody<std::variant_alternative_t<Index, ControlMessage>>...};
        }

        constexpr auto decoders = bodyDecoders(std::make_index_sequence<std::variant_size_v<ControlMessage>>{});
    }

    char const* controlTypeName(ControlType type) noexcept
    {
        switch (type)
        {
            case ControlType::Hello: return "Hello";
            case ControlType::RetiredAuth: return "Auth (protocol 1)";
            case ControlType::Capabilities: return "Capabilities";
            case ControlType::CatalogueRequest: return "CatalogueRequest";
            case ControlType::Catalogue: return "Catalogue";
            case ControlType::Subscribe: return "Subscribe";
            case ControlType::Unsubscribe: return "Unsubscribe";
            case ControlType::Offer: return "Offer";
            case ControlType::Grant: return "Grant";
            case ControlType::Started: return "Started";
            case ControlType::FlowGone: return "FlowGone";
            case ControlType::Heartbeat: return "Heartbeat";
            case ControlType::HeartbeatReply: return "HeartbeatReply";
            case ControlType::Error: return "Error";
            case ControlType::Goodbye: return "Goodbye";
        }
        return "unknown";
    }

    ControlType controlType(ControlMessage const& message) noexcept
    {
        return static_cast<ControlType>(message.index() + 1);
    }

    std::vector<std::byte> encodeControl(ControlMessage const& message)
    {
        WireWriter w;
        fabric::beginFrame(w, controlMagic, controlVersion, static_cast<std::uint16_t>(controlType(message)));
        std::visit([&w](auto const& m) { write(w, m); }, message);
        fabric::endFrame(w);
        return std::move(w.data());
    }

    Expected<std::size_t> controlBodySize(std::span<std::byte const> header)
    {
        auto const frame = fabric::readFrameHeader(header);
        if (!frame)
        {
            return fail(MXL_ERR_INVALID_ARG,
                fmt::format("control frame: {} bytes is shorter than the {}-byte header", header.size(), controlHeaderSize));
        }
        auto const [magic, version, type, length] = *frame;
        if (magic != controlMagic)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("control frame: bad magic 0x{:08x} (not an mxl-fabric-bridge control connection)", magic));
        }
        if (version != controlVersion)
        {
            return fail(MXL_ERR_UNSUPPORTED_OPERATION,
                fmt::format("control frame: peer speaks control protocol version {}; this bridge speaks version {}", version, controlVersion));
        }
        if (!knownType(type))
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("control frame: unknown message type {}", type));
        }
        if (length > maxControlBody)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("control message {}: body length {} exceeds {}",
                                                 controlTypeName(static_cast<ControlType>(type)), length, maxControlBody));
        }
        return std::size_t{length};
    }

    Expected<ControlMessage> decodeControl(std::span<std::byte const> frame)
    {
        auto bodySize = controlBodySize(frame);
        if (!bodySize)
        {
            return bodySize.take_error();
        }
        auto const type = fabric::readFrameHeader(frame)->type; // known and valid: controlBodySize checked it
        auto const* name = controlTypeName(static_cast<ControlType>(type));
        auto const body = frame.subspan(controlHeaderSize);
        if (body.size() != bodySize.value())
        {
            return fail(MXL_ERR_INVALID_ARG,
                fmt::format("control message {}: body length field says {} bytes, {} present", name, bodySize.value(), body.size()));
        }
        return decoders[type - 1](body, name);
    }
}
