// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace mxl::fabric
{
    /// A consistent-enough copy of a side's counters, for metrics, status areas and tests.
    struct CounterSnapshot
    {
        std::uint64_t grains{0};          ///< Grains completed (all slices, or flagged invalid).
        std::uint64_t slices{0};          ///< Slices moved.
        std::uint64_t bytes{0};           ///< Payload bytes moved.
        std::uint64_t commits{0};         ///< Commit records sent or applied.
        std::uint64_t skippedGrains{0};   ///< Sender: grains given up to stay within the ring.
        std::uint64_t lagGrains{0};       ///< Sender: head minus the oldest grain not yet sent.
        std::uint64_t refusedEpoch{0};    ///< Receiver: records of another session.
        std::uint64_t refusedSequence{0}; ///< Receiver: immediate data not matching its record.
        /// Receiver: commit records that landed before one made earlier and waited for it (providers
        /// whose writes are not ordered). Not a fault.
        std::uint64_t reorderedRecords{0};
        std::uint64_t refusedRange{0};    ///< Receiver: index, slices or sample counts out of range.
        /// Completions of a kind the transfer never produces: a message on an RMA session, remote CQ
        /// data on a send/receive one, a context nobody posted (receiver); a remote write into the
        /// source or a receive it never posted (sender).
        std::uint64_t refusedOperation{0};
        /// Receiver: connection requests rejected (no valid proof of the grant, a replayed one, or a
        /// source connected already). Not session refusals: the connected source is left alone.
        std::uint64_t refusedConnections{0};
        std::uint64_t errors{0};          ///< Failed operations (completion errors, posting errors).
        std::uint64_t headIndex{0};       ///< Newest grain index (or sample index) completed.
        /// Receiver: when the newest grain (or sample batch) became readable, minus its nominal time
        /// from its index (TAI ns; includes the writer's own delay and any clock offset between hosts);
        /// nothing before the first one.
        std::optional<std::int64_t> latencyNs;
        std::string lastError;
    };

    /// Counters updated by a side's thread and read by anyone.
    class Counters
    {
    public:
        std::atomic<std::uint64_t> grains{0};
        std::atomic<std::uint64_t> slices{0};
        std::atomic<std::uint64_t> bytes{0};
        std::atomic<std::uint64_t> commits{0};
        std::atomic<std::uint64_t> skippedGrains{0};
        std::atomic<std::uint64_t> lagGrains{0};
        std::atomic<std::uint64_t> refusedEpoch{0};
        std::atomic<std::uint64_t> refusedSequence{0};
        std::atomic<std::uint64_t> reorderedRecords{0};
        std::atomic<std::uint64_t> refusedRange{0};
        std::atomic<std::uint64_t> refusedOperation{0};
        std::atomic<std::uint64_t> refusedConnections{0};
        std::atomic<std::uint64_t> errors{0};
        std::atomic<std::uint64_t> headIndex{0};
        std::atomic<std::int64_t> latencyNs{noLatency};

        static constexpr std::int64_t noLatency = INT64_MIN;

        void error(std::string message)
        {
            errors.fetch_add(1, std::memory_order_relaxed);
            std::lock_guard lock{_mutex};
            _lastError = std::move(message);
        }

        [[nodiscard]] CounterSnapshot snapshot() const
        {
            CounterSnapshot s;
            s.grains = grains.load(std::memory_order_relaxed);
            s.slices = slices.load(std::memory_order_relaxed);
            s.bytes = bytes.load(std::memory_order_relaxed);
            s.commits = commits.load(std::memory_order_relaxed);
            s.skippedGrains = skippedGrains.load(std::memory_order_relaxed);
            s.lagGrains = lagGrains.load(std::memory_order_relaxed);
            s.refusedEpoch = refusedEpoch.load(std::memory_order_relaxed);
            s.refusedSequence = refusedSequence.load(std::memory_order_relaxed);
            s.reorderedRecords = reorderedRecords.load(std::memory_order_relaxed);
            s.refusedRange = refusedRange.load(std::memory_order_relaxed);
            s.refusedOperation = refusedOperation.load(std::memory_order_relaxed);
            s.refusedConnections = refusedConnections.load(std::memory_order_relaxed);
            s.errors = errors.load(std::memory_order_relaxed);
            s.headIndex = headIndex.load(std::memory_order_relaxed);
            if (auto const latency = latencyNs.load(std::memory_order_relaxed); latency != noLatency)
            {
                s.latencyNs = latency;
            }
            std::lock_guard lock{_mutex};
            s.lastError = _lastError;
            return s;
        }

    private:
        mutable std::mutex _mutex;
        std::string _lastError;
    };
}
