// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/Expected.hpp"
#include "base/Fd.hpp"
#include "domain/Domain.hpp"
#include "flow/FlowDefinition.hpp"
#include "ofi/AddressVector.hpp"
#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Endpoint.hpp"
#include "ofi/EventQueue.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Info.hpp"
#include "ofi/MemoryRegion.hpp"
#include "ofi/PassiveEndpoint.hpp"
#include "protocol/BounceHeader.hpp"
#include "protocol/CommitRecord.hpp"
#include "protocol/ConnectProof.hpp"
#include "protocol/DataHello.hpp"
#include "protocol/Messages.hpp"
#include "replication/Arrivals.hpp"
#include "replication/CommitOrder.hpp"
#include "replication/Counters.hpp"
#include "replication/Stages.hpp"

namespace mxl
{
    class ContinuousFlowWriter;
    class DiscreteFlowWriter;
}

namespace mxl::fabric
{
    /// The sink side of one replicated flow: a mirror flow in the local domain whose grain
    /// payloads (or channels) are registered for remote writes by one source, and a thread that
    /// validates each commit record and publishes it to local readers through the ordinary futex.
    /// With Transfer::SendReceive nothing of the mirror is registered: the source's messages land
    /// in a pool of bounce buffers and the thread copies each payload chunk into the mirror after
    /// checking that it falls inside it.
    ///
    /// The data endpoint accepts a connection only with a proof of the grant's connect key for this
    /// flow and epoch (ConnectProof.hpp), never twice with the same proof, and only while no source
    /// is connected; anything else is rejected, counted in refusedConnections and logged at most
    /// once every 10 s.
    ///
    /// Over a reliable-datagram provider (FI_EP_RDM: efa, shm, "tcp;ofi_rxm", "udp;ofi_rxd") there are
    /// no connections: the grant carries the endpoint's address, the source announces itself with a
    /// DataHello carrying the same proof and its own address (inserted into an address vector for
    /// credit), and a Bye, a refusal or renew() end its session (ReceiverDatagram.cpp).
    class Receiver
    {
    public:
        struct Options
        {
            std::string provider{"tcp"};
            std::string node{"127.0.0.1"}; ///< Address to listen on for the source's connection.
            std::string service{"0"};      ///< Port; "0" picks a free one (see grant().service).
            Transfer transfer{Transfer::Rma};
            /// Where to report what was made readable, for an application that asks (the fabrics C
            /// API's target); none for the bridge.
            std::shared_ptr<Arrivals> arrivals;
            /// Told as each grain's commit record is taken (measurements only). None for the bridge.
            std::shared_ptr<StageObserver> stages;
        };

        /// Creates (or adopts) the mirror of the offered flow with exactly the source's geometry and
        /// ring length, registers its memory and starts listening. Errors: CONFLICT (a local flow
        /// of that id differs), NO_FABRIC (provider unavailable), INVALID_ARG (bad offer), INTERNAL
        /// (no random bytes for the connect key).
        static Expected<std::unique_ptr<Receiver>> create(Domain& domain, FlowOffer const& offer, Options const& options);

        ~Receiver();
        Receiver(Receiver const&) = delete;
        Receiver& operator=(Receiver const&) = delete;

        /// What the source needs: send it over an authenticated channel. Contains keys: never log.
        [[nodiscard]] RegionGrant const& grant() const noexcept
        {
            return _grant;
        }

        void start();
        void stop();

        /// Starts a new session on the same mirror (a reconnecting or restarted source): drops the
        /// current source connection, registers the mirror's memory again (new keys) and takes a new
        /// epoch and a new connect key, so that nothing granted before can connect, write or commit
        /// any more. grant() is then the new grant. Readers keep the mirror; grains resume when the
        /// new source connects.
        Expected<void> renew();

        [[nodiscard]] std::uint64_t epoch() const noexcept
        {
            return _epoch;
        }

        [[nodiscard]] CounterSnapshot counters() const
        {
            return _counters.snapshot();
        }

        /// Whether the mirror is continuous (audio): counters then count samples, not grains.
        [[nodiscard]] bool continuous() const noexcept
        {
            return _continuous != nullptr;
        }

        /// The mirror flow (its readers see what this receiver published).
        [[nodiscard]] Flow const& mirror() const noexcept
        {
            return _mirror->flow();
        }

