// SPDX-License-Identifier: Apache-2.0
#pragma once

// What every call of the fabrics C API checks before it does anything: versions, providers, the
// string size convention, and the answer of the calls whose implementation is still to come.

#include <cstddef>
#include <string_view>

#include <mxl/fabrics.h>
#include "base/Expected.hpp"

namespace mxl::fabric::api
{
    /// The version fields and the provider of an interface configuration (attr is ignored).
    [[nodiscard]] Expected<void> checkInterfaceConfig(mxlFabricsInterfaceConfig const& config);

    /// Copies text and its NUL into out (of *size bytes). out == nullptr asks the size. *size is set
    /// to the size needed in every case; MXL_ERR_STRLEN (nothing written) when it is more than given.
    [[nodiscard]] mxlStatus copyString(std::string_view text, char* out, std::size_t* size) noexcept;

    /// Logs that function is not implemented yet and answers MXL_ERR_UNSUPPORTED_OPERATION.
    [[nodiscard]] mxlStatus notImplemented(char const* function) noexcept;
}
