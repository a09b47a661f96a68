// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mxl::info
{
    /// How a flow is replicated between hosts, as the bridge publishes it.
    struct ReplicationStatus
    {
        /// A few characters for tables ("src 2", "mirror", ...).
        std::string summary;
        /// Everything the bridge says about the flow, for --flow and --json.
        nlohmann::json detail;
    };

    /// Reads the bridge's status area of a domain. No bridge publishes one yet, so every flow has no
    /// replication status (shown as "-"); reading the status area belongs here when it arrives.
    class ReplicationSource
    {
    public:
        explicit ReplicationSource(std::filesystem::path domain)
            : _domain{std::move(domain)}
        {}

        [[nodiscard]] std::filesystem::path const& domain() const noexcept
        {
            return _domain;
        }

        /// Re-reads the status area (once per listing or refresh).
        void refresh()
        {}

        [[nodiscard]] std::optional<ReplicationStatus> lookup(std::string const& /*flowId*/) const
        {
            return std::nullopt;
        }

    private:
        std::filesystem::path _domain;
    };
}