        [[nodiscard]] bool connected() const noexcept
        {
            return _connected.load(std::memory_order_acquire);
        }

    private:
        Receiver(Domain& domain, Options options);

        Expected<void> setUp(FlowOffer const& offer);
        Expected<void> registerMemory();
        void run();
        /// FI_EP_MSG: the listener, its event queue, the domain and the completion queue.
        Expected<void> openListener();
        /// FI_EP_RDM: the endpoint, its address vector and the address the grant names.
        Expected<void> openDatagramEndpoint(ofi::Hints hints);
        /// FI_EP_RDM: a message on the endpoint: a source's Hello or Bye, anything else refused.
        void onDatagram(std::size_t length);
        /// FI_EP_RDM: ends the attached source's session; with notify, tells it so (best effort).
        void detachSource(bool notify);
        /// FI_EP_RDM: tells the attached source its session ends and waits briefly for the message to leave.
        void closeSource();
        /// Whether a source's session is open (a connection, or an attached datagram source).
        [[nodiscard]] bool hasSource() const noexcept
        {
            return _rdm ? _source.has_value() : _endpoint.has_value();
        }
        /// Where this session's messages go: the attached datagram source, or the connection.
        [[nodiscard]] fi_addr_t sourceAddress() const noexcept
        {
            return _source.value_or(FI_ADDR_UNSPEC);
        }
        /// The endpoint regions must be bound to (FI_MR_ENDPOINT), when it exists before them.
        [[nodiscard]] ofi::Endpoint* regionEndpoint() noexcept
        {
            return _rdm && _endpoint ? &*_endpoint : nullptr;
        }
        /// Posts one credit message (or a welcome or close); false when no slot or the queue is full.
        bool postCredit(CreditRecord const& credit);
        void handleEvents();
        void onConnectionRequest(ofi::CmEvent const& event);
        /// Rejects a connection request, counts it and logs it (at most one line per
        /// refusalLogInterval, saying how many more were refused since the last one).
        void refuseConnection(ofi::Info const& request, std::string const& reason);
        /// Counts and logs a refused datagram Hello (or anything else sent to a datagram endpoint).
        void noteRefusedConnection(std::string const& from, std::string const& reason);
        void logRefusedConnection(std::string const& from, std::string const& reason);
        void handleCompletions();
        /// Dispatches a completion by its kind; a kind the transfer never produces ends the session.
        void onCompletion(fi_cq_data_entry const& entry);
        void onCompletionError(ofi::CompletionError const& error);
        /// Send/receive: the bounce buffers. RMA: one small buffer that no correct source sends to.
        Expected<void> registerBounceBuffers();
        [[nodiscard]] std::size_t receiveBufferSize() const noexcept;
        void postReceive(std::size_t buffer);
        /// Receives are tagged 1 + connection * bounceBufferCount + buffer.
        enum class ReceiveOf
        {
            ThisConnection,
            EarlierConnection, ///< Left over from a closed connection: ignored.
            Nobody,            ///< Not a tag this receiver posted.
        };
        [[nodiscard]] ReceiveOf receiveOf(void* context, std::size_t& buffer) const noexcept;
        void onCommit(std::uint32_t sequence);
        void onMessage(void* context, std::size_t length);
        void onMessageError(ofi::CompletionError const& error);
        /// Counts records and data of another session as refusedEpoch.
        [[nodiscard]] bool inSession(std::uint64_t epoch);
        /// Counts a refused commit or message, logs it and closes the source's session.
        void refuse(std::atomic<std::uint64_t>& counter, std::string const& reason);
        /// Whether a record belongs to this session and makes sense for this flow whatever came before
        /// it (its kind, index and counts); otherwise it is refused and the session closed. Checked
        /// as it lands, before it waits for records made before it.
        [[nodiscard]] bool admitCommit(CommitRecord const& record);
        /// Applies an admitted record, in the order records were made.
        void applyCommit(CommitRecord const& record);
        /// Counters: the newest index made readable and its latency (newest: the grain, or the last
        /// sample of a batch, whose nominal time counts).
        void noteArrival(std::uint64_t head, std::uint64_t newest) noexcept;
        /// RMA: claims the slots of the grains the source may write before the commits of index+1
        /// onwards are applied (its window), and raises the credit to the last of them.
        void claimAhead(std::uint64_t index) noexcept;
        /// RMA: a Claim record: claims the window from index on and answers with credit.
        void applyClaim(CommitRecord const& record);
        [[nodiscard]] bool usesCredits() const noexcept
        {
            return _options.transfer == Transfer::Rma;
        }
        /// Continuous: a Claim record: moves the head to record.index through silence, in steps of at
        /// most half the ring, so that no reader is ever handed the previous lap's samples.
        void applySamplesClaim(CommitRecord const& record);
        /// Continuous: zeroes samples [from, from + count) of every channel (at most one ring).
        void fillSilence(std::uint64_t from, std::uint64_t count) noexcept;
        /// Sends the newest credit when it changed (and a credit buffer is free).
        void flushCredit();
        /// A session starts or ends: nothing claimed or answered, credit buffers free, and the next
        /// source's records numbered from 0.
        void resetSession() noexcept;
        /// What the source may write grows to claimedThrough (unless it already reaches further).
        void raiseCredit(std::uint64_t claimedThrough) noexcept;
        /// Whether a completion's context is one of the credit buffers (and counts it).
        bool creditCompleted(void* context) noexcept;
        void applyData(BounceHeader const& header, std::span<std::byte const> payload);

