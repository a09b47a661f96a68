// SPDX-License-Identifier: Apache-2.0
// The command ring's file and slot protocol with real shared memory, futexes and processes: who may
// open what, a full ring, a producer killed between claim and publish, a damaged slot.
#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include "protocol/Wire.hpp"
#include "remote/CommandChannel.hpp"
#include "remote/CommandRing.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

namespace mxl::fabric::remote
{
    namespace
    {
        using namespace std::chrono_literals;
        using test::ChildProcess;
        using test::TestDomain;

        RingOptions small(std::chrono::nanoseconds slotTimeout = 200ms)
        {
            return RingOptions{16, 8, slotTimeout};
        }

        Request release(std::uint64_t leaseId, std::uint32_t pid = 1)
        {
            return Request{{pid, 1}, leaseId, noReply, 0, ReleaseRequest{leaseId}};
        }

        bool push(CommandRing& ring, Request const& r)
        {
            auto claim = ring.tryClaim();
            if (!claim)
            {
                return false;
            }
            encodeRequest(r, claim->position, claim->entry());
            return ring.publish(*claim) == PublishStatus::Published;
        }

        /// Lease ids of the valid requests popped within timeout, until count came.
        std::vector<std::uint64_t> drain(CommandRing& ring, std::size_t count, std::chrono::milliseconds timeout = 5s)
        {
            std::vector<std::uint64_t> ids;
            std::vector<RingEntry> batch(8);
            auto const until = std::chrono::steady_clock::now() + timeout;
            while (ids.size() < count && std::chrono::steady_clock::now() < until)
            {
                auto const n = ring.pop(batch, 50ms);
                for (std::size_t i = 0; i < n; ++i)
                {
                    if (auto r = decodeRequest(batch[i].bytes, batch[i].position, ring.replyCount()))
                    {
                        ids.push_back(std::get<ReleaseRequest>(r->body).leaseId);
                    }
                }
            }
            return ids;
        }

        std::string openError(TestDomain const& domain)
        {
            auto ring = CommandRing::open(domain.path());
            return ring ? std::string{"opened"} : ring.error().message;
        }

        void patch(std::filesystem::path const& file, off_t offset, std::uint32_t value)
        {
            std::byte b[4];
            wire::store(value, b);
            auto const fd = ::open(file.c_str(), O_WRONLY);
            ASSERT_GE(fd, 0);
            ASSERT_EQ(::pwrite(fd, b, 4, offset), 4);
            ::close(fd);
        }
    }

    TEST(CommandRing, CreatedWholeWithGroupWriteAndRemovedWithItsCreator)
    {
        TestDomain domain;
        auto const path = domain.path() / layout::ringFileName;
        {
            auto ring = CommandRing::create(domain.path(), small());
            ASSERT_TRUE(ring) << ring.error().message;
            struct stat st{};
            ASSERT_EQ(::stat(path.c_str(), &st), 0);
            EXPECT_EQ(st.st_mode & 0777, 0660U);
            EXPECT_EQ(static_cast<std::size_t>(st.st_size), layout::fileSize(16, 8));
            // No temporary file is left behind.
            EXPECT_EQ(std::distance(std::filesystem::directory_iterator{domain.path()}, {}), 1);
            auto client = CommandRing::open(domain.path());
            ASSERT_TRUE(client) << client.error().message;
            EXPECT_EQ(client->slotCount(), 16U);
            EXPECT_EQ(client->replyCount(), 8U);
            EXPECT_EQ(client->slotTimeout(), 200ms);
            auto self = selfIdentity();
            ASSERT_TRUE(self);
            EXPECT_EQ(client->owner(), *self);
        }
        EXPECT_FALSE(std::filesystem::exists(path));
    }

