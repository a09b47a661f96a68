// SPDX-License-Identifier: Apache-2.0
#include "bridge/Bridge.hpp"
#include "bridge/BridgeInternals.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include "common/Logging.hpp"
#include "flow/FlowDefinition.hpp"
#include "ofi/Info.hpp"
#include "protocol/Messages.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Offer.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    using namespace internal;

    namespace
    {
        /// What the status area shows of a session epoch: 64 bits of SHA-256 over it. Equal on both
        /// ends of a session and new with every session, so that operators and tests can tell
        /// sessions apart, but the epoch itself (part of what lets a peer write into a mirror) is
        /// never published in a file that other users can read.
        std::uint64_t sessionTag(std::uint64_t epoch) noexcept
        {
            if (epoch == 0)
            {
                return 0;
            }
            std::array<unsigned char, 8 + 24> input{};
            for (int i = 0; i < 8; ++i)
            {
                input[static_cast<std::size_t>(i)] = static_cast<unsigned char>(epoch >> (8 * i));
            }
            static constexpr char context[] = "mxl-fabric status session tag";
            std::memcpy(input.data() + 8, context, std::min(sizeof context, std::size_t{24}));
            unsigned char digest[SHA256_DIGEST_LENGTH];
            ::SHA256(input.data(), input.size(), digest);
            std::uint64_t tag = 0;
            for (int i = 0; i < 8; ++i)
            {
                tag |= std::uint64_t{digest[i]} << (8 * i);
            }
            return tag == 0 ? 1 : tag;
        }
    }

    // ---- Status ------------------------------------------------------------------------------

    void Bridge::publishStatus()
    {
        BridgeStatus status;
        status.pid = static_cast<std::uint32_t>(::getpid());
        status.bridgeId = formatUuid(_identity.bridgeId);
        status.listen = _listenAddress.text();
        status.startedTai = _startedTai;
        status.updatedTai = taiNow();

        for (auto const& peer : _peers)
        {
            PeerStatus p;
            p.address = peer.address;
            p.direction = "outgoing";
            p.sessions = peer.sessions;
            p.errors = peer.errors;
            p.lastError = peer.lastError;
            p.provider = peer.provider;
            if (peer.session == nullptr)
            {
                p.state = peer.refused ? "refused" : "backoff";
            }
            else
            {
                auto const& s = *peer.session;
                p.state = s.phase() == Session::Phase::Established ? "up" : s.phase() == Session::Phase::Connecting ? "connecting" : "authenticating";
                if (s.phase() == Session::Phase::Established)
                {
                    p.bridgeId = formatUuid(s.peerId());
                    p.upSince = s.establishedAt();
                    p.rttMs = s.rttMs().value_or(-1);
                    p.clockOffsetMs = s.clockOffsetMs();
                }
            }
            status.peers.push_back(std::move(p));
        }
        for (auto const& session : _sessions)
        {
            if (peerOf(*session) != nullptr || session->phase() != Session::Phase::Established)
            {
                continue;
            }
            PeerStatus p;
            p.address = session->peerText();
            p.direction = "incoming";
            p.state = "up";
            p.bridgeId = formatUuid(session->peerId());
            p.sessions = 1;
            p.upSince = session->establishedAt();
            p.rttMs = session->rttMs().value_or(-1);
            p.clockOffsetMs = session->clockOffsetMs();
            status.peers.push_back(std::move(p));
        }

        for (auto const& e : _exports)
        {
            if (e.session == nullptr)
            {
                continue;
            }
            FlowReplicationStatus f;
            f.flowId = formatUuid(e.flowId);
            f.role = "export";
            f.peer = e.session->peerText();
            f.state = exportStateName(static_cast<int>(e.state));
            f.provider = e.provider;
            f.transfer = e.transfer;
            f.epoch = e.state == Export::State::Active ? sessionTag(e.grantEpoch) : 0;
            f.errors = e.errors;
            f.lastError = e.lastError;
            if (e.sender)
            {
                auto const c = e.sender->counters();
                // Audio moves samples: they stand for grains here, as in the lag and skipped counts.
                f.grains = e.sender->continuous() ? c.slices : c.grains;
                f.bytes = c.bytes;
                f.commits = c.commits;
                f.skippedGrains = c.skippedGrains;
                f.lagGrains = c.lagGrains;
                f.errors += c.errors;
                f.headIndex = c.headIndex;
                if (!c.lastError.empty())
                {
                    f.lastError = c.lastError;
                }
            }
            status.flows.push_back(std::move(f));
        }
        for (auto const& import : _imports)
        {
            FlowReplicationStatus f;
            f.flowId = formatUuid(import.flowId);
            f.role = "import";
            f.peer = import.peer->address;
            f.state = Import::toString(import.state);
            f.provider = import.peer->provider;
            f.errors = import.errors;
            f.lastError = import.lastError;
            if (import.receiver)
            {
                auto const c = import.receiver->counters();
                auto const& grant = import.receiver->grant();
                f.provider = grant.provider;
                f.transfer = transferName(grant.transfer);
                f.epoch = sessionTag(grant.epoch);
                f.grains = import.receiver->continuous() ? c.slices : c.grains;
                f.bytes = c.bytes;
                f.commits = c.commits;
                f.refused = c.refusedEpoch + c.refusedSequence + c.refusedRange + c.refusedOperation + c.refusedConnections;
                f.errors += c.errors;
                f.headIndex = c.headIndex;
                if (!c.lastError.empty())
                {
                    f.lastError = c.lastError;
                }
                double offsetMs = 0;
                if (auto* session = import.peer->session; session != nullptr)
                {
                    offsetMs = session->clockOffsetMs();
                }
                if (c.latencyNs)
                {
                    // Arrival on our clock, nominal time on the source's: corrected by the offset.
                    f.latencyMs = static_cast<double>(*c.latencyNs) / 1e6 + offsetMs;
                }
                if (import.state == Import::State::Active && !import.receiver->connected())
                {
                    f.state = "connecting";
                }
                if (c.grains > 0 || c.commits > 0)
                {
                    // Grains (or samples) between the mirror's newest and the source's clock now.
                    auto const sourceNow = static_cast<std::uint64_t>(static_cast<double>(taiNow()) + offsetMs * 1e6);
                    auto const current = timestampToIndex(import.rate, sourceNow);
                    f.lagGrains = current != undefinedIndex && current > c.headIndex ? current - c.headIndex : 0;
                }
            }
            status.flows.push_back(std::move(f));
        }
        _status->publish(status);
        std::lock_guard lock{_statusMutex};
        _lastStatus = std::move(status);
    }
}
