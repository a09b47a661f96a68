// SPDX-License-Identifier: Apache-2.0
#include "flow/AccessWatcher.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/Logging.hpp"
#include "time/Timing.hpp"

namespace mxl
{
    void storeLaterTime(std::uint64_t* field, std::uint64_t time) noexcept
    {
        std::atomic_ref<std::uint64_t> slot{*field};
        auto current = slot.load(std::memory_order_relaxed);
        while (current < time && !slot.compare_exchange_weak(current, time, std::memory_order_relaxed))
        {
        }
    }

    AccessWatch::AccessWatch(std::shared_ptr<AccessWatcher> watcher, int wd, std::uint64_t token) noexcept
        : _watcher{std::move(watcher)}
        , _wd{wd}
        , _token{token}
    {}

    AccessWatch::~AccessWatch()
    {
        _watcher->unwatch(_wd, _token);
    }

    std::shared_ptr<AccessWatcher> AccessWatcher::start()
    {
        Fd inotify{::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)};
        Fd wake{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
        if (!inotify.valid() || !wake.valid())
        {
            log().warn("cannot watch readers' access ({}): lastReadTime is recorded only when writers commit", std::strerror(errno));
            return {};
        }
        std::shared_ptr<AccessWatcher> watcher{new AccessWatcher{std::move(inotify), std::move(wake)}};
        watcher->_thread = std::thread{[raw = watcher.get()] { raw->run(); }};
        return watcher;
    }

    AccessWatcher::AccessWatcher(Fd inotify, Fd wake) noexcept
        : _inotify{std::move(inotify)}
        , _wake{std::move(wake)}
    {}

    AccessWatcher::~AccessWatcher()
    {
        std::uint64_t const one = 1;
        [[maybe_unused]] auto const written = ::write(_wake.get(), &one, sizeof one);
        if (_thread.joinable())
        {
            _thread.join();
        }
    }

    std::unique_ptr<AccessWatch> AccessWatcher::watch(std::filesystem::path const& accessFile, std::uint64_t* lastReadTime)
    {
        // IN_ATTRIB: readers set the atime explicitly (futimens); IN_ACCESS too, for readers of
        // other MXL-format software on mounts that update atime by reading.
        auto const wd = ::inotify_add_watch(_inotify.get(), accessFile.c_str(), IN_ATTRIB | IN_ACCESS | IN_DONT_FOLLOW);
        if (wd < 0)
        {
            log().warn("cannot watch {} ({}): lastReadTime of this flow is recorded only when its writer commits", accessFile.string(),
                std::strerror(errno));
            return {};
        }
        std::lock_guard lock{_mutex};
        auto const token = _nextToken++;
        _targets[wd].push_back(Target{token, lastReadTime});
        return std::make_unique<AccessWatch>(shared_from_this(), wd, token);
    }

    void AccessWatcher::unwatch(int wd, std::uint64_t token) noexcept
    {
        std::lock_guard lock{_mutex};
        auto const it = _targets.find(wd);
        if (it == _targets.end())
        {
            return; // The file went (IN_IGNORED) and its watch with it.
        }
        std::erase_if(it->second, [&](Target const& t) { return t.token == token; });
        if (it->second.empty())
        {
            _targets.erase(it);
            ::inotify_rm_watch(_inotify.get(), wd);
        }
    }

    void AccessWatcher::recordRead(int wd) noexcept
    {
        auto const now = taiNow();
        std::lock_guard lock{_mutex};
        if (auto const it = _targets.find(wd); it != _targets.end())
        {
            for (auto const& target : it->second)
            {
                storeLaterTime(target.lastReadTime, now);
            }
        }
    }

    void AccessWatcher::run() noexcept
    {
        alignas(inotify_event) char buffer[4096];
        for (;;)
        {
            pollfd fds[2] = {{_inotify.get(), POLLIN, 0}, {_wake.get(), POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0)
            {
                if (errno == EINTR)
                {
                    continue;
                }
                log().warn("watching readers' access stopped: poll failed ({})", std::strerror(errno));
                return;
            }
            if (fds[1].revents != 0)
            {
                return;
            }
            for (;;)
            {
                auto const n = ::read(_inotify.get(), buffer, sizeof buffer);
                if (n <= 0)
                {
                    break;
                }
                for (std::size_t at = 0; at + sizeof(inotify_event) <= static_cast<std::size_t>(n);)
                {
                    inotify_event event;
                    std::memcpy(&event, buffer + at, sizeof event);
                    if ((event.mask & IN_IGNORED) != 0)
                    {
                        std::lock_guard lock{_mutex};
                        _targets.erase(event.wd);
                    }
                    else if ((event.mask & (IN_ATTRIB | IN_ACCESS)) != 0)
                    {
                        recordRead(event.wd);
                    }
                    at += sizeof(inotify_event) + event.len;
                }
            }
        }
    }
}
