// SPDX-License-Identifier: Apache-2.0
#include "mxl-bench/RingBench.hpp"

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fmt/format.h>

#include "mxl-bench/BenchDomain.hpp"
#include "mxl-bench/Clock.hpp"
#include "mxl-bench/Stats.hpp"
#include "remote/CommandRing.hpp"

namespace mxl::bench
{
    namespace
    {
        namespace remote = mxl::fabric::remote;

        /// Every how many messages the consumer keeps a latency sample when the producers do not pace.
        constexpr std::uint64_t unpacedSampleEvery = 8;
        constexpr std::size_t batchSize = 256;

        remote::Request message(remote::ProcessIdentity const& self, std::uint64_t n)
        {
            return remote::Request{self, 0, remote::noReply, 0, remote::ReleaseRequest{n}};
        }

        /// A producer process: opens the ring, waits for the start, sends count messages stamped
        /// with their enqueue time (the request id), spinning (then yielding) while the ring is full;
        /// one every periodNs if not 0.
        [[noreturn]] void produce(std::filesystem::path const& domain, int go, std::uint64_t count, std::uint64_t periodNs)
        {
            auto ring = remote::CommandRing::open(domain);
            auto self = remote::selfIdentity();
            char start = 0;
            if (!ring || !self || ::read(go, &start, 1) != 1)
            {
                ::_exit(1);
            }
            auto request = message(*self, 1);
            auto const started = monotonicNs();
            for (std::uint64_t n = 1; n <= count; ++n)
            {
                if (periodNs != 0)
                {
                    sleepUntilMonotonic(started + n * periodNs);
                }
                std::get<remote::ReleaseRequest>(request.body).leaseId = n;
                for (int spins = 0;; ++spins)
                {
                    request.requestId = monotonicNs();
                    if (auto claim = ring->tryClaim())
                    {
                        remote::encodeRequest(request, claim->position, claim->entry());
                        if (ring->publish(*claim) == remote::PublishStatus::Published)
                        {
                            break;
                        }
                        continue;
                    }
                    if (spins > 16)
                    {
                        ::sched_yield();
                    }
                }
            }
            ::_exit(0);
        }

        long voluntarySwitches()
        {
            rusage u{};
            ::getrusage(RUSAGE_THREAD, &u);
            return u.ru_nvcsw;
        }

