// SPDX-License-Identifier: Apache-2.0
#include "mxl-gen/FlowDefinitions.hpp"

#include <nlohmann/json.hpp>

namespace mxl::gen
{
    namespace
    {
        nlohmann::json common(FlowIdentity const& who, std::string const& role, char const* format, std::string const& mediaType)
        {
            return {
                {"id", who.id},
                {"label", who.label},
                {"description", "mxl-gen test signal"},
                {"format", format},
                {"media_type", mediaType},
                {"tags", {{"urn:x-nmos:tag:grouphint/v1.0", nlohmann::json::array({who.group + ":" + role})}}},
                {"parents", nlohmann::json::array()},
            };
        }

        nlohmann::json rational(mxlRational const& r)
        {
            return {{"numerator", r.numerator}, {"denominator", r.denominator}};
        }
    }

    std::string videoFlowDefinition(FlowIdentity const& who, std::string const& mediaType, std::uint32_t width, std::uint32_t height,
        mxlRational rate)
    {
        auto def = common(who, "video", "urn:x-nmos:format:video", mediaType);
        def["grain_rate"] = rational(rate);
        def["frame_width"] = width;
        def["frame_height"] = height;
        def["interlace_mode"] = "progressive";
        def["colorspace"] = "BT709";
        def["transfer_characteristic"] = "SDR";
        auto component = [](char const* name, std::uint32_t w, std::uint32_t h) {
            return nlohmann::json{{"name", name}, {"width", w}, {"height", h}, {"bit_depth", 10}};
        };
        def["components"] = nlohmann::json::array({component("Y", width, height), component("Cb", width / 2, height), component("Cr", width / 2, height)});
        if (mediaType == "video/v210a")
        {
            def["components"].push_back(component("A", width, height));
        }
        return def.dump();
    }

    std::string audioFlowDefinition(FlowIdentity const& who, std::uint32_t channels, mxlRational sampleRate)
    {
        auto def = common(who, "audio", "urn:x-nmos:format:audio", "audio/float32");
        def["sample_rate"] = rational(sampleRate);
        def["channel_count"] = channels;
        def["bit_depth"] = 32;
        return def.dump();
    }

    std::string ancFlowDefinition(FlowIdentity const& who, mxlRational rate)
    {
        auto def = common(who, "anc", "urn:x-nmos:format:data", "video/smpte291");
        def["grain_rate"] = rational(rate);
        def["DID_SDID"] = nlohmann::json::array({nlohmann::json{{"DID", "0x60"}, {"SDID", "0x60"}}});
        return def.dump();
    }
}
