// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include "CommandLine.hpp"

#include <exception>
#include <fstream>
#include <string>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/Network.hpp"

namespace po = boost::program_options;

namespace mxl::bridge
{
    // The engine returns its exit codes (Bridge::run); they are the tools' convention, plus exitNoProvider.
    static_assert(exitOk == tools::exitOk && exitFailed == tools::exitFailed && exitUsage == tools::exitUsage);

    namespace
    {
        po::options_description fileOptions()
        {
            po::options_description options{"options (also accepted in --config files as name = value)"};
            options.add_options()
                ("domain", po::value<std::string>(), "domain directory (required)")
                ("listen", po::value<std::string>(), "control channel address IP:PORT (default 0.0.0.0:7400; port 0 picks one)")
                ("provider", po::value<std::string>(), "auto|tcp|verbs|efa|shm|tcp;ofi_rxm|udp;ofi_rxd (default auto: verbs, then efa, then tcp that both peers support; shm between two bridges on one host)")
                ("psk-file", po::value<std::string>(), "file holding the pre-shared key (at least 16 bytes, mode 0600)")
                ("insecure", po::bool_switch(), "run without a key: anyone who reaches --listen may import flows")
                ("import", po::value<std::vector<std::string>>()->composing(), "PEER_IP:PORT/FLOW_ID: keep that flow mirrored here (repeatable)")
                ("export", po::value<std::vector<std::string>>()->composing(), "FLOW_ID or all: flows peers may import (repeatable; default all)")
                ("metrics", po::value<std::string>(), "serve Prometheus metrics over HTTP on IP:PORT")
                ("log-level", po::value<std::string>(), "trace|debug|info|warn|error (default info)")
                ("max-mirror-size", po::value<std::string>(), "largest mirror one imported flow may make here, e.g. 512M, 8G (default 8G)")
                ("max-mirrors-size", po::value<std::string>(), "largest total of all mirrors (default: 3/4 of the domain's file system)")
                ("lease-linger", po::value<std::string>(), "SECONDS a remote flow's mirror stays after its last lease ends (default 10; 0: at once)")
                ("max-leases", po::value<std::string>(), "remote-flow leases local processes may hold together (default 1024)")
                ("max-leases-per-client", po::value<std::string>(), "leases one process may hold (default 64)")
                ("lease-request-rate", po::value<std::string>(), "requests per second one process may send the bridge (default 200)");
            return options;
        }

        /// A number in [low, high] (decimals allowed), or an error naming the option.
        double parseNumber(std::string const& option, std::string const& text, double low, double high)
        {
            std::size_t used = 0;
            double value = 0;
            try
            {
                value = std::stod(text, &used);
            }
            catch (std::exception const&)
            {
                used = 0;
            }
            if (used == 0 || used != text.size() || !(value >= low && value <= high))
            {
                throw po::error{fmt::format("{} expects a number from {} to {}, got '{}'", option, low, high, text)};
            }
            return value;
        }

        Uuid parseId(std::string const& option, std::string const& text)
        {
            auto const id = parseUuid(text);
            if (!id)
            {
                throw po::error{fmt::format("{} expects a flow id (a UUID), got '{}'", option, text)};
            }
            return *id;
        }
    }

    std::uint64_t parseByteSize(std::string const& option, std::string const& text)
    {
        std::size_t digits = 0;
        while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        {
            ++digits;
        }
        auto const suffix = text.substr(digits);
        unsigned shift = 0;
        if (suffix == "K" || suffix == "k")
        {
            shift = 10;
        }
        else if (suffix == "M" || suffix == "m")
        {
            shift = 20;
        }
        else if (suffix == "G" || suffix == "g")
        {
            shift = 30;
        }
        else if (suffix == "T" || suffix == "t")
        {
            shift = 40;
        }
        else if (!suffix.empty())
        {
            throw po::error{fmt::format("{} expects a size such as 512M or 8G, got '{}'", option, text)};
        }
        if (digits == 0 || digits > 15)
        {
            throw po::error{fmt::format("{} expects a size such as 512M or 8G, got '{}'", option, text)};
        }
        auto const value = std::stoull(text.substr(0, digits));
        if (value == 0 || value > (std::uint64_t{1} << 50 >> shift))
        {
            throw po::error{fmt::format("{} must be between 1 byte and 1P, got '{}'", option, text)};
        }
        return value << shift;
    }

    ImportSpec parseImport(std::string const& text)
    {
        auto const slash = text.find('/');
        if (slash == std::string::npos)
        {
            throw po::error{fmt::format("--import expects PEER_IP:PORT/FLOW_ID, got '{}'", text)};
        }
        ImportSpec spec;
        spec.peer = text.substr(0, slash);
        if (auto address = parseSocketAddress(spec.peer); !address)
        {
            throw po::error{fmt::format("--import {}: {}", text, address.error().message)};
        }
        spec.flowId = parseId("--import", text.substr(slash + 1));
        return spec;
    }

