// SPDX-License-Identifier: Apache-2.0
// The status area's writer: the bridge creates the file (mode, owner, one bridge per domain) and
// publishes whole snapshots under the seqlock.
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
        /// Attempts at taking over a status file that its previous owner removes under us.
        constexpr int maxCreateAttempts = 5;

        static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
        static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= alignof(std::uint64_t));

        std::atomic_ref<std::uint64_t> word(std::uint64_t* words, std::size_t i) noexcept
        {
            return std::atomic_ref<std::uint64_t>{words[i]};
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

        // ---- records -------------------------------------------------------------------------

        void encode(PeerRecord& r, PeerStatus const& p) noexcept
        {
            putText(r.address, p.address);
            putText(r.direction, toString(p.direction));
            putText(r.state, toString(p.state));
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
            putText(r.role, toString(f.role));
            putText(r.peer, f.peer);
            putText(r.state, toString(f.state));
            putText(r.provider, f.provider);
            putText(r.transfer, f.transfer);
            putText(r.endpoint, f.endpoint);
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

        void encode(LeaseRecord& r, LeaseStatus const& l) noexcept
        {
            r.pid = l.pid;
            r.granted = l.granted ? 1 : 0;
            r.sinceTai = l.sinceTai;
            putText(r.flowId, l.flowId);
            putText(r.peer, l.peer);
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
        std::size_t writtenLeases{maxStatusLeases};
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
        auto const leases = std::min(status.leases.size(), maxStatusLeases);
        h.leaseCount = static_cast<std::uint32_t>(leases);
        for (std::size_t i = 0; i < leases; ++i)
        {
            encode(area.leases[i], status.leases[i]);
        }
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
        store(bytes, words, leasesSpan(std::max(leases, s.writtenLeases)));
        s.sequence += 2;
        word(words, layout::sequenceWord).store(s.sequence, std::memory_order_release);
        s.writtenPeers = peers;
        s.writtenFlows = flows;
        s.writtenLeases = leases;
    }
}
