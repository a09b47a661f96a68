// SPDX-License-Identifier: Apache-2.0
#include "domain/Domain.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <fmt/format.h>

#include "base/Fd.hpp"
#include "common/DomainFile.hpp"
#include "common/Logging.hpp"
#include "flow/ContinuousFlowReader.hpp"
#include "flow/ContinuousFlowWriter.hpp"
#include "flow/DiscreteFlowReader.hpp"
#include "flow/DiscreteFlowWriter.hpp"
#include "flow/FlowCreation.hpp"

namespace mxl
{
    namespace
    {
        /// Attempts at creating or adopting a flow that keeps vanishing or appearing under us
        /// (other writers, a garbage collector) before giving up.
        constexpr int maxCreateAttempts = 50;

        enum class Liveness
        {
            Missing,
            Live,
            Stale,
        };

        /// The format's liveness probe: a flow whose `data` can be locked exclusively has no writer.
        /// On Stale, *lock keeps the exclusive lock so that the caller can remove the flow safely.
        Liveness probe(std::filesystem::path const& dir, Fd* lock = nullptr)
        {
            auto opened = openDomainFile(dir / "data", O_RDONLY);
            if (!opened)
            {
                // A flow directory without a readable `data` (or with something else than a file
                // there) is debris of a crash, or planted: stale if it exists.
                std::error_code ec;
                return std::filesystem::exists(std::filesystem::symlink_status(dir, ec)) ? Liveness::Stale : Liveness::Missing;
            }
            auto fd = std::move(*opened);
            if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
            {
                return Liveness::Live;
            }
            if (lock != nullptr)
            {
                *lock = std::move(fd);
            }
            return Liveness::Stale;
        }

        bool sameRing(mxlFlowConfigInfo const& a, mxlFlowConfigInfo const& b) noexcept
        {
            return mxlIsDiscreteDataFormat(a.common.format) ? a.discrete.grainCount == b.discrete.grainCount
                                                            : a.continuous.bufferLength == b.continuous.bufferLength;
        }

        std::string describe(mxlFlowConfigInfo const& c)
        {
            if (mxlIsDiscreteDataFormat(c.common.format))
            {
                return fmt::format("format {}, rate {}/{}, slice sizes {}/{}/{}/{}, {} grains", c.common.format, c.common.grainRate.numerator,
                    c.common.grainRate.denominator, c.discrete.sliceSizes[0], c.discrete.sliceSizes[1], c.discrete.sliceSizes[2],
                    c.discrete.sliceSizes[3], c.discrete.grainCount);
            }
            return fmt::format("format {}, rate {}/{}, {} channels, {} samples", c.common.format, c.common.grainRate.numerator,
                c.common.grainRate.denominator, c.continuous.channelCount, c.continuous.bufferLength);
        }
    }

    Domain::Domain(std::filesystem::path path, DomainOptions options) noexcept
        : _path{std::move(path)}
        , _options{options}
    {}

    std::unique_ptr<FlowWriter> Domain::makeWriter(std::unique_ptr<Flow> flow)
    {
        auto const accessFile = flow->dir() / "access";
        auto* lastReadTime = &flow->data()->info.runtime.lastReadTime;
        std::unique_ptr<FlowWriter> writer;
        if (flow->discrete())
        {
            writer = std::make_unique<DiscreteFlowWriter>(std::move(flow));
        }
        else
        {
            writer = std::make_unique<ContinuousFlowWriter>(std::move(flow));
        }
        std::shared_ptr<AccessWatcher> watcher;
        {
            std::lock_guard lock{_watcherMutex};
            if (!_watcherStarted)
            {
                _watcherStarted = true;
                _accessWatcher = AccessWatcher::start();
            }
            watcher = _accessWatcher;
        }
        if (watcher)
        {
            writer->watchAccess(watcher->watch(accessFile, lastReadTime));
        }
        return writer;
    }

