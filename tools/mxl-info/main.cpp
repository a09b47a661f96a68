// SPDX-License-Identifier: Apache-2.0
// mxl-info: lists, inspects and watches the flows of a domain without disturbing them; collects
// stale flows and snapshots video grains on request; shows the bridge that replicates the domain.
#include <chrono>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <mxl/time.h>
#include "status/BridgeStatus.hpp"
#include "toolkit/Cli.hpp"
#include "mxl-info/BridgeView.hpp"
#include "mxl-info/FlowStatus.hpp"
#include "mxl-info/GarbageCollection.hpp"
#include "mxl-info/OpenRemote.hpp"
#include "mxl-info/Snapshot.hpp"
#include "mxl-info/Views.hpp"
#include "mxl-info/Watch.hpp"

namespace po = boost::program_options;
using namespace mxl::tools;

namespace
{
    enum class Action
    {
        List,
        Flow,
        Watch,
        Gc,
        Snapshot,
        Bridge,
        Open,
    };

    struct Options
    {
        Action action{Action::List};
        std::string domain;
        std::optional<std::string> flowId;
        std::string snapshotId;
        std::string output;
        bool json{false};
        unsigned intervalMs{500};
        std::string uri;
        std::uint32_t timeoutMs{5000};
    };

    constexpr Program program{"mxl-info",
        "mxl-info --domain DIR [--flow ID] [--json | --watch [--interval MS]]\n"
        "mxl-info --domain DIR --gc\n"
        "mxl-info --domain DIR --bridge [--json]\n"
        "mxl-info --domain DIR --open mxl://HOST[:PORT]/FLOW-ID [--timeout MS] [--interval MS]\n"
        "mxl-info --domain DIR --snapshot ID --output FILE.png"};

