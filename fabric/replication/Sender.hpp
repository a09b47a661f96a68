// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <thread>
#include <vector>

#include "base/Expected.hpp"
#include "domain/Domain.hpp"
#include "flow/Flow.hpp"
#include "ofi/AddressVector.hpp"
#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Endpoint.hpp"
#include "ofi/EventQueue.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Info.hpp"
#include "ofi/MemoryRegion.hpp"
#include "protocol/BounceHeader.hpp"
#include "protocol/CommitRecord.hpp"
#include "protocol/DataHello.hpp"
#include "protocol/Messages.hpp"
#include "replication/Counters.hpp"
#include "replication/FabricHints.hpp"
#include "replication/GrainLayout.hpp"
#include "replication/Stages.hpp"
#include "replication/TransferRequests.hpp"

namespace mxl::fabric
{
    /// The source side of one replicated flow towards one sink: follows the local flow through its
    /// futex and RDMA-writes exactly the newly committed byte ranges (every plane; audio: every
    /// channel, in up to two fragments) from the flow's own mapping into the sink's mirror, then a
    /// commit record carrying the grain index and slice count with immediate data. Many writes are
    /// in flight at once; none of them copies payload. With a SendReceive grant the same ranges go
    /// as messages (a header from a registered ring, then the bytes from the flow's mapping, in
    /// chunks of at most the grant's maxChunk) and each record as a header-only message.
    ///
    /// A grant that names a reliable-datagram address (FI_EP_RDM) is reached through an address vector:
    /// the sender announces itself with a DataHello and waits for the sink's welcome (SenderDatagram.cpp).
    /// Where that provider does not order writes, every write completes on delivery and a commit
    /// record waits until the writes before it are placed; records may overtake each other (up to
    /// unorderedRecordsInFlight apart), and the sink applies them in the order they were made.
    class Sender
    {
    public:
        struct Options
        {
            std::chrono::milliseconds connectTimeout{5000};
            /// Send only what the application asks for through this queue (the fabrics C API's
            /// initiator), instead of following the flow. None for the bridge.
            std::shared_ptr<TransferRequests> requests;
            /// Told as each commit of a grain reaches a stage (measurements only). None for the bridge.
            std::shared_ptr<StageObserver> stages;
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

        /// The newest grain whose last commit record was posted with all its bytes sent (for
        /// producers that pace themselves on the replication, such as mxl-bench).
        [[nodiscard]] std::uint64_t publishedGrain() const noexcept
        {
            return _published.load(std::memory_order_acquire);
        }

        /// True once the source flow's files were unlinked (deleted, or replaced by a new flow of that
        /// id): nothing more will ever be committed to what this sender follows.
        [[nodiscard]] bool sourceRemoved() const noexcept
        {
            return _source->removed();
        }

        /// Whether the flow is continuous (audio): counters then count samples, not grains.
        [[nodiscard]] bool continuous() const noexcept
        {
            return !_source->discrete();
        }

        /// True once the thread has first looked at the flow: every grain (or sample) committed from
        /// then on is sent. Earlier ones are sent only if still within reach (a live flow is followed
        /// from its head; a flow never written before, from its first grain).
        [[nodiscard]] bool following() const noexcept
        {
            return _following.load(std::memory_order_acquire);
        }

        /// True once the session broke (peer gone, write refused); the sender then stops.
        [[nodiscard]] bool failed() const noexcept
        {
            return _failed.load(std::memory_order_acquire);
        }

    private:
        /// A payload write (or Data message): posted as soon as the provider takes it.
        struct PayloadOp
        {
            std::span<std::byte const> source;
            void* desc;
            std::uint64_t index;  ///< Grain index, or first sample of the batch.
            std::uint64_t offset; ///< Into the grain's payload, or into the channels file.
            std::uint32_t region; ///< The granted region it lands in (RMA).
        };

        /// A commit record, held until every payload write queued before it has completed locally
        /// (the provider has read the source bytes), so that it never publishes bytes the writer
        /// may have overwritten while they were still being sent.
        struct RecordOp
        {
            std::size_t gate;     ///< Payload writes queued before this record.
            std::uint32_t slot;   ///< Discrete: the grain's slot, checked again before posting.
            std::uint64_t oldest; ///< Continuous: first sample sent.
            CommitRecord record;
        };

        struct SlotState
        {
            std::uint64_t index{UINT64_MAX};
            std::uint16_t sent{0};
            bool done{false};
        };

