// SPDX-License-Identifier: Apache-2.0
#include "flow/FlowDefinition.hpp"

#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mxl
{
    namespace
    {
        using nlohmann::json;

        constexpr std::int64_t maxRateNumerator = 1'000'000'000LL;
        constexpr std::uint32_t maxChannels = 1024;

        Unexpected bad(std::string message)
        {
            return fail(MXL_ERR_UNKNOWN, "invalid flow definition: " + std::move(message));
        }

        Expected<json> parseJson(std::string_view text, std::string_view what)
        {
            try
            {
                return json::parse(text);
            }
            catch (json::exception const& e)
            {
                return fail(MXL_ERR_UNKNOWN, fmt::format("{} is not valid JSON: {}", what, e.what()));
            }
        }

        Expected<std::string> requiredString(json const& obj, char const* field)
        {
            auto const it = obj.find(field);
            if (it == obj.end())
            {
                return bad(fmt::format("missing field '{}'", field));
            }
            if (!it->is_string())
            {
                return bad(fmt::format("field '{}' must be a string", field));
            }
            return it->get<std::string>();
        }

        Expected<std::int64_t> integerField(json const& obj, char const* field, char const* parent)
        {
            auto const it = obj.find(field);
            if (it == obj.end())
            {
                return bad(fmt::format("missing field '{}.{}'", parent, field));
            }
            if (!it->is_number_integer())
            {
                return bad(fmt::format("field '{}.{}' must be an integer", parent, field));
            }
            return it->get<std::int64_t>();
        }

        Expected<mxlRational> rateField(json const& obj, char const* field)
        {
            auto const it = obj.find(field);
            if (it == obj.end())
            {
                return bad(fmt::format("missing field '{}'", field));
            }
            if (!it->is_object())
            {
                return bad(fmt::format("field '{}' must be an object with 'numerator' and optional 'denominator'", field));
            }
            auto num = integerField(*it, "numerator", field);
            if (!num)
            {
                return num.take_error();
            }
            std::int64_t den = 1;
            if (it->contains("denominator"))
            {
                auto d = integerField(*it, "denominator", field);
                if (!d)
                {
                    return d.take_error();
                }
                den = *d;
            }
            if (*num <= 0 || *num > maxRateNumerator)
            {
                return bad(fmt::format("'{}.numerator' is {}; it must be between 1 and {}", field, *num, maxRateNumerator));
            }
            if (den <= 0 || den > maxRateNumerator)
            {
                return bad(fmt::format("'{}.denominator' is {}; it must be between 1 and {}", field, den, maxRateNumerator));
            }
            return mxlRational{*num, den};
        }

        Expected<std::int64_t> boundedInteger(json const& obj, char const* field, std::int64_t lo, std::int64_t hi)
        {
            auto const it = obj.find(field);
            if (it == obj.end())
            {
                return bad(fmt::format("missing field '{}'", field));
            }
            if (!it->is_number_integer())
            {
                return bad(fmt::format("field '{}' must be an integer", field));
            }
            auto const v = it->get<std::int64_t>();
            if (v < lo || v > hi)
            {
                return bad(fmt::format("'{}' is {}; it must be between {} and {}", field, v, lo, hi));
            }
            return v;
        }

        Expected<void> parseGroupHints(json const& root, FlowDefinition& def)
        {
            auto const tags = root.find("tags");
            if (tags == root.end() || !tags->is_object())
            {
                return bad("missing object 'tags' (it must hold 'urn:x-nmos:tag:grouphint/v1.0')");
            }
            auto const hints = tags->find("urn:x-nmos:tag:grouphint/v1.0");
            if (hints == tags->end() || !hints->is_array() || hints->empty())
            {
                return bad("'tags[\"urn:x-nmos:tag:grouphint/v1.0\"]' must be a non-empty array");
            }
            for (auto const& hint : *hints)
            {
                if (!hint.is_string())
                {
                    return bad("every group hint must be a string 'group:role'");
                }
                auto const text = hint.get<std::string>();
                auto const colon = text.find(':');
                if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
                {
                    return bad(fmt::format("group hint '{}' is not of the form 'group:role'", text));
                }
                def.groupHints.push_back(text);
            }
            return {};
        }

        Expected<void> parseVideo(json const& root, FlowDefinition& def)
        {
            auto width = boundedInteger(root, "frame_width", 2, 7680);
            if (!width)
            {
                return width.take_error();
            }
            auto height = boundedInteger(root, "frame_height", 1, 4320);
            if (!height)
            {
                return height.take_error();
            }
            auto const w = static_cast<std::uint64_t>(*width);
            auto h = static_cast<std::uint64_t>(*height);
            def.width = static_cast<std::uint32_t>(w);
            def.height = static_cast<std::uint32_t>(h);

            auto interlaced = false;
            if (auto const it = root.find("interlace_mode"); it != root.end())
            {
                if (!it->is_string())
                {
                    return bad("field 'interlace_mode' must be a string");
                }
                auto const mode = it->get<std::string>();
                if (mode == "interlaced_tff" || mode == "interlaced_bff")
                {
                    interlaced = true;
                }
                else if (mode != "progressive" && mode != "interlaced_psf")
                {
                    return bad(fmt::format("'interlace_mode' is '{}'; expected progressive, interlaced_tff, interlaced_bff or interlaced_psf",
                        mode));
                }
            }
            if (interlaced)
            {
                if (h % 2 != 0)
                {
                    return bad(fmt::format("'frame_height' is {}; interlaced video needs an even height", h));
                }
                // As in MXL: an interlaced grain_rate is a frame rate, 30000/1001 or 25/1 (in any
                // unreduced form); the flow then runs at the field rate, twice that.
                auto const divisor = std::gcd(def.rate.numerator, def.rate.denominator);
                auto const frames = mxlRational{def.rate.numerator / divisor, def.rate.denominator / divisor};
                if (!((frames.numerator == 30000 && frames.denominator == 1001) || (frames.numerator == 25 && frames.denominator == 1)))
                {
                    return bad(fmt::format("'grain_rate' is {}/{}; interlaced video ('interlace_mode' {}) needs the frame rate 30000/1001 or 25/1",
                        def.rate.numerator, def.rate.denominator, root.at("interlace_mode").get<std::string>()));
                }
                h /= 2;
                def.rate = mxlRational{frames.numerator * 2, frames.denominator};
            }

            std::uint64_t const line = (w + 47) / 48 * 128;
            def.sliceSizes[0] = static_cast<std::uint32_t>(line);
            std::uint64_t sliceBytes = line;
            if (def.mediaType == "video/v210a")
            {
                std::uint64_t const keyLine = (w + 2) / 3 * 4;
                def.sliceSizes[1] = static_cast<std::uint32_t>(keyLine);
                sliceBytes += keyLine;
            }
            def.totalSlices = static_cast<std::uint16_t>(h);
            def.grainSize = static_cast<std::uint32_t>(sliceBytes * h);
            return {};
        }

        Expected<void> parseAudio(json const& root, FlowDefinition& def)
        {
            auto channels = boundedInteger(root, "channel_count", 1, maxChannels);
            if (!channels)
            {
                return channels.take_error();
            }
            auto depth = boundedInteger(root, "bit_depth", 32, 64);
            if (!depth)
            {
                return depth.take_error();
            }
            if (*depth != 32 && *depth != 64)
            {
                return bad(fmt::format("'bit_depth' is {}; audio/float32 flows use 32 or 64", *depth));
            }
            def.channelCount = static_cast<std::uint32_t>(*channels);
            def.sampleWordSize = static_cast<std::uint32_t>(*depth / 8);
            return {};
        }
    }

    Expected<FlowDefinition> parseFlowDefinition(std::string_view text)
    {
        auto parsed = parseJson(text, "flow definition");
        if (!parsed)
        {
            return parsed.take_error();
        }
        json const& root = *parsed;
        if (!root.is_object())
        {
            return bad("the top level must be a JSON object");
        }

        FlowDefinition def;
        def.json = std::string{text};

        auto id = requiredString(root, "id");
        if (!id)
        {
            return id.take_error();
        }
        auto const uuid = parseUuid(*id);
        if (!uuid)
        {
            return bad(fmt::format("'id' is '{}', not a UUID", *id));
        }
        def.id = *uuid;

        auto label = requiredString(root, "label");
        if (!label)
        {
            return label.take_error();
        }
        if (label->empty())
        {
            return bad("'label' is empty");
        }
        def.label = std::move(*label);

        if (auto hints = parseGroupHints(root, def); !hints)
        {
            return hints.take_error();
        }

        auto format = requiredString(root, "format");
        if (!format)
        {
            return format.take_error();
        }
        auto mediaType = requiredString(root, "media_type");
        if (!mediaType)
        {
            return mediaType.take_error();
        }
        def.mediaType = std::move(*mediaType);

        if (*format == "urn:x-nmos:format:video")
        {
            def.format = MXL_DATA_FORMAT_VIDEO;
            if (def.mediaType != "video/v210" && def.mediaType != "video/v210a")
            {
                return bad(fmt::format("'media_type' is '{}'; video flows support video/v210 and video/v210a", def.mediaType));
            }
            auto rate = rateField(root, "grain_rate");
            if (!rate)
            {
                return rate.take_error();
            }
            def.rate = *rate;
            if (auto video = parseVideo(root, def); !video)
            {
                return video.take_error();
            }
        }
        else if (*format == "urn:x-nmos:format:data")
        {
            def.format = MXL_DATA_FORMAT_DATA;
            if (def.mediaType != "video/smpte291")
            {
                return bad(fmt::format("'media_type' is '{}'; data flows support video/smpte291", def.mediaType));
            }
            auto rate = rateField(root, "grain_rate");
            if (!rate)
            {
                return rate.take_error();
            }
            def.rate = *rate;
            def.sliceSizes[0] = 1;
            def.totalSlices = MXL_DATA_FORMAT_GRAIN_SIZE;
            def.grainSize = MXL_DATA_FORMAT_GRAIN_SIZE;
        }
        else if (*format == "urn:x-nmos:format:audio")
        {
            def.format = MXL_DATA_FORMAT_AUDIO;
            if (def.mediaType != "audio/float32")
            {
                return bad(fmt::format("'media_type' is '{}'; audio flows support audio/float32", def.mediaType));
            }
            auto rate = rateField(root, "sample_rate");
            if (!rate)
            {
                return rate.take_error();
            }
            def.rate = *rate;
            if (auto audio = parseAudio(root, def); !audio)
            {
                return audio.take_error();
            }
        }
        else
        {
            return bad(fmt::format("'format' is '{}'; expected urn:x-nmos:format:video, audio or data", *format));
        }
        return def;
    }

    Expected<WriterOptions> parseWriterOptions(char const* text)
    {
        WriterOptions options;
        if (text == nullptr || *text == '\0')
        {
            return options;
        }
        auto parsed = parseJson(text, "writer options");
        if (!parsed)
        {
            return parsed.take_error();
        }
        if (!parsed->is_object())
        {
            return fail(MXL_ERR_UNKNOWN, "writer options must be a JSON object");
        }
        auto hint = [&](char const* field, std::uint32_t& out) -> Expected<void> {
            auto const it = parsed->find(field);
            if (it == parsed->end())
            {
                return {};
            }
            if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > std::numeric_limits<std::uint32_t>::max())
            {
                return fail(MXL_ERR_UNKNOWN, fmt::format("writer option '{}' must be an integer of at least 1", field));
            }
            out = it->get<std::uint32_t>();
            return {};
        };
        if (auto r = hint("maxCommitBatchSizeHint", options.maxCommitBatchSizeHint); !r)
        {
            return r.take_error();
        }
        if (auto r = hint("maxSyncBatchSizeHint", options.maxSyncBatchSizeHint); !r)
        {
            return r.take_error();
        }
        return options;
    }

    Expected<DomainOptions> parseDomainOptions(std::string_view text, DomainOptions base, std::string_view origin)
    {
        auto parsed = parseJson(text, origin);
        if (!parsed)
        {
            return parsed.take_error();
        }
        if (!parsed->is_object())
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("{} must be a JSON object", origin));
        }
        if (auto const it = parsed->find(historyOptionKey); it != parsed->end())
        {
            // Between one millisecond and one hour: shorter cannot hold a grain, longer is a typo.
            constexpr std::int64_t lo = 1'000'000LL;
            constexpr std::int64_t hi = 3'600'000'000'000LL;
            if (!it->is_number_integer() || it->get<std::int64_t>() < lo || it->get<std::int64_t>() > hi)
            {
                return fail(MXL_ERR_UNKNOWN, fmt::format("{}: '{}' must be an integer number of nanoseconds between {} and {}", origin,
                                                 historyOptionKey, lo, hi));
            }
            base.historyNs = it->get<std::uint64_t>();
        }
        return base;
    }
}
