// SPDX-License-Identifier: Apache-2.0
#include "ReceiverSession.hpp"

#include <functional>

#include <array>
#include <cstring>
#include <thread>

#include <poll.h>
#include <rdma/fi_rma.h>

#include "protocol/ConnectProof.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Offer.hpp"
#include "replication/Sender.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        std::string definitionFor(std::string const& id, std::string const& media)
        {
            return media == "audio" ? mxl::test::flowDef(id, "audio", 0, 0, 48000, 1, 2) : mxl::test::flowDef(id, media, 320, 180, 50, 1);
        }
    }

    void require(Expected<void> result, std::string const& what)
    {
        if (!result)
        {
            throw std::runtime_error(what + ": " + result.error().message);
        }
    }

    bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (!condition())
        {
            if (std::chrono::steady_clock::now() >= deadline)
            {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
        }
        return true;
    }

    std::uint64_t refusals(CounterSnapshot const& counters) noexcept
    {
        return counters.refusedEpoch + counters.refusedSequence + counters.refusedRange + counters.refusedOperation;
    }

    std::pair<mxlStatus, std::uint16_t> peek(Sink& sink, std::uint64_t index)
    {
        mxlGrainInfo info{};
        std::uint8_t* payload = nullptr;
        auto const status = mxlFlowReaderGetGrainSliceNonBlocking(sink.reader, index, MXL_GRAIN_VALID_SLICES_ANY, &info, &payload);
        return {status, status == MXL_STATUS_OK ? info.validSlices : std::uint16_t{0}};
    }

    MirrorSession::MirrorSession(std::string const& media, Receiver::Options const& options)
        : source{sourceDir, definitionFor(id, media)}
        , sourceDomain{require(Domain::open(sourceDir.path(), nullptr), "source domain")}
        , sinkDomain{require(Domain::open(sinkDir.path(), nullptr), "sink domain")}
        , offer{require(makeFlowOffer(*sourceDomain, uuid), "flow offer")}
        , receiver{require(Receiver::create(*sinkDomain, offer, options), "receiver")}
    {
        receiver->start();
        sink.emplace(sinkDir, id);
    }

    void expectACorrectSourceReplicatesAfterwards(MirrorSession& session)
    {
        ASSERT_TRUE(eventually([&] { return !session.receiver->connected(); })) << "the receiver kept the broken connection";
        auto sender = Sender::create(*session.sourceDomain, session.uuid, session.grant(), {});
        ASSERT_TRUE(sender) << sender.error().message;
        (*sender)->start();
        auto const index = session.source.currentIndex();
        session.source.writeGrain(index);
        EXPECT_EQ(session.sink->verify(index), 0U) << "a new session is served like the first";
        (*sender)->stop();
        EXPECT_EQ((*sender)->counters().errors, 0U) << (*sender)->counters().lastError;
        EXPECT_GE(session.receiver->counters().grains, 1U);
    }

    HostileSource::HostileSource(RegionGrant const& grant)
        : _grant{grant}
        , _info{require(ofi::Info::query(sourceHints(grant.provider, grant.node, grant.service)), "fi_getinfo")}
        , _fabric{require(ofi::Fabric::open(_info), "fabric")}
        , _events{require(ofi::EventQueue::open(_fabric), "event queue")}
        , _domain{require(ofi::Domain::open(_fabric, _info), "domain")}
        , _cq{require(ofi::CompletionQueue::open(_domain, 256), "completion queue")}
        , _endpoint{require(ofi::Endpoint::open(_domain, _info, ofi::EndpointQueues{_cq, _cq, &_events, nullptr}), "endpoint")}
        , _memory(1 << 20)
        , _mr{require(ofi::MemoryRegion::create(_domain, _memory, FI_WRITE | FI_SEND), "memory region")}
        , _creditMr{require(ofi::MemoryRegion::create(_domain, std::as_bytes(std::span{_creditBuffers}), FI_RECV), "credit memory region")}
    {
        for (std::size_t buffer = 0; buffer < _creditBuffers.size(); ++buffer)
        {
            postCreditReceive(buffer);
        }
        require(_endpoint.connect(require(makeConnectProof(grant.connectKey, grant.flowId, grant.epoch), "connect proof")), "connect");
        if (!pumpUntil([this] { return _connected || _shutDown; }) || !_connected)
        {
            throw std::runtime_error("the hostile source could not connect to the sink");
        }
    }

    void HostileSource::postCreditReceive(std::size_t buffer)
    {
        auto const result = _endpoint.recv(std::as_writable_bytes(std::span{&_creditBuffers[buffer], 1}), _creditMr.desc(), &_creditBuffers[buffer]);
        if (!result.posted())
        {
            throw std::runtime_error("the hostile source could not post a receive for credit");
        }
    }

    void HostileSource::write(std::size_t offset, std::size_t length, ofi::RmaTarget target)
    {
        post(std::span{_memory}.subspan(offset, length), target, std::nullopt);
    }

    void HostileSource::send(std::size_t offset, std::size_t length)
    {
        postRetrying([&] { return _endpoint.send(std::span{_memory}.subspan(offset, length), _mr.desc(), nullptr); });
    }

    void HostileSource::writeOnlyData(std::uint64_t imm)
    {
        auto message = fi_msg_rma{};
        message.data = imm;
        // ofi::Endpoint always names a region; fi_writemsg itself takes none.
        postRetrying([&] { return ofi::PostResult{fi_writemsg(_endpoint.raw(), &message, FI_REMOTE_CQ_DATA | FI_COMPLETION)}; });
    }

    void HostileSource::commit(CommitRecord const& record, std::uint32_t slot, std::uint64_t imm)
    {
        // Each record is staged in its own place, so that none is rewritten while in flight.
        auto const offset = (_records++ % (payloadOffset / sizeof record)) * sizeof record;
        std::memcpy(_memory.data() + offset, &record, sizeof record);
        auto const target = _grant.commitRing.target(std::uint64_t{slot} * sizeof record, sizeof record);
        ASSERT_TRUE(target) << "slot " << slot << " is outside the commit ring";
        post(std::span{_memory}.subspan(offset, sizeof record), *target, imm);
    }

    void HostileSource::post(std::span<std::byte const> bytes, ofi::RmaTarget target, std::optional<std::uint64_t> imm)
    {
        postRetrying([&] {
            return imm ? _endpoint.writeWithData(bytes, _mr.desc(), target, *imm, nullptr) : _endpoint.write(bytes, _mr.desc(), target, nullptr);
        });
    }

    void HostileSource::postRetrying(std::function<ofi::PostResult()> const& attempt)
    {
        for (;;)
        {
            auto const result = attempt();
            if (result.posted())
            {
                return;
            }
            drain();
            if (_shutDown)
            {
                // The sink closed the session: what this source would still post goes nowhere.
                return;
            }
            ASSERT_TRUE(result.again()) << fi_strerror(result.error());
        }
    }

    bool HostileSource::pumpUntil(std::function<bool()> const& done, std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        for (;;)
        {
            drain();
            if (done())
            {
                return true;
            }
            if (std::chrono::steady_clock::now() >= deadline)
            {
                return false;
            }
            if (_cq.tryWait() && _events.tryWait())
            {
                std::array<pollfd, 2> fds{{{_cq.waitFd(), POLLIN, 0}, {_events.waitFd(), POLLIN, 0}}};
                ::poll(fds.data(), fds.size(), 5);
            }
        }
    }

    void HostileSource::drain()
    {
        std::array<fi_cq_data_entry, 16> entries;
        for (;;)
        {
            auto const n = _cq.read(entries);
            if (n == ofi::kCompletionErrorAvailable)
            {
                ofi::CompletionError error;
                (void)_cq.readError(error);
                continue;
            }
            if (n <= 0)
            {
                break;
            }
            for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i)
            {
                if ((entries[i].flags & FI_RECV) != 0)
                {
                    auto const* credit = static_cast<CreditRecord const*>(entries[i].op_context);
                    _credits.push_back(*credit);
                    postCreditReceive(static_cast<std::size_t>(credit - _creditBuffers.data()));
                }
            }
        }
        for (;;)
        {
            auto event = _events.read();
            if (!event || !event->has_value())
            {
                break;
            }
            switch ((*event)->kind)
            {
                case ofi::CmEventKind::Connected: _connected = true; break;
                case ofi::CmEventKind::Shutdown:
                case ofi::CmEventKind::Error: _shutDown = true; break;
                default: break;
            }
        }
    }
}
