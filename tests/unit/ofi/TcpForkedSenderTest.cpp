// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <csignal>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "TestSupport.hpp"
#include "ofi/MemoryRegion.hpp"

namespace mxl::ofi::test
{
    namespace
    {
        constexpr auto kWrites = std::size_t{1000};
        constexpr auto kSlotSize = std::size_t{4096};
        constexpr auto kSlots = std::size_t{256};
        constexpr auto kRegionSize = kSlots * kSlotSize;
        constexpr auto kFill = std::byte{0x5A};

        /// What the receiving parent tells the sending child: where to connect and what it may write.
        struct SenderParameters
        {
            std::uint16_t port;
            RemoteRegion region;
        };

        /// Why the child failed, as its exit status.
        enum SenderExit : int
        {
            Sent = 0,
            NoParameters = 10,
            NotConnected = 11,
            PostFailed = 12,
            CompletionsMissing = 13,
            CompletionFailed = 14,
            NoGoodbye = 15,
            SetupFailed = 16,
        };

        bool readExactly(int fd, void* buffer, std::size_t size, std::chrono::milliseconds timeout)
        {
            auto* bytes = static_cast<char*>(buffer);
            while (size > 0)
            {
                auto pfd = pollfd{fd, POLLIN, 0};
                if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0)
                {
                    return false;
                }
                auto const n = ::read(fd, bytes, size);
                if (n <= 0)
                {
                    return false;
                }
                bytes += n;
                size -= static_cast<std::size_t>(n);
            }
            return true;
        }

        bool writeExactly(int fd, void const* buffer, std::size_t size)
        {
            return ::write(fd, buffer, size) == static_cast<ssize_t>(size);
        }

        /// The child's whole life: it starts libfabric only now, after the fork.
        SenderExit runSender(int fromParent)
        {
            auto parameters = SenderParameters{};
            if (!readExactly(fromParent, &parameters, sizeof(parameters), 10s))
            {
                return NoParameters;
            }
            auto client = Client{parameters.port};
            require(client.endpoint.connect(), "connect");
            auto const connected = client.events.wait(kTimeout);
            if (!connected || connected->kind != CmEventKind::Connected)
            {
                return NotConnected;
            }

            auto const source = pattern(kRegionSize, 6);
            auto const sourceRegion = require(MemoryRegion::create(client.domain, source, FI_WRITE), "source region");
            auto const self = std::vector{client.watched()};
            auto const& sent = client.inbox.completions;
            for (std::size_t i = 0; i < kWrites; ++i)
            {
                auto const offset = (i % kSlots) * kSlotSize;
                auto const target = parameters.region.target(offset, kSlotSize);
                if (!target)
                {
                    return SetupFailed;
                }
                while (true)
                {
                    auto const slot = std::span{source}.subspan(offset, kSlotSize);
                    auto const result = client.endpoint.writeWithData(slot, sourceRegion.desc(), *target, i, nullptr);
                    if (result.posted())
                    {
                        break;
                    }
                    if (!result.again())
                    {
                        return PostFailed;
                    }
                    auto const before = sent.total();
                    pumpUntil(self, [&] { return sent.total() > before; });
                }
            }
            if (!pumpUntil(self, [&] { return sent.total() == kWrites; }, 20s))
            {
                return CompletionsMissing;
            }
            if (!sent.errors.empty())
            {
                return CompletionFailed;
            }
            // Stay connected until the parent has everything, so that no byte is cut off by our exit.
            char goodbye = 0;
            return readExactly(fromParent, &goodbye, 1, 20s) ? Sent : NoGoodbye;
        }

        /// A pipe whose ends close with it, whatever happens to the parent's assertions.
        struct Pipe
        {
            int read{-1};
            int write{-1};

            Pipe()
            {
                int fds[2];
                if (::pipe2(fds, O_CLOEXEC) == 0)
                {
                    read = fds[0];
                    write = fds[1];
                }
            }

            Pipe(Pipe const&) = delete;
            Pipe& operator=(Pipe const&) = delete;

            ~Pipe()
            {
                closeEnd(read);
                closeEnd(write);
            }

            static void closeEnd(int& fd)
            {
                if (fd >= 0)
                {
                    ::close(fd);
                    fd = -1;
                }
            }
        };

        /// Kills and reaps the child whatever happens to the parent's assertions.
        struct ChildProcess
        {
            pid_t pid;

            /// The exit status, waiting at most `timeout` (polling with sleeps: waitpid has no timeout).
            int join(std::chrono::milliseconds timeout)
            {
                auto const deadline = std::chrono::steady_clock::now() + timeout;
                int status = 0;
                while (::waitpid(pid, &status, WNOHANG) == 0)
                {
                    if (std::chrono::steady_clock::now() >= deadline)
                    {
                        return -1;
                    }
                    std::this_thread::sleep_for(10ms);
                }
                pid = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }

            ~ChildProcess()
            {
                if (pid > 0)
                {
                    ::kill(pid, SIGKILL);
                    ::waitpid(pid, nullptr, 0);
                }
            }
        };
    }

    TEST(OfiTcpForkedSender, ThousandWritesWithDataFromAnotherProcessAllArrive)
    {
        auto toChild = Pipe{};
        ASSERT_GE(toChild.read, 0);
        auto const pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0)
        {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            Pipe::closeEnd(toChild.write);
            auto status = SetupFailed;
            try
            {
                status = runSender(toChild.read);
            }
            catch (std::exception const& e)
            {
                std::fprintf(stderr, "sender child: %s\n", e.what());
            }
            ::_exit(status);
        }
        auto child = ChildProcess{pid};
        Pipe::closeEnd(toChild.read);

        auto server = Server{};
        ASSERT_FALSE(server.info.requiresRxCqData()) << "tcp is expected to deliver remote CQ data without posted receives";
        auto target = std::vector<std::byte>(kRegionSize, kFill);
        auto const targetRegion = require(MemoryRegion::create(server.domain, target, FI_REMOTE_WRITE), "target region");
        auto const parameters = SenderParameters{require(server.listener.port(), "port"), targetRegion.remoteRegion()};
        ASSERT_TRUE(writeExactly(toChild.write, &parameters, sizeof(parameters)));

        auto request = require(server.events.wait(kTimeout), "waiting for the connection request");
        ASSERT_EQ(request.kind, CmEventKind::ConnectionRequest) << request.message;
        server.inbox.events.push_back(std::move(request));
        server.accept();
        auto const connected = require(server.events.wait(kTimeout), "waiting for the connection");
        ASSERT_EQ(connected.kind, CmEventKind::Connected) << connected.message;

        auto const& received = server.inbox.completions;
        auto const arrived = pumpUntil(
            {server.watched()}, [&] { return received.count(FI_REMOTE_CQ_DATA) >= kWrites || !received.errors.empty(); }, 20s);
        char const goodbye = 'x';
        ASSERT_TRUE(writeExactly(toChild.write, &goodbye, 1));
        EXPECT_EQ(child.join(10s), Sent);

        ASSERT_TRUE(arrived) << "only " << received.count(FI_REMOTE_CQ_DATA) << " of " << kWrites << " writes signalled";
        EXPECT_TRUE(received.errors.empty());
        auto seen = std::vector<int>(kWrites, 0);
        for (auto const& entry : received.entries)
        {
            ASSERT_LT(entry.data, kWrites);
            ++seen[entry.data];
        }
        EXPECT_TRUE(std::ranges::all_of(seen, [](int n) { return n == 1; })) << "some immediate data arrived twice or never";
        EXPECT_TRUE(target == pattern(kRegionSize, 6)) << "the region differs from what the child wrote";
    }
}