    Expected<std::unique_ptr<Domain>> Domain::open(std::filesystem::path path, char const* optionsJson)
    {
        std::error_code ec;
        if (!std::filesystem::is_directory(path, ec))
        {
            return fail(MXL_ERR_FLOW_NOT_FOUND, fmt::format("domain {} is not an existing directory", path.string()));
        }
        DomainOptions options;
        auto const optionsFile = path / "options.json";
        if (std::filesystem::exists(optionsFile, ec))
        {
            auto text = readDomainFile(optionsFile, maxOptionsBytes);
            if (!text)
            {
                return text.take_error();
            }
            auto parsed = parseDomainOptions(*text, options, optionsFile.string());
            if (!parsed)
            {
                return parsed.take_error();
            }
            options = *parsed;
        }
        if (optionsJson != nullptr && *optionsJson != '\0')
        {
            auto parsed = parseDomainOptions(optionsJson, options, "instance options");
            if (!parsed)
            {
                return parsed.take_error();
            }
            options = *parsed;
        }
        std::unique_ptr<Domain> domain{new Domain{std::move(path), options}};
        if (domain->writable())
        {
            // Flows of crashed writers would otherwise stay until somebody asks.
            if (auto removed = domain->collectGarbage(); removed && !removed->empty())
            {
                log().info("domain {}: removed {} stale flow(s)", domain->_path.string(), removed->size());
            }
        }
        return domain;
    }

    bool Domain::writable() const noexcept
    {
        return ::access(_path.c_str(), W_OK) == 0;
    }

