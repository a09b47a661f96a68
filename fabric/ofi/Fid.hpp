// SPDX-License-Identifier: Apache-2.0
#pragma once

// Unique ownership of a libfabric object: fi_close when the owner goes. Members declared in a
// class are destroyed in reverse order, so declaring children after parents closes them first.

#include <memory>

#include <rdma/fabric.h>

namespace mxl::ofi
{
    /// Closes any libfabric object; a failure is logged because a destructor cannot report it.
    void closeFid(fid_t object) noexcept;

    template<typename T>
    struct FidCloser
    {
        void operator()(T* object) const noexcept
        {
            closeFid(&object->fid);
        }
    };

    template<typename T>
    using FidPtr = std::unique_ptr<T, FidCloser<T>>;
}
