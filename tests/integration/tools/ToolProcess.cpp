// SPDX-License-Identifier: Apache-2.0
#include "ToolProcess.hpp"

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mxl::test
{
    namespace
    {
        using Clock = std::chrono::steady_clock;

        /// Reads what is available on the open pipes into the buffers; closes a pipe at EOF.
        void pump(int& out, int& err, std::string& outBuffer, std::string& errBuffer, int timeoutMs)
        {
            pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
            if (::poll(fds, 2, timeoutMs) <= 0)
            {
                return;
            }
            int* fdPtrs[2] = {&out, &err};
            std::string* buffers[2] = {&outBuffer, &errBuffer};
            for (int i = 0; i < 2; ++i)
            {
                if (*fdPtrs[i] < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
                {
                    continue;
                }
                char chunk[4096];
                auto const n = ::read(*fdPtrs[i], chunk, sizeof chunk);
                if (n > 0)
                {
                    buffers[i]->append(chunk, static_cast<std::size_t>(n));
                }
                else if (n == 0 || errno != EINTR)
                {
                    ::close(*fdPtrs[i]);
                    *fdPtrs[i] = -1;
                }
            }
        }

        pid_t spawn(std::string const& path, std::vector<std::string> const& args, int& out, int& err)
        {
            int outPipe[2], errPipe[2];
            if (::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0)
            {
                throw std::runtime_error{"pipe failed"};
            }
            posix_spawn_file_actions_t actions;
            posix_spawn_file_actions_init(&actions);
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], STDOUT_FILENO);
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], STDERR_FILENO);
            posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
            auto v = argv(path, args);
            pid_t pid = -1;
            auto const rc = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, v.data(), environ);
            posix_spawn_file_actions_destroy(&actions);
            ::close(outPipe[1]);
            ::close(errPipe[1]);
            if (rc != 0)
            {
                ::close(outPipe[0]);
                ::close(errPipe[0]);
                throw std::runtime_error{"posix_spawn " + path + " failed"};
            }
            out = outPipe[0];
            err = errPipe[0];
            return pid;
        }

        std::optional<int> decode(int status)
        {
            if (WIFEXITED(status))
            {
                return WEXITSTATUS(status);
            }
            return std::nullopt;
        }
    }

    std::vector<char*> argv(std::string const& path, std::vector<std::string> const& args)
    {
        std::vector<char*> v;
        v.push_back(const_cast<char*>(path.c_str()));
        for (auto const& a : args)
        {
            v.push_back(const_cast<char*>(a.c_str()));
        }
        v.push_back(nullptr);
        return v;
    }

    ToolResult runTool(std::string const& path, std::vector<std::string> const& args, std::chrono::milliseconds timeout)
    {
        BackgroundTool tool{path, args};
        return tool.wait(timeout);
    }

    BackgroundTool::BackgroundTool(std::string const& path, std::vector<std::string> const& args)
    {
        _pid = spawn(path, args, _out, _err);
    }

    BackgroundTool::~BackgroundTool()
    {
        if (!_reaped && _pid > 0)
        {
            ::kill(_pid, SIGKILL);
            int status = 0;
            ::waitpid(_pid, &status, 0);
        }
        for (int fd : {_out, _err})
        {
            if (fd >= 0)
            {
                ::close(fd);
            }
        }
    }

    std::optional<std::string> BackgroundTool::readLine(std::chrono::milliseconds timeout)
    {
        auto const deadline = Clock::now() + timeout;
        for (;;)
        {
            if (auto const nl = _outBuffer.find('\n'); nl != std::string::npos)
            {
                auto line = _outBuffer.substr(0, nl);
                _outBuffer.erase(0, nl + 1);
                return line;
            }
            auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0 || _out < 0)
            {
                return std::nullopt;
            }
            pump(_out, _err, _outBuffer, _errBuffer, static_cast<int>(std::min<long long>(left, 50)));
        }
    }

    void BackgroundTool::signal(int sig)
    {
        if (!_reaped)
        {
            ::kill(_pid, sig);
        }
    }

    ToolResult BackgroundTool::wait(std::chrono::milliseconds timeout)
    {
        ToolResult result;
        auto const deadline = Clock::now() + timeout;
        int status = 0;
        while (!_reaped)
        {
            pump(_out, _err, _outBuffer, _errBuffer, 10);
            if (::waitpid(_pid, &status, WNOHANG) == _pid)
            {
                _reaped = true;
                result.exitCode = decode(status);
                break;
            }
            if (Clock::now() >= deadline)
            {
                ::kill(_pid, SIGKILL);
                ::waitpid(_pid, &status, 0);
                _reaped = true;
                break;
            }
        }
        // The pipes reach EOF once the tool is gone (unless it left children holding them).
        auto const drainDeadline = Clock::now() + std::chrono::seconds{2};
        while ((_out >= 0 || _err >= 0) && Clock::now() < drainDeadline)
        {
            pump(_out, _err, _outBuffer, _errBuffer, 20);
        }
        result.out = std::move(_outBuffer);
        result.err = std::move(_errBuffer);
        _outBuffer.clear();
        _errBuffer.clear();
        return result;
    }
}
