// SPDX-License-Identifier: Apache-2.0
#pragma once

// The leases of remote flows that local processes asked for through the command ring (issue 12,
// docs/remote-flows.md): who holds which flow, since when, within which limits, and when a flow
// nobody holds any more may go. Plain bookkeeping on the conductor's thread; the conductor
// (Bridge, BridgeLeases.cpp) turns it into imports and replies.
//
// A flow is named by its source bridge's control address as this bridge dials it ("IP:PORT") and
// its id, so that one mirror serves every lease on it however the URIs spelled the host. A flow
// that --import names is pinned: leases on it come and go, the import stays.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "remote/ProcessIdentity.hpp"

namespace mxl::bridge
{
    struct LeasedFlow
    {
        std::string peer; ///< The source bridge's control address, "IP:PORT" or "[IPv6]:PORT".
        Uuid flowId{};

        friend auto operator<=>(LeasedFlow const&, LeasedFlow const&) = default;
    };

    struct LeaseLimits
    {
        std::uint64_t lingerNs{10'000'000'000ULL}; ///< How long a flow's mirror stays after its last lease.
        std::size_t maxLeases{1024};               ///< All leases (held and being acquired) together.
        std::size_t maxLeasesPerClient{64};        ///< One process's.
    };

    struct Lease
    {
        std::uint64_t id{0};
        fabric::remote::ProcessIdentity client;
        std::optional<LeasedFlow> flow; ///< None while the source's host name is being resolved.
        std::uint64_t sinceTai{0};      ///< When it was asked for (TAI ns).
        bool granted{false};            ///< The client has been answered Ok.
    };

    class Leases
    {
    public:
        /// firstId: lease ids count on from there (a random start, so that ids from before a restart
        /// of the bridge are not taken for new ones).
        Leases(LeaseLimits limits, std::uint64_t firstId);

        /// A new lease for client, not yet on a flow (see attach). MXL_ERR_NOT_READY naming the
        /// limit when the client, or the bridge, holds as many as it may.
        Expected<std::uint64_t> open(fabric::remote::ProcessIdentity const& client, std::uint64_t sinceTai);
        /// Puts lease id on flow; the flow no longer lingers.
        void attach(std::uint64_t id, LeasedFlow const& flow);
        void grant(std::uint64_t id);
        /// Ends lease id. A flow left without leases lingers from now on (unless pinned).
        void close(std::uint64_t id, std::uint64_t now);

        [[nodiscard]] Lease const* find(std::uint64_t id) const;
        /// The leases of clients that are no longer running (check() says Gone or Mismatch).
        [[nodiscard]] std::vector<std::uint64_t> leasesOfDeadClients() const;

        /// flow stays, however its leases come and go (--import).
        void pin(LeasedFlow const& flow);
        [[nodiscard]] bool pinned(LeasedFlow const& flow) const;
        /// The leases on flow, granted or not.
        [[nodiscard]] std::size_t count(LeasedFlow const& flow) const;

        /// flow lingers no longer: expired() gives it from now on.
        void endLingerNow(LeasedFlow const& flow, std::uint64_t now);
        /// Flows whose linger ended by now: forgotten here, for the caller to drop their imports.
        std::vector<LeasedFlow> expired(std::uint64_t now);
        /// The flows that linger, and until when (monotonic ns).
        [[nodiscard]] std::map<LeasedFlow, std::uint64_t> const& lingering() const noexcept
        {
            return _lingering;
        }

        [[nodiscard]] std::map<std::uint64_t, Lease> const& all() const noexcept
        {
            return _leases;
        }

        [[nodiscard]] LeaseLimits const& limits() const noexcept
        {
            return _limits;
        }

    private:
        LeaseLimits _limits;
        std::uint64_t _nextId;
        std::map<std::uint64_t, Lease> _leases;
        std::map<LeasedFlow, std::uint64_t> _lingering; ///< flow -> the end of its linger
        std::set<LeasedFlow> _pinned;
    };
}