        Domain& _domain;
        Options _options;
        FlowDefinition _definition;
        std::unique_ptr<FlowWriter> _mirror;
        DiscreteFlowWriter* _discrete{nullptr};
        ContinuousFlowWriter* _continuous{nullptr};
        std::uint16_t _totalSlices{0};
        std::uint64_t _epoch{0};

        // libfabric objects, declared in the order they must be created (destroyed in reverse).
        std::optional<ofi::Info> _info;
        std::optional<ofi::Fabric> _fabric;
        std::optional<ofi::EventQueue> _events;
        std::optional<ofi::PassiveEndpoint> _listener;
        std::optional<ofi::Domain> _fabricDomain;
        std::optional<ofi::CompletionQueue> _cq;
        std::optional<ofi::AddressVector> _addresses; ///< FI_EP_RDM only.
        std::unique_ptr<CommitRecord[]> _commitRing;
        std::optional<ofi::MemoryRegion> _commitRingMr;
        std::vector<ofi::MemoryRegion> _regionMrs;
        std::unique_ptr<std::byte[]> _bounce;
        std::optional<ofi::MemoryRegion> _bounceMr;
        static constexpr std::size_t creditSlots = 16;
        std::unique_ptr<CreditRecord[]> _creditOut; ///< Credit messages, creditSlots in flight at most.
        std::optional<ofi::MemoryRegion> _creditMr;
        std::optional<ofi::Endpoint> _endpoint;
        std::size_t _connection{0};    ///< Counts accepted connections; tags receives with their own.
        bool _rdm{false};              ///< Reliable-datagram endpoint: one for the receiver's life, no connections.
        std::optional<fi_addr_t> _source; ///< FI_EP_RDM: the attached source.
        /// FI_EP_RDM whose writes are not ordered: commit records trail their payloads, and the
        /// claim window covers that (claimWindowGrains).
        bool _recordsTrail{false};

        ConnectProofChecker _proofs;
        static constexpr std::chrono::seconds refusalLogInterval{10};
        std::optional<std::chrono::steady_clock::time_point> _refusalLoggedAt;
        std::uint64_t _refusalsNotLogged{0};
        std::uint32_t _nextMessage{0}; ///< SendReceive: the sequence the next message must carry.
        CommitOrder _commitOrder;      ///< RMA: records applied in the order they were made.

        // Credit (RMA, discrete flows): what this session's source may write.
        bool _claimed{false};                   ///< Whether the source has been given any credit yet.
        std::uint64_t _claimedThrough{0};       ///< The newest grain whose slot is claimed (continuous: end of the writable samples).
        std::uint64_t _answeredClaim{UINT64_MAX}; ///< The index of the last Claim record applied.
        std::uint64_t _creditsPosted{0};
        std::uint64_t _creditsCompleted{0};
        bool _creditSent{false};
        CreditRecord _lastCredit{};             ///< What the last credit message said.

        RegionGrant _grant;
        Counters _counters;
        std::atomic<bool> _connected{false};
        std::atomic<bool> _stopping{false};
        Fd _wake;
        std::thread _thread;
    };
}
