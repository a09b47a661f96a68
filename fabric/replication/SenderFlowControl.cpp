// SPDX-License-Identifier: Apache-2.0
// Sender: flow control. The sink's credit, how it arrives, and whether there is room to post
// (docs/fabric.md, "Credit").
#include "replication/Sender.hpp"
#include "replication/SenderTuning.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <poll.h>
#include <fmt/format.h>
#include "common/Logging.hpp"
#include "replication/FabricHints.hpp"
#include "sync/Futex.hpp"

namespace mxl::fabric
{
    using namespace sender;

    void Sender::postCreditReceive(std::size_t buffer)
    {
        auto const result = _endpoint->recv(std::as_writable_bytes(std::span{&_creditsIn[buffer], 1}), _creditsMr->desc(), &_creditsIn[buffer]);
        if (!result.posted())
        {
            abort(fmt::format("posting a receive for credit failed: {}", result.again() ? "queue full" : fi_strerror(result.error())));
        }
    }

    void Sender::onCredit(std::size_t buffer, std::size_t length)
    {
        auto const credit = _creditsIn[buffer];
        if (_rdm && length == sizeof(CreditRecord) && credit.epoch == _grant.epoch && credit.magic == closeMagic)
        {
            abort("the sink closed the session");
            return;
        }
        if (length != sizeof(CreditRecord) || credit.magic != creditMagic || credit.epoch != _grant.epoch)
        {
            abort("the sink sent a malformed credit message");
            return;
        }
        postCreditReceive(buffer);
        if (_claimPending)
        {
            if (credit.answers != *_claimPending)
            {
                // Credit granted before the sink saw the claim: the answer is still to come.
                return;
            }
            _claimPending.reset();
        }
        _creditArrived = _creditArrived || !_credit || credit.claimedThrough != *_credit;
        _credit = credit.claimedThrough;
    }

    void Sender::watchClaim()
    {
        if (!_claimPending)
        {
            _claimWatch.reset();
            return;
        }
        auto const now = std::chrono::steady_clock::now();
        if (!_claimWatch || _claimWatch->first != *_claimPending)
        {
            _claimWatch.emplace(*_claimPending, now);
            return;
        }
        if (now - _claimWatch->second > claimAnswerTimeout)
        {
            abort(fmt::format("the sink has not answered a claim for {} s: gone or stuck (a reliable-datagram endpoint has no connection "
                              "that would say so)",
                claimAnswerTimeout.count()));
        }
    }

    bool Sender::room(std::size_t ops, std::size_t bytes) const noexcept
    {
        auto const idle = _outstandingBytes == 0;
        return payloadCapacity - (_payloadQueued - _payloadDone) >= ops && recordRoom() &&
               (idle || _outstandingBytes + bytes <= _byteBudget);
    }

    std::optional<std::size_t> Sender::creditBuffer(void* context) const noexcept
    {
        // Compared as integers: the context may be any value, not a pointer into the buffers.
        auto const at = reinterpret_cast<std::uintptr_t>(context);
        auto const first = reinterpret_cast<std::uintptr_t>(_creditsIn.get());
        if (!_creditsIn || at < first || at >= first + creditBuffers * sizeof(CreditRecord) || (at - first) % sizeof(CreditRecord) != 0)
        {
            return std::nullopt;
        }
        return (at - first) / sizeof(CreditRecord);
    }
}
