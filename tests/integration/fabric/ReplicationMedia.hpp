// SPDX-License-Identifier: Apache-2.0
#pragma once

// The test's own ends of a replicated flow, through the public C API only: a writer on the source
// domain that fills grains and samples with values derived from their index, and a reader on the
// sink domain (the mirror is an ordinary MXL flow) that checks them.

#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>

#include "support/TestDomain.hpp"

namespace mxl::fabric::test
{
    inline constexpr std::uint64_t waitNs = 5'000'000'000ULL;

    inline std::uint8_t pattern(std::uint64_t index, std::size_t offset) noexcept
    {
        return static_cast<std::uint8_t>((index * 131U) ^ (offset * 7U) ^ (offset >> 9));
    }

    /// Exactly representable in float32 and distinct for every channel and every sample in a ring.
    inline float sampleValue(std::uint64_t index, std::uint32_t channel) noexcept
    {
        return static_cast<float>((index % 65536U) + channel * 65536U);
    }

    /// Wrong bytes of payload[from, to) for grain index.
    inline std::size_t wrongBytes(std::uint8_t const* payload, std::uint64_t index, std::size_t from, std::size_t to) noexcept
    {
        std::size_t wrong = 0;
        for (auto i = from; i < to; ++i)
        {
            wrong += payload[i] != pattern(index, i);
        }
        return wrong;
    }

    struct Source
    {
        Source(mxl::test::TestDomain const& domain, std::string const& def)
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

        Source(Source const&) = delete;
        Source& operator=(Source const&) = delete;

        [[nodiscard]] std::uint64_t currentIndex() const
        {
            return mxlGetCurrentIndex(&config.common.grainRate);
        }

        /// Fills the whole of grain index with the test pattern, then commits it in `batches`
        /// commits (the last one with `flags`).
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
                info.flags = b == batches ? flags : 0;
                ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &info), MXL_STATUS_OK);
            }
        }

        /// Writes and commits the count samples ending before index in every channel.
        void writeSamples(std::uint64_t index, std::size_t count)
        {
            mxlMutableWrappedMultiBufferSlice slices;
            ASSERT_EQ(mxlFlowWriterOpenSamples(writer, index, count, &slices), MXL_STATUS_OK);
            for (std::uint32_t c = 0; c < slices.count; ++c)
            {
                auto n = index - count;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto* samples = reinterpret_cast<float*>(static_cast<std::uint8_t*>(fragment.pointer) + c * slices.stride);
                    for (std::size_t i = 0; i < fragment.size / sizeof(float); ++i, ++n)
                    {
                        samples[i] = sampleValue(n, c);
                    }
                }
            }
            ASSERT_EQ(mxlFlowWriterCommitSamples(writer), MXL_STATUS_OK);
        }

        mxlInstance instance{nullptr};
        mxlFlowWriter writer{nullptr};
        mxlFlowConfigInfo config{};
    };

    struct Sink
    {
        Sink(mxl::test::TestDomain const& domain, std::string const& id)
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

        Sink(Sink const&) = delete;
        Sink& operator=(Sink const&) = delete;

        /// Waits for grain index and checks every byte; returns the number of wrong bytes
        /// (SIZE_MAX when the grain did not arrive).
        std::size_t verify(std::uint64_t index, mxlGrainInfo* outInfo = nullptr)
        {
            mxlGrainInfo info;
            std::uint8_t* payload = nullptr;
            auto const status = mxlFlowReaderGetGrain(reader, index, waitNs, &info, &payload);
            EXPECT_EQ(status, MXL_STATUS_OK) << "grain " << index;
            if (status != MXL_STATUS_OK)
            {
                return SIZE_MAX;
            }
            EXPECT_EQ(info.index, index);
            if (outInfo != nullptr)
            {
                *outInfo = info;
            }
            return info.index == index ? wrongBytes(payload, index, 0, info.grainSize) : SIZE_MAX;
        }

        /// Waits for the count samples ending before index; returns the number of wrong samples over
        /// all channels (SIZE_MAX when they did not arrive) and whether the range wrapped.
        std::size_t verifySamples(std::uint64_t index, std::size_t count, std::uint32_t channels, bool* wrapped = nullptr)
        {
            mxlWrappedMultiBufferSlice slices;
            auto const status = mxlFlowReaderGetSamples(reader, index, count, waitNs, &slices);
            EXPECT_EQ(status, MXL_STATUS_OK) << "samples up to " << index;
            if (status != MXL_STATUS_OK)
            {
                return SIZE_MAX;
            }
            EXPECT_EQ(slices.count, channels);
            EXPECT_EQ(slices.base.fragments[0].size + slices.base.fragments[1].size, count * sizeof(float));
            std::size_t wrong = 0;
            for (std::uint32_t c = 0; c < slices.count; ++c)
            {
                auto n = index - count;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto const* samples = reinterpret_cast<float const*>(static_cast<std::uint8_t const*>(fragment.pointer) + c * slices.stride);
                    for (std::size_t i = 0; i < fragment.size / sizeof(float); ++i, ++n)
                    {
                        wrong += samples[i] != sampleValue(n, c);
                    }
                }
            }
            if (wrapped != nullptr)
            {
                *wrapped = slices.base.fragments[1].size > 0;
            }
            return wrong;
        }

        [[nodiscard]] std::uint64_t headIndex() const
        {
            mxlFlowRuntimeInfo runtime{};
            EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(reader, &runtime), MXL_STATUS_OK);
            return runtime.headIndex;
        }

        mxlInstance instance{nullptr};
        mxlFlowReader reader{nullptr};
    };
}
