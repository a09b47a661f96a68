// SPDX-License-Identifier: Apache-2.0
#include "support/ChildProcess.hpp"

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace mxl::test
{
    ChildProcess::ChildProcess(std::function<int()> body)
    {
        _pid = ::fork();
        if (_pid < 0)
        {
            throw std::runtime_error{"fork failed"};
        }
        if (_pid == 0)
        {
            int code = 99;
            try
            {
                code = body();
            }
            catch (...)
            {
                code = 98;
            }
            // _exit: the child must not run the parent's atexit handlers or GoogleTest's teardown.
            ::_exit(code);
        }
    }

    ChildProcess::~ChildProcess()
    {
        if (!_reaped && _pid > 0)
        {
            ::kill(_pid, SIGKILL);
            int status = 0;
            ::waitpid(_pid, &status, 0);
        }
    }

    std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (!_reaped)
        {
            int status = 0;
            auto const r = ::waitpid(_pid, &status, WNOHANG);
            if (r == _pid)
            {
                _reaped = true;
                if (WIFSIGNALED(status))
                {
                    _signal = WTERMSIG(status);
                    return std::nullopt;
                }
                return WEXITSTATUS(status);
            }
            if (std::chrono::steady_clock::now() >= deadline)
            {
                return std::nullopt;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{2});
        }
        return std::nullopt;
    }

    void ChildProcess::kill(int signal)
    {
        if (!_reaped)
        {
            ::kill(_pid, signal);
        }
    }
}
