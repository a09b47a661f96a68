// SPDX-License-Identifier: Apache-2.0
#pragma once

// The status publisher: writes what the conductor, the exporter and the importer describe to the
// domain's status area (fabric/status), and keeps a copy for other threads (the metrics endpoint).
// It only publishes: every figure in a record (lag, latency, counts) is computed by the part that
// holds the data.

#include <cstdint>
#include <memory>
#include <mutex>

#include "status/BridgeStatus.hpp"

namespace mxl::bridge
{
    /// What the status area shows of a session epoch: 64 bits of SHA-256 over it. Equal on both ends
    /// of a session and new with every session, so that operators and tests can tell sessions apart,
    /// but the epoch itself (part of what lets a peer write into a mirror) is never published in a
    /// file that other users can read. 0 for no epoch.
    [[nodiscard]] std::uint64_t sessionTag(std::uint64_t epoch) noexcept;

    class StatusPublisher
    {
    public:
        explicit StatusPublisher(std::unique_ptr<StatusWriter> writer) noexcept;

        /// Writes status to the status area (readers see all of it or none) and keeps it for last().
        void publish(BridgeStatus status);

        /// A copy of the newest status published; safe from any thread.
        [[nodiscard]] BridgeStatus last() const;

        /// Removes the status area (the bridge is stopping).
        void close() noexcept;

    private:
        std::unique_ptr<StatusWriter> _writer;
        mutable std::mutex _mutex;
        BridgeStatus _last;
    };
}
