// SPDX-License-Identifier: Apache-2.0
// mxl-soak-media: the bridge tests' live writers and byte-exact mirror verifiers (BridgeMedia.hpp)
// as a process, for ci/soak.sh, which runs them for hours on two hosts made of namespaces. A test
// tool: not installed.
//
//   mxl-soak-media write  --domain DIR [--video ID]... [--audio ID]... [--every S]
//   mxl-soak-media verify --domain DIR [--video ID]... [--audio ID]... [--every S]
//
// Video flows are 1080p60 v210 committed in 8 slice batches, audio flows 2 channels of float32 at
// 48 kHz; the content of every grain and sample is a function of flow id and index, so the verifier
// on the other host needs nothing from the writer. Every S seconds (default 10) and once more on
// SIGTERM or SIGINT, one JSON line per flow goes to stdout with the counters so far. Exit code 0
// when stopped by a signal, 1 when a writer or verifier could not start, 2 for bad arguments.

#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "BridgeMedia.hpp"

namespace
{
    using namespace mxl::bridge::test;

    struct Arguments
    {
        std::string mode;
        std::string domain;
        std::vector<TestFlow> flows;
        int every{10};
    };

    [[noreturn]] void usage(std::string const& problem)
    {
        std::fprintf(stderr,
            "mxl-soak-media: %s\nusage: mxl-soak-media write|verify --domain DIR [--video ID]... [--audio ID]... [--every S]\n",
            problem.c_str());
        std::exit(2);
    }

    Arguments parse(int argc, char** argv)
    {
        if (argc < 2)
        {
            usage("missing mode");
        }
        Arguments args;
        args.mode = argv[1];
        if (args.mode != "write" && args.mode != "verify")
        {
            usage("unknown mode '" + args.mode + "'");
        }
        for (int i = 2; i < argc; i += 2)
        {
            std::string_view const option = argv[i];
            if (i + 1 >= argc)
            {
                usage(std::string{option} + " needs a value");
            }
            std::string const value = argv[i + 1];
            if (option == "--domain")
            {
                args.domain = value;
            }
            else if (option == "--video")
            {
                args.flows.push_back(videoFlow(1920, 1080, {60, 1}, value));
            }
            else if (option == "--audio")
            {
                args.flows.push_back(audioFlow(2, 48000, value));
            }
            else if (option == "--every")
            {
                args.every = std::stoi(value);
                if (args.every < 1)
                {
                    usage("--every must be at least 1");
                }
            }
            else
            {
                usage("unknown option " + std::string{option});
            }
        }
        if (args.domain.empty() || args.flows.empty())
        {
            usage("--domain and at least one flow are required");
        }
        return args;
    }

    char const* mediaName(Media media)
    {
        switch (media)
        {
            case Media::Video: return "video";
            case Media::Audio: return "audio";
            case Media::Anc: return "anc";
        }
        return "?";
    }

    /// Waits up to seconds for SIGTERM or SIGINT (blocked in every thread); whether one came.
    bool signalled(sigset_t const& signals, int seconds)
    {
        timespec const timeout{seconds, 0};
        return sigtimedwait(&signals, nullptr, &timeout) > 0;
    }

    void print(nlohmann::json const& line)
    {
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);
    }
}

int main(int argc, char** argv)
{
    auto const args = parse(argc, argv);
    // Blocked before any thread starts, so that every thread inherits the mask and only sigtimedwait sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto stopped = false;
    if (args.mode == "write")
    {
        std::vector<std::unique_ptr<LiveWriter>> writers;
        for (auto const& flow : args.flows)
        {
            writers.push_back(std::make_unique<LiveWriter>(args.domain, flow));
        }
        while (!stopped)
        {
            stopped = signalled(signals, args.every);
            for (std::size_t i = 0; i < writers.size(); ++i)
            {
                auto const problem = writers[i]->problem();
                print({{"flow", args.flows[i].id}, {"media", mediaName(args.flows[i].media)}, {"written", writers[i]->written()},
                    {"skipped", writers[i]->skipped()}, {"problem", problem}, {"time", std::time(nullptr)}});
                if (!problem.empty() && writers[i]->written() == 0)
                {
                    return 1;
                }
            }
        }
        return 0;
    }

    std::vector<std::unique_ptr<MirrorVerifier>> verifiers;
    for (auto const& flow : args.flows)
    {
        verifiers.push_back(std::make_unique<MirrorVerifier>(args.domain, flow));
    }
    while (!stopped)
    {
        stopped = signalled(signals, args.every);
        for (std::size_t i = 0; i < verifiers.size(); ++i)
        {
            auto const r = verifiers[i]->report();
            print({{"flow", args.flows[i].id}, {"media", mediaName(args.flows[i].media)}, {"verified", r.verified}, {"corrupt", r.corrupt},
                {"invalid", r.invalidFlagged}, {"missed", r.missed}, {"late", r.late}, {"silenced", r.silenced}, {"reopened", r.reopened},
                {"problem", r.firstProblem}, {"time", std::time(nullptr)}});
        }
    }
    return 0;
}
