// SPDX-License-Identifier: Apache-2.0
// Receiver: what completes on the completion queue, whether this transfer allows it, and what ends a
// source's session.
#include "replication/Receiver.hpp"
#include "replication/ReceiverTuning.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <poll.h>
#include <sys/eventfd.h>
#include <fmt/format.h>
#include "common/Logging.hpp"
#include "flow/ContinuousFlowWriter.hpp"
#include "flow/DiscreteFlowWriter.hpp"
#include "ofi/Address.hpp"
#include "replication/FabricHints.hpp"
#include "time/Timing.hpp"

namespace mxl::fabric
{
    using namespace receiver;

    void Receiver::handleCompletions()
    {
        _cq->drain(
            [this](std::span<fi_cq_data_entry const> entries) {
                for (auto const& entry : entries)
                {
                    onCompletion(entry);
                }
                // Credit goes back as soon as the commits that raised it are applied, not after the
                // queue ran dry: the source may be waiting for it.
                flushCredit();
            },
            [this](ofi::CompletionError const& error) { onCompletionError(error); });
    }

    void Receiver::onCompletion(fi_cq_data_entry const& entry)
    {
        if ((entry.flags & FI_REMOTE_CQ_DATA) != 0)
        {
            if (_options.transfer == Transfer::Rma)
            {
                onCommit(static_cast<std::uint32_t>(entry.data));
            }
            else
            {
                refuse(_counters.refusedOperation, "a remote write with immediate data on a send/receive session");
            }
            return;
        }
        if ((entry.flags & FI_RECV) != 0)
        {
            if (_rdm)
            {
                onDatagram(entry.len);
                postReceive(0);
                return;
            }
            if (_options.transfer == Transfer::SendReceive)
            {
                onMessage(entry.op_context, entry.len);
                return;
            }
            std::size_t buffer = 0;
            auto const of = receiveOf(entry.op_context, buffer);
            if (of == ReceiveOf::ThisConnection)
            {
                refuse(_counters.refusedOperation, "a message on an RMA session");
            }
            else if (of == ReceiveOf::Nobody)
            {
                refuse(_counters.refusedOperation, "a message completing a receive this receiver never posted");
            }
            return;
        }
        if ((entry.flags & FI_SEND) != 0 && creditCompleted(entry.op_context))
        {
            return;
        }
        refuse(_counters.refusedOperation, fmt::format("an operation this transfer does not use (completion flags {:#x})", entry.flags));
    }

    void Receiver::onCompletionError(ofi::CompletionError const& error)
    {
        if ((error.flags & FI_RECV) != 0 && _rdm)
        {
            if (error.error != FI_ECANCELED)
            {
                // Longer than any Hello (FI_ETRUNC): refused like any other malformed one.
                noteRefusedConnection("a datagram sender", fmt::format("a message that failed its receive: {}", error.providerMessage.data()));
                postReceive(0);
            }
            return;
        }
        if ((error.flags & FI_RECV) != 0)
        {
            if (_options.transfer == Transfer::SendReceive)
            {
                onMessageError(error);
                return;
            }
            std::size_t buffer = 0;
            if (error.error != FI_ECANCELED && receiveOf(error.context, buffer) == ReceiveOf::ThisConnection)
            {
                // A message longer than the trap buffer (FI_ETRUNC): a message all the same.
                refuse(_counters.refusedOperation, "a message on an RMA session");
            }
            return;
        }
        if (creditCompleted(error.context))
        {
            if (_rdm && _source)
            {
                // No connection tells that a datagram source went away: a message it cannot take does.
                log().info("flow {}: the source is unreachable ({}): session closed", formatUuid(_definition.id), error.providerMessage.data());
                detachSource(false);
                return;
            }
            // Usually the connection going away (its shutdown event ends the session); on a
            // connection that stays, the newest credit is simply sent again.
            log().debug("flow {}: a credit message failed: {}", formatUuid(_definition.id), error.providerMessage.data());
            _creditSent = false;
            return;
        }
        _counters.error(fmt::format("completion error: {}", error.providerMessage.data()));
    }