        /// What the credit the sink granted says of writing a grain now.
        enum class Credit
        {
            Write, ///< Its slot is claimed: write.
            Wait,  ///< Beyond the credit: a Claim record is (or will be) asked for; wait for the answer.
            Skip,  ///< A ring or more older than the credit: its slot holds a newer grain on the sink.
        };

        static constexpr std::size_t payloadCapacity = 4096;
        static constexpr std::size_t creditBuffers = 32; ///< More than the sink keeps in flight.
        static constexpr std::size_t recordCapacity = 1024;
        /// Records (and, with send/receive, message headers) are sent from a local ring of this
        /// many; the records in flight never span more, so a slot is not reused while in flight.
        static constexpr std::size_t localRecordSlots = 2 * transmitDepth;
        /// A record's completion context: this bit, and its position among records posted.
        static constexpr std::uintptr_t recordContext = std::uintptr_t{1} << 63;

        Sender(RegionGrant grant, Options options);

        Expected<void> setUp(Domain& domain, Uuid const& flowId);
        Expected<void> checkGrant() const;
        Expected<void> connect();
        /// FI_EP_RDM: the endpoint, its address vector and the sink's address in it.
        Expected<void> openDatagramEndpoint();
        /// FI_EP_RDM: sends the Hello and waits for the sink's welcome (within connectTimeout).
        Expected<void> greet();
        /// FI_EP_RDM: tells the sink the session ends (a Bye), waiting briefly for it to leave.
        void sayGoodbye();
        /// Sends a Hello or Bye from the registered hello buffer.
        ofi::PostResult sendHello(DataHelloKind kind, std::string& error);
        /// The endpoint regions must be bound to (FI_MR_ENDPOINT), when it exists before them.
        [[nodiscard]] ofi::Endpoint* regionEndpoint() noexcept
        {
            return _rdm ? &*_endpoint : nullptr;
        }
        Expected<void> registerMemory();
        void run();
        void scan();
        void scanGrains(std::uint64_t head);
        void scanSamples(std::uint64_t head);
        /// Queues slices [from, to) of a grain and its commit record, which says validSlices (default: to).
        bool sendSlices(std::uint64_t index, std::uint32_t slot, std::uint16_t from, std::uint16_t to, std::uint32_t flags,
            std::optional<std::uint16_t> validSlices = std::nullopt);
        /// Requests mode: serves the application's requests in order, as far as room and credit go.
        void serveRequests();
        void serveGrainRequest(TransferRequest const& request, bool& blocked);
        void serveSampleRequests();
        /// Requests mode: waits for a request, and while busy for a completion too (1 ms at most).
        void waitForRequests(TransferRequests& requests, std::uint32_t seen, bool busy);
        /// Requests mode: nothing queued, posted or in flight, so every request taken is finished.
        [[nodiscard]] bool idle() const noexcept
        {
            return _inFlight == 0 && _payloadPosted == _payloadQueued && _recordHead == _recordTail &&
                   (_source->discrete() || _samplesSent >= _requestedSamples);
        }
        /// Queues source in writes (or messages) of at most _maxWrite bytes each.
        void queueWrite(std::span<std::byte const> source, void* desc, std::uint64_t index, std::uint64_t offset, std::uint32_t region);
        [[nodiscard]] std::size_t chunks(std::size_t bytes) const noexcept;
        void queueRecord(std::uint32_t slot, std::uint64_t oldest, CommitRecord const& record);
        /// Whether ops payload writes of bytes more bytes and a record fit: bounded by queue sizes and
        /// by the bytes a sink may have in flight (half the ring).
        [[nodiscard]] bool room(std::size_t ops, std::size_t bytes) const noexcept;
        [[nodiscard]] bool recordRoom() const noexcept
        {
            return _recordTail - _recordHead < recordCapacity;
        }
        [[nodiscard]] bool recordStillValid(RecordOp const& op) const noexcept;
        void postPending();
        /// Stages: tells the observer of the records whose payload writes are all posted now.
        void notePosted() noexcept;
        ofi::PostResult postPayload(PayloadOp const& op, void* context) noexcept;
        ofi::PostResult postRecord(CommitRecord record) noexcept;
        void drainCompletions();
        /// Dispatches a completion by its kind; a kind this source never asked for ends the session.
        void onCompletion(fi_cq_data_entry const& entry);
        /// A write or send of this source completed locally (context: its payload position + 1, or
        /// recordContext with the record's position).
        void onTransmitted(void* context);
        /// A commit record completed: what the span of records in flight is measured from.
        void onRecordTransmitted(std::size_t position);
        /// The credit buffer a receive context names, if it names one.
        [[nodiscard]] std::optional<std::size_t> creditBuffer(void* context) const noexcept;
        /// Counts a completion of an unexpected kind (refusedOperation) and stops the session.
        void refuse(std::string reason);
        void drainEvents();
        [[nodiscard]] bool usesCredits() const noexcept
        {
            return _grant.transfer == Transfer::Rma;
        }
        [[nodiscard]] Credit credit(std::uint64_t index);
        void postCreditReceive(std::size_t buffer);
        /// FI_EP_RDM: gives the session up when a Claim waits longer than claimAnswerTimeout.
        void watchClaim();
        void onCredit(std::size_t buffer, std::size_t length);
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
        std::optional<ofi::AddressVector> _addresses; ///< FI_EP_RDM only.
        std::optional<ofi::Endpoint> _endpoint;
        bool _rdm{false};
        fi_addr_t _peer{FI_ADDR_UNSPEC}; ///< FI_EP_RDM: the sink in the address vector.
        /// Whether the provider places writes in the order posted. Otherwise writes complete on
        /// delivery, a commit record is posted only after its payload landed, and the sink applies
        /// records that land early in order (CommitOrder).
        bool _writesOrdered{true};
        bool _saidGoodbye{false};
        /// The Claim being waited for and since when (FI_EP_RDM).
        std::optional<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> _claimWatch;
        std::array<std::byte, maxDataHelloSize> _hello{}; ///< FI_EP_RDM: the Hello or Bye being sent.
        std::optional<ofi::MemoryRegion> _helloMr;
        std::vector<ofi::MemoryRegion> _sourceMrs;
        std::unique_ptr<CommitRecord[]> _records;        ///< RMA: records staged for writing.
        std::optional<ofi::MemoryRegion> _recordsMr;
        std::unique_ptr<BounceHeader[]> _headers;        ///< SendReceive: headers staged for sending.
        std::optional<ofi::MemoryRegion> _headersMr;
        std::unique_ptr<CreditRecord[]> _creditsIn;      ///< RMA, discrete: receive buffers for credit.
        std::optional<ofi::MemoryRegion> _creditsMr;

