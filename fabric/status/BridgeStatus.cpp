// SPDX-License-Identifier: Apache-2.0
// The status area's reader (mxl-info, tests): a consistent copy taken with pread under the seqlock,
// every field checked.
#include "status/BridgeStatus.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <mutex>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fmt/format.h>

#include "status/BridgeStatusArea.hpp"
#include "status/BridgeStatusLayout.hpp"
#include "base/Fd.hpp"
#include "common/Mapping.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    using namespace area;

    namespace
    {
        /// A reader retries while the writer publishes. It spins (yielding) at first; after that the
        /// writer was probably preempted in the middle of a publish, so the reader sleeps between
        /// attempts. A reader still without a copy after readPatience faces a writer that died in
        /// the middle of a publish (the counter stays odd).
        constexpr int spinningReadAttempts = 100;
        constexpr auto readRetrySleep = std::chrono::microseconds{100};
        constexpr auto readPatience = std::chrono::milliseconds{500};

        /// Length of the valid UTF-8 sequence at the start of s, or 0.
        std::size_t utf8Length(std::string_view s) noexcept
        {
            auto const b = [&](std::size_t i) {
                return static_cast<unsigned char>(s[i]);
            };
            auto const lead = b(0);
            if (lead < 0x80)
            {
                return 1;
            }
            std::size_t length = 0;
            unsigned char low = 0x80, high = 0xBF; // the range of the second byte
            if (lead >= 0xC2 && lead <= 0xDF)
            {
                length = 2;
            }
            else if (lead >= 0xE0 && lead <= 0xEF)
            {
                length = 3;
                low = lead == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
                high = lead == 0xED ? 0x9F : 0xBF; // no surrogates
            }
            else if (lead >= 0xF0 && lead <= 0xF4)
            {
                length = 4;
                low = lead == 0xF0 ? 0x90 : 0x80;
                high = lead == 0xF4 ? 0x8F : 0xBF; // nothing above U+10FFFF
            }
            if (length == 0 || s.size() < length || b(1) < low || b(1) > high)
            {
                return 0;
            }
            for (std::size_t i = 2; i < length; ++i)
            {
                if ((b(i) & 0xC0U) != 0x80U)
                {
                    return 0;
                }
            }
            return length;
        }

        /// A field as text: up to its first NUL (or its whole size), invalid UTF-8 and control
        /// characters replaced by '?', so that a damaged file can neither break a JSON encoder nor
        /// drive a terminal.
        template<std::size_t N>
        std::string getText(char const (&field)[N])
        {
            std::string_view raw{field, ::strnlen(field, N)};
            std::string text;
            text.reserve(raw.size());
            while (!raw.empty())
            {
                auto const n = utf8Length(raw);
                auto const c = static_cast<unsigned char>(raw.front());
                if (n == 0 || c < 0x20 || c == 0x7F)
                {
                    text += '?';
                    raw.remove_prefix(1);
                    continue;
                }
                text.append(raw.substr(0, n));
                raw.remove_prefix(n);
            }
            return text;
        }

        /// A name field of a record: what it names, or nothing (and what) when it names nothing known.
        template<typename E, std::size_t N>
        std::optional<E> named(char const (&field)[N], std::optional<E> (*parse)(std::string_view) noexcept, char const* what, std::string& problem)
        {
            auto const text = getText(field);
            auto value = parse(text);
            if (!value && problem.empty())
            {
                problem = fmt::format("{} '{}' is none of this version's", what, text);
            }
            return value;
        }

        /// A peer record; problem names its first bad field (and the result is then not used).
        PeerStatus decode(PeerRecord const& r, std::string& problem)
        {
            return PeerStatus{
                .address = getText(r.address),
                .direction = named(r.direction, parsePeerDirection, "direction", problem).value_or(PeerDirection::Outgoing),
                .state = named(r.state, parsePeerState, "state", problem).value_or(PeerState::Connecting),
                .bridgeId = getText(r.bridgeId),
                .provider = getText(r.provider),
                .sessions = r.sessions,
                .upSince = r.upSince,
                .rttMs = r.rttMs,
                .clockOffsetMs = r.clockOffsetMs,
                .errors = r.errors,
                .lastError = getText(r.lastError),
            };
        }

        FlowReplicationStatus decode(FlowRecord const& r, std::string& problem)
        {
            return FlowReplicationStatus{
                .flowId = getText(r.flowId),
                .role = named(r.role, parseFlowRole, "role", problem).value_or(FlowRole::Export),
                .peer = getText(r.peer),
                .state = named(r.state, parseFlowState, "state", problem).value_or(FlowState::Waiting),
                .provider = getText(r.provider),
                .transfer = getText(r.transfer),
                .epoch = r.epoch,
                .grains = r.grains,
                .bytes = r.bytes,
                .commits = r.commits,
                .skippedGrains = r.skippedGrains,
                .lagGrains = r.lagGrains,
                .refused = r.refused,
                .errors = r.errors,
                .headIndex = r.headIndex,
                .latencyMs = r.latencyMs,
                .lastError = getText(r.lastError),
                .endpoint = getText(r.endpoint),
            };
        }

        Expected<std::optional<BridgeStatus>> decode(StatusArea const& area, std::filesystem::path const& path)
        {
            auto const& h = area.header;
            auto invalid = [&](std::string const& what) {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("{}: not a bridge status area of this version: {}", path.string(), what));
            };
            if (h.magic != layout::statusMagic)
            {
                return invalid(fmt::format("magic {:#018x}, expected {:#018x}", h.magic, layout::statusMagic));
            }
            if (h.version != layout::statusVersion)
            {
                return invalid(fmt::format("layout version {}, this build reads version {}", h.version, layout::statusVersion));
            }
            if (h.layoutSize != areaSize)
            {
                return invalid(fmt::format("layout size {}, expected {}", h.layoutSize, areaSize));
            }
            if (h.peerCount > maxStatusPeers || h.flowCount > maxStatusFlows || h.leaseCount > maxStatusLeases)
            {
                return invalid(fmt::format("{} peers, {} flows and {} leases, at most {}, {} and {} fit", h.peerCount, h.flowCount, h.leaseCount,
                    maxStatusPeers, maxStatusFlows, maxStatusLeases));
            }
            BridgeStatus status;
            status.pid = h.pid;
            status.bridgeId = getText(h.bridgeId);
            status.listen = getText(h.listen);
            status.startedTai = h.startedTai;
            status.updatedTai = h.updatedTai;
            status.peers.reserve(h.peerCount);
            std::string problem;
            for (std::uint32_t i = 0; i < h.peerCount; ++i)
            {
                status.peers.push_back(decode(area.peers[i], problem));
                if (!problem.empty())
                {
                    return invalid(fmt::format("peers[{}]: {}", i, problem));
                }
            }
            status.flows.reserve(h.flowCount);
            for (std::uint32_t i = 0; i < h.flowCount; ++i)
            {
                status.flows.push_back(decode(area.flows[i], problem));
                if (!problem.empty())
                {
                    return invalid(fmt::format("flows[{}]: {}", i, problem));
                }
            }
            status.leases.reserve(h.leaseCount);
            for (std::uint32_t i = 0; i < h.leaseCount; ++i)
            {
                auto const& r = area.leases[i];
                if (r.granted > 1)
                {
                    return invalid(fmt::format("leases[{}]: granted is {}, not 0 or 1", i, r.granted));
                }
                status.leases.push_back(LeaseStatus{r.pid, getText(r.flowId), getText(r.peer), r.sinceTai, r.granted == 1});
            }
            return std::optional<BridgeStatus>{std::move(status)};
        }

        // The reader uses pread rather than a mapping: a file truncated under a reader is an error
        // here, where a mapping would fault (SIGBUS); and a read leaves no mapping to tear down.

        Expected<void> readAt(int fd, std::filesystem::path const& path, void* to, std::size_t offset, std::size_t size)
        {
            std::size_t done = 0;
            while (done < size)
            {
                auto const n = ::pread(fd, static_cast<unsigned char*>(to) + done, size - done, static_cast<off_t>(offset + done));
                if (n < 0 && errno == EINTR)
                {
                    continue;
                }
                if (n < 0)
                {
                    return ioError(path, "read the bridge status file", errno);
                }
                if (n == 0)
                {
                    return fail(MXL_ERR_INVALID_ARG, fmt::format("{}: truncated while being read", path.string()));
                }
                done += static_cast<std::size_t>(n);
            }
            return {};
        }

        Expected<std::uint64_t> readSequence(int fd, std::filesystem::path const& path)
        {
            std::uint64_t sequence = 0;
            if (auto r = readAt(fd, path, &sequence, offsetof(layout::StatusHeader, sequence), sizeof sequence); !r)
            {
                return r.take_error();
            }
            // Orders the kernel's load of the counter against the loads around it: a system call is
            // not a memory barrier on every architecture.
            std::atomic_thread_fence(std::memory_order_acquire);
            return sequence;
        }

        /// The header, then the records it counts. Counts out of range are reported once the copy
        /// proved consistent; until then they only bound what is read.
        Expected<void> readUsed(int fd, std::filesystem::path const& path, StatusArea& copy)
        {
            auto* const bytes = reinterpret_cast<unsigned char*>(&copy);
            auto readSpan = [&](Span span) {
                return readAt(fd, path, bytes + span.offset, span.offset, span.size);
            };
            if (auto r = readSpan(headerSpan); !r)
            {
                return r;
            }
            if (auto r = readSpan(peersSpan(std::min<std::size_t>(copy.header.peerCount, maxStatusPeers))); !r)
            {
                return r;
            }
            if (auto r = readSpan(flowsSpan(std::min<std::size_t>(copy.header.flowCount, maxStatusFlows))); !r)
            {
                return r;
            }
            auto r = readSpan(leasesSpan(std::min<std::size_t>(copy.header.leaseCount, maxStatusLeases)));
            std::atomic_thread_fence(std::memory_order_acquire);
            return r;
        }
    }

    Expected<std::optional<BridgeStatus>> readStatus(std::filesystem::path const& domain)
    {
        auto const path = domain / statusFileName;
        Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
        if (!fd.valid())
        {
            if (errno == ENOENT)
            {
                return std::optional<BridgeStatus>{};
            }
            return ioError(path, "open the bridge status file", errno);
        }
        struct stat st{};
        if (::fstat(fd.get(), &st) != 0)
        {
            return ioError(path, "stat the bridge status file", errno);
        }
        if (!S_ISREG(st.st_mode))
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("{}: not a regular file", path.string()));
        }
        if (st.st_size == 0)
        {
            // A bridge between creating the file and sizing it.
            return std::optional<BridgeStatus>{};
        }
        if (static_cast<std::size_t>(st.st_size) != areaSize)
        {
            return fail(MXL_ERR_INVALID_ARG,
                fmt::format("{}: not a bridge status area of this version: {} bytes, expected {}", path.string(), st.st_size, areaSize));
        }
        auto copy = std::make_unique<StatusArea>();
        auto const deadline = std::chrono::steady_clock::now() + readPatience;
        for (int attempt = 0;; ++attempt)
        {
            auto before = readSequence(fd.get(), path);
            if (!before)
            {
                return before.take_error();
            }
            if (*before == 0)
            {
                // Sized but never published: a bridge starting.
                return std::optional<BridgeStatus>{};
            }
            if ((*before & 1U) == 0)
            {
                if (auto r = readUsed(fd.get(), path, *copy); !r)
                {
                    return r.take_error();
                }
                auto after = readSequence(fd.get(), path);
                if (!after)
                {
                    return after.take_error();
                }
                if (*after == *before)
                {
                    return decode(*copy, path);
                }
            }
            if (attempt < spinningReadAttempts)
            {
                ::sched_yield();
                continue;
            }
            if (std::chrono::steady_clock::now() >= deadline)
            {
                return fail(MXL_ERR_TIMEOUT, fmt::format("{}: no consistent copy after {} attempts in {} ms (a bridge that died while "
                                                         "publishing leaves the area half written)",
                                                 path.string(), attempt + 1, readPatience.count()));
            }
            std::this_thread::sleep_for(readRetrySleep);
        }
    }
}
