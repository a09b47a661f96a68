// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <sys/types.h>

namespace mxl::test
{
    /// A forked child running body(); its return value is the exit code. The child is killed
    /// (SIGKILL) and reaped if still running when the object dies, so a failing test never leaves
    /// processes behind.
    class ChildProcess
    {
    public:
        explicit ChildProcess(std::function<int()> body);
        ~ChildProcess();
        ChildProcess(ChildProcess const&) = delete;
        ChildProcess& operator=(ChildProcess const&) = delete;

        [[nodiscard]] pid_t pid() const noexcept
        {
            return _pid;
        }

        /// Waits for the child's exit code; nothing if it did not exit in time or died of a signal.
        std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds{20});

        void kill(int signal);

        /// The signal that ended the child, or 0.
        [[nodiscard]] int termSignal() const noexcept
        {
            return _signal;
        }

    private:
        pid_t _pid{-1};
        bool _reaped{false};
        int _signal{0};
    };
}
