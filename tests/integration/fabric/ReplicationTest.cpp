// SPDX-License-Identifier: Apache-2.0
// Replication of flows between a source and a sink domain by a Sender and a Receiver in separate
// processes, over the real tcp provider on loopback. The sink's readers use only the public C API:
// the mirror is an ordinary MXL flow.
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>

#include "ReplicationHarness.hpp"
#include "common/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace
{
    using mxl::fabric::test::Replication;
    using mxl::test::TestDomain;

    std::uint8_t pattern(std::uint64_t index, std::size_t offset) noexcept
    {
        return static_cast<std::uint8_t>((index * 131U) ^ (offset * 7U) ^ (offset >> 9));
    }

    struct Source
    {
        explicit Source(TestDomain const& domain, std::string const& def)
        {
            instance = mxlCreateInstance(domain.str().c_str(), nullptr);
            EXPECT_NE(instance, nullptr);
            EXPECT_EQ(mxlCreateFlowWriter(instance, def.c_str(), nullptr, &writer, &config, nullptr), MXL_STATUS_OK);
        }

        ~Source()
        {
            mxlReleaseFlowWriter(instance, writer);
            mxlDestroyInstance(instance);
        }

        /// Writes grain index with the test pattern, committed in `batches` commits.
        void writeGrain(std::uint64_t index, unsigned batches = 1, std::uint32_t flags = 0)
        {
            mxlGrainInfo info;
            std::uint8_t* payload = nullptr;
            ASSERT_EQ(mxlFlowWriterOpenGrain(writer, index, &info, &payload), MXL_STATUS_OK);
            for (std::size_t i = 0; i < info.grainSize; ++i)
            {
                payload[i] = pattern(index, i);
            }
            for (unsigned b = 1; b <= batches; ++b)
            {
                info.validSlices = static_cast<std::uint16_t>(info.totalSlices * b / batches);
                info.flags = flags;
                ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &info), MXL_STATUS_OK);
            }
        }

        mxlInstance instance{nullptr};
        mxlFlowWriter writer{nullptr};
        mxlFlowConfigInfo config{};
    };

    struct Sink
    {
        Sink(TestDomain const& domain, std::string const& id)
        {
            instance = mxlCreateInstance(domain.str().c_str(), nullptr);
            EXPECT_NE(instance, nullptr);
            EXPECT_EQ(mxlCreateFlowReader(instance, id.c_str(), nullptr, &reader), MXL_STATUS_OK);
        }

        ~Sink()
        {
            mxlReleaseFlowReader(instance, reader);
            mxlDestroyInstance(instance);
        }

        /// Waits for grain index and checks every byte; returns the number of wrong bytes.
        std::size_t verify(std::uint64_t index, mxlGrainInfo* outInfo = nullptr)
        {
            mxlGrainInfo info;
            std::uint8_t* payload = nullptr;
            auto const status = mxlFlowReaderGetGrain(reader, index, 5'000'000'000ULL, &info, &payload);
            EXPECT_EQ(status, MXL_STATUS_OK) << "grain " << index;
            if (status != MXL_STATUS_OK)
            {
                return SIZE_MAX;
            }
            EXPECT_EQ(info.index, index);
            std::size_t wrong = 0;
            for (std::size_t i = 0; i < info.grainSize; ++i)
            {
                wrong += payload[i] != pattern(index, i);
            }
            if (outInfo != nullptr)
            {
                *outInfo = info;
            }
            return wrong;
        }

        mxlInstance instance{nullptr};
        mxlFlowReader reader{nullptr};
    };

    void replicateAndVerify(std::string const& media, int width, int height, unsigned grains)
    {
        TestDomain a, b;
        auto const id = mxl::formatUuid(mxl::randomUuid());
        Source source{a, mxl::test::flowDef(id, media, width, height, 50, 1)};
        Replication replication{a.str(), b.str(), *mxl::parseUuid(id)};
        ASSERT_TRUE(replication.start()) << replication.error();
        Sink sink{b, id};

        mxlFlowConfigInfo mirrorConfig;
        ASSERT_EQ(mxlFlowReaderGetConfigInfo(sink.reader, &mirrorConfig), MXL_STATUS_OK);
        EXPECT_EQ(std::memcmp(&mirrorConfig, &source.config, sizeof mirrorConfig), 0) << "the mirror's configuration must be the source's";

        auto const first = mxlGetCurrentIndex(&source.config.common.grainRate);
        for (std::uint64_t i = first; i < first + grains; ++i)
        {
            source.writeGrain(i);
            EXPECT_EQ(sink.verify(i), 0U) << "grain " << i << " differs";
        }
        replication.stop();
        EXPECT_EQ(replication.senderCounters().grains, grains);
        EXPECT_EQ(replication.receiverCounters().grains, grains);
        EXPECT_EQ(replication.receiverCounters().refusedEpoch + replication.receiverCounters().refusedRange +
                      replication.receiverCounters().refusedSequence,
            0U);
        EXPECT_EQ(replication.senderCounters().errors, 0U) << replication.senderCounters().lastError;
    }
}

TEST(Replication, V210GrainsArriveByteExactWithTheSameIndices)
{
    replicateAndVerify("v210", 1920, 1080, 20);
}

TEST(Replication, V210aFillAndKeyPlanesArriveByteExact)
{
    replicateAndVerify("v210a", 1280, 720, 20);
}

TEST(Replication, AncillaryDataGrainsArriveByteExact)
{
    replicateAndVerify("smpte291", 0, 0, 50);
}
