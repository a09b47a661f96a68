// SPDX-License-Identifier: Apache-2.0
// mxl-bench: measures what mxl-fabric costs next to raw baselines measured in the same run.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "toolkit/Cli.hpp"
#include "mxl-bench/FabricBench.hpp"
#include "mxl-bench/LocalBench.hpp"
#include "mxl-bench/NoiseBench.hpp"
#include "mxl-bench/RingBench.hpp"

namespace po = boost::program_options;

namespace
{
    using mxl::tools::exitOk;
    using mxl::tools::exitFailed;

    void parseFrame(std::string const& text, std::uint32_t& width, std::uint32_t& height)
    {
        auto const frame = mxl::tools::parseFrameSize("--video", text);
        width = frame.width;
        height = frame.height;
    }

    void parseRate(std::string const& text, std::int64_t& numerator, std::int64_t& denominator)
    {
        auto const rate = mxl::tools::parseRate("--rate", text);
        numerator = rate.numerator;
        denominator = rate.denominator;
    }

    int runLocal(std::vector<std::string> const& args)
    {
        mxl::bench::LocalOptions options;
        std::string video = "1920x1080";
        std::string rate = "60";
        bool json = false;
        auto desc = mxl::tools::optionsWithHelp("mxl-bench local: commit-to-readable latency and write throughput between two processes");
        desc.add_options()
            ("domain", po::value(&options.domain), "domain directory (default: a temporary one under /dev/shm)")
            ("format", po::value(&options.mediaType)->default_value("v210"), "v210 or v210a")
            ("video", po::value(&video)->default_value(video), "frame size WIDTHxHEIGHT")
            ("rate", po::value(&rate)->default_value(rate), "grain rate N or N/D")
            ("slices", po::value(&options.batches)->default_value(options.batches), "commits per grain (slice batches)")
            ("duration", po::value(&options.durationS)->default_value(options.durationS), "seconds of the paced latency phase")
            ("grains", po::value(&options.throughputGrains)->default_value(options.throughputGrains), "grains in the unpaced throughput phase")
            ("json", po::bool_switch(&json), "print one JSON object");
        if (!mxl::tools::parseCommandLine(desc, args))
        {
            return exitOk;
        }
        if (options.mediaType != "v210" && options.mediaType != "v210a")
        {
            throw po::error{fmt::format("--format must be v210 or v210a, got '{}'", options.mediaType)};
        }
        parseFrame(video, options.width, options.height);
        parseRate(rate, options.rateNumerator, options.rateDenominator);
        if (options.batches == 0 || options.batches > options.height)
        {
            throw po::error{fmt::format("--slices must be between 1 and the frame height ({})", options.height)};
        }
        if (options.durationS <= 0 || options.durationS > 3600)
        {
            throw po::error{"--duration must be between 0 and 3600 seconds"};
        }

        auto const result = mxl::bench::runLocal(options);
        if (json)
        {
            std::cout << result.dump() << "\n";
        }
        else
        {
            std::cout << result.dump(2) << "\n";
        }
        return result.at("reader_exit").get<int>() == 0 ? exitOk : exitFailed;
    }

