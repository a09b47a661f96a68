// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <mxl/dataformat.h>
#include <mxl/flowinfo.h>
#include "base/Expected.hpp"
#include "base/Uuid.hpp"

namespace mxl
{
    /// What a flow_def.json says, reduced to what the engine needs: identity, rate and the
    /// geometry of a grain (discrete) or of a sample (continuous).
    struct FlowDefinition
    {
        Uuid id{};
        mxlDataFormat format{MXL_DATA_FORMAT_UNSPECIFIED};
        std::string label;
        std::string mediaType;
        std::vector<std::string> groupHints;
        /// Grain rate as stored in the flow header: field rate for interlaced video, sample rate
        /// for audio.
        mxlRational rate{0, 1};

        // Video: the frame size as defined (a field of interlaced video has height / 2 lines).
        std::uint32_t width{0};
        std::uint32_t height{0};

        // Discrete flows.
        std::array<std::uint32_t, MXL_MAX_PLANES_PER_GRAIN> sliceSizes{};
        std::uint16_t totalSlices{0};
        std::uint32_t grainSize{0};

        // Continuous flows.
        std::uint32_t channelCount{0};
        std::uint32_t sampleWordSize{0};

        /// The definition exactly as given.
        std::string json;

        [[nodiscard]] bool discrete() const noexcept
        {
            return mxlIsDiscreteDataFormat(format);
        }
    };

    /// Parses and validates an NMOS IS-04 flow definition. Errors are MXL_ERR_UNKNOWN with a message
    /// naming the offending field, as the C API documents.
    Expected<FlowDefinition> parseFlowDefinition(std::string_view json);

    /// Writer options: batching hints. Zero means "use the default".
    struct WriterOptions
    {
        std::uint32_t maxCommitBatchSizeHint{0};
        std::uint32_t maxSyncBatchSizeHint{0};
    };

    /// Parses writer options JSON (NULL or empty means defaults).
    Expected<WriterOptions> parseWriterOptions(char const* json);

    inline constexpr std::uint64_t defaultHistoryNs = 200'000'000ULL;
    inline constexpr char historyOptionKey[] = "urn:x-mxl:option:history_duration/v1.0";

    struct DomainOptions
    {
        std::uint64_t historyNs{defaultHistoryNs};
    };

    /// Applies the options in json (a domain's options.json or an instance's options) over base.
    Expected<DomainOptions> parseDomainOptions(std::string_view json, DomainOptions base, std::string_view origin);
}