        // Replication state, touched only by the sender thread.
        std::vector<SlotState> _slots;
        std::uint64_t _next{0};
        std::uint64_t _samplesSent{0};   ///< Continuous: the next sample to send.
        std::uint64_t _samplesQueued{0}; ///< Continuous: the end of the last batch queued.
        std::uint64_t _requestedSamples{0}; ///< Requests mode, continuous: the end of the samples asked for.
        bool _claimSamples{false};       ///< Send/receive, continuous: a Claim goes before the next batch.
        std::optional<std::size_t> _claimRecord; ///< Its place in the record queue until it is posted.
        bool _started{false};
        bool _fromCreation{false}; ///< The flow had never been written when first looked at.
        std::uint32_t _sequence{0}; ///< RMA: of the next record; SendReceive: of the next message.
        std::array<PayloadOp, payloadCapacity> _payloads{};
        std::array<bool, payloadCapacity> _payloadCompleted{};
        std::size_t _payloadPosted{0};  ///< Next payload write to post.
        std::size_t _payloadQueued{0};  ///< Next free place in the payload queue.
        std::size_t _payloadDone{0};    ///< Every payload write before this one has completed.
        std::size_t _outstandingBytes{0};
        std::size_t _byteBudget{0};
        std::array<RecordOp, recordCapacity> _recordQueue{};
        std::size_t _recordHead{0};
        std::size_t _recordTail{0};
        std::size_t _stagePosted{0}; ///< Stages: records before this one were told Posted.
        std::size_t _recordsPosted{0}; ///< Commit records (or their messages) posted.
        std::size_t _recordsDone{0};   ///< Every record posted before this one has completed.
        std::array<bool, localRecordSlots> _recordCompleted{};
        std::size_t _inFlight{0};
        /// Discrete: the newest grain the sink claimed a slot for. Continuous: the end (exclusive) of
        /// the samples the sink lets this source write.
        std::optional<std::uint64_t> _credit;
        std::optional<std::uint64_t> _claimPending; ///< The grain (or sample) of a Claim record not answered yet.
        bool _waitingForCredit{false};
        /// The last look at the flow (or the requests) left work for lack of room in the queues or
        /// the byte budget: once completions free it, look again at once instead of waiting.
        bool _roomBlocked{false};
        bool _creditArrived{false}; ///< New credit came in since the last look at the flow.

        Counters _counters;
        std::atomic<std::uint64_t> _published{0};
        std::atomic<bool> _failed{false};
        std::atomic<bool> _following{false};
        std::atomic<bool> _stopping{false};
        std::thread _thread;
    };
}