    int runFabric(std::vector<std::string> const& args)
    {
        mxl::bench::FabricOptions options;
        std::string transfer = "rma";
        std::string api = "internal";
        std::string baselineMemory = "shared";
        std::string baselineCompletion = "transmit";
        std::string video = "1920x1080";
        std::string rate = "60";
        bool json = false;
        auto desc = mxl::tools::optionsWithHelp("mxl-bench fabric: replication throughput and latency between a source and a sink process");
        desc.add_options()
            ("provider", po::value(&options.provider)->default_value(options.provider),
                "libfabric provider: tcp, verbs; shm, \"tcp;ofi_rxm\", \"udp;ofi_rxd\" (the last three over reliable-datagram endpoints)")
            ("address", po::value(&options.sinkAddress)->default_value(options.sinkAddress), "address the sink listens on")
            ("transfer", po::value(&transfer)->default_value(transfer), "rma or send-receive (the fallback: one copy on arrival)")
            ("api", po::value(&api)->default_value(api),
                "internal (our Sender and Receiver, as the bridge drives them) or c (the fabrics C API, mxl/fabrics.h, as an application uses it)")
            ("video", po::value(&video)->default_value(video), "frame size WIDTHxHEIGHT (v210)")
            ("rate", po::value(&rate)->default_value(rate), "grain rate of the paced phase, N or N/D")
            ("slices", po::value(&options.batches)->default_value(options.batches), "commits per grain in the paced phase")
            ("grains", po::value(&options.throughputGrains)->default_value(options.throughputGrains), "grains in the unpaced phase and the baseline")
            ("rounds", po::value(&options.rounds)->default_value(options.rounds),
                "the unpaced phase and the baseline take turns in this many rounds, the grains split among them")
            ("baseline-memory", po::value(&baselineMemory)->default_value(baselineMemory),
                "shared (mapped like a flow's grains, the default) or heap: the baseline's grain buffers")
            ("baseline-completion", po::value(&baselineCompletion)->default_value(baselineCompletion),
                "transmit (the provider's default) or delivery (FI_DELIVERY_COMPLETE, as the replication over unordered providers): when the baseline's writes complete")
            ("duration", po::value(&options.latencyDurationS)->default_value(options.latencyDurationS), "seconds of the paced phase")
            ("stages", po::bool_switch(&options.stages),
                "also when each slice batch of the paced phase reached each stage, next to the machine's sleep overshoot beside it")
            ("json", po::bool_switch(&json), "print one JSON object");
        if (!mxl::tools::parseCommandLine(desc, args))
        {
            return exitOk;
        }
        parseFrame(video, options.width, options.height);
        parseRate(rate, options.rateNumerator, options.rateDenominator);
        if (transfer != "rma" && transfer != "send-receive")
        {
            throw po::error{fmt::format("--transfer must be rma or send-receive, got '{}'", transfer)};
        }
        options.sendReceive = transfer == "send-receive";
        if (api != "internal" && api != "c")
        {
            throw po::error{fmt::format("--api must be internal or c, got '{}'", api)};
        }
        options.capi = api == "c";
        if (baselineMemory != "shared" && baselineMemory != "heap")
        {
            throw po::error{fmt::format("--baseline-memory must be shared or heap, got '{}'", baselineMemory)};
        }
        options.baselineMemory = baselineMemory == "heap" ? mxl::bench::BaselineMemory::Heap : mxl::bench::BaselineMemory::Shared;
        if (baselineCompletion != "transmit" && baselineCompletion != "delivery")
        {
            throw po::error{fmt::format("--baseline-completion must be transmit or delivery, got '{}'", baselineCompletion)};
        }
        options.baselineDelivery = baselineCompletion == "delivery";
        if (options.rounds == 0 || options.rounds * 2 > options.throughputGrains)
        {
            throw po::error{fmt::format("--rounds must be from 1 to half of --grains ({}), got {}", options.throughputGrains / 2, options.rounds)};
        }
        if (options.capi && options.stages)
        {
            throw po::error{"--stages needs --api internal (the stages are told by our Sender and Receiver)"};
        }
        if (options.capi && options.sendReceive)
        {
            throw po::error{"--api c chooses its transfer itself (RMA where the provider has it): leave --transfer out"};
        }
        if (options.batches == 0 || options.batches > options.height)
        {
            throw po::error{"--slices must be between 1 and the frame height"};
        }
        if (options.throughputGrains < 2 || options.latencyDurationS <= 0 || options.latencyDurationS > 3600)
        {
            throw po::error{"--grains must be at least 2 and --duration between 0 and 3600 seconds"};
        }
        auto const result = mxl::bench::runFabric(options);
        if (!json)
        {
            std::cout << mxl::bench::describeFabric(result) << "\n";
        }
        std::cout << (json ? result.dump() : result.dump(2)) << "\n";
        return exitOk;
    }