    Expected<std::filesystem::path> Domain::flowDirFor(std::string_view flowId) const
    {
        auto const id = parseUuid(flowId);
        if (!id)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("'{}' is not a flow id (a UUID)", flowId));
        }
        return flowDir(*id);
    }

    Expected<CreatedWriter> Domain::createWriter(std::string_view flowDef, char const* optionsJson)
    {
        auto def = parseFlowDefinition(flowDef);
        if (!def)
        {
            return def.take_error();
        }
        auto options = parseWriterOptions(optionsJson);
        if (!options)
        {
            return options.take_error();
        }
        auto config = makeFlowConfig(*def, *options, _options.historyNs);
        if (!config)
        {
            return config.take_error();
        }
        return createWriterWithConfig(*def, *config);
    }

    Expected<CreatedWriter> Domain::createWriterWithConfig(FlowDefinition const& def, mxlFlowConfigInfo const& config, Ring ring)
    {
        if (!writable())
        {
            return fail(MXL_ERR_PERMISSION_DENIED, fmt::format("domain {} is not writable", _path.string()));
        }
        auto const dir = flowDir(def.id);
        for (int attempt = 0; attempt < maxCreateAttempts; ++attempt)
        {
            std::error_code ec;
            if (!std::filesystem::exists(dir, ec))
            {
                auto created = createFlowFiles(_path, def, config);
                if (!created)
                {
                    if (created.error().status == MXL_ERR_EXISTS)
                    {
                        continue;
                    }
                    return created.take_error();
                }
                auto flow = Flow::open(dir, FlowAccess::ReadWrite);
                if (!flow)
                {
                    return flow.take_error();
                }
                return CreatedWriter{makeWriter(std::move(*flow)), true};
            }

            auto existing = Flow::open(dir, FlowAccess::ReadOnly);
            // The header does not store the sample word size (readers derive it from the file size), so
            // sameGeometry cannot see a float32 flow reopened as float64: compare it here.
            auto const compatible = existing && sameGeometry((*existing)->info().config, config) &&
                                    ((*existing)->discrete() ? (*existing)->grainSize() == def.grainSize
                                                             : (*existing)->sampleWordSize() == def.sampleWordSize) &&
                                    (ring == Ring::Adopt || sameRing((*existing)->info().config, config));
            if (!compatible)
            {
                if (!existing && existing.error().status == MXL_ERR_FLOW_NOT_FOUND)
                {
                    continue;
                }
                Fd lock;
                if (probe(dir, &lock) == Liveness::Stale)
                {
                    log().info("flow {}: replacing a stale flow ({})", formatUuid(def.id),
                        existing ? "different geometry" : existing.error().message);
                    if (auto removed = removeFlowDirectory(_path, dir); !removed)
                    {
                        return removed.take_error();
                    }
                    continue;
                }
                if (!existing)
                {
                    return existing.take_error();
                }
                return fail(MXL_ERR_CONFLICT, fmt::format("flow {} exists with another geometry ({}), requested ({})", formatUuid(def.id),
                                                  describe((*existing)->info().config), describe(config)));
            }
            existing->reset();

            auto flow = Flow::open(dir, FlowAccess::ReadWrite);
            if (!flow)
            {
                auto const status = flow.error().status;
                if (status == MXL_ERR_FLOW_NOT_FOUND || status == MXL_ERR_CONFLICT)
                {
                    std::this_thread::sleep_for(std::chrono::milliseconds{1});
                    continue;
                }
                return flow.take_error();
            }
            if ((*flow)->removed())
            {
                continue;
            }
            return CreatedWriter{makeWriter(std::move(*flow)), false};
        }
        return fail(MXL_ERR_CONFLICT, fmt::format("flow {}: gave up after {} attempts; other processes keep creating and removing it",
                                          formatUuid(def.id), maxCreateAttempts));
    }

    void Domain::releaseWriter(std::unique_ptr<FlowWriter> writer)
    {
        if (!writer)
        {
            return;
        }
        auto flow = writer->takeFlow();
        writer.reset();
        auto const dir = flow->dir();
        auto const wasRemoved = flow->removed();
        flow.reset();
        if (wasRemoved)
        {
            return;
        }
        Fd lock;
        if (probe(dir, &lock) == Liveness::Stale)
        {
            if (auto removed = removeFlowDirectory(_path, dir); !removed)
            {
                log().warn("{}", removed.error().message);
            }
        }
    }

    Expected<std::unique_ptr<FlowReader>> Domain::createReader(std::string_view flowId)
    {
        auto dir = flowDirFor(flowId);
        if (!dir)
        {
            return dir.take_error();
        }
        auto flow = Flow::open(*dir, FlowAccess::ReadOnly);
        if (!flow)
        {
            return flow.take_error();
        }
        if ((*flow)->discrete())
        {
            return std::unique_ptr<FlowReader>{std::make_unique<DiscreteFlowReader>(std::move(*flow))};
        }
        return std::unique_ptr<FlowReader>{std::make_unique<ContinuousFlowReader>(std::move(*flow))};
    }

    Expected<bool> Domain::isFlowActive(std::string_view flowId) const
    {
        auto dir = flowDirFor(flowId);
        if (!dir)
        {
            return dir.take_error();
        }
        switch (probe(*dir))
        {
            case Liveness::Missing: return fail(MXL_ERR_FLOW_NOT_FOUND, fmt::format("no flow {} in {}", flowId, _path.string()));
            case Liveness::Live: return true;
            case Liveness::Stale: return false;
        }
        return false;
    }

    Expected<std::string> Domain::flowDefinition(std::string_view flowId) const
    {
        auto dir = flowDirFor(flowId);
        if (!dir)
        {
            return dir.take_error();
        }
        return readDomainFile(*dir / "flow_def.json", maxFlowDefinitionBytes);
    }

    Expected<std::vector<Uuid>> Domain::collectGarbage()
    {
        if (!writable())
        {
            return fail(MXL_ERR_PERMISSION_DENIED, fmt::format("domain {} is not writable", _path.string()));
        }
        std::vector<Uuid> removed;
        std::error_code ec;
        for (auto const& entry : std::filesystem::directory_iterator{_path, ec})
        {
            auto const name = entry.path().filename().string();
            if (name.starts_with(tempDirPrefix))
            {
                // Creation takes milliseconds; a temporary directory a minute old was abandoned.
                auto const age = std::filesystem::file_time_type::clock::now() - entry.last_write_time(ec);
                if (!ec && age > std::chrono::minutes{1})
                {
                    std::filesystem::remove_all(entry.path(), ec);
                }
                continue;
            }
            if (!name.ends_with(flowDirSuffix))
            {
                continue;
            }
            auto const id = parseUuid(std::string_view{name}.substr(0, name.size() - flowDirSuffix.size()));
            if (!id)
            {
                continue;
            }
            Fd lock;
            if (probe(entry.path(), &lock) == Liveness::Stale)
            {
                if (auto r = removeFlowDirectory(_path, entry.path()); !r)
                {
                    log().warn("{}", r.error().message);
                    continue;
                }
                removed.push_back(*id);
            }
        }
        return removed;
    }

    std::vector<Uuid> Domain::listFlows() const
    {
        std::vector<Uuid> ids;
        std::error_code ec;
        for (auto const& entry : std::filesystem::directory_iterator{_path, ec})
        {
            auto const name = entry.path().filename().string();
            // A flow is a directory of the domain's own: a symbolic link (to anywhere) is not one.
            if (name.ends_with(flowDirSuffix) && entry.is_directory(ec) && !entry.is_symlink(ec))
            {
                if (auto const id = parseUuid(std::string_view{name}.substr(0, name.size() - flowDirSuffix.size())))
                {
                    ids.push_back(*id);
                }
            }
        }
        return ids;
    }
}
