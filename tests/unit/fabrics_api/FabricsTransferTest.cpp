// SPDX-License-Identifier: Apache-2.0
// Moving flows through the fabrics C API, written as an application for MXL's SDK would be: an
// initiator loop of write -> TransferGrain -> MakeProgress on one domain, a target loop of
// ReadGrain -> OpenGrain -> CommitGrain on another, over the real tcp provider on loopback (and shm), with
// the TargetInfo carried as a string. Grains must arrive byte exact and be readable by ordinary
// local readers.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <mxl/fabrics.h>
#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "FabricsTestSupport.hpp"
#include "base/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace
{
    std::uint8_t patternByte(std::uint64_t index, std::size_t offset) noexcept
    {
        return static_cast<std::uint8_t>((index * 131 + offset * 7 + (offset >> 9)) & 0xFF);
    }

    /// One host's side: a domain, an mxlInstance and a fabrics instance.
    struct Host
    {
        Host()
        {
            instance = mxlCreateInstance(domain.str().c_str(), nullptr);
            EXPECT_NE(instance, nullptr);
            EXPECT_EQ(mxlFabricsCreateInstance(instance, nullptr, &fabrics), MXL_STATUS_OK);
        }

        ~Host()
        {
            EXPECT_EQ(mxlFabricsDestroyInstance(fabrics), MXL_STATUS_OK);
            EXPECT_EQ(mxlDestroyInstance(instance), MXL_STATUS_OK);
        }

        mxl::test::TestDomain domain;
        mxlInstance instance{nullptr};
        mxlFabricsInstance fabrics{nullptr};
    };

    mxlFabricsInterfaceConfig loopback(mxlFabricsProvider provider)
    {
        mxlFabricsInterfaceConfig config{};
        config.version = MXL_FABRICS_API_VERSION;
        config.provider = provider;
        config.caps.version = MXL_FABRICS_API_VERSION;
        config.address = {"127.0.0.1", "0"};
        return config;
    }

    class FabricsTransfer : public ::testing::Test
    {
    protected:
        /// Creates the flow on both hosts, a target on the sink's writer and an initiator on the
        /// source's reader, and connects them through the TargetInfo's string form.
        void connect(std::string const& media, int width, int height, int rateNum, int rateDen)
        {
            flowId = mxl::formatUuid(*mxl::randomUuid());
            auto const def = mxl::test::flowDef(flowId, media, width, height, rateNum, rateDen);
            ASSERT_EQ(mxlCreateFlowWriter(source.instance, def.c_str(), nullptr, &sourceWriter, nullptr, nullptr), MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowReader(source.instance, flowId.c_str(), nullptr, &sourceReader), MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowWriter(sink.instance, def.c_str(), nullptr, &sinkWriter, nullptr, nullptr), MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowReader(sink.instance, flowId.c_str(), nullptr, &sinkReader), MXL_STATUS_OK);

            ASSERT_EQ(mxlFabricsCreateTarget(sink.fabrics, &target), MXL_STATUS_OK);
            mxlFabricsTargetConfig targetConfig{MXL_FABRICS_API_VERSION, loopback(provider), sinkWriter};
            mxlFabricsTargetInfo made = nullptr;
            ASSERT_EQ(mxlFabricsTargetSetup(target, &targetConfig, targetOptions, &made), MXL_STATUS_OK);
            std::size_t size = 0;
            ASSERT_EQ(mxlFabricsTargetInfoToString(made, nullptr, &size), MXL_STATUS_OK);
            std::string text(size, '\0');
            ASSERT_EQ(mxlFabricsTargetInfoToString(made, text.data(), &size), MXL_STATUS_OK);
            ASSERT_EQ(mxlFabricsFreeTargetInfo(made), MXL_STATUS_OK);

            ASSERT_EQ(mxlFabricsCreateInitiator(source.fabrics, &initiator), MXL_STATUS_OK);
            mxlFabricsInitiatorConfig initiatorConfig{MXL_FABRICS_API_VERSION, loopback(provider), sourceReader};
            ASSERT_EQ(mxlFabricsInitiatorSetup(initiator, &initiatorConfig, nullptr), MXL_STATUS_OK);
            ASSERT_EQ(mxlFabricsTargetInfoFromString(text.c_str(), &info), MXL_STATUS_OK);
            ASSERT_EQ(mxlFabricsInitiatorAddTarget(initiator, info), MXL_STATUS_OK);
            ASSERT_EQ(progressUntilDone(), MXL_STATUS_OK) << "connected";

            mxlFlowInfo flowInfo{};
            ASSERT_EQ(mxlFlowReaderGetInfo(sourceReader, &flowInfo), MXL_STATUS_OK);
            grainCount = flowInfo.config.discrete.grainCount;
            totalSlices = static_cast<std::uint16_t>(height); // v210: a slice per line
        }

        void TearDown() override
        {
            if (info != nullptr)
            {
                EXPECT_EQ(mxlFabricsFreeTargetInfo(info), MXL_STATUS_OK);
            }
            if (initiator != nullptr)
            {
                EXPECT_EQ(mxlFabricsDestroyInitiator(source.fabrics, initiator), MXL_STATUS_OK);
            }
            if (target != nullptr)
            {
                EXPECT_EQ(mxlFabricsDestroyTarget(sink.fabrics, target), MXL_STATUS_OK);
            }
        }

        mxlStatus progressUntilDone()
        {
            auto status = MXL_ERR_NOT_READY;
            for (int i = 0; i < 100 && status == MXL_ERR_NOT_READY; ++i)
            {
                status = mxlFabricsInitiatorMakeProgressBlocking(initiator, 100);
            }
            return status;
        }

        /// Writes slices [from, to) of grain index on the source with the test pattern.
        void writeSlices(std::uint64_t index, std::uint16_t from, std::uint16_t to)
        {
            mxlGrainInfo grain{};
            std::uint8_t* payload = nullptr;
            ASSERT_EQ(mxlFlowWriterOpenGrain(sourceWriter, index, &grain, &payload), MXL_STATUS_OK);
            auto const sliceBytes = grain.grainSize / grain.totalSlices;
            for (std::size_t offset = std::size_t{from} * sliceBytes; offset < std::size_t{to} * sliceBytes; ++offset)
            {
                payload[offset] = patternByte(index, offset);
            }
            grain.validSlices = to;
            ASSERT_EQ(mxlFlowWriterCommitGrain(sourceWriter, &grain), MXL_STATUS_OK);
        }

        /// What an SDK target application does with a grain it read: opens and commits it.
        void openAndCommitOnTheSink(std::uint64_t index)
        {
            mxlGrainInfo grain{};
            std::uint8_t* payload = nullptr;
            ASSERT_EQ(mxlFlowWriterOpenGrain(sinkWriter, index, &grain, &payload), MXL_STATUS_OK);
            ASSERT_EQ(mxlFlowWriterCommitGrain(sinkWriter, &grain), MXL_STATUS_OK);
        }

        /// The first byte of grain index that differs from the pattern, up to validSlices, as reader
        /// (by default the sink's) sees it; SIZE_MAX when all are right.
        std::size_t firstMismatchOnTheSink(std::uint64_t index, std::uint16_t validSlices, mxlFlowReader reader = nullptr)
        {
            mxlGrainInfo grain{};
            std::uint8_t* payload = nullptr;
            auto const status = mxlFlowReaderGetGrainSlice(reader != nullptr ? reader : sinkReader, index, validSlices, 2'000'000'000ULL, &grain, &payload);
            EXPECT_EQ(status, MXL_STATUS_OK) << "grain " << index;
            if (status != MXL_STATUS_OK)
            {
                return 0;
            }
            auto const bytes = std::size_t{validSlices} * (grain.grainSize / grain.totalSlices);
            for (std::size_t offset = 0; offset < bytes; ++offset)
            {
                if (payload[offset] != patternByte(index, offset))
                {
                    return offset;
                }
            }
            return SIZE_MAX;
        }

        /// The loop of an SDK application on both sides: write a grain, transfer it, make progress
        /// without waiting; read it on the target, open and commit it, check it byte for byte.
        void moveGrainsOneByOne(std::uint64_t first, std::uint64_t count)
        {
            for (auto index = first; index < first + count; ++index)
            {
                ASSERT_NO_FATAL_FAILURE(writeSlices(index, 0, totalSlices));
                ASSERT_EQ(mxlFabricsInitiatorTransferGrain(initiator, index, 0, totalSlices), MXL_STATUS_OK);
                auto const progress = mxlFabricsInitiatorMakeProgressNonBlocking(initiator);
                ASSERT_TRUE(progress == MXL_STATUS_OK || progress == MXL_ERR_NOT_READY) << progress;

                std::uint64_t arrived = 0;
                ASSERT_EQ(mxlFabricsTargetReadGrain(target, 2000, &arrived), MXL_STATUS_OK) << "grain " << index;
                EXPECT_EQ(arrived, index);
                ASSERT_NO_FATAL_FAILURE(openAndCommitOnTheSink(arrived));
                EXPECT_EQ(firstMismatchOnTheSink(arrived, totalSlices), SIZE_MAX) << "grain " << arrived;
            }
        }

        Host source;
        Host sink;
        std::string flowId;
        mxlFlowWriter sourceWriter{nullptr};
        mxlFlowReader sourceReader{nullptr};
        mxlFlowWriter sinkWriter{nullptr};
        mxlFlowReader sinkReader{nullptr};
        mxlFabricsTarget target{nullptr};
        mxlFabricsInitiator initiator{nullptr};
        mxlFabricsTargetInfo info{nullptr};
        std::uint32_t grainCount{0};
        std::uint16_t totalSlices{0};
        char const* targetOptions{nullptr};
        mxlFabricsProvider provider{MXL_FABRICS_PROVIDER_TCP};
    };

    TEST_F(FabricsTransfer, GrainsMovedAsAnSdkApplicationWouldArriveByteExact)
    {
        ASSERT_NO_FATAL_FAILURE(connect("v210", 256, 64, 50, 1));
        std::uint64_t const first = 5000;
        std::uint64_t const count = 3 * grainCount;
        ASSERT_NO_FATAL_FAILURE(moveGrainsOneByOne(first, count));
        EXPECT_EQ(progressUntilDone(), MXL_STATUS_OK);
        std::uint64_t more = 0;
        EXPECT_EQ(mxlFabricsTargetReadGrainNonBlocking(target, &more), MXL_ERR_NOT_READY) << "one arrival per transfer";

        // An application a ring behind: the grain it asks for was replaced; opening it must not
        // take the slot and the head back from the newer grain.
        mxlGrainInfo grain{};
        std::uint8_t* payload = nullptr;
        EXPECT_EQ(mxlFlowWriterOpenGrain(sinkWriter, first, &grain, &payload), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
        mxlFlowRuntimeInfo runtime{};
        ASSERT_EQ(mxlFlowReaderGetRuntimeInfo(sinkReader, &runtime), MXL_STATUS_OK);
        EXPECT_EQ(runtime.headIndex, first + count - 1);
        EXPECT_EQ(firstMismatchOnTheSink(first + count - 1, totalSlices), SIZE_MAX);
    }

    TEST_F(FabricsTransfer, SlicesArriveAsTheyAreTransferredAndPipelinedTransfersAllLand)
    {
        ASSERT_NO_FATAL_FAILURE(connect("v210", 256, 64, 50, 1));
        std::uint64_t const first = 7000;
        auto const half = static_cast<std::uint16_t>(totalSlices / 2);
        // Many grains in flight: every transfer is queued before any is waited for.
        auto const count = std::uint64_t{grainCount} / 2;
        for (auto index = first; index < first + count; ++index)
        {
            ASSERT_NO_FATAL_FAILURE(writeSlices(index, 0, half));
            ASSERT_EQ(mxlFabricsInitiatorTransferGrain(initiator, index, 0, half), MXL_STATUS_OK);
        }
        ASSERT_EQ(progressUntilDone(), MXL_STATUS_OK);
        for (auto index = first; index < first + count; ++index)
        {
            std::uint64_t arrived = 0;
            ASSERT_EQ(mxlFabricsTargetReadGrain(target, 2000, &arrived), MXL_STATUS_OK);
            EXPECT_EQ(arrived, index);
            EXPECT_EQ(firstMismatchOnTheSink(index, half), SIZE_MAX) << "grain " << index;
            mxlGrainInfo grain{};
            std::uint8_t* payload = nullptr;
            EXPECT_EQ(mxlFlowReaderGetGrainSliceNonBlocking(sinkReader, index, half + 1, &grain, &payload), MXL_ERR_OUT_OF_RANGE_TOO_EARLY)
                << "only the slices transferred are valid";
        }
        for (auto index = first; index < first + count; ++index)
        {
            ASSERT_NO_FATAL_FAILURE(writeSlices(index, half, totalSlices));
            ASSERT_EQ(mxlFabricsInitiatorTransferGrain(initiator, index, half, totalSlices), MXL_STATUS_OK);
        }
        ASSERT_EQ(progressUntilDone(), MXL_STATUS_OK);
        for (auto index = first; index < first + count; ++index)
        {
            std::uint64_t arrived = 0;
            ASSERT_EQ(mxlFabricsTargetReadGrain(target, 2000, &arrived), MXL_STATUS_OK);
            EXPECT_EQ(arrived, index);
            ASSERT_NO_FATAL_FAILURE(openAndCommitOnTheSink(arrived));
            EXPECT_EQ(firstMismatchOnTheSink(index, totalSlices), SIZE_MAX) << "grain " << index;
        }
    }

    TEST_F(FabricsTransfer, ATargetThatReadsSlowlyGetsEveryGrainStillInTheRing)
    {
        // 1080p60 v210 arrives while the application sleeps 500 ms between its reads.
        ASSERT_NO_FATAL_FAILURE(connect("v210", 1920, 1080, 60, 1));
        std::atomic<bool> done{false};
        std::uint64_t const first = 100000;
        std::uint64_t const count = 150;
        std::thread producer{[&] {
            auto next = std::chrono::steady_clock::now();
            for (auto index = first; index < first + count; ++index)
            {
                writeSlices(index, 0, totalSlices);
                EXPECT_EQ(mxlFabricsInitiatorTransferGrain(initiator, index, 0, totalSlices), MXL_STATUS_OK);
                (void)mxlFabricsInitiatorMakeProgressNonBlocking(initiator);
                next += std::chrono::microseconds{16667};
                std::this_thread::sleep_until(next);
            }
            EXPECT_EQ(progressUntilDone(), MXL_STATUS_OK);
            done = true;
        }};

        // The grains readable on the sink now (a reader's view of "in the ring").
        auto const held = [&](std::uint64_t head) {
            std::vector<std::uint64_t> indices;
            for (auto index = head >= grainCount ? head - grainCount + 1 : 0; index <= head; ++index)
            {
                mxlGrainInfo grain{};
                std::uint8_t* payload = nullptr;
                if (mxlFlowReaderGetGrainNonBlocking(sinkReader, index, &grain, &payload) == MXL_STATUS_OK)
                {
                    indices.push_back(index);
                }
            }
            return indices;
        };
        std::vector<std::uint64_t> read;
        std::uint64_t missed = 0;
        // Until the producer is done and one more read found everything (a grain the source had
        // overwritten before its turn, on a loaded machine, is skipped: the loop does not wait for it).
        bool last = false;
        while (!last)
        {
            last = done;
            std::this_thread::sleep_for(std::chrono::milliseconds{500});
            mxlFlowRuntimeInfo runtime{};
            ASSERT_EQ(mxlFlowReaderGetRuntimeInfo(sinkReader, &runtime), MXL_STATUS_OK);
            auto const before = held(runtime.headIndex);
            std::vector<std::uint64_t> batch;
            std::uint64_t index = 0;
            while (mxlFabricsTargetReadGrainNonBlocking(target, &index) == MXL_STATUS_OK)
            {
                batch.push_back(index);
                EXPECT_EQ(firstMismatchOnTheSink(index, totalSlices), SIZE_MAX) << "grain " << index;
            }
            auto const after = held(runtime.headIndex);
            // Every grain that was readable when the application came back and still is after it
            // read (not overwritten by newer arrivals meanwhile) was handed to it, in order.
            for (auto const grain : before)
            {
                auto const stillHeld = std::find(after.begin(), after.end(), grain) != after.end();
                auto const handed = std::find(batch.begin(), batch.end(), grain) != batch.end();
                if (stillHeld && !handed && (read.empty() || grain > read.back()))
                {
                    ++missed;
                    ADD_FAILURE() << "grain " << grain << " was in the ring but not read";
                }
            }
            EXPECT_TRUE(std::is_sorted(batch.begin(), batch.end()));
            read.insert(read.end(), batch.begin(), batch.end());
        }
        producer.join();
        EXPECT_EQ(missed, 0U);
        EXPECT_GE(read.size(), std::size_t{grainCount}) << "at least a ring's worth arrived";
    }

    /// Byte b of sample index in channel c, as the samples test writes it.
    std::uint8_t sampleByte(std::size_t channel, std::uint64_t index, std::size_t byte) noexcept
    {
        return static_cast<std::uint8_t>((index * 4 + byte) * 13 + channel * 101);
    }

    TEST_F(FabricsTransfer, SamplesMovedAsAnSdkApplicationWouldArriveByteExact)
    {
        ASSERT_NO_FATAL_FAILURE(connect("audio", 0, 0, 48000, 1));
        std::uint64_t const batch = 480;
        std::uint64_t const first = 480000;
        for (std::uint64_t end = first + batch; end <= first + 100 * batch; end += batch)
        {
            mxlMutableWrappedMultiBufferSlice slices{};
            ASSERT_EQ(mxlFlowWriterOpenSamples(sourceWriter, end, batch, &slices), MXL_STATUS_OK);
            for (std::size_t channel = 0; channel < slices.count; ++channel)
            {
                auto index = end - batch;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto* bytes = static_cast<std::uint8_t*>(fragment.pointer) + channel * slices.stride;
                    for (std::size_t offset = 0; offset < fragment.size; ++offset)
                    {
                        bytes[offset] = sampleByte(channel, index + offset / 4, offset % 4);
                    }
                    index += fragment.size / 4;
                }
            }
            ASSERT_EQ(mxlFlowWriterCommitSamples(sourceWriter), MXL_STATUS_OK);
            ASSERT_EQ(mxlFabricsInitiatorTransferSamples(initiator, end, batch), MXL_STATUS_OK);

            // The target side, as an SDK application: read what arrived, open and commit it.
            std::uint64_t head = 0;
            std::size_t count = 0;
            do
            {
                ASSERT_EQ(mxlFabricsTargetReadSamples(target, 2000, &head, &count), MXL_STATUS_OK) << "samples up to " << end;
                ASSERT_GT(count, 0U);
                ASSERT_LE(head, end);
            } while (head < end);
            mxlMutableWrappedMultiBufferSlice opened{};
            ASSERT_EQ(mxlFlowWriterOpenSamples(sinkWriter, head, count, &opened), MXL_STATUS_OK);
            ASSERT_EQ(mxlFlowWriterCommitSamples(sinkWriter), MXL_STATUS_OK);

            mxlWrappedMultiBufferSlice landed{};
            ASSERT_EQ(mxlFlowReaderGetSamplesNonBlocking(sinkReader, end, batch, &landed), MXL_STATUS_OK);
            for (std::size_t channel = 0; channel < landed.count; ++channel)
            {
                auto index = end - batch;
                for (auto const& fragment : landed.base.fragments)
                {
                    auto const* bytes = static_cast<std::uint8_t const*>(fragment.pointer) + channel * landed.stride;
                    for (std::size_t offset = 0; offset < fragment.size; ++offset)
                    {
                        ASSERT_EQ(bytes[offset], sampleByte(channel, index + offset / 4, offset % 4))
                            << "channel " << channel << " sample " << index + offset / 4;
                    }
                    index += fragment.size / 4;
                }
            }
        }
        EXPECT_EQ(progressUntilDone(), MXL_STATUS_OK);
    }

    TEST_F(FabricsTransfer, OneInitiatorFansOutToTwoTargetsAndRemovingOneLeavesTheOther)
    {
        ASSERT_NO_FATAL_FAILURE(connect("v210", 256, 64, 50, 1));
        // A second host receiving the same flow.
        Host third;
        auto const def = mxl::test::flowDef(flowId, "v210", 256, 64, 50, 1);
        mxlFlowWriter thirdWriter = nullptr;
        mxlFlowReader thirdReader = nullptr;
        ASSERT_EQ(mxlCreateFlowWriter(third.instance, def.c_str(), nullptr, &thirdWriter, nullptr, nullptr), MXL_STATUS_OK);
        ASSERT_EQ(mxlCreateFlowReader(third.instance, flowId.c_str(), nullptr, &thirdReader), MXL_STATUS_OK);
        mxlFabricsTarget thirdTarget = nullptr;
        ASSERT_EQ(mxlFabricsCreateTarget(third.fabrics, &thirdTarget), MXL_STATUS_OK);
        mxlFabricsTargetConfig config{MXL_FABRICS_API_VERSION, loopback(provider), thirdWriter};
        mxlFabricsTargetInfo thirdInfo = nullptr;
        ASSERT_EQ(mxlFabricsTargetSetup(thirdTarget, &config, nullptr, &thirdInfo), MXL_STATUS_OK);
        ASSERT_EQ(mxlFabricsInitiatorAddTarget(initiator, thirdInfo), MXL_STATUS_OK);
        ASSERT_EQ(progressUntilDone(), MXL_STATUS_OK);

        std::uint64_t const first = 9000;
        // Within what the sinks keep readable (a ring, less the slots claimed ahead for the source).
        auto const count = std::uint64_t{grainCount} / 2;
        for (auto index = first; index < first + count; ++index)
        {
            ASSERT_NO_FATAL_FAILURE(writeSlices(index, 0, totalSlices));
            ASSERT_EQ(mxlFabricsInitiatorTransferGrain(initiator, index, 0, totalSlices), MXL_STATUS_OK);
        }
        ASSERT_EQ(progressUntilDone(), MXL_STATUS_OK);
        for (auto index = first; index < first + count; ++index)
        {
            EXPECT_EQ(firstMismatchOnTheSink(index, totalSlices), SIZE_MAX) << "grain " << index << " on the first target";
            EXPECT_EQ(firstMismatchOnTheSink(index, totalSlices, thirdReader), SIZE_MAX) << "grain " << index << " on the second target";
        }

        // Without the first target, the second still receives; the first no longer does.
        ASSERT_EQ(mxlFabricsInitiatorRemoveTarget(initiator, info), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsInitiatorRemoveTarget(initiator, info), MXL_ERR_NOT_FOUND);
        auto const later = first + count;
        ASSERT_NO_FATAL_FAILURE(writeSlices(later, 0, totalSlices));
        ASSERT_EQ(mxlFabricsInitiatorTransferGrain(initiator, later, 0, totalSlices), MXL_STATUS_OK);
        ASSERT_EQ(progressUntilDone(), MXL_STATUS_OK);
        EXPECT_EQ(firstMismatchOnTheSink(later, totalSlices, thirdReader), SIZE_MAX);
        mxlGrainInfo grain{};
        std::uint8_t* payload = nullptr;
        EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(sinkReader, later, &grain, &payload), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);

        EXPECT_EQ(mxlFabricsInitiatorRemoveTarget(initiator, thirdInfo), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsFreeTargetInfo(thirdInfo), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyTarget(third.fabrics, thirdTarget), MXL_STATUS_OK);
        EXPECT_EQ(mxlReleaseFlowReader(third.instance, thirdReader), MXL_STATUS_OK);
        EXPECT_EQ(mxlReleaseFlowWriter(third.instance, thirdWriter), MXL_STATUS_OK);
    }

    TEST_F(FabricsTransfer, GrainsMovedOverShmBetweenTwoDomainsArriveByteExact)
    {
        // shm: reliable-datagram endpoints whose RMA writes report no order (efa's shape).
        provider = MXL_FABRICS_PROVIDER_SHM;
        ASSERT_NO_FATAL_FAILURE(connect("v210", 256, 64, 50, 1));
        ASSERT_NO_FATAL_FAILURE(moveGrainsOneByOne(5000, 3 * grainCount));
        EXPECT_EQ(progressUntilDone(), MXL_STATUS_OK);
    }

    TEST_F(FabricsTransfer, TheSendReceiveFallbackMovesGrainsByteExact)
    {
        targetOptions = R"({"transfer": "send-receive"})";
        mxl::test::LogCapture log;
        ASSERT_NO_FATAL_FAILURE(connect("v210", 256, 64, 50, 1));
        EXPECT_NE(log.text().find("send/receive"), std::string::npos) << log.text();
        ASSERT_NO_FATAL_FAILURE(moveGrainsOneByOne(6000, 2 * grainCount));
        EXPECT_EQ(progressUntilDone(), MXL_STATUS_OK);
    }
}
