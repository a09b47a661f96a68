// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <mxl/flowinfo.h>
#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "flow/AccessWatcher.hpp"
#include "flow/FlowDefinition.hpp"
#include "flow/FlowReader.hpp"
#include "flow/FlowWriter.hpp"

namespace mxl
{
    struct CreatedWriter
    {
        std::unique_ptr<FlowWriter> writer;
        bool created{false};
    };

    /// A directory of flows. Creates writers (creating or adopting flows), readers, and collects
    /// flows whose writers died.
    class Domain
    {
    public:
        /// Opens an existing domain directory. Options in json override the domain's options.json.
        /// Errors: FLOW_NOT_FOUND (no such directory), UNKNOWN (malformed options).
        static Expected<std::unique_ptr<Domain>> open(std::filesystem::path path, char const* optionsJson);

        [[nodiscard]] std::filesystem::path const& path() const noexcept
        {
            return _path;
        }

        [[nodiscard]] DomainOptions const& options() const noexcept
        {
            return _options;
        }

        [[nodiscard]] bool writable() const noexcept;

        /// Creates the flow described by flowDef, or adopts it when it exists with the same
        /// geometry. A stale flow (no live writer) of another geometry is replaced.
        Expected<CreatedWriter> createWriter(std::string_view flowDef, char const* optionsJson);

        enum class Ring
        {
            Adopt, ///< An existing flow's ring length is kept (writers of one flow may differ in history).
            Exact, ///< An existing flow must have exactly the ring length of config.
        };

        /// As createWriter, with the header configuration given instead of derived from this
        /// domain's history. Mirrors of remote flows use Ring::Exact: the ring length is part of
        /// the timing model and must be the source's.
        Expected<CreatedWriter> createWriterWithConfig(FlowDefinition const& def, mxlFlowConfigInfo const& config, Ring ring = Ring::Adopt);

        /// Releases a writer; the last writer of a flow removes it.
        void releaseWriter(std::unique_ptr<FlowWriter> writer);

        Expected<std::unique_ptr<FlowReader>> createReader(std::string_view flowId);

        Expected<bool> isFlowActive(std::string_view flowId) const;

        Expected<std::string> flowDefinition(std::string_view flowId) const;

        /// Removes stale flows (and temporary directories abandoned by crashed creators). Returns the
        /// ids removed.
        Expected<std::vector<Uuid>> collectGarbage();

        /// Ids of every flow directory in the domain, live or stale.
        [[nodiscard]] std::vector<Uuid> listFlows() const;

        [[nodiscard]] std::filesystem::path flowDir(Uuid const& id) const
        {
            return _path / flowDirName(id);
        }

    private:
        Domain(std::filesystem::path path, DomainOptions options) noexcept;

        Expected<std::filesystem::path> flowDirFor(std::string_view flowId) const;

        /// The writer for a flow just opened read-write, its readers' reads watched.
        std::unique_ptr<FlowWriter> makeWriter(std::unique_ptr<Flow> flow);

        std::filesystem::path _path;
        DomainOptions _options;
        std::mutex _watcherMutex;
        std::shared_ptr<AccessWatcher> _accessWatcher; ///< Started with the first writer.
        bool _watcherStarted{false};
    };
}
