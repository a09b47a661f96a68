// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bridge's status area: one file in the domain directory (statusFileName), mapped shared by the
// bridge that serves the domain and read-only by anyone else (mxl-info), without locks and without
// writes by readers. The bridge publishes a whole BridgeStatus at a time under a sequence counter
// (a seqlock: odd while writing); a reader copies the area and retries when the counter moved.
// The file has a fixed size, fixed-capacity tables and fixed-size text fields (cut to fit), so that
// a reader never follows a pointer or a length it has not checked. The same snapshot feeds
// mxl-fabric-bridge's Prometheus metrics (tools/mxl-fabric-bridge/Prometheus.hpp).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/Expected.hpp"

namespace mxl::bridge
{
    inline constexpr char statusFileName[] = ".mxl-fabric-bridge.status";
    inline constexpr std::size_t maxStatusPeers = 64;
    inline constexpr std::size_t maxStatusFlows = 256;
    inline constexpr std::size_t maxStatusLeases = 256;

    /// Whether this bridge imports from the peer (it connects out) or the peer imports from it.
    enum class PeerDirection : std::uint8_t
    {
        Outgoing,
        Incoming,
    };

    /// Where the control session with a peer stands.
    enum class PeerState : std::uint8_t
    {
        Connecting,     ///< TCP connect in progress.
        Authenticating, ///< TLS handshake, Hello and Capabilities.
        Up,             ///< Established.
        Backoff,        ///< No session; the next attempt waits for the back-off.
        Refused,        ///< The peer refused this bridge's key; retried slowly.
    };

    /// Whether this host is the flow's source or holds its mirror.
    enum class FlowRole : std::uint8_t
    {
        Export,
        Import,
    };

    /// Where the replication of a flow stands, for exports and imports alike.
    enum class FlowState : std::uint8_t
    {
        Waiting,      ///< Subscribed; no offer yet (import) or the flow does not exist yet (export).
        Creating,     ///< Import: the mirror is being created.
        Offered,      ///< Export: waiting for the peer's grant.
        Connecting,   ///< Granted; the data connection is being made.
        Active,       ///< Replicating.
        SourceGone,   ///< Import: the source flow went away.
        Disconnected, ///< Import: the session with the peer is down.
        Refused,      ///< Import: the peer refused (authentication or the flow).
        Error,        ///< Import: this host could not mirror it.
    };

    inline constexpr std::array allFlowStates{FlowState::Waiting, FlowState::Creating, FlowState::Offered, FlowState::Connecting,
        FlowState::Active, FlowState::SourceGone, FlowState::Disconnected, FlowState::Refused, FlowState::Error};

    /// The one name of each value: in the status area, mxl-info's output and the metrics' labels.
    [[nodiscard]] std::string_view toString(PeerDirection value) noexcept;
    [[nodiscard]] std::string_view toString(PeerState value) noexcept;
    [[nodiscard]] std::string_view toString(FlowRole value) noexcept;
    [[nodiscard]] std::string_view toString(FlowState value) noexcept;

    /// The value a name stands for; nothing for a name that is none of them.
    [[nodiscard]] std::optional<PeerDirection> parsePeerDirection(std::string_view text) noexcept;
    [[nodiscard]] std::optional<PeerState> parsePeerState(std::string_view text) noexcept;
    [[nodiscard]] std::optional<FlowRole> parseFlowRole(std::string_view text) noexcept;
    [[nodiscard]] std::optional<FlowState> parseFlowState(std::string_view text) noexcept;

    struct PeerStatus
    {
        std::string address;     ///< "10.0.0.1:7400" (the peer's control address).
        PeerDirection direction{PeerDirection::Outgoing};
        PeerState state{PeerState::Connecting};
        std::string bridgeId;    ///< The peer bridge's instance id, once known.
        std::string provider;    ///< Provider chosen for this peer ("tcp", "verbs"), once known.
        std::uint64_t sessions{0};       ///< Sessions established with this peer so far.
        std::uint64_t upSince{0};        ///< TAI ns when the current session came up, or 0.
        double rttMs{-1};                ///< Newest heartbeat round trip, or -1.
        double clockOffsetMs{0};         ///< Peer clock minus ours (NTP-style estimate).
        std::uint64_t errors{0};
        std::string lastError;
    };

    struct FlowReplicationStatus
    {
        std::string flowId;       ///< Lowercase UUID.
        FlowRole role{FlowRole::Export};
        std::string peer;         ///< The peer's control address.
        FlowState state{FlowState::Waiting};
        std::string provider;
        std::string transfer;     ///< "rma" or "send-receive".
        std::uint64_t epoch{0};   ///< A one-way tag of the session epoch in use (64 bits of SHA-256; 0: none): the same on both ends, new with every session; never the epoch itself.
        std::uint64_t grains{0};
        std::uint64_t bytes{0};
        std::uint64_t commits{0};
        std::uint64_t skippedGrains{0};
        std::uint64_t lagGrains{0};
        std::uint64_t refused{0};   ///< Refused records (epoch, sequence, range) on the import side.
        std::uint64_t errors{0};
        std::uint64_t headIndex{0}; ///< Newest grain index moved.
        double latencyMs{-1};       ///< Import: arrival minus the grain's nominal time, clock-offset corrected; -1 unknown.
        std::string lastError;
        std::string endpoint;     ///< The data endpoint: "msg" (connected) or "rdm" (reliable datagram: efa, shm, ...).
    };

    /// A remote flow a local process holds through the command ring (docs/remote-flows.md).
    struct LeaseStatus
    {
        std::uint32_t pid{0};
        std::string flowId; ///< Lowercase UUID.
        std::string peer;   ///< The source bridge's control address.
        std::uint64_t sinceTai{0};
        bool granted{false}; ///< false while the bridge is still acquiring it.
    };

    struct BridgeStatus
    {
        std::uint32_t pid{0};
        std::string bridgeId;
        std::string listen;
        std::uint64_t startedTai{0};
        std::uint64_t updatedTai{0}; ///< TAI ns of the last publish (a reader calls a status older than a few seconds stale).
        std::vector<PeerStatus> peers;          ///< At most maxStatusPeers are published.
        std::vector<FlowReplicationStatus> flows; ///< At most maxStatusFlows are published.
        std::vector<LeaseStatus> leases;          ///< At most maxStatusLeases are published.
    };

    /// The bridge's side. create() makes (or takes over) the status file and holds an exclusive
    /// flock on it for the writer's life: a second bridge on the same domain gets MXL_ERR_CONFLICT
    /// naming the pid that holds it. The file is removed on destruction.
    class StatusWriter
    {
    public:
        static Expected<std::unique_ptr<StatusWriter>> create(std::filesystem::path const& domain);
        ~StatusWriter();
        StatusWriter(StatusWriter const&) = delete;
        StatusWriter& operator=(StatusWriter const&) = delete;

        /// Writes the whole status (texts cut to their field sizes, tables to their capacities).
        void publish(BridgeStatus const& status) noexcept;

    private:
        StatusWriter() = default;
        struct State;
        std::unique_ptr<State> _state;
    };

    /// Reads a domain's status area. Nothing when no bridge publishes one; an error (INVALID_ARG,
    /// naming what is wrong) for a file of the wrong size, magic or version, counts out of range or
    /// a state, role or direction that is none of this version's;
    /// MXL_ERR_TIMEOUT when a consistent copy could not be taken after many retries.
    Expected<std::optional<BridgeStatus>> readStatus(std::filesystem::path const& domain);
}
