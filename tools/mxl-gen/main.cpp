// SPDX-License-Identifier: Apache-2.0
// mxl-gen: writes test signals (colour bars, tone, timecode ANC) into a domain, paced by TAI time.
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>
#include "toolkit/Cli.hpp"
#include "toolkit/V210.hpp"
#include "mxl-gen/AncGenerator.hpp"
#include "mxl-gen/AudioGenerator.hpp"
#include "mxl-gen/FlowDefinitions.hpp"
#include "mxl-gen/VideoGenerator.hpp"

namespace po = boost::program_options;
using namespace mxl::tools;

namespace
{
    constexpr mxlRational audioSampleRate{48'000, 1};
    constexpr std::uint32_t audioBatchSamples = 48;
    constexpr std::uint32_t maxAudioChannels = 64;
    constexpr double maxTimecodeRate = 60.0;
    constexpr Program program{"mxl-gen", "mxl-gen --domain DIR [options]"};

    struct Options
    {
        std::string domain;
        std::optional<double> durationS;
        bool video{true};
        FrameSize frame{1920, 1080};
        mxlRational rate{60, 1};
        std::string format{"v210"};
        std::string videoId;
        std::uint32_t slices{8};
        std::string label;
        std::string group{"mxl-gen"};
        std::uint32_t audioChannels{0};
        std::string audioId;
        bool data{false};
        std::string dataId;
    };

    std::string randomId()
    {
        return mxl::tools::newFlowId();
    }

    /// Parses the command line; nothing returned means --help was shown.
    std::optional<Options> parse(int argc, char** argv)
    {
        Options o;
        std::string video = "1920x1080";
        std::string rate = "60";
        std::string videoId, audioId, dataId;
        double duration = 0;
        bool noVideo = false;
        auto desc = optionsWithHelp(helpCaption(program, "writes test signals into an MXL domain, paced by TAI time", "options"));
        desc.add_options()
            ("domain", po::value(&o.domain), "domain directory (required; must exist)")
            ("duration", po::value(&duration), "seconds to run (default: until SIGINT or SIGTERM)")
            ("video", po::value(&video)->default_value(video), "video frame size WIDTHxHEIGHT")
            ("no-video", po::bool_switch(&noVideo), "write no video flow")
            ("rate", po::value(&rate)->default_value(rate), "video (and ANC) grain rate N or N/D")
            ("format", po::value(&o.format)->default_value(o.format), "video format: v210 or v210a")
            ("flow-id", po::value(&videoId), "video flow id (default: random)")
            ("slices", po::value(&o.slices)->default_value(o.slices), "commits per video grain (batches of lines)")
            ("label", po::value(&o.label), "label of the video flow; audio and ANC flows get it with ' audio' / ' anc' appended "
                                          "(default: 'mxl-gen video' ...)")
            ("group", po::value(&o.group)->default_value(o.group), "group hint of every flow (roles: video, audio, anc)")
            ("audio", po::value(&o.audioChannels)->default_value(o.audioChannels), "audio channels (0: no audio flow), float32 at 48 kHz")
            ("audio-flow-id", po::value(&audioId), "audio flow id (default: random)")
            ("data", po::bool_switch(&o.data), "write a video/smpte291 flow with SMPTE 12M timecode (ATC) at the video rate")
            ("data-flow-id", po::value(&dataId), "ANC flow id (default: random)");
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
        if (vm.count("duration"))
        {
            if (!(duration > 0 && duration <= 366.0 * 86'400))
            {
                throw po::error{fmt::format("--duration must be a positive number of seconds, got {}", duration)};
            }
            o.durationS = duration;
        }
        o.video = !noVideo;
        o.frame = parseFrameSize("--video", video);
        if (o.frame.width < 2 || o.frame.width > 7680 || o.frame.height > 4320)
        {
            throw po::error{fmt::format("--video {}: width must be 2..7680 and height 1..4320", video)};
        }
        o.rate = parseRate("--rate", rate);
        if (o.format != "v210" && o.format != "v210a")
        {
            throw po::error{fmt::format("--format must be v210 or v210a, got '{}'", o.format)};
        }
        if (o.slices == 0 || o.slices > o.frame.height)
        {
            throw po::error{fmt::format("--slices must be 1..{} (the frame height), got {}", o.frame.height, o.slices)};
        }
        if (o.audioChannels > maxAudioChannels)
        {
            throw po::error{fmt::format("--audio must be 0..{} channels, got {}", maxAudioChannels, o.audioChannels)};
        }
        if (o.group.empty() || o.group.find(':') != std::string::npos)
        {
            throw po::error{fmt::format("--group must be a non-empty name without ':', got '{}'", o.group)};
        }
        if (o.data && static_cast<double>(o.rate.numerator) / static_cast<double>(o.rate.denominator) > maxTimecodeRate)
        {
            throw po::error{fmt::format("--data carries timecode, which counts at most {} frames a second; --rate is {}", maxTimecodeRate, rate)};
        }
        if (!o.video && o.audioChannels == 0 && !o.data)
        {
            throw po::error{"nothing to generate: --no-video without --audio or --data"};
        }
        o.videoId = videoId.empty() ? randomId() : parseFlowId("--flow-id", videoId);
        o.audioId = audioId.empty() ? randomId() : parseFlowId("--audio-flow-id", audioId);
        o.dataId = dataId.empty() ? randomId() : parseFlowId("--data-flow-id", dataId);
        return o;
    }

    /// The instance and the writers it created, released (last writer removes its flow) in reverse.
    class Writers
    {
    public:
        explicit Writers(mxlInstance instance)
            : _instance{instance}
        {}

        ~Writers()
        {
            for (auto it = _writers.rbegin(); it != _writers.rend(); ++it)
            {
                mxlReleaseFlowWriter(_instance, *it);
            }
            mxlDestroyInstance(_instance);
        }

        Writers(Writers const&) = delete;
        Writers& operator=(Writers const&) = delete;

        struct Created
        {
            mxlFlowWriter writer;
            mxlFlowConfigInfo config;
            bool created;
        };

        Created create(std::string const& flowDef, std::string const& options, std::string const& what)
        {
            Created c{};
            auto const status = mxlCreateFlowWriter(_instance, flowDef.c_str(), options.empty() ? nullptr : options.c_str(), &c.writer, &c.config,
                &c.created);
            if (status != MXL_STATUS_OK)
            {
                throw std::runtime_error{fmt::format("cannot create the {} flow writer (status {}; the library's log above says why)", what,
                    static_cast<int>(status))};
            }
            _writers.push_back(c.writer);
            return c;
        }

    private:
        mxlInstance _instance;
        std::vector<mxlFlowWriter> _writers;
    };

    void announce(std::string const& id, std::string const& mediaType, std::string const& geometry, mxlRational const& rate, bool created)
    {
        fmt::print("{} {} {} {}/{}{}\n", id, mediaType, geometry, rate.numerator, rate.denominator, created ? "" : " (adopted an existing flow)");
        std::fflush(stdout);
    }

    int run(Options const& o)
    {
        std::error_code ec;
        if (!std::filesystem::is_directory(o.domain, ec))
        {
            spdlog::error("domain {} is not an existing directory", o.domain);
            return exitFailed;
        }

        // Every thread inherits this mask; the main thread alone takes the signals, with sigtimedwait.
        sigset_t stopSignals;
        sigemptyset(&stopSignals);
        sigaddset(&stopSignals, SIGINT);
        sigaddset(&stopSignals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

        auto* instance = mxlCreateInstance(o.domain.c_str(), nullptr);
        if (instance == nullptr)
        {
            spdlog::error("cannot open domain {} (the library's log above says why)", o.domain);
            return exitFailed;
        }
        Writers writers{instance};
        std::vector<std::unique_ptr<mxl::gen::Generator>> generators;
        auto const baseLabel = o.label.empty() ? std::string{"mxl-gen"} : o.label;

        if (o.video)
        {
            auto const mediaType = "video/" + o.format;
            auto const label = o.label.empty() ? std::string{"mxl-gen video"} : o.label;
            auto const def = mxl::gen::videoFlowDefinition({o.videoId, label, o.group}, mediaType, o.frame.width, o.frame.height, o.rate);
            auto const linesPerBatch = (o.frame.height + o.slices - 1) / o.slices;
            auto const c = writers.create(def, fmt::format(R"({{"maxCommitBatchSizeHint":{0},"maxSyncBatchSizeHint":{0}}})", linesPerBatch), "video");
            announce(o.videoId, mediaType, fmt::format("{}x{}", o.frame.width, o.frame.height), o.rate, c.created);
            generators.push_back(std::make_unique<mxl::gen::VideoGenerator>(c.writer, o.videoId, o.rate, o.frame.width, o.frame.height,
                o.format == "v210a", o.slices, c.config));
        }
        if (o.audioChannels > 0)
        {
            auto const def = mxl::gen::audioFlowDefinition({o.audioId, baseLabel + " audio", o.group}, o.audioChannels, audioSampleRate);
            auto const c = writers.create(def, fmt::format(R"({{"maxCommitBatchSizeHint":{0},"maxSyncBatchSizeHint":{0}}})", audioBatchSamples),
                "audio");
            std::size_t maxWrite = 0;
            mxlFlowWriterGetMaxWriteLengthSamples(c.writer, &maxWrite);
            announce(o.audioId, "audio/float32", fmt::format("{}ch", o.audioChannels), audioSampleRate, c.created);
            generators.push_back(std::make_unique<mxl::gen::AudioGenerator>(c.writer, o.audioId, audioSampleRate,
                c.config.common.maxCommitBatchSizeHint, maxWrite));
        }
        if (o.data)
        {
            auto const def = mxl::gen::ancFlowDefinition({o.dataId, baseLabel + " anc", o.group}, o.rate);
            auto const c = writers.create(def, {}, "ANC");
            announce(o.dataId, "video/smpte291", "ATC", o.rate, c.created);
            generators.push_back(std::make_unique<mxl::gen::AncGenerator>(c.writer, o.dataId, o.rate));
        }

        std::atomic<bool> stop{false};
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for (auto& g : generators)
        {
            threads.emplace_back([&stop, &failures, gen = g.get()] {
                if (!gen->run(stop))
                {
                    failures.fetch_add(1);
                    stop.store(true);
                }
            });
        }

        auto const started = mxlGetTime();
        auto const deadline = o.durationS ? started + static_cast<std::uint64_t>(*o.durationS * 1e9) : UINT64_MAX;
        while (!stop.load())
        {
            timespec const tick{0, 100'000'000};
            auto const signal = sigtimedwait(&stopSignals, nullptr, &tick);
            if (signal == SIGINT || signal == SIGTERM)
            {
                spdlog::info("{}: stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
                break;
            }
            if (mxlGetTime() >= deadline)
            {
                break;
            }
        }
        stop.store(true);
        for (auto& t : threads)
        {
            t.join();
        }
        for (auto const& g : generators)
        {
            if (g->skipped() > 0)
            {
                spdlog::warn("flow {}: skipped {} {} while behind TAI time", g->id(), g->skipped(), g->unit());
            }
        }
        return failures.load() == 0 ? exitOk : exitFailed;
    }
}

int main(int argc, char** argv)
{
    auto logger = spdlog::stderr_color_mt("mxl-gen");
    logger->set_pattern("mxl-gen: [%l] %v");
    spdlog::set_default_logger(logger);
    return runMain(program, argc, [&] {
        auto const options = parse(argc, argv);
        return options ? run(*options) : exitOk;
    });
}
