// SPDX-License-Identifier: Apache-2.0
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

#include "status/BridgeStatusLayout.hpp"
#include "common/Fd.hpp"
#include "common/Mapping.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    namespace
    {
        using layout::FlowRecord;
        using layout::PeerRecord;
        using layout::StatusArea;

        constexpr std::size_t areaSize = sizeof(StatusArea);
        /// A reader retries while the writer publishes. It spins (yielding) at first; after that the
        /// writer was probably preempted in the middle of a publish, so the reader sleeps between
        /// attempts. A reader still without a copy after readPatience faces a writer that died in
        /// the middle of a publish (the counter stays odd).
        constexpr int spinningReadAttempts = 100;
        constexpr auto readRetrySleep = std::chrono::microseconds{100};
        constexpr auto readPatience = std::chrono::milliseconds{500};
        /// Attempts at taking over a status file that its previous owner removes under us.
        constexpr int maxCreateAttempts = 5;

        static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
        static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= alignof(std::uint64_t));

        std::atomic_ref<std::uint64_t> word(std::uint64_t* words, std::size_t i) noexcept
        {
            return std::atomic_ref<std::uint64_t>{words[i]};
        }

        /// A byte range of the area, in whole words. Both sides copy only the header and the records
        /// in use, so that a publish is short and a read rarely overlaps one.
        struct Span
        {
            std::size_t offset;
            std::size_t size;
        };

        constexpr Span headerSpan{0, sizeof(layout::StatusHeader)};

        constexpr Span peersSpan(std::size_t count) noexcept
        {
            return {offsetof(StatusArea, peers), count * sizeof(PeerRecord)};
        }

        constexpr Span flowsSpan(std::size_t count) noexcept
        {
            return {offsetof(StatusArea, flows), count * sizeof(FlowRecord)};
        }

        /// Staging to mapping; the sequence counter is the writer's to set.
        void store(unsigned char const* from, std::uint64_t* words, Span span) noexcept
        {
            for (auto i = span.offset / sizeof(std::uint64_t); i < (span.offset + span.size) / sizeof(std::uint64_t); ++i)
            {
                if (i != layout::sequenceWord)
                {
                    std::uint64_t w;
                    std::memcpy(&w, from + i * sizeof w, sizeof w);
                    word(words, i).store(w, std::memory_order_relaxed);
                }
            }
        }

        // ---- texts ---------------------------------------------------------------------------

        /// Copies text into a zeroed field, leaving at least one NUL and no partial UTF-8 character.
        template<std::size_t N>
        void putText(char (&field)[N], std::string_view text) noexcept
        {
            auto n = std::min(text.size(), N - 1);
            if (n < text.size())
            {
                while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0U) == 0x80U)
                {
                    --n;
                }
            }
            std::memcpy(field, text.data(), n);
        }

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

        // ---- records -------------------------------------------------------------------------

        void encode(PeerRecord& r, PeerStatus const& p) noexcept
        {
            putText(r.address, p.address);
            putText(r.direction, p.direction);
            putText(r.state, p.state);
            putText(r.bridgeId, p.bridgeId);
            putText(r.provider, p.provider);
            r.sessions = p.sessions;
            r.upSince = p.upSince;
            r.rttMs = p.rttMs;
            r.clockOffsetMs = p.clockOffsetMs;
            r.errors = p.errors;
            putText(r.lastError, p.lastError);
        }

        void encode(FlowRecord& r, FlowReplicationStatus const& f) noexcept
        {
            putText(r.flowId, f.flowId);
            putText(r.role, f.role);
            putText(r.peer, f.peer);
            putText(r.state, f.state);
            putText(r.provider, f.provider);
            putText(r.transfer, f.transfer);
            r.epoch = f.epoch;
            r.grains = f.grains;
            r.bytes = f.bytes;
            r.commits = f.commits;
            r.skippedGrains = f.skippedGrains;
            r.lagGrains = f.lagGrains;
            r.refused = f.refused;
            r.errors = f.errors;
            r.headIndex = f.headIndex;
            r.latencyMs = f.latencyMs;
            putText(r.lastError, f.lastError);
        }

        PeerStatus decode(PeerRecord const& r)
        {
            return PeerStatus{
                .address = getText(r.address),
                .direction = getText(r.direction),
                .state = getText(r.state),
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

        FlowReplicationStatus decode(FlowRecord const& r)
        {
            return FlowReplicationStatus{
                .flowId = getText(r.flowId),
                .role = getText(r.role),
                .peer = getText(r.peer),
                .state = getText(r.state),
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
            if (h.peerCount > maxStatusPeers || h.flowCount > maxStatusFlows)
            {
                return invalid(fmt::format("{} peers and {} flows, at most {} and {} fit", h.peerCount, h.flowCount, maxStatusPeers, maxStatusFlows));
            }
            BridgeStatus status;
            status.pid = h.pid;
            status.bridgeId = getText(h.bridgeId);
            status.listen = getText(h.listen);
            status.startedTai = h.startedTai;
            status.updatedTai = h.updatedTai;
            status.peers.reserve(h.peerCount);
            for (std::uint32_t i = 0; i < h.peerCount; ++i)
            {
                status.peers.push_back(decode(area.peers[i]));
            }
            status.flows.reserve(h.flowCount);
            for (std::uint32_t i = 0; i < h.flowCount; ++i)
            {
                status.flows.push_back(decode(area.flows[i]));
            }
            return std::optional<BridgeStatus>{std::move(status)};
        }

        Unexpected ioError(std::filesystem::path const& path, std::string_view action, int err)
        {
            auto const status = err == EACCES || err == EPERM || err == EROFS ? MXL_ERR_PERMISSION_DENIED : MXL_ERR_UNKNOWN;
            return fail(status, fmt::format("{}: cannot {}: {}", path.string(), action, std::strerror(err)));
        }

        /// Who holds a status file's lock, for the error of a second bridge.
        std::string holder(std::filesystem::path const& domain)
        {
            auto status = readStatus(domain);
            if (!status)
            {
                return fmt::format("(pid unknown: {})", status.error().message);
            }
            if (!*status)
            {
                return "(pid unknown: it is still starting)";
            }
            return fmt::format("pid {}", (*status)->pid);
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
            auto r = readSpan(flowsSpan(std::min<std::size_t>(copy.header.flowCount, maxStatusFlows)));
            std::atomic_thread_fence(std::memory_order_acquire);
            return r;
        }

        bool sameFile(struct stat const& a, struct stat const& b) noexcept
        {
            return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
        }
    }

    struct StatusWriter::State
    {
        std::filesystem::path path;
        Fd fd;
        Mapping map;
        struct stat identity{};
        std::uint64_t startedTai{0};
        std::mutex publishing;
        std::uint64_t sequence{0};
        /// Records the previous publish wrote: the next one clears those it no longer uses. At
        /// first everything, so that nothing of a previous bridge's file remains.
        std::size_t writtenPeers{maxStatusPeers};
        std::size_t writtenFlows{maxStatusFlows};
        /// The next area is built here, then copied into the mapping word by word.
        std::unique_ptr<StatusArea> staging{std::make_unique<StatusArea>()};
    };

    namespace
    {
        /// The status file's mode: read and write for the bridge's user; read for the group and for
        /// others as far as the domain directory lets them read (a 0750 domain gives 0640, a 0755
        /// one 0644). Nothing in it lets a reader write into a mirror (session epochs are tags).
        mode_t statusMode(std::filesystem::path const& domain) noexcept
        {
            struct stat st{};
            if (::stat(domain.c_str(), &st) != 0)
            {
                return 0600;
            }
            return static_cast<mode_t>(0600 | (st.st_mode & S_IRGRP) | (st.st_mode & S_IROTH));
        }
    }

    Expected<std::unique_ptr<StatusWriter>> StatusWriter::create(std::filesystem::path const& domain)
    {
        auto const path = domain / statusFileName;
        for (int attempt = 0; attempt < maxCreateAttempts; ++attempt)
        {
            // O_NONBLOCK: something planted there (a FIFO) must not block the open; it is refused below.
            Fd fd{::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, statusMode(domain))};
            if (!fd.valid())
            {
                return ioError(path, "open the bridge status file", errno);
            }
            if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
            {
                if (errno != EWOULDBLOCK)
                {
                    return ioError(path, "lock the bridge status file", errno);
                }
                return fail(MXL_ERR_CONFLICT, fmt::format("domain {} is already served by the mxl-fabric-bridge with {} ({} is locked)",
                                                  domain.string(), holder(domain), path.string()));
            }
            struct stat opened{};
            struct stat named{};
            if (::fstat(fd.get(), &opened) != 0)
            {
                return ioError(path, "stat the bridge status file", errno);
            }
            if (::stat(path.c_str(), &named) != 0 || !sameFile(opened, named))
            {
                // The bridge that held it removed it between our open and our lock.
                continue;
            }
            if (!S_ISREG(opened.st_mode))
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("{}: not a regular file", path.string()));
            }
            if (opened.st_uid != ::geteuid())
            {
                // Another user's file could be truncated under our mapping (SIGBUS) or read by them.
                return fail(MXL_ERR_PERMISSION_DENIED,
                    fmt::format("{} belongs to uid {}, not to this bridge's user (uid {}): remove it, or run the bridge as its owner", path.string(),
                        opened.st_uid, ::geteuid()));
            }
            if (opened.st_size != 0 && static_cast<std::size_t>(opened.st_size) != areaSize)
            {
                // Left by a bridge of another layout, whose readers may map it: shrinking it under
                // them would make them fault, so start a fresh file instead.
                if (::unlink(path.c_str()) != 0)
                {
                    return ioError(path, "remove the status file of another layout", errno);
                }
                continue;
            }
            // Readers may be other users, as the domain's owner decides: the umask must not hide the
            // status from those the domain directory lets in.
            if (::fchmod(fd.get(), statusMode(domain)) != 0)
            {
                return ioError(path, "make the bridge status file readable", errno);
            }
            if (::ftruncate(fd.get(), static_cast<off_t>(areaSize)) != 0)
            {
                return ioError(path, "size the bridge status file", errno);
            }
            void* base = ::mmap(nullptr, areaSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
            if (base == MAP_FAILED)
            {
                return ioError(path, "map the bridge status file", errno);
            }

            std::unique_ptr<StatusWriter> writer{new StatusWriter{}};
            writer->_state = std::make_unique<State>();
            auto& s = *writer->_state;
            s.path = path;
            s.fd = std::move(fd);
            s.map = Mapping{base, areaSize};
            s.identity = opened;
            s.startedTai = taiNow();
            // Continue the sequence of a previous bridge's file: a reader in the middle of a copy
            // must see the counter move, never come back to the value it started with.
            auto const previous = word(s.map.as<std::uint64_t>(), layout::sequenceWord).load(std::memory_order_relaxed);
            s.sequence = previous + (previous & 1U);
            writer->publish(BridgeStatus{});
            return writer;
        }
        return fail(MXL_ERR_CONFLICT, fmt::format("{}: gave up after {} attempts; other processes keep replacing it", path.string(), maxCreateAttempts));
    }

    StatusWriter::~StatusWriter()
    {
        // Unlink while still holding the lock, so that nobody takes over a file about to vanish;
        // and only our own file (somebody may have replaced a file removed by hand).
        struct stat named{};
        if (::stat(_state->path.c_str(), &named) == 0 && sameFile(named, _state->identity))
        {
            ::unlink(_state->path.c_str());
        }
    }

    void StatusWriter::publish(BridgeStatus const& status) noexcept
    {
        auto& s = *_state;
        std::lock_guard lock{s.publishing};

        auto& area = *s.staging;
        std::memset(&area, 0, sizeof area);
        auto& h = area.header;
        h.magic = layout::statusMagic;
        h.version = layout::statusVersion;
        h.layoutSize = static_cast<std::uint32_t>(areaSize);
        h.pid = static_cast<std::uint32_t>(::getpid());
        h.startedTai = status.startedTai != 0 ? status.startedTai : s.startedTai;
        h.updatedTai = status.updatedTai != 0 ? status.updatedTai : taiNow();
        putText(h.bridgeId, status.bridgeId);
        putText(h.listen, status.listen);
        auto const peers = std::min(status.peers.size(), maxStatusPeers);
        auto const flows = std::min(status.flows.size(), maxStatusFlows);
        h.peerCount = static_cast<std::uint32_t>(peers);
        h.flowCount = static_cast<std::uint32_t>(flows);
        for (std::size_t i = 0; i < peers; ++i)
        {
            encode(area.peers[i], status.peers[i]);
        }
        for (std::size_t i = 0; i < flows; ++i)
        {
            encode(area.flows[i], status.flows[i]);
        }

        auto* const words = s.map.as<std::uint64_t>();
        auto const* const bytes = reinterpret_cast<unsigned char const*>(&area);
        word(words, layout::sequenceWord).store(s.sequence + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        store(bytes, words, headerSpan);
        store(bytes, words, peersSpan(std::max(peers, s.writtenPeers)));
        store(bytes, words, flowsSpan(std::max(flows, s.writtenFlows)));
        s.sequence += 2;
        word(words, layout::sequenceWord).store(s.sequence, std::memory_order_release);
        s.writtenPeers = peers;
        s.writtenFlows = flows;
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
