// SPDX-License-Identifier: Apache-2.0
#pragma once

// A peer this bridge imports from: one outgoing control session at a time, reconnected with
// back-off by the conductor (Bridge); the importer's flows point at it.

#include <cstdint>
#include <string>
#include <vector>

#include "base/Uuid.hpp"

#include "control/Network.hpp"
#include "control/Session.hpp"

namespace mxl::bridge
{
    struct Peer
    {
        std::string address; ///< As given to --import.
        SocketAddress socketAddress;
        Session* session{nullptr}; ///< The current session (owned by the conductor), or none.
        std::uint64_t nextAttempt{0};
        std::uint64_t backoffNs{0};
        std::uint64_t sessions{0};
        std::uint64_t errors{0};
        std::string lastError;
        std::string provider; ///< Chosen for the current session.
        bool refused{false};  ///< Authentication failed: retried slowly.
        /// Dialled for leases only (not named by --import): goes when its last import goes.
        bool leased{false};
        /// Its last import went: no new session; removed once the current one is closed.
        bool retiring{false};
        /// The address is this bridge's own (a session with it met ourselves).
        bool self{false};
        /// The flows the peer exports, from its Catalogue pages (catalogueKnown once all arrived).
        std::vector<Uuid> catalogue;
        std::vector<Uuid> cataloguePages;
        bool catalogueKnown{false};
    };
}