    int runNoise(std::vector<std::string> const& args)
    {
        mxl::bench::NoiseOptions options;
        bool json = false;
        auto desc = mxl::tools::optionsWithHelp("mxl-bench noise: this machine's own scheduling noise and CPU steal, to read other results against");
        desc.add_options()
            ("duration", po::value(&options.durationS)->default_value(options.durationS), "seconds to measure")
            ("period-us", po::value(&options.periodUs)->default_value(options.periodUs), "wake-up period of the probe in microseconds")
            ("json", po::bool_switch(&json), "print one JSON object");
        if (!mxl::tools::parseCommandLine(desc, args))
        {
            return exitOk;
        }
        if (options.durationS <= 0 || options.durationS > 3600)
        {
            throw po::error{"--duration must be between 0 and 3600 seconds"};
        }
        if (options.periodUs < 100 || options.periodUs > 1'000'000)
        {
            throw po::error{"--period-us must be between 100 and 1000000"};
        }
        auto const result = mxl::bench::runNoise(options);
        std::cout << (json ? result.dump() : result.dump(2)) << "\n";
        return exitOk;
    }

    int runRing(std::vector<std::string> const& args)
    {
        mxl::bench::RingBenchOptions options;
        bool json = false;
        auto desc = mxl::tools::optionsWithHelp("mxl-bench ring: the command ring's messages per second and enqueue-to-dequeue latency");
        desc.add_options()
            ("messages", po::value(&options.messages)->default_value(options.messages), "messages per run, shared among its producers")
            ("slots", po::value(&options.slots)->default_value(options.slots), "ring slots (a power of two, 16 to 65536)")
            ("producers", po::value(&options.producers)->multitoken(), "producer processes of each run (default: 1 2 4)")
            ("paced-rate", po::value(&options.pacedRate)->default_value(options.pacedRate), "messages per second of each run's paced phase")
            ("paced-messages", po::value(&options.pacedMessages)->default_value(options.pacedMessages), "messages of each run's paced phase")
            ("json", po::bool_switch(&json), "print one JSON object");
        if (!mxl::tools::parseCommandLine(desc, args))
        {
            return exitOk;
        }
        if (options.messages < 1000 || options.messages > 1'000'000'000)
        {
            throw po::error{"--messages must be between 1000 and 1000000000"};
        }
        if (options.slots < 16 || options.slots > 65536 || (options.slots & (options.slots - 1)) != 0)
        {
            throw po::error{"--slots must be a power of two from 16 to 65536"};
        }
        if (options.producers.empty() || std::any_of(options.producers.begin(), options.producers.end(), [](unsigned p) { return p == 0 || p > 64; }))
        {
            throw po::error{"--producers must be between 1 and 64"};
        }
        if (options.pacedRate < 1 || options.pacedRate > 1e6 || options.pacedMessages < 100 || options.pacedMessages > 10'000'000)
        {
            throw po::error{"--paced-rate must be between 1 and 1000000, --paced-messages between 100 and 10000000"};
        }
        auto const result = mxl::bench::runRing(options);
        std::cout << (json ? result.dump() : result.dump(2)) << "\n";
        return exitOk;
    }

    constexpr mxl::tools::Program program{"mxl-bench", "mxl-bench <command> [options]"};

    void help()
    {
        std::cout << mxl::tools::usageText(program.usage) << "\n\n"
                     "commands:\n"
                     "  local    latency and throughput between two processes on this host\n"
                     "  fabric   replication between a source and a sink process over a libfabric provider\n"
                     "  noise    this machine's scheduling noise (timer wake-up lateness) and CPU steal\n"
                     "  ring     the command ring (requests to the bridge): messages per second and latency\n\n"
                     "mxl-bench <command> --help shows the options of a command.\n";
    }
}

int main(int argc, char** argv)
{
    return mxl::tools::runMain(program, argc, [&] {
        if (argc < 2)
        {
            throw po::error{"a command is required: local, fabric, noise or ring"};
        }
        std::string const command = argv[1];
        std::vector<std::string> const args(argv + 2, argv + argc);
        if (command == "--help" || command == "-h")
        {
            help();
            return exitOk;
        }
        if (command == "local")
        {
            return runLocal(args);
        }
        if (command == "fabric")
        {
            return runFabric(args);
        }
        if (command == "noise")
        {
            return runNoise(args);
        }
        if (command == "ring")
        {
            return runRing(args);
        }
        throw po::error{fmt::format("unknown command '{}'", command)};
    });
}
