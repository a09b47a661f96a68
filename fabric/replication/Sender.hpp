// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/Expected.hpp"
#include "domain/Domain.hpp"
#include "flow/Flow.hpp"
#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Endpoint.hpp"
#include "ofi/EventQueue.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Info.hpp"
#include "ofi/MemoryRegion.hpp"
#include "protocol/CommitRecord.hpp"
#include "protocol/Messages.hpp"
#include "replication/Counters.hpp"
#include "replication/GrainLayout.hpp"

namespace mxl::fabric
{
    /// The source side of one replicated flow towards one sink: follows the local flow through its
    /// futex and RDMA-writes exactly the newly committed byte ranges (every plane; audio: every
    /// channel, in up to two fragments) from the flow's own mapping into the sink's mirror, then a
    /// commit record carrying the grain index and slice count with immediate data. Many writes are
    /// in flight at once; none of them copies payload.
    class Sender
    {
    public:
        struct Options
        {
            std::chrono::milliseconds connectTimeout{5000};
        };

        /// Opens flowId of domain read-only, checks the grant against the flow's geometry, registers
        /// the flow's memory and connects to the sink. Errors: FLOW_NOT_FOUND, INVALID_ARG (a grant
        /// that does not match the flow: wrong region count or sizes), NO_FABRIC, TIMEOUT.
        static Expected<std::unique_ptr<Sender>> create(Domain& domain, Uuid const& flowId, RegionGrant const& grant, Options const& options);

        ~Sender();
        Sender(Sender const&) = delete;
        Sender& operator=(Sender const&) = delete;

        void start();
        void stop();

        [[nodiscard]] CounterSnapshot counters() const
        {
            return _counters.snapshot();
        }

        /// True once the session broke (peer gone, write refused); the sender then stops.
        [[nodiscard]] bool failed() const noexcept
        {
            return _failed.load(std::memory_order_acquire);
        }

    private:
        struct PendingOp
        {
            std::span<std::byte const> source;
            void* desc;
            ofi::RmaTarget target;
            bool record;
            std::uint32_t sequence;
        };

        struct SlotState
        {
            std::uint64_t index{UINT64_MAX};
            std::uint16_t sent{0};
            bool done{false};
        };

        static constexpr std::size_t pendingCapacity = 4096;

        Sender(RegionGrant grant, Options options);

        Expected<void> setUp(Domain& domain, Uuid const& flowId);
        Expected<void> checkGrant() const;
        Expected<void> connect();
        Expected<void> registerMemory();
        void run();
        void scan();
        void scanGrains(std::uint64_t head);
        void scanSamples(std::uint64_t head);
        bool sendSlices(std::uint64_t index, std::uint32_t slot, std::uint16_t from, std::uint16_t to, std::uint32_t flags);
        void queueWrite(std::span<std::byte const> source, void* desc, ofi::RmaTarget target);
        void queueRecord(CommitRecord const& record);
        [[nodiscard]] std::size_t pendingRoom() const noexcept
        {
            return pendingCapacity - (_pendingTail - _pendingHead);
        }
        void postPending();
        void drainCompletions();
        void drainEvents();
        void abort(std::string message);

        RegionGrant _grant;
        Options _options;
        std::unique_ptr<Flow> _source;
        std::optional<GrainLayout> _layout;
        std::size_t _maxWrite{0};

        std::optional<ofi::Info> _info;
        std::optional<ofi::Fabric> _fabric;
        std::optional<ofi::EventQueue> _events;
        std::optional<ofi::Domain> _fabricDomain;
        std::optional<ofi::CompletionQueue> _cq;
        std::optional<ofi::Endpoint> _endpoint;
        std::vector<ofi::MemoryRegion> _sourceMrs;
        std::unique_ptr<CommitRecord[]> _records;
        std::optional<ofi::MemoryRegion> _recordsMr;

        // Replication state, touched only by the sender thread.
        std::vector<SlotState> _slots;
        std::uint64_t _next{0};
        std::uint64_t _samplesSent{0};
        bool _started{false};
        std::uint32_t _sequence{0};
        std::array<PendingOp, pendingCapacity> _pending{};
        std::size_t _pendingHead{0};
        std::size_t _pendingTail{0};
        std::size_t _inFlight{0};

        Counters _counters;
        std::atomic<bool> _failed{false};
        std::atomic<bool> _stopping{false};
        std::thread _thread;
    };
}
