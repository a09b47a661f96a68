// SPDX-License-Identifier: Apache-2.0
#pragma once

// Sender's constants shared by its source files (not part of the API).

#include <cstddef>
#include <cstdint>

#include "replication/FabricHints.hpp"
#include <chrono>

#include "replication/CommitOrder.hpp"
#include "replication/Sender.hpp"

namespace mxl::fabric::sender
{
    /// Largest single write: big enough to move a grain in a few operations, small enough that
    /// a commit of the next grain does not queue behind a huge transfer.
    inline constexpr std::size_t maxWriteChunk = 8 * 1024 * 1024;

    /// Providers whose writes are not ordered: how far apart the commit records in flight may be.
    /// The sink holds records that land early for up to commitReorderWindow; a quarter of it leaves
    /// room for its completion queue to be read late.
    inline constexpr std::size_t unorderedRecordsInFlight = commitReorderWindow / 4;

    /// How long the thread sleeps on the flow's futex when idle before it looks at the session
    /// (a peer that went away is only noticed while the queues are read).
    inline constexpr std::uint64_t idleWaitNs = 50'000'000ULL;

    /// Reliable-datagram endpoints: how long a Claim may wait for the sink's answer before the
    /// session is given up (no connection tells that a sink died; a stalled one answers long before).
    inline constexpr std::chrono::seconds claimAnswerTimeout{5};
}
