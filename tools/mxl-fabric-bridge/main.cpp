// SPDX-License-Identifier: Apache-2.0
// mxl-fabric-bridge: keeps flows of this host's domain available to peer bridges and mirrors the
// flows it imports from them. Foreground; logs to stderr; SIGINT/SIGTERM stop it cleanly.
#include <csignal>
#include <iostream>

#include <spdlog/spdlog.h>

#include "CommandLine.hpp"
#include "MetricsServer.hpp"
#include "Prometheus.hpp"
#include "bridge/Bridge.hpp"
#include "common/Logging.hpp"
#include "control/Auth.hpp"

using namespace mxl::bridge;

namespace
{
    int exitCodeFor(mxlStatus status)
    {
        switch (status)
        {
            case MXL_ERR_NO_FABRIC:
            case MXL_ERR_UNSUPPORTED_OPERATION: return exitNoProvider;
            default: return exitFailed;
        }
    }

    int serve(int argc, char const* const* argv)
    {
        auto options = parseOptions(argc, argv);
        if (!options)
        {
            return exitOk;
        }
        mxl::log().set_level(spdlog::level::from_str(options->logLevel));

        auto key = options->insecure ? mxl::Expected<PresharedKey>{PresharedKey::insecure()} : loadPresharedKey(*options->pskFile);
        if (!key)
        {
            std::cerr << "mxl-fabric-bridge: --psk-file: " << key.error().message << "\n";
            return exitUsage;
        }

        // Signals are taken by the event loop (signalfd): blocked here, before any thread starts, so
        // that every thread inherits the mask.
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
        std::signal(SIGPIPE, SIG_IGN);

        auto bridge = Bridge::create(std::move(*options), std::move(*key));
        if (!bridge)
        {
            mxl::log().error("{}", bridge.error().message);
            return exitCodeFor(bridge.error().status);
        }
        // --metrics: the HTTP endpoint renders the bridge's newest published status on its own thread.
        std::unique_ptr<MetricsServer> metrics;
        if (auto const& address = (*bridge)->options().metrics; address)
        {
            auto started = MetricsServer::start(*address, [&bridge = *bridge] { return renderPrometheus(bridge->lastStatus()); });
            if (!started)
            {
                mxl::log().error("--metrics: {}", started.error().message);
                return exitCodeFor(started.error().status);
            }
            metrics = std::move(*started);
        }
        auto const code = (*bridge)->run();
        metrics.reset(); // before the bridge it renders
        return code;
    }
}

int main(int argc, char** argv)
{
    return mxl::tools::runMain(program, argc, [&] { return serve(argc, argv); });
}
