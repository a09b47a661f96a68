// SPDX-License-Identifier: Apache-2.0
#include "ofi/Fid.hpp"

#include <string>

#include "ofi/Error.hpp"

namespace mxl::ofi
{
    void closeFid(fid_t object) noexcept
    {
        auto const fclass = object->fclass;
        if (auto const rc = fi_close(object); rc != 0)
        {
            try
            {
                logError("fi_close of a libfabric object of class " + std::to_string(fclass) + " failed: " + fi_strerror(-rc));
            }
            catch (...)
            {
                // Out of memory while reporting a leak: nothing more can be done.
            }
        }
    }
}
