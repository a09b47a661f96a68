// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <exception>
#include <new>

#include <mxl/mxl.h>
#include "base/Expected.hpp"
#include "common/Logging.hpp"

namespace mxl
{
    /// Runs body at the C boundary: no exception crosses it.
    template<typename Body>
    mxlStatus guarded(char const* function, Body&& body) noexcept
    {
        try
        {
            return body();
        }
        catch (std::bad_alloc const&)
        {
            log().error("{}: out of memory", function);
        }
        catch (std::exception const& e)
        {
            log().error("{}: {}", function, e.what());
        }
        catch (...)
        {
            log().error("{}: unknown exception", function);
        }
        return MXL_ERR_UNKNOWN;
    }

    /// Logs an error at the boundary and returns its status.
    inline mxlStatus report(char const* function, Error const& error) noexcept
    {
        log().error("{}: {}", function, error.message);
        return error.status;
    }
}