        /// One run: producers processes sending total messages between them (at totalRate per
        /// second if not 0), one consumer (this thread).
        nlohmann::json runProducers(RingBenchOptions const& o, unsigned producers, std::uint64_t total, double totalRate)
        {
            BenchDomain domain;
            auto ring = remote::CommandRing::create(domain.path, remote::RingOptions{o.slots, 16, std::chrono::seconds{1}});
            if (!ring)
            {
                throw std::runtime_error{ring.error().message};
            }
            int go[2];
            if (::pipe(go) != 0)
            {
                throw std::runtime_error{"pipe"};
            }
            auto const each = total / producers;
            auto const periodNs = totalRate > 0 ? static_cast<std::uint64_t>(1e9 * producers / totalRate) : 0;
            std::vector<pid_t> children;
            for (unsigned p = 0; p < producers; ++p)
            {
                auto const pid = ::fork();
                if (pid == 0)
                {
                    ::close(go[1]);
                    produce(domain.path, go[0], each, periodNs);
                }
                if (pid < 0)
                {
                    throw std::runtime_error{"fork"};
                }
                children.push_back(pid);
            }
            ::close(go[0]);

            total = each * producers;
            auto const sampleEvery = periodNs != 0 ? 1 : unpacedSampleEvery;
            std::vector<std::uint64_t> latency;
            latency.reserve(total / sampleEvery + 1);
            std::vector<remote::RingEntry> batch(batchSize);
            std::uint64_t received = 0;
            std::uint64_t refused = 0;
            std::uint64_t batches = 0;
            std::this_thread::sleep_for(std::chrono::milliseconds{100}); // the producers have opened the ring
            auto const switchesBefore = voluntarySwitches();
            auto const started = monotonicNs();
            std::string const start(producers, 'g');
            if (::write(go[1], start.data(), start.size()) != static_cast<ssize_t>(start.size()))
            {
                throw std::runtime_error{"cannot start the producers"};
            }
            auto idleSince = monotonicNs();
            while (received + refused < total)
            {
                auto const n = ring->pop(batch, std::chrono::milliseconds{100});
                auto const now = monotonicNs();
                if (n == 0)
                {
                    if (now - idleSince > 10'000'000'000ULL)
                    {
                        break; // a producer died: report what came
                    }
                    continue;
                }
                idleSince = now;
                ++batches;
                for (std::size_t i = 0; i < n; ++i)
                {
                    auto const r = remote::decodeRequest(batch[i].bytes, batch[i].position, ring->replyCount());
                    if (!r)
                    {
                        ++refused;
                        continue;
                    }
                    if (++received % sampleEvery == 0)
                    {
                        latency.push_back(now > r->requestId ? now - r->requestId : 0);
                    }
                }
            }
            auto const elapsed = monotonicNs() - started;
            auto const switches = voluntarySwitches() - switchesBefore;
            ::close(go[1]);
            int failedProducers = 0;
            for (auto const pid : children)
            {
                int status = 0;
                ::waitpid(pid, &status, 0);
                failedProducers += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            }
            auto const rate = static_cast<double>(received) / (static_cast<double>(elapsed) * 1e-9);
            return {
                {"producers", producers},
                {"messages", received},
                {"refused", refused},
                {"failed_producers", failedProducers},
                {"skipped_slots", ring->skippedSlots()},
                {"msgs_per_s", rate},
                {"latency_us", percentilesUs(std::move(latency)).toJson()},
                {"mean_batch", batches > 0 ? static_cast<double>(received) / static_cast<double>(batches) : 0.0},
                {"consumer_sleeps", switches},
            };
        }

        /// The same bytes through a plain array ring in one thread: copy in, and out in batches.
        double baseline(RingBenchOptions const& o)
        {
            auto self = remote::selfIdentity();
            std::array<std::byte, remote::layout::entrySize> entry{};
            remote::encodeRequest(message(self ? *self : remote::ProcessIdentity{1, 1}, 1), 0, entry);
            std::vector<std::array<std::byte, remote::layout::entrySize>> slots(o.slots);
            std::vector<std::array<std::byte, remote::layout::entrySize>> out(batchSize);
            auto const mask = o.slots - 1;
            auto const started = monotonicNs();
            std::uint64_t head = 0;
            for (std::uint64_t tail = 0; tail < o.messages; ++tail)
            {
                std::memcpy(slots[tail & mask].data(), entry.data(), entry.size());
                if (tail + 1 - head == batchSize || tail + 1 == o.messages)
                {
                    for (std::size_t i = 0; head <= tail; ++head, ++i)
                    {
                        std::memcpy(out[i].data(), slots[head & mask].data(), entry.size());
                    }
                    asm volatile("" : : "r"(out.data()) : "memory"); // the copies are not optimised away
                }
            }
            return static_cast<double>(o.messages) / (static_cast<double>(monotonicNs() - started) * 1e-9);
        }
    }

    nlohmann::json runRing(RingBenchOptions const& options)
    {
        auto const plain = baseline(options);
        nlohmann::json runs = nlohmann::json::array();
        for (auto const p : options.producers)
        {
            auto run = runProducers(options, p, options.messages, 0);
            run["ratio_to_baseline"] = run["msgs_per_s"].get<double>() / plain;
            auto paced = runProducers(options, p, options.pacedMessages, options.pacedRate);
            run["paced"] = {{"msgs_per_s", options.pacedRate}, {"latency_us", paced["latency_us"]}, {"consumer_sleeps", paced["consumer_sleeps"]},
                {"messages", paced["messages"]}};
            runs.push_back(std::move(run));
        }
        return {
            {"benchmark", "ring"},
            {"slots", options.slots},
            {"message_bytes", remote::layout::entrySize},
            {"producer", "process: tryClaim, encodeRequest (Release), publish; spins then yields on a full ring"},
            {"consumer", fmt::format("pop batches of up to {} (futex sleep when idle), decodeRequest each", batchSize)},
            {"runs_note", "msgs_per_s and latency_us: producers unpaced, the ring full, latency is mostly queueing; paced: producers at a fixed total "
                          "rate, the consumer sleeps on the futex between messages"},
            {"baseline", {{"what", "one thread: memcpy of the same bytes into a plain array ring and out in batches"}, {"msgs_per_s", plain}}},
            {"runs", runs},
        };
    }
}
