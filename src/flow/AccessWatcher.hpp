// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/Fd.hpp"

namespace mxl
{
    class AccessWatcher;

    /// One writer's interest in its flow's `access` file; ends when destroyed (before the flow's
    /// mapping goes).
    class AccessWatch
    {
    public:
        AccessWatch(std::shared_ptr<AccessWatcher> watcher, int wd, std::uint64_t token) noexcept;
        ~AccessWatch();
        AccessWatch(AccessWatch const&) = delete;
        AccessWatch& operator=(AccessWatch const&) = delete;

    private:
        std::shared_ptr<AccessWatcher> _watcher;
        int _wd;
        std::uint64_t _token;
    };

    /// Records readers' reads in writers' flow headers as they happen, as MXL's writers do: readers
    /// set the atime of the flow's `access` file (explicitly, so noatime mounts do not matter), and
    /// this thread, one per instance, sees the change through inotify and stores the TAI time in
    /// runtime.lastReadTime of every flow this instance writes. Idle (blocked in poll) between reads.
    class AccessWatcher : public std::enable_shared_from_this<AccessWatcher>
    {
    public:
        /// Nothing (logged once) when inotify is not available: writers then record reads only when
        /// they commit.
        static std::shared_ptr<AccessWatcher> start();

        ~AccessWatcher();
        AccessWatcher(AccessWatcher const&) = delete;
        AccessWatcher& operator=(AccessWatcher const&) = delete;

        /// Watches accessFile for lastReadTime (a field of a mapping that outlives the result).
        std::unique_ptr<AccessWatch> watch(std::filesystem::path const& accessFile, std::uint64_t* lastReadTime);

    private:
        friend class AccessWatch;
        struct Target
        {
            std::uint64_t token;
            std::uint64_t* lastReadTime;
        };

        AccessWatcher(Fd inotify, Fd wake) noexcept;
        void unwatch(int wd, std::uint64_t token) noexcept;
        void run() noexcept;
        void recordRead(int wd) noexcept;

        Fd _inotify;
        Fd _wake;
        std::mutex _mutex;
        std::unordered_map<int, std::vector<Target>> _targets;
        std::uint64_t _nextToken{1};
        std::thread _thread;
    };

    /// Stores time into *field unless it already holds a later one (readers' times only move on).
    void storeLaterTime(std::uint64_t* field, std::uint64_t time) noexcept;
}
