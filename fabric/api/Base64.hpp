// SPDX-License-Identifier: Apache-2.0
#pragma once

// Base64 (RFC 4648, standard alphabet, padded) for strings that applications carry between hosts
// (the TargetInfo). The decoder is strict so that one byte string has exactly one text form: no
// whitespace, no missing or extra padding, and the unused bits of the last group must be zero.
// Its errors say what is wrong and where, never what the text holds (it may be a secret).

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/Expected.hpp"

namespace mxl::fabric::api
{
    [[nodiscard]] std::string encodeBase64(std::span<std::byte const> bytes);

    /// MXL_ERR_INVALID_ARG naming the offset and the kind of fault for anything but canonical base64.
    [[nodiscard]] Expected<std::vector<std::byte>> decodeBase64(std::string_view text);
}
