// SPDX-License-Identifier: Apache-2.0
#pragma once

// Receiver's constants and helpers shared by its source files (not part of the API).

#include <cstddef>
#include <cstdint>

#include "base/Random.hpp"
#include "replication/Receiver.hpp"

namespace mxl::fabric::receiver
{
    /// One bounce buffer: a header and the largest payload chunk the grant allows.
    inline constexpr std::size_t bounceBufferSize = sizeof(BounceHeader) + bounceChunkSize;

    /// RMA: the receive posted on every connection, so that a message from the source completes
    /// (and ends the session) rather than holding up everything after it on the connection (tcp
    /// stops reading a connection at a message that has no receive posted).
    inline constexpr std::size_t trapBufferSize = 64;
}
