// SPDX-License-Identifier: Apache-2.0
// The names of the status records' states, roles and directions: one table each, read both ways.
#include "status/BridgeStatus.hpp"

#include <utility>

namespace mxl::bridge
{
    namespace
    {
        template<typename E, std::size_t N>
        using Names = std::array<std::pair<E, std::string_view>, N>;

        constexpr Names<PeerDirection, 2> peerDirections{{{PeerDirection::Outgoing, "outgoing"}, {PeerDirection::Incoming, "incoming"}}};
        constexpr Names<PeerState, 5> peerStates{{{PeerState::Connecting, "connecting"}, {PeerState::Authenticating, "authenticating"},
            {PeerState::Up, "up"}, {PeerState::Backoff, "backoff"}, {PeerState::Refused, "refused"}}};
        constexpr Names<FlowRole, 2> flowRoles{{{FlowRole::Export, "export"}, {FlowRole::Import, "import"}}};
        constexpr Names<FlowState, allFlowStates.size()> flowStates{{{FlowState::Waiting, "waiting"}, {FlowState::Creating, "creating"},
            {FlowState::Offered, "offered"}, {FlowState::Connecting, "connecting"}, {FlowState::Active, "active"},
            {FlowState::SourceGone, "source-gone"}, {FlowState::Disconnected, "disconnected"}, {FlowState::Refused, "refused"},
            {FlowState::Error, "error"}}};

        template<typename E, std::size_t N>
        constexpr std::string_view nameOf(Names<E, N> const& names, E value) noexcept
        {
            for (auto const& [v, name] : names)
            {
                if (v == value)
                {
                    return name;
                }
            }
            return "unknown";
        }

        template<typename E, std::size_t N>
        constexpr std::optional<E> valueOf(Names<E, N> const& names, std::string_view text) noexcept
        {
            for (auto const& [v, name] : names)
            {
                if (name == text)
                {
                    return v;
                }
            }
            return std::nullopt;
        }

        // Every value has a name: the tables follow the enums.
        template<typename E, std::size_t N>
        constexpr bool complete(Names<E, N> const& names) noexcept
        {
            for (std::size_t i = 0; i < N; ++i)
            {
                if (static_cast<std::size_t>(names[i].first) != i)
                {
                    return false;
                }
            }
            return true;
        }
        static_assert(complete(peerDirections) && complete(peerStates) && complete(flowRoles) && complete(flowStates));
    }

    std::string_view toString(PeerDirection value) noexcept { return nameOf(peerDirections, value); }
    std::string_view toString(PeerState value) noexcept { return nameOf(peerStates, value); }
    std::string_view toString(FlowRole value) noexcept { return nameOf(flowRoles, value); }
    std::string_view toString(FlowState value) noexcept { return nameOf(flowStates, value); }

    std::optional<PeerDirection> parsePeerDirection(std::string_view text) noexcept { return valueOf(peerDirections, text); }
    std::optional<PeerState> parsePeerState(std::string_view text) noexcept { return valueOf(peerStates, text); }
    std::optional<FlowRole> parseFlowRole(std::string_view text) noexcept { return valueOf(flowRoles, text); }
    std::optional<FlowState> parseFlowState(std::string_view text) noexcept { return valueOf(flowStates, text); }
}
