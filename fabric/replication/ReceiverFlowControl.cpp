// SPDX-License-Identifier: Apache-2.0
// Receiver: flow control. The sink grants the source credit as it consumes: what the credit is,
// when it is raised and how it travels back (docs/fabric.md, "Credit").
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

    void Receiver::raiseCredit(std::uint64_t claimedThrough) noexcept
    {
        // Credit only grows between Claim records, so that the answer to a claim is never taken back.
        _claimedThrough = _claimed ? std::max(_claimedThrough, claimedThrough) : claimedThrough;
        _claimed = true;
    }

    void Receiver::resetSession() noexcept
    {
        _claimed = false;
        _claimedThrough = 0;
        _answeredClaim = UINT64_MAX;
        // Buffers of the closed connection may still complete (or never): count them free.
        _creditsCompleted = _creditsPosted;
        _creditSent = false;
        _commitOrder.reset();
    }

    bool Receiver::creditCompleted(void* context) noexcept
    {
        // Compared as integers: the context may be any value, not a pointer into the slots.
        auto const at = reinterpret_cast<std::uintptr_t>(context);
        auto const first = reinterpret_cast<std::uintptr_t>(_creditOut.get());
        if (!_creditOut || at < first || at >= first + creditSlots * sizeof(CreditRecord) || (at - first) % sizeof(CreditRecord) != 0)
        {
            return false;
        }
        _creditsCompleted += _creditsCompleted < _creditsPosted ? 1 : 0;
        return true;
    }

    void Receiver::flushCredit()
    {
        if (!usesCredits() || !hasSource() || !_claimed)
        {
            return;
        }
        CreditRecord const credit{creditMagic, 0, _epoch, _claimedThrough, _answeredClaim};
        if (_creditSent && credit.claimedThrough == _lastCredit.claimedThrough && credit.answers == _lastCredit.answers)
        {
            return;
        }
        if (postCredit(credit))
        {
            _creditSent = true;
            _lastCredit = credit;
        }
    }
}
