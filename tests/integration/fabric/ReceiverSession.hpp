// SPDX-License-Identifier: Apache-2.0
#pragma once

// A Receiver in the test's own process, mirroring a flow of a source domain into a sink domain,
// and a hand-made source that connects to it with its own libfabric objects and writes whatever a
// test tells it to: what a broken or hostile peer could send.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ReplicationMedia.hpp"
#include "base/Uuid.hpp"
#include "domain/Domain.hpp"
#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Endpoint.hpp"
#include "ofi/EventQueue.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Info.hpp"
#include "ofi/MemoryRegion.hpp"
#include "protocol/CommitRecord.hpp"
#include "protocol/Messages.hpp"
#include "replication/Receiver.hpp"
#include "support/TestDomain.hpp"

namespace mxl::fabric::test
{
    inline constexpr std::chrono::milliseconds pumpTimeout{5000};

    /// Set-up steps throw, so that GoogleTest reports the step and its reason.
    template<typename T>
    T require(Expected<T> result, std::string const& what)
    {
        if (!result)
        {
            throw std::runtime_error(what + ": " + result.error().message);
        }
        return std::move(result).value();
    }

    void require(Expected<void> result, std::string const& what);

    /// Polls condition until it holds or timeout passes; returns whether it held.
    bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds timeout = pumpTimeout);

    /// The receiver's counter a refused record or message goes up in (refusedEpoch, ...).
    using RefusalCounter = std::uint64_t CounterSnapshot::*;

    /// refusedEpoch + refusedSequence + refusedRange + refusedOperation.
    [[nodiscard]] std::uint64_t refusals(CounterSnapshot const& counters) noexcept;

    /// The mirror's header for grain index as a reader sees it now: its status and slices.
    std::pair<mxlStatus, std::uint16_t> peek(Sink& sink, std::uint64_t index);

    /// A source flow (written by the test through the C API), the sink domain, and a started
    /// Receiver that mirrors the flow there.
    struct MirrorSession
    {
        explicit MirrorSession(std::string const& media, Receiver::Options const& options = {});

        [[nodiscard]] RegionGrant const& grant() const noexcept
        {
            return receiver->grant();
        }

        mxl::test::TestDomain sourceDir, sinkDir;
        std::string id{formatUuid(randomUuid().value())};
        Uuid uuid{*parseUuid(id)};
        Source source;
        std::unique_ptr<Domain> sourceDomain, sinkDomain;
        FlowOffer offer;
        std::unique_ptr<Receiver> receiver;
        std::optional<Sink> sink;
    };

    /// After a hostile session, which the receiver must have closed, a correct Sender connects to
    /// the same receiver and a grain written at the source arrives byte exact.
    void expectACorrectSourceReplicatesAfterwards(MirrorSession& session);

    /// A new Peer (the receiver must have closed the previous one) does what act does (and waits
    /// for), then leaves; returns once the receiver has closed its side, ready for the next source.
    template<typename Peer>
    void onASessionOfItsOwn(MirrorSession& session, std::function<void(Peer&)> const& act)
    {
        {
            Peer peer{session.grant()};
            act(peer);
            ASSERT_TRUE(eventually([&] { return session.receiver->connected(); }));
        }
        ASSERT_TRUE(eventually([&] { return !session.receiver->connected(); })) << "the receiver kept a connection its source closed";
    }

    /// A new Peer (the receiver must have closed the previous one) sends what send sends, which
    /// ends with a refused record or message: the receiver counts that one once, in counter,
    /// closes the session, and applies the `applied` commits sent before it and nothing after it.
    template<typename Peer>
    void expectRefusedAndClosed(MirrorSession& session, RefusalCounter counter, std::function<void(Peer&)> const& send, std::uint64_t applied = 0)
    {
        auto const before = session.receiver->counters();
        Peer peer{session.grant()};
        send(peer);
        ASSERT_TRUE(peer.pumpUntil([&] { return peer.shutDown(); })) << "the receiver kept the session";
        // The peer may see its connection end before the receiver's thread has read the completion
        // that ends it (tcp closes a connection whose message overruns the posted receive at once,
        // and reports the truncation on the receiver's queue): wait for the count, then check it.
        EXPECT_TRUE(eventually([&] { return session.receiver->counters().*counter > before.*counter; })) << "the refusal was never counted";
        auto const after = session.receiver->counters();
        EXPECT_EQ(after.*counter, before.*counter + 1);
        EXPECT_EQ(refusals(after), refusals(before) + 1) << "refused in another counter too, or more of the session counted";
        EXPECT_EQ(after.commits, before.commits + applied) << "a commit of a closed session applied";
        EXPECT_TRUE(eventually([&] { return !session.receiver->connected(); }));
    }

    class HostileSource
    {
    public:
        /// Connects to where the grant says the sink listens, with a valid proof of the grant's key:
        /// a source that holds the grant, and abuses it.
        explicit HostileSource(RegionGrant const& grant);

        /// RDMA-writes bytes [offset, offset + length) of this source's memory to target.
        void write(std::size_t offset, std::size_t length, ofi::RmaTarget target);

        /// Sends bytes [offset, offset + length) of this source's memory as a message.
        void send(std::size_t offset, std::size_t length);

        /// A write of no bytes into no region, with immediate data: no key to check, so it completes
        /// at the sink with remote CQ data whatever the sink registered.
        void writeOnlyData(std::uint64_t imm);

        /// Writes record into slot of the sink's commit ring with immediate data imm.
        void commit(CommitRecord const& record, std::uint32_t slot, std::uint64_t imm);

        /// Reads this side's queues (which is what moves its bytes) until done() holds or the
        /// timeout passes; returns done().
        bool pumpUntil(std::function<bool()> const& done, std::chrono::milliseconds timeout = pumpTimeout);

        /// The memory writes are taken from; records are staged below payloadOffset.
        [[nodiscard]] std::vector<std::byte>& memory() noexcept
        {
            return _memory;
        }

        [[nodiscard]] bool shutDown() const noexcept
        {
            return _shutDown;
        }

        /// The credit messages the sink sent so far, in order.
        [[nodiscard]] std::vector<CreditRecord> const& credits() const noexcept
        {
            return _credits;
        }

        static constexpr std::size_t payloadOffset = 64 * 1024;

    private:
        void drain();
        void postCreditReceive(std::size_t buffer);
        void post(std::span<std::byte const> bytes, ofi::RmaTarget target, std::optional<std::uint64_t> imm);
        /// Retries a post the provider refused for now (EAGAIN) after draining completions, until it is
        /// posted or the sink has closed the session.
        void postRetrying(std::function<ofi::PostResult()> const& attempt);

        RegionGrant _grant;
        ofi::Info _info;
        ofi::Fabric _fabric;
        ofi::EventQueue _events;
        ofi::Domain _domain;
        ofi::CompletionQueue _cq;
        ofi::Endpoint _endpoint;
        std::vector<std::byte> _memory;
        ofi::MemoryRegion _mr;
        std::array<CreditRecord, 8> _creditBuffers{};
        ofi::MemoryRegion _creditMr;
        std::vector<CreditRecord> _credits;
        std::size_t _records{0};
        bool _connected{false};
        bool _shutDown{false};
    };
}