    std::optional<Options> parseOptions(int argc, char const* const* argv)
    {
        auto file = fileOptions();
        auto commandLine = tools::optionsWithHelp(tools::helpCaption(program, "replicates flows between the MXL domains of two hosts over libfabric",
            "exit codes: 0 stopped by SIGINT/SIGTERM, 1 runtime failure, 2 bad options or key file, 3 provider not available\n"));
        commandLine.add_options()("config", po::value<std::string>(), "read options from FILE (name = value lines)");
        commandLine.add(file);

        auto parsed = tools::parseCommandLine(commandLine, argc, argv);
        if (!parsed)
        {
            return std::nullopt;
        }
        auto& vm = *parsed;
        if (vm.count("config") != 0)
        {
            auto const path = vm["config"].as<std::string>();
            std::ifstream in{path};
            if (!in)
            {
                throw po::error{fmt::format("--config: cannot read '{}'", path)};
            }
            // Values already on the command line stay; the file adds the others.
            po::store(po::parse_config_file(in, file), vm);
            po::notify(vm);
        }

        Options options;
        if (vm.count("domain") == 0)
        {
            throw po::error{"--domain is required"};
        }
        options.domain = vm["domain"].as<std::string>();
        if (vm.count("listen") != 0)
        {
            options.listen = vm["listen"].as<std::string>();
        }
        if (auto address = parseSocketAddress(options.listen); !address)
        {
            throw po::error{"--listen: " + address.error().message};
        }
        if (vm.count("provider") != 0)
        {
            options.provider = vm["provider"].as<std::string>();
            if (std::find(std::begin(bridgeProviders), std::end(bridgeProviders), options.provider) == std::end(bridgeProviders))
            {
                throw po::error{fmt::format("--provider expects auto, tcp, verbs, efa, shm, tcp;ofi_rxm or udp;ofi_rxd, got '{}'", options.provider)};
            }
        }
        options.insecure = vm["insecure"].as<bool>();
        if (vm.count("psk-file") != 0)
        {
            options.pskFile = vm["psk-file"].as<std::string>();
        }
        if (options.insecure == options.pskFile.has_value())
        {
            throw po::error{options.insecure ? "--psk-file and --insecure exclude each other"
                                             : "a key is required: give --psk-file FILE (or --insecure on a trusted test network)"};
        }
        if (vm.count("import") != 0)
        {
            for (auto const& text : vm["import"].as<std::vector<std::string>>())
            {
                options.imports.push_back(parseImport(text));
            }
        }
        if (vm.count("export") != 0)
        {
            options.exportAll = false;
            for (auto const& text : vm["export"].as<std::vector<std::string>>())
            {
                if (text == "all")
                {
                    options.exportAll = true;
                }
                else
                {
                    options.exports.push_back(parseId("--export", text));
                }
            }
        }
        if (vm.count("metrics") != 0)
        {
            options.metrics = vm["metrics"].as<std::string>();
            if (auto address = parseSocketAddress(*options.metrics); !address)
            {
                throw po::error{"--metrics: " + address.error().message};
            }
        }
        if (vm.count("log-level") != 0)
        {
            options.logLevel = vm["log-level"].as<std::string>();
            if (spdlog::level::from_str(options.logLevel) == spdlog::level::off && options.logLevel != "off")
            {
                throw po::error{fmt::format("--log-level expects trace, debug, info, warn, error or off, got '{}'", options.logLevel)};
            }
        }
        if (vm.count("max-mirror-size") != 0)
        {
            options.maxMirrorBytes = parseByteSize("--max-mirror-size", vm["max-mirror-size"].as<std::string>());
        }
        if (vm.count("max-mirrors-size") != 0)
        {
            options.maxMirrorsBytes = parseByteSize("--max-mirrors-size", vm["max-mirrors-size"].as<std::string>());
        }
        if (vm.count("lease-linger") != 0)
        {
            options.leaseLingerMs = static_cast<std::uint64_t>(parseNumber("--lease-linger", vm["lease-linger"].as<std::string>(), 0, 86400) * 1000);
        }
        if (vm.count("max-leases") != 0)
        {
            options.maxLeases = static_cast<std::size_t>(parseNumber("--max-leases", vm["max-leases"].as<std::string>(), 1, 65536));
        }
        if (vm.count("max-leases-per-client") != 0)
        {
            options.maxLeasesPerClient = static_cast<std::size_t>(parseNumber("--max-leases-per-client", vm["max-leases-per-client"].as<std::string>(), 1, 65536));
        }
        if (vm.count("lease-request-rate") != 0)
        {
            options.leaseRequestRate = parseNumber("--lease-request-rate", vm["lease-request-rate"].as<std::string>(), 1, 1e6);
        }
        return options;
    }
}
