// SPDX-License-Identifier: Apache-2.0
#include "BridgeProcess.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "TwoHosts.hpp"

namespace mxl::bridge::test
{
    std::string testProvider()
    {
        auto const* provider = std::getenv("MXL_TEST_BRIDGE_PROVIDER");
        return provider != nullptr && *provider != '\0' ? provider : "tcp";
    }

    std::string testEndpointType()
    {
        auto const provider = testProvider();
        for (auto const* rdm : {"efa", "shm", "tcp;ofi_rxm", "udp;ofi_rxd"})
        {
            if (provider == rdm)
            {
                return "rdm";
            }
        }
        return "msg";
    }

    std::filesystem::path writeKey(std::filesystem::path const& file, std::size_t bytes, std::filesystem::perms mode)
    {
        std::random_device random;
        std::string key(bytes, '\0');
        for (auto& c : key)
        {
            c = static_cast<char>(random());
        }
        if (!key.empty() && (key.back() == '\n' || key.back() == '\r'))
        {
            // The bridge drops one trailing newline (a key written by echo): keep exactly `bytes`.
            key.back() = 'k';
        }
        {
            std::ofstream out{file, std::ios::binary | std::ios::trunc};
            out << key;
        }
        std::filesystem::permissions(file, mode);
        return file;
    }

    RunningBridge::RunningBridge(std::filesystem::path logFile, std::vector<std::string> args, std::string ns)
        : _logFile{std::move(logFile)}
    {
        // The shell hands over to the bridge (exec, so the pid stays the bridge's) with its output in
        // a file: a pipe nobody reads would block a talkative bridge.
        std::vector<std::string> command{"-c", "log=$1; shift; exec \"$@\" >>\"$log\" 2>&1", "sh", _logFile.string()};
        if (ns.empty())
        {
            command.push_back(bridgeTool);
            command.insert(command.end(), args.begin(), args.end());
        }
        else
        {
            command.push_back(TwoHosts::ipTool());
            auto const inside = TwoHosts::execIn(ns, bridgeTool, args);
            command.insert(command.end(), inside.begin(), inside.end());
        }
        _tool = std::make_unique<mxl::test::BackgroundTool>("/bin/sh", command);
    }

    std::string RunningBridge::log() const
    {
        std::ifstream in{_logFile, std::ios::binary};
        return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    }

    bool RunningBridge::waitForLog(std::string const& phrase, std::chrono::milliseconds timeout) const
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        for (;;)
        {
            if (log().find(phrase) != std::string::npos)
            {
                return true;
            }
            if (std::chrono::steady_clock::now() >= deadline)
            {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
    }

    std::optional<int> RunningBridge::stop(int sig, std::chrono::milliseconds timeout)
    {
        if (_stopped)
        {
            return std::nullopt;
        }
        _tool->signal(sig);
        auto const result = _tool->wait(timeout);
        _stopped = true;
        return result.exitCode;
    }

    bool RunningBridge::running() const
    {
        if (_stopped)
        {
            return false;
        }
        // /proc rather than waitpid: the BackgroundTool reaps its own child.
        std::ifstream stat{"/proc/" + std::to_string(_tool->pid()) + "/stat"};
        std::string pid, name, state;
        if (!(stat >> pid >> name >> state))
        {
            return false;
        }
        return state != "Z" && state != "X";
    }

    std::optional<BridgeStatus> waitForStatus(std::filesystem::path const& domain, std::function<bool(BridgeStatus const&)> const& pred,
        std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        for (;;)
        {
            if (auto status = readStatus(domain); status && status->has_value() && pred(**status))
            {
                return std::move(**status);
            }
            if (std::chrono::steady_clock::now() >= deadline)
            {
                return std::nullopt;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
    }

    FlowReplicationStatus const* findFlow(BridgeStatus const& status, std::string const& flowId, std::string const& role)
    {
        for (auto const& flow : status.flows)
        {
            if (flow.flowId == flowId && toString(flow.role) == role)
            {
                return &flow;
            }
        }
        return nullptr;
    }

    std::optional<FlowReplicationStatus> waitForActive(std::filesystem::path const& domain, std::string const& flowId, std::string const& role,
        std::chrono::milliseconds timeout)
    {
        auto const status = waitForStatus(
            domain,
            [&](BridgeStatus const& s) {
                auto const* flow = findFlow(s, flowId, role);
                return flow != nullptr && flow->state == FlowState::Active;
            },
            timeout);
        if (!status)
        {
            return std::nullopt;
        }
        return *findFlow(*status, flowId, role);
    }

    std::string describeStatus(std::filesystem::path const& domain)
    {
        auto status = readStatus(domain);
        if (!status)
        {
            return "unreadable status: " + status.error().message;
        }
        if (!status->has_value())
        {
            return "no status";
        }
        auto const& s = **status;
        auto text = fmt::format("bridge pid {} listening on {}\n", s.pid, s.listen);
        for (auto const& p : s.peers)
        {
            text += fmt::format("  peer {} {} {}: sessions {}, rtt {} ms, errors {} {}\n", p.address, toString(p.direction), toString(p.state), p.sessions, p.rttMs,
                p.errors, p.lastError);
        }
        for (auto const& f : s.flows)
        {
            text += fmt::format("  flow {} {} {} epoch {}: grains {}, skipped {}, lag {}, refused {}, errors {} {}\n", f.flowId, toString(f.role), toString(f.state),
                f.epoch, f.grains, f.skippedGrains, f.lagGrains, f.refused, f.errors, f.lastError);
        }
        return text;
    }

    std::optional<std::uint16_t> portOf(std::string const& address)
    {
        auto const colon = address.rfind(':');
        if (colon == std::string::npos)
        {
            return std::nullopt;
        }
        try
        {
            auto const port = std::stoul(address.substr(colon + 1));
            if (port == 0 || port > 65535)
            {
                return std::nullopt;
            }
            return static_cast<std::uint16_t>(port);
        }
        catch (std::exception const&)
        {
            return std::nullopt;
        }
    }

    std::string tail(std::string const& log, std::size_t bytes)
    {
        return log.size() <= bytes ? log : "..." + log.substr(log.size() - bytes);
    }
}
