// SPDX-License-Identifier: Apache-2.0
#pragma once

// The JSON options of the fabrics C API's calls. NULL or "" means none; otherwise a JSON object
// whose keys are all known to that call: an unknown key is refused (a misspelt option would
// otherwise be ignored without a word).

#include <cstdint>
#include <optional>

#include "base/Expected.hpp"

namespace mxl::fabric::api
{
    inline constexpr std::uint32_t maxCqDepth = 1U << 20;

    struct TargetOptions
    {
        /// "cqDepth": the depth of the target's completion queue, 1 to maxCqDepth.
        std::optional<std::uint32_t> cqDepth;
        /// "transfer" (ours, not the SDK's): "rma" or "send-receive" (the fallback for providers
        /// without RMA, one copy on arrival). Unset: RMA where the provider has it.
        std::optional<bool> sendReceive;
    };

    /// mxlFabricsCreateInstance: no key is known yet.
    [[nodiscard]] Expected<void> checkInstanceOptions(char const* text);

    /// mxlFabricsTargetSetup: "cqDepth", "transfer".
    [[nodiscard]] Expected<TargetOptions> parseTargetOptions(char const* text);

    /// mxlFabricsInitiatorSetup: no key is known yet.
    [[nodiscard]] Expected<void> checkInitiatorOptions(char const* text);
}
