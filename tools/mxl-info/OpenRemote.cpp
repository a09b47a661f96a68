// SPDX-License-Identifier: Apache-2.0
#include "mxl-info/OpenRemote.hpp"

#include <csignal>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <unistd.h>

#include <mxl/mxl.h>
#include <mxl/remote.h>
#include <mxl/time.h>
#include "mxl-info/FlowStatus.hpp"
#include "mxl-info/Views.hpp"
#include "mxl-info/Watch.hpp"
#include "remote/RemoteUri.hpp"
#include "toolkit/Cli.hpp"

namespace mxl::info
{
    namespace
    {
        volatile std::sig_atomic_t stopOpen = 0;

        extern "C" void onOpenStop(int)
        {
            stopOpen = 1;
        }

        /// One JSON line per interval until a signal: for scripts, tests and logs.
        void followLines(DomainInspector& inspector, std::string const& flowId, std::chrono::milliseconds interval)
        {
            struct sigaction action{};
            action.sa_handler = onOpenStop;
            sigemptyset(&action.sa_mask);
            for (int const s : {SIGINT, SIGTERM, SIGHUP})
            {
                ::sigaction(s, &action, nullptr);
            }
            while (stopOpen == 0)
            {
                nlohmann::json line{{"time", mxlGetTime()}, {"flow", flowId}};
                if (auto const flow = inspector.inspect(flowId))
                {
                    line["mirror"] = flowJson(*flow, false);
                }
                else
                {
                    line["mirror"] = nullptr; // the mirror is gone (the bridge stopped, or the source flow went)
                }
                std::cout << line.dump() << std::endl;
                ::poll(nullptr, 0, static_cast<int>(interval.count()));
            }
        }
    }

    std::string statusName(int status)
    {
        switch (status)
        {
            case MXL_STATUS_OK: return "MXL_STATUS_OK";
            case MXL_ERR_TIMEOUT: return "MXL_ERR_TIMEOUT";
            case MXL_ERR_INVALID_ARG: return "MXL_ERR_INVALID_ARG";
            case MXL_ERR_PERMISSION_DENIED: return "MXL_ERR_PERMISSION_DENIED";
            case MXL_ERR_NO_FABRIC: return "MXL_ERR_NO_FABRIC";
            case MXL_ERR_INTERNAL: return "MXL_ERR_INTERNAL";
            case MXL_ERR_NOT_READY: return "MXL_ERR_NOT_READY";
            case MXL_ERR_NOT_FOUND: return "MXL_ERR_NOT_FOUND";
            case MXL_ERR_INVALID_STATE: return "MXL_ERR_INVALID_STATE";
            default: return fmt::format("status {}", status);
        }
    }

    int openRemote(OpenOptions const& options)
    {
        auto const uri = fabric::remote::parseRemoteUri(options.uri);
        if (!uri)
        {
            std::cerr << "mxl-info: --open: " << uri.error().message << "\n";
            return tools::exitUsage;
        }
        auto* instance = mxlCreateInstance(options.domain.c_str(), "");
        if (instance == nullptr)
        {
            std::cerr << "mxl-info: cannot open domain " << options.domain << "\n";
            return tools::exitFailed;
        }
        mxlRemoteFlow remote = nullptr;
        if (auto const status = mxlAcquireRemoteFlow(instance, options.uri.c_str(), options.timeoutMs, &remote); status != MXL_STATUS_OK)
        {
            // The library logged the bridge's reason; the status says which kind of failure it is.
            std::cerr << "mxl-info: cannot open " << options.uri << ": " << statusName(status) << "\n";
            mxlDestroyInstance(instance);
            return tools::exitFailed;
        }
        auto const flowId = formatUuid(uri->flowId);
        std::cerr << "mxl-info: flow " << flowId << " from " << options.uri << " is mirrored in " << options.domain
                  << "; the lease is held until interrupted" << std::endl;
        DomainInspector inspector{options.domain};
        if (::isatty(STDOUT_FILENO) != 0)
        {
            (void)watch(inspector, {options.interval, flowId});
        }
        else
        {
            followLines(inspector, flowId, options.interval);
        }
        auto const released = mxlReleaseRemoteFlow(instance, remote);
        mxlDestroyInstance(instance);
        if (released != MXL_STATUS_OK)
        {
            std::cerr << "mxl-info: releasing the lease: " << statusName(released) << " (the bridge reclaims it when this process is gone)\n";
            return tools::exitFailed;
        }
        std::cerr << "mxl-info: lease released" << std::endl;
        return tools::exitOk;
    }
}