    void Receiver::onCommit(std::uint32_t sequence)
    {
        if (!hasSource())
        {
            // Left over from a session that was closed: nothing it sent is trusted any more.
            return;
        }
        // The record was written by the peer: copy it once and validate the copy.
        CommitRecord record;
        std::memcpy(&record, &_commitRing[sequence % commitRingEntries], sizeof record);
        std::optional<CommitRecord> landed{record};
        if (record.sequence != sequence)
        {
            // Sequences wrap at 32 bits: "a whole number of rings ahead" in modular arithmetic.
            auto const ahead = static_cast<std::uint32_t>(record.sequence - sequence);
            if (ahead >= (1U << 31) || ahead % commitRingEntries != 0)
            {
                refuse(_counters.refusedSequence, fmt::format("immediate data {} does not match the record's sequence {}", sequence, record.sequence));
                return;
            }
            // This receiver fell a whole ring behind and a newer record took the slot: the commit
            // is lost, not forged, and the grain's next commit carries its full slice count.
            _counters.refusedSequence.fetch_add(1, std::memory_order_relaxed);
            landed.reset();
        }
        if (landed && !admitCommit(*landed))
        {
            return;
        }
        switch (_commitOrder.arrive(sequence, landed))
        {
        case CommitOrder::Arrival::Next:
            break;
        case CommitOrder::Arrival::Early:
            _counters.reorderedRecords.fetch_add(1, std::memory_order_relaxed);
            return;
        case CommitOrder::Arrival::Repeated:
            refuse(_counters.refusedSequence, fmt::format("commit record {} landed twice", sequence));
            return;
        case CommitOrder::Arrival::TooFarAhead:
            refuse(_counters.refusedSequence, fmt::format("commit record {} landed while {} was awaited (more than {} ahead)", sequence,
                                                  _commitOrder.awaited(), commitReorderWindow));
            return;
        }
        // Applying a record may end the session (a refusal): what waited for it is then dropped.
        while (hasSource())
        {
            auto const next = _commitOrder.next();
            if (!next)
            {
                return;
            }
            applyCommit(*next);
        }
    }

    void Receiver::onMessage(void* context, std::size_t length)
    {
        std::size_t buffer = 0;
        auto const of = receiveOf(context, buffer);
        if (of == ReceiveOf::Nobody)
        {
            refuse(_counters.refusedOperation, "a message completing a receive this receiver never posted");
            return;
        }
        if (of == ReceiveOf::EarlierConnection)
        {
            return;
        }
        auto const message = std::span<std::byte const>{_bounce.get() + buffer * bounceBufferSize, std::min(length, bounceBufferSize)};
        auto const header = readBounceHeader(message);
        if (!header)
        {
            refuse(_counters.refusedRange, "a malformed message");
        }
        else if (header->sequence != _nextMessage)
        {
            // Nothing after a lost or repeated message can be trusted to be whole (a later commit of
            // the same grain would publish missing bytes): the session ends here.
            refuse(_counters.refusedSequence, fmt::format("message {} where {} was expected", header->sequence, _nextMessage));
        }
        else
        {
            ++_nextMessage;
            if (header->kind == BounceKind::Commit)
            {
                auto const record = commitRecord(*header);
                if (admitCommit(record))
                {
                    applyCommit(record);
                }
            }
            else
            {
                applyData(*header, message.subspan(sizeof(BounceHeader)));
            }
        }
        postReceive(buffer);
    }

    void Receiver::onMessageError(ofi::CompletionError const& error)
    {
        if (error.error == FI_ECANCELED)
        {
            return;
        }
        // A message larger than a bounce buffer (FI_ETRUNC) or a broken connection: the message is
        // lost, so the next one fails the sequence check.
        _counters.error(fmt::format("receive failed: {}", error.providerMessage.data()));
        std::size_t buffer = 0;
        if (receiveOf(error.context, buffer) == ReceiveOf::ThisConnection)
        {
            postReceive(buffer);
        }
    }

    void Receiver::refuse(std::atomic<std::uint64_t>& counter, std::string const& reason)
    {
        counter.fetch_add(1, std::memory_order_relaxed);
        if (!hasSource())
        {
            return;
        }
        // A broken or hostile source: its session is closed so that nothing else it sent is applied.
        // A source that is merely restarting connects again with a valid grant.
        log().warn("flow {}: closing the source's session: it sent {}", formatUuid(_definition.id), reason);
        _counters.error(fmt::format("session closed: {}", reason));
        if (_rdm)
        {
            detachSource(true);
            return;
        }
        _connected.store(false, std::memory_order_release);
        (void)_endpoint->shutdown();
        _endpoint.reset();
        ++_connection;
    }

    bool Receiver::inSession(std::uint64_t epoch)
    {
        if (epoch != _epoch)
        {
            refuse(_counters.refusedEpoch, "a commit of another session (stale epoch)");
            return false;
        }
        return true;
    }
}