    TEST(CommandRing, OpenRefusesMissingForeignAndTruncatedFilesNamingTheFault)
    {
        TestDomain domain;
        auto const path = domain.path() / layout::ringFileName;
        EXPECT_NE(openError(domain).find("no command ring"), std::string::npos);

        auto ring = CommandRing::create(domain.path(), small());
        ASSERT_TRUE(ring);
        auto const size = layout::fileSize(16, 8);

        ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size - 1)), 0);
        EXPECT_NE(openError(domain).find("truncated: " + std::to_string(size - 1) + " bytes"), std::string::npos) << openError(domain);
        ASSERT_EQ(::truncate(path.c_str(), 100), 0);
        EXPECT_NE(openError(domain).find("less than the 192-byte header"), std::string::npos) << openError(domain);
        ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0);

        patch(path, layout::versionOffset, 2);
        EXPECT_NE(openError(domain).find("version 2"), std::string::npos) << openError(domain);
        patch(path, layout::versionOffset, layout::ringVersion);
        patch(path, layout::slotSizeOffset, 128);
        EXPECT_NE(openError(domain).find("slot and reply sizes"), std::string::npos) << openError(domain);
        patch(path, layout::slotSizeOffset, layout::slotSize);
        patch(path, layout::slotCountOffset, 17);
        EXPECT_NE(openError(domain).find("out of range"), std::string::npos) << openError(domain);
        patch(path, layout::slotCountOffset, 16);
        EXPECT_EQ(openError(domain), "opened");
        patch(path, layout::magicOffset, 0x12345678);
        EXPECT_NE(openError(domain).find("not a command ring"), std::string::npos) << openError(domain);

        std::filesystem::remove(path);
        ASSERT_EQ(::mkfifo(path.c_str(), 0660), 0);
        EXPECT_NE(openError(domain).find("not a regular file"), std::string::npos) << openError(domain);
    }

    TEST(CommandRing, CreateRefusesSizesOutOfRange)
    {
        TestDomain domain;
        EXPECT_FALSE(CommandRing::create(domain.path(), RingOptions{24, 8, 1s}));
        EXPECT_FALSE(CommandRing::create(domain.path(), RingOptions{8, 8, 1s}));
        EXPECT_FALSE(CommandRing::create(domain.path(), RingOptions{16, 0, 1s}));
        EXPECT_FALSE(CommandRing::create(domain.path(), RingOptions{16, 8, 0s}));
    }

    TEST(CommandRing, RequestsComeOutInOrderAcrossLaps)
    {
        TestDomain domain;
        auto consumer = CommandRing::create(domain.path(), small());
        auto producer = CommandRing::open(domain.path());
        ASSERT_TRUE(consumer && producer);
        std::uint64_t next = 1;
        for (int lap = 0; lap < 5; ++lap)
        {
            std::vector<std::uint64_t> sent;
            for (int i = 0; i < 11; ++i)
            {
                ASSERT_TRUE(push(*producer, release(next)));
                sent.push_back(next++);
            }
            EXPECT_EQ(drain(*consumer, sent.size()), sent);
        }
    }

    TEST(CommandRing, FullRingSaysSoAndNeverBlocks)
    {
        TestDomain domain;
        auto consumer = CommandRing::create(domain.path(), small());
        ASSERT_TRUE(consumer);
        auto client = CommandClient::open(domain.path());
        ASSERT_TRUE(client) << client.error().message;
        for (std::uint64_t i = 1; i <= 16; ++i)
        {
            ASSERT_TRUE(client->send(ReleaseRequest{i}, 0ms)) << i;
        }
        EXPECT_FALSE(client->ring().tryClaim());
        auto full = client->send(ReleaseRequest{17}, 0ms);
        ASSERT_FALSE(full);
        EXPECT_EQ(full.error().status, MXL_ERR_NOT_READY);
        EXPECT_NE(full.error().message.find("full"), std::string::npos);
        auto waited = client->send(ReleaseRequest{17}, 20ms);
        ASSERT_FALSE(waited);
        EXPECT_EQ(waited.error().status, MXL_ERR_NOT_READY);

        EXPECT_EQ(drain(*consumer, 16).size(), 16U);
        EXPECT_TRUE(client->send(ReleaseRequest{17}, 0ms));
    }

    TEST(CommandRing, ConsumerSleepingOnTheFutexWakesForAnotherProcess)
    {
        TestDomain domain;
        auto consumer = CommandRing::create(domain.path(), small());
        ASSERT_TRUE(consumer);
        std::vector<RingEntry> batch(4);
        EXPECT_EQ(consumer->pop(batch, 20ms), 0U);
        ChildProcess child{[&] {
            std::this_thread::sleep_for(100ms); // the consumer is asleep by now
            auto ring = CommandRing::open(domain.path());
            return ring && push(*ring, release(77)) ? 0 : 1;
        }};
        // Woken by the child's publish, long before this timeout.
        auto const ids = drain(*consumer, 1, 30s);
        EXPECT_EQ(ids, std::vector<std::uint64_t>{77});
        EXPECT_EQ(child.wait(), 0);
    }

    TEST(CommandRing, ProducerKilledBetweenClaimAndPublishIsSkippedAfterTheSlotTimeout)
    {
        TestDomain domain;
        auto consumer = CommandRing::create(domain.path(), small(100ms));
        auto producer = CommandRing::open(domain.path());
        ASSERT_TRUE(consumer && producer);
        ASSERT_TRUE(push(*producer, release(1)));
        int ready[2];
        ASSERT_EQ(::pipe(ready), 0);
        ChildProcess child{[&] {
            auto ring = CommandRing::open(domain.path());
            auto claim = ring ? ring->tryClaim() : std::nullopt;
            if (!claim)
            {
                return 1;
            }
            std::memset(claim->bytes, 0xEE, layout::entrySize / 2); // half a request, never published
            char const c = 'x';
            [[maybe_unused]] auto _ = ::write(ready[1], &c, 1);
            ::pause();
            return 0;
        }};
        char c = 0;
        ASSERT_EQ(::read(ready[0], &c, 1), 1);
        child.kill(SIGKILL);
        EXPECT_FALSE(child.wait().has_value());
        ::close(ready[0]);
        ::close(ready[1]);
        // Behind the dead producer's slot, more requests; then several laps through the same slot.
        for (std::uint64_t id = 2; id <= 6; ++id)
        {
            ASSERT_TRUE(push(*producer, release(id)));
        }
        EXPECT_EQ(drain(*consumer, 6), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
        EXPECT_EQ(consumer->skippedSlots(), 1U);
        std::vector<std::uint64_t> sent;
        for (std::uint64_t id = 100; id < 140; ++id)
        {
            ASSERT_TRUE(push(*producer, release(id)));
            sent.push_back(id);
            if (sent.size() % 10 == 0)
            {
                EXPECT_EQ(drain(*consumer, 10), std::vector<std::uint64_t>(sent.end() - 10, sent.end()));
            }
        }
    }

    TEST(CommandRing, LatePublisherLearnsItsSlotWasReclaimed)
    {
        TestDomain domain;
        auto consumer = CommandRing::create(domain.path(), small(50ms));
        auto producer = CommandRing::open(domain.path());
        ASSERT_TRUE(consumer && producer);
        auto stalled = producer->tryClaim();
        ASSERT_TRUE(stalled);
        std::vector<RingEntry> batch(4);
        auto const until = std::chrono::steady_clock::now() + 10s;
        while (consumer->skippedSlots() == 0 && std::chrono::steady_clock::now() < until)
        {
            consumer->pop(batch, 20ms);
        }
        ASSERT_EQ(consumer->skippedSlots(), 1U);
        encodeRequest(release(5), stalled->position, stalled->entry());
        EXPECT_EQ(producer->publish(*stalled), PublishStatus::Reclaimed);
        ASSERT_TRUE(push(*producer, release(6)));
        EXPECT_EQ(drain(*consumer, 1), std::vector<std::uint64_t>{6});
    }

    TEST(CommandRing, DamagedSlotSequenceIsSkippedAndGarbageRefused)
    {
        TestDomain domain;
        auto consumer = CommandRing::create(domain.path(), small(50ms));
        auto producer = CommandRing::open(domain.path());
        ASSERT_TRUE(consumer && producer);
        // A hostile writer: a slot's sequence set to nonsense, and a published slot of garbage.
        {
            auto const fd = ::open(consumer->path().c_str(), O_RDWR);
            ASSERT_GE(fd, 0);
            std::uint64_t const nonsense = 0xDEADBEEF;
            ASSERT_EQ(::pwrite(fd, &nonsense, 8, static_cast<off_t>(layout::slotOffset(0))), 8);
            ::close(fd);
        }
        std::vector<RingEntry> batch(4);
        auto const until = std::chrono::steady_clock::now() + 10s;
        while (consumer->skippedSlots() == 0 && std::chrono::steady_clock::now() < until)
        {
            consumer->pop(batch, 20ms);
        }
        EXPECT_EQ(consumer->skippedSlots(), 1U);
        auto garbage = producer->tryClaim();
        ASSERT_TRUE(garbage);
        std::memset(garbage->bytes, 0x5A, layout::entrySize);
        ASSERT_EQ(producer->publish(*garbage), PublishStatus::Published);
        ASSERT_TRUE(push(*producer, release(9)));
        ASSERT_EQ(consumer->pop(batch, 1s), 2U);
        auto refused = decodeRequest(batch[0].bytes, batch[0].position, consumer->replyCount());
        ASSERT_FALSE(refused);
        EXPECT_NE(refused.error().message.find("'version'"), std::string::npos);
        EXPECT_TRUE(decodeRequest(batch[1].bytes, batch[1].position, consumer->replyCount()));
    }

    TEST(CommandRing, DamageIsNamedHeaderTailOrFileAndANewRingReplacesTheOld)
    {
        TestDomain domain;
        auto const file = domain.path() / layout::ringFileName;
        {
            auto ring = CommandRing::create(domain.path(), small()).value();
            EXPECT_EQ(ring.damage(), std::nullopt) << "a new ring is whole";
            ASSERT_TRUE(push(ring, release(1)));
            EXPECT_EQ(ring.damage(), std::nullopt) << "requests in flight are not damage";
            patch(file, static_cast<off_t>(layout::versionOffset), 99);
            auto const header = ring.damage();
            ASSERT_TRUE(header);
            EXPECT_NE(header->find("header was overwritten"), std::string::npos) << *header;
        }
        {
            auto ring = CommandRing::create(domain.path(), small()).value();
            std::byte far[8];
            wire::store(std::uint64_t{1} << 40, far);
            auto const fd = ::open(file.c_str(), O_WRONLY);
            ASSERT_GE(fd, 0);
            ASSERT_EQ(::pwrite(fd, far, 8, static_cast<off_t>(layout::tailOffset)), 8);
            ::close(fd);
            auto const tail = ring.damage();
            ASSERT_TRUE(tail);
            EXPECT_NE(tail->find("more than a lap ahead"), std::string::npos) << *tail;
        }
        {
            auto old = CommandRing::create(domain.path(), small()).value();
            std::filesystem::remove(file);
            auto const removed = old.damage();
            ASSERT_TRUE(removed);
            EXPECT_NE(removed->find("removed or replaced"), std::string::npos) << *removed;
            // The new ring takes the name; the old one, destroyed after it, leaves it alone.
            auto fresh = CommandRing::create(domain.path(), small()).value();
            EXPECT_EQ(fresh.damage(), std::nullopt);
            EXPECT_TRUE(old.damage());
            { auto gone = std::move(old); }
            EXPECT_TRUE(std::filesystem::exists(file)) << "the old ring removed the new one's file";
            EXPECT_TRUE(CommandRing::open(domain.path())) << "clients open the new ring";
        }
    }
}