    std::optional<Options> parse(int argc, char** argv)
    {
        Options o;
        std::string flow;
        bool watch = false;
        bool gc = false;
        bool bridge = false;
        auto desc = optionsWithHelp(helpCaption(program, "lists, inspects and watches the flows of an MXL domain", "options"));
        desc.add_options()
            ("domain", po::value(&o.domain), "domain directory (required)")
            ("flow", po::value(&flow), "show everything about one flow (its id)")
            ("json", po::bool_switch(&o.json), "print the same data as one JSON object")
            ("watch", po::bool_switch(&watch), "live view refreshed in place; q or Ctrl-C quits")
            ("interval", po::value(&o.intervalMs)->default_value(o.intervalMs), "--watch refresh interval in milliseconds (10..60000)")
            ("gc", po::bool_switch(&gc), "remove stale flows (no live writer) and print their ids")
            ("snapshot", po::value(&o.snapshotId), "write the latest complete grain of a v210/v210a flow (its id) as a PNG")
            ("output", po::value(&o.output), "PNG file for --snapshot")
            ("bridge", po::bool_switch(&bridge), "show the mxl-fabric-bridge serving the domain: its peers, replicated flows and leases")
            ("open", po::value(&o.uri), "ask the domain's bridge for a remote flow (mxl://HOST[:PORT]/FLOW-ID) and show it live until interrupted")
            ("timeout", po::value(&o.timeoutMs)->default_value(o.timeoutMs), "--open: how long the bridge may take, in milliseconds");
        auto const parsed = parseCommandLine(desc, argc, argv);
        if (!parsed)
        {
            return std::nullopt;
        }
        auto const& vm = *parsed;
        if (o.domain.empty())
        {
            throw po::error{"--domain is required"};
        }
        bool const open = vm.count("open") > 0;
        auto const actions = int{watch} + int{gc} + int{vm.count("snapshot") > 0} + int{bridge} + int{open};
        if (actions > 1)
        {
            throw po::error{"--watch, --gc, --snapshot, --bridge and --open exclude each other"};
        }
        if (!vm["timeout"].defaulted() && !open)
        {
            throw po::error{"--timeout is only used with --open"};
        }
        if (vm.count("flow"))
        {
            o.flowId = parseFlowId("--flow", flow);
        }
        if (vm.count("snapshot"))
        {
            o.action = Action::Snapshot;
            o.snapshotId = parseFlowId("--snapshot", o.snapshotId);
            if (o.output.empty())
            {
                throw po::error{"--snapshot needs --output FILE.png"};
            }
            if (o.flowId)
            {
                throw po::error{"--snapshot takes the flow id itself; drop --flow"};
            }
        }
        else if (!o.output.empty())
        {
            throw po::error{"--output is only used with --snapshot"};
        }
        if (!vm["interval"].defaulted() && !watch && !open)
        {
            throw po::error{"--interval is only used with --watch and --open"};
        }
        if (o.intervalMs < 10 || o.intervalMs > 60'000)
        {
            throw po::error{fmt::format("--interval must be 10..60000 milliseconds, got {}", o.intervalMs)};
        }
        if (open)
        {
            if (o.json || o.flowId)
            {
                throw po::error{"--open takes the flow from its URI and prints JSON lines when not on a terminal; drop --flow and --json"};
            }
            o.action = Action::Open;
        }
        else if (watch)
        {
            if (o.json)
            {
                throw po::error{"--watch draws on a terminal; it cannot be combined with --json"};
            }
            o.action = Action::Watch;
        }
        else if (gc)
        {
            if (o.flowId)
            {
                throw po::error{"--gc works on the whole domain; drop --flow"};
            }
            o.action = Action::Gc;
        }
        else if (bridge)
        {
            if (o.flowId)
            {
                throw po::error{"--bridge shows every replicated flow; drop --flow"};
            }
            o.action = Action::Bridge;
        }
        else if (o.action != Action::Snapshot && o.flowId)
        {
            o.action = Action::Flow;
        }
        return o;
    }

    void printLines(std::vector<std::string> const& lines)
    {
        for (auto const& line : lines)
        {
            std::cout << line << "\n";
        }
    }

    int run(Options const& o)
    {
        std::error_code ec;
        if (!std::filesystem::is_directory(o.domain, ec))
        {
            std::cerr << "mxl-info: domain " << o.domain << " is not an existing directory\n";
            return exitFailed;
        }
        // The library warns once per process when CLOCK_TAI is unset: let that happen now, before
        // --watch takes over the screen.
        (void)mxlGetTime();

        if (o.action == Action::Open)
        {
            return mxl::info::openRemote({o.domain, o.uri, o.timeoutMs, std::chrono::milliseconds{o.intervalMs}});
        }
        mxl::info::DomainInspector inspector{o.domain};
        switch (o.action)
        {
            case Action::Open: break;
            case Action::List:
            {
                auto const flows = inspector.scan();
                if (o.json)
                {
                    std::cout << mxl::info::domainJson(o.domain, flows).dump(2) << "\n";
                }
                else
                {
                    printLines(mxl::info::domainTable(o.domain, flows));
                }
                return exitOk;
            }
            case Action::Flow:
            {
                auto const flow = inspector.inspect(*o.flowId);
                if (!flow)
                {
                    std::cerr << "mxl-info: no flow " << *o.flowId << " in " << o.domain << "\n";
                    return exitFailed;
                }
                if (o.json)
                {
                    std::cout << mxl::info::flowJson(*flow, true).dump(2) << "\n";
                }
                else
                {
                    printLines(mxl::info::flowDetails(*flow));
                }
                return exitOk;
            }
            case Action::Watch:
            {
                if (o.flowId && !inspector.inspect(*o.flowId))
                {
                    std::cerr << "mxl-info: no flow " << *o.flowId << " in " << o.domain << "\n";
                    return exitFailed;
                }
                return mxl::info::watch(inspector, {std::chrono::milliseconds{o.intervalMs}, o.flowId});
            }
            case Action::Gc:
            {
                auto removed = mxl::info::collectStaleFlows(o.domain);
                if (!removed)
                {
                    std::cerr << "mxl-info: garbage collection failed: " << removed.error().message << "\n";
                    return exitFailed;
                }
                if (o.json)
                {
                    std::cout << nlohmann::json{{"domain", o.domain}, {"removed", *removed}}.dump(2) << "\n";
                }
                else
                {
                    for (auto const& id : *removed)
                    {
                        std::cout << "removed stale flow " << id << "\n";
                    }
                    std::cout << removed->size() << " stale flow" << (removed->size() == 1 ? "" : "s") << " removed\n";
                }
                return exitOk;
            }
            case Action::Snapshot:
            {
                auto const snapshot = mxl::info::writeSnapshot(o.domain, o.snapshotId, o.output);
                if (!snapshot)
                {
                    std::cerr << "mxl-info: snapshot failed: " << snapshot.error().message << "\n";
                    return exitFailed;
                }
                if (o.json)
                {
                    std::cout << nlohmann::json{{"file", o.output}, {"flow", o.snapshotId}, {"grain_index", snapshot->grainIndex},
                                     {"width", snapshot->width}, {"height", snapshot->height}}
                                     .dump(2)
                              << "\n";
                }
                else
                {
                    std::cout << fmt::format("wrote {} ({}x{}, grain {} of flow {})\n", o.output, snapshot->width, snapshot->height,
                        snapshot->grainIndex, o.snapshotId);
                }
                return exitOk;
            }
            case Action::Bridge:
            {
                auto status = mxl::bridge::readStatus(o.domain);
                if (!status)
                {
                    std::cerr << "mxl-info: the bridge status of " << o.domain << " is unreadable: " << status.error().message << "\n";
                    return exitFailed;
                }
                auto const now = mxlGetTime();
                if (o.json)
                {
                    auto const bridge = *status ? mxl::info::bridgeJson(**status, now) : nlohmann::json(nullptr);
                    std::cout << nlohmann::json{{"domain", o.domain}, {"now", now}, {"bridge", bridge}}.dump(2) << "\n";
                }
                else if (!*status)
                {
                    std::cout << "no bridge serves " << o.domain << "\n";
                }
                else
                {
                    printLines(mxl::info::bridgeDetails(**status, now));
                }
                return exitOk;
            }
        }
        return exitFailed;
    }
}

int main(int argc, char** argv)
{
    return runMain(program, argc, [&] {
        auto const options = parse(argc, argv);
        return options ? run(*options) : exitOk;
    });
}
