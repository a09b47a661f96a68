// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mxl/flowinfo.h>
#include "flow/Flow.hpp"
#include "mxl-info/Replication.hpp"

namespace mxl::info
{
    struct GrainSlot
    {
        std::uint32_t slot{0};
        std::uint64_t index{0};
        std::uint16_t validSlices{0};
        std::uint16_t totalSlices{0};
        std::uint32_t flags{0};
    };

    /// What mxl-info knows about one flow at one instant.
    struct FlowStatus
    {
        std::string id;
        /// Empty when the flow's files could be opened and validated; else why not.
        std::string error;

        // From flow_def.json.
        std::string label;
        std::string mediaType;
        std::string group;
        std::string role;
        std::uint32_t width{0};
        std::uint32_t height{0};
        std::string interlaceMode;
        nlohmann::json flowDef;

        // From the flow header (copied).
        mxlFlowConfigInfo config{};
        mxlFlowRuntimeInfo runtime{};
        bool discrete{false};
        std::uint32_t grainSize{0};
        std::uint32_t sampleWordSize{0};

        std::uint64_t now{0};
        bool writerActive{false};
        /// Current index (grains or samples) on the flow's rate minus the head; nothing until the
        /// first commit.
        std::optional<std::int64_t> latency;
        std::vector<GrainSlot> grains;
        std::optional<ReplicationStatus> replication;

        [[nodiscard]] mxlRational rate() const noexcept
        {
            return config.common.grainRate;
        }

        [[nodiscard]] std::optional<double> latencyMs() const;

        /// "1920x1080", "2 ch" or "-".
        [[nodiscard]] std::string geometry() const;

        /// "video", "audio", "data" or "?".
        [[nodiscard]] std::string formatName() const;
    };

    /// Inspects the flows of a domain without disturbing them: read-only mappings, no locks beyond
    /// the liveness probe, no writes, and no garbage collection. Keeps flows mapped between calls,
    /// for --watch.
    ///
    /// It reads through libmxl's internal classes (Flow, the domain's layout), not the C API: every
    /// C API reader needs an mxlInstance, and mxlCreateInstance collects the stale flows of a writable
    /// domain, which mxl-info must list, not remove. Nor does the C API list a domain, give a reader
    /// the header of every grain slot, or say why a flow cannot be opened other than in the log.
    class DomainInspector
    {
    public:
        explicit DomainInspector(std::filesystem::path domain);

        [[nodiscard]] std::filesystem::path const& domain() const noexcept
        {
            return _domain;
        }

        /// Every flow directory of the domain, grouped by group hint and ordered by label.
        std::vector<FlowStatus> scan();

        /// One flow with its grain slots; nothing if the domain has no such flow directory.
        std::optional<FlowStatus> inspect(std::string const& id);

    private:
        struct Opened
        {
            std::unique_ptr<Flow> flow;
            nlohmann::json flowDef;
        };

        FlowStatus status(std::string const& id, bool withGrains);

        std::filesystem::path _domain;
        ReplicationSource _replication;
        std::map<std::string, Opened> _open;
    };

    /// Ids (canonical lowercase) of the flow directories in a domain, live or stale.
    std::vector<std::string> listFlowIds(std::filesystem::path const& domain);
}
