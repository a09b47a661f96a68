// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace mxl::test
{
    struct ToolResult
    {
        /// Exit code, or nothing if the tool died of a signal or was killed after the timeout.
        std::optional<int> exitCode;
        std::string out;
        std::string err;
    };

    /// Runs a built tool as a user would (posix_spawn, own stdout and stderr pipes) and waits for
    /// it; killed with SIGKILL after the timeout.
    ToolResult runTool(std::string const& path, std::vector<std::string> const& args,
        std::chrono::milliseconds timeout = std::chrono::seconds{10});

    /// A tool running in the background. Killed with SIGKILL and reaped if still running on
    /// destruction.
    class BackgroundTool
    {
    public:
        BackgroundTool(std::string const& path, std::vector<std::string> const& args);
        ~BackgroundTool();
        BackgroundTool(BackgroundTool const&) = delete;
        BackgroundTool& operator=(BackgroundTool const&) = delete;

        [[nodiscard]] pid_t pid() const noexcept
        {
            return _pid;
        }

        /// The next line of stdout (without newline), or nothing after the timeout or at EOF.
        std::optional<std::string> readLine(std::chrono::milliseconds timeout);

        void signal(int sig);

        /// Waits for the exit; collects the rest of stdout and stderr.
        ToolResult wait(std::chrono::milliseconds timeout);

    private:
        pid_t _pid{-1};
        int _out{-1};
        int _err{-1};
        bool _reaped{false};
        std::string _outBuffer;
        std::string _errBuffer;
    };

    /// Argument vector for execv/posix_spawn (pointers into args).
    std::vector<char*> argv(std::string const& path, std::vector<std::string> const& args);
}
