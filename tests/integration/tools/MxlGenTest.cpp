// SPDX-License-Identifier: Apache-2.0
// mxl-gen run as a user runs it; its flows read back through the C API (and mxl-info).
#include <algorithm>
#include <array>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <memory>
#include <numbers>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <png.h>

#include <mxl/flow.h>
#include <mxl/time.h>
#include "ToolProcess.hpp"
#include "ToolTestSupport.hpp"

// Parameter names in test listings: "30000/1001" rather than bytes.
inline void PrintTo(mxlRational const& rate, std::ostream* os)
{
    *os << rate.numerator << "/" << rate.denominator;
}

namespace mxl::test
{
    namespace
    {
        using namespace std::chrono_literals;

        /// mxl-gen in the background; its announced flows are read from stdout.
        struct Generator
        {
            Generator(TestDomain const& domain, std::vector<std::string> args)
                : tool{mxlGen, withDomain(domain, std::move(args))}
            {}

            static std::vector<std::string> withDomain(TestDomain const& domain, std::vector<std::string> args)
            {
                args.insert(args.begin(), {"--domain", domain.str()});
                return args;
            }

            /// Waits for the line announcing `count` flows; returns the ids.
            std::vector<std::string> announced(std::size_t count)
            {
                std::vector<std::string> ids;
                while (ids.size() < count)
                {
                    auto const line = tool.readLine(5s);
                    if (!line)
                    {
                        break;
                    }
                    ids.push_back(line->substr(0, line->find(' ')));
                }
                return ids;
            }

            BackgroundTool tool;
        };

        class Reader
        {
        public:
            Reader(Instance const& instance, std::string const& id)
                : _instance{instance.get()}
            {
                _status = mxlCreateFlowReader(_instance, id.c_str(), nullptr, &_reader);
            }

            ~Reader()
            {
                if (_reader != nullptr)
                {
                    mxlReleaseFlowReader(_instance, _reader);
                }
            }

            Reader(Reader const&) = delete;
            Reader& operator=(Reader const&) = delete;

            [[nodiscard]] mxlStatus status() const noexcept
            {
                return _status;
            }

            mxlFlowReader get() const noexcept
            {
                return _reader;
            }

            mxlFlowRuntimeInfo runtime() const
            {
                mxlFlowRuntimeInfo r{};
                mxlFlowReaderGetRuntimeInfo(_reader, &r);
                return r;
            }

        private:
            mxlInstance _instance;
            mxlFlowReader _reader{nullptr};
            mxlStatus _status{MXL_ERR_UNKNOWN};
        };

        /// Waits until the flow has had a commit.
        bool started(Reader const& reader)
        {
            return eventually([&] { return reader.runtime().lastWriteTime != 0; }, 3s);
        }

        struct Image
        {
            std::uint32_t width{0};
            std::uint32_t height{0};
            std::vector<std::uint8_t> rgb;

            [[nodiscard]] std::array<int, 3> at(std::uint32_t x, std::uint32_t y) const
            {
                auto const* p = rgb.data() + (static_cast<std::size_t>(y) * width + x) * 3;
                return {p[0], p[1], p[2]};
            }
        };

        std::optional<Image> readPng(std::string const& path)
        {
            png_image image{};
            image.version = PNG_IMAGE_VERSION;
            if (png_image_begin_read_from_file(&image, path.c_str()) == 0)
            {
                return std::nullopt;
            }
            image.format = PNG_FORMAT_RGB;
            Image out{image.width, image.height, std::vector<std::uint8_t>(PNG_IMAGE_SIZE(image))};
            if (png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr) == 0)
            {
                png_image_free(&image);
                return std::nullopt;
            }
            return out;
        }

        /// Magnitude of the `hz` component of `samples` at `rate`, as an amplitude (Goertzel).
        double toneAmplitude(std::vector<float> const& samples, double hz, double rate)
        {
            auto const w = 2.0 * std::numbers::pi * hz / rate;
            auto const coeff = 2.0 * std::cos(w);
            double s1 = 0, s2 = 0;
            for (auto const x : samples)
            {
                auto const s0 = x + coeff * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            auto const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
            return 2.0 * std::sqrt(std::max(power, 0.0)) / static_cast<double>(samples.size());
        }

        /// Reads RFC 8331 bit fields, most significant bit first.
        class BitReader
        {
        public:
            explicit BitReader(std::uint8_t const* data)
                : _data{data}
            {}

            std::uint32_t get(unsigned bits)
            {
                std::uint32_t v = 0;
                for (unsigned i = 0; i < bits; ++i, ++_bit)
                {
                    v = v << 1 | ((_data[_bit / 8] >> (7 - _bit % 8)) & 1U);
                }
                return v;
            }

            [[nodiscard]] std::size_t bit() const noexcept
            {
                return _bit;
            }

        private:
            std::uint8_t const* _data;
            std::size_t _bit{0};
        };

        bool parityOk(std::uint32_t word)
        {
            auto const b8 = (word >> 8) & 1U;
            auto const b9 = (word >> 9) & 1U;
            return b8 == static_cast<std::uint32_t>(__builtin_popcount(word & 0xFFU) & 1) && b9 == (b8 ^ 1U);
        }

        struct DecodedTimecode
        {
            int hours, minutes, seconds, frames;
            bool pairFlag;
        };

        /// Decodes the ATC packet of an mxl-gen ANC grain, checking every field of the layout that
        /// docs/tools.md documents.
        std::optional<DecodedTimecode> decodeAtc(std::uint8_t const* payload, bool fiftyHz)
        {
            BitReader r{payload};
            auto const length = r.get(16);
            EXPECT_EQ(length, 32U);
            EXPECT_EQ(r.get(8), 1U) << "ANC_Count";
            EXPECT_EQ(r.get(2), 0U) << "F: progressive";
            EXPECT_EQ(r.get(22), 0U) << "reserved";
            EXPECT_EQ(r.get(1), 0U) << "C";
            EXPECT_EQ(r.get(11), 9U) << "Line_Number";
            EXPECT_EQ(r.get(12), 0xFFFU) << "Horizontal_Offset";
            EXPECT_EQ(r.get(1), 0U) << "S";
            EXPECT_EQ(r.get(7), 0U) << "StreamNum";
            auto const did = r.get(10);
            auto const sdid = r.get(10);
            auto const dc = r.get(10);
            EXPECT_EQ(did, 0x260U);
            EXPECT_EQ(sdid, 0x260U);
            EXPECT_EQ(dc, 0x110U);
            if ((did & 0xFF) != 0x60 || (sdid & 0xFF) != 0x60 || (dc & 0xFF) != 16)
            {
                return std::nullopt;
            }
            std::uint32_t sum = (did + sdid + dc) & 0x1FFU;
            std::uint64_t bits = 0;
            for (int n = 0; n < 16; ++n)
            {
                auto const udw = r.get(10);
                EXPECT_TRUE(parityOk(udw)) << "UDW " << n << " = " << udw;
                EXPECT_EQ(udw & 0xFU, 0U) << "b0..b3 (DBB1 = DBB2 = 0)";
                bits |= static_cast<std::uint64_t>((udw >> 4) & 0xFU) << (4 * n);
                sum = (sum + (udw & 0x1FFU)) & 0x1FFU;
            }
            auto const checksum = r.get(10);
            EXPECT_EQ(checksum & 0x1FFU, sum);
            EXPECT_EQ((checksum >> 9) & 1U, ((checksum >> 8) & 1U) ^ 1U);
            // word_align completes the packet's last 32-bit word, counted from its C bit (which is
            // word aligned in the RTP payload, whose first 16 bits the grain leaves out).
            while ((r.bit() - 48) % 32 != 0)
            {
                EXPECT_EQ(r.get(1), 0U) << "word_align";
            }
            EXPECT_EQ((r.bit() - 48) / 8, length) << "Length counts the octets from the C bit";

            auto digit = [&](int shift, int width) {
                return static_cast<int>((bits >> shift) & ((1U << width) - 1));
            };
            DecodedTimecode tc{};
            tc.frames = digit(8, 2) * 10 + digit(0, 4);
            tc.seconds = digit(24, 3) * 10 + digit(16, 4);
            tc.minutes = digit(40, 3) * 10 + digit(32, 4);
            tc.hours = digit(56, 2) * 10 + digit(48, 4);
            tc.pairFlag = ((bits >> (fiftyHz ? 59 : 27)) & 1U) != 0;
            EXPECT_EQ(bits & ~((0x3ULL << 8) | 0xFULL | (0xFULL << 16) | (0x7ULL << 24) | (0xFULL << 32) | (0x7ULL << 40) | (0xFULL << 48) |
                                  (0x3ULL << 56) | (1ULL << (fiftyHz ? 59 : 27))),
                0U)
                << "binary groups and other flags are zero";
            return tc;
        }

        /// What the timecode of grain `index` must be: non-drop-frame count of the index in days of
        /// nominal frames; above 30 frames a second, frame pairs.
        DecodedTimecode expectedTimecode(std::uint64_t index, mxlRational rate)
        {
            auto const fps = static_cast<std::uint64_t>((rate.numerator + rate.denominator - 1) / rate.denominator);
            auto const count = index % (fps * 86400);
            auto const frame = count % fps;
            auto const second = count / fps;
            bool const pairs = fps > 30;
            return {static_cast<int>(second / 3600), static_cast<int>(second / 60 % 60), static_cast<int>(second % 60),
                static_cast<int>(pairs ? frame / 2 : frame), pairs && frame % 2 == 1};
        }
    }

    class MxlGenSnapshotTest : public ::testing::TestWithParam<std::string>
    {};

    TEST_P(MxlGenSnapshotTest, SnapshotShowsTheColourBars)
    {
        TestDomain domain;
        auto const id = newFlowId();
        Generator gen{domain, {"--video", "640x360", "--rate", "50", "--format", GetParam(), "--flow-id", id, "--duration", "1.5"}};
        ASSERT_EQ(gen.announced(1), std::vector<std::string>{id});
        std::this_thread::sleep_for(1s);

        auto const png = domain.str() + "/snapshot.png";
        auto const snap = runTool(mxlInfo, {"--domain", domain.str(), "--snapshot", id, "--output", png});
        ASSERT_EQ(snap.exitCode, 0) << snap.err;
        EXPECT_NE(snap.out.find("640x360"), std::string::npos) << snap.out;

        auto const image = readPng(png);
        ASSERT_TRUE(image.has_value());
        ASSERT_EQ(image->width, 640U);
        ASSERT_EQ(image->height, 360U);

        // 75% bars over the top two thirds: white, yellow, cyan, green, magenta, red, blue.
        std::array<std::array<int, 3>, 7> const bars{{
            {191, 191, 191},
            {191, 191, 0},
            {0, 191, 191},
            {0, 191, 0},
            {191, 0, 191},
            {191, 0, 0},
            {0, 0, 191},
        }};
        for (std::uint32_t row : {10U, 120U, 230U})
        {
            for (std::size_t bar = 0; bar < bars.size(); ++bar)
            {
                auto const x = static_cast<std::uint32_t>((2 * bar + 1) * 640 / 14);
                auto const pixel = image->at(x, row);
                for (int c = 0; c < 3; ++c)
                {
                    EXPECT_NEAR(pixel[c], bars[bar][c], 3) << "bar " << bar << " channel " << c << " at (" << x << ", " << row << ")";
                }
            }
        }
        // Below the bars the band is black where neither the box nor the counter can be.
        for (std::uint32_t x : {5U, 320U, 634U})
        {
            auto const pixel = image->at(x, 356);
            for (int c = 0; c < 3; ++c)
            {
                EXPECT_NEAR(pixel[c], 0, 3) << "(" << x << ", 356)";
            }
        }
        // The counter is drawn in white somewhere in its rows.
        bool white = false;
        for (std::uint32_t y = 300; y < 342 && !white; ++y)
        {
            for (std::uint32_t x = 0; x < 640 && !white; ++x)
            {
                white = image->at(x, y)[0] > 240;
            }
        }
        EXPECT_TRUE(white) << "no burnt-in counter";

        auto const exit = gen.tool.wait(5s);
        EXPECT_EQ(exit.exitCode, 0) << exit.err;
    }

    INSTANTIATE_TEST_SUITE_P(Formats, MxlGenSnapshotTest, ::testing::Values("v210", "v210a"));

    TEST(MxlGenTest, VideoIsPacedByTaiAndArrivesInSlices)
    {
        TestDomain domain;
        auto const id = newFlowId();
        Generator gen{domain, {"--video", "320x180", "--rate", "60", "--slices", "8", "--flow-id", id}};
        ASSERT_EQ(gen.announced(1), std::vector<std::string>{id});
        Instance instance{domain.str()};
        Reader reader{instance, id};
        ASSERT_EQ(reader.status(), MXL_STATUS_OK);
        ASSERT_TRUE(started(reader));

        constexpr mxlRational rate{60, 1};
        int samples = 0, withinOneGrain = 0, partial = 0;
        std::uint64_t firstHead = 0, lastHead = 0;
        for (; samples < 60; ++samples)
        {
            auto const before = mxlGetCurrentIndex(&rate);
            auto const head = reader.runtime().headIndex;
            auto const after = mxlGetCurrentIndex(&rate);
            EXPECT_LE(head, after) << "a grain committed before its time";
            withinOneGrain += before <= head + 1 ? 1 : 0;
            firstHead = samples == 0 ? head : firstHead;
            lastHead = head;

            mxlGrainInfo grain{};
            std::uint8_t* payload = nullptr;
            if (mxlFlowReaderGetGrainSliceNonBlocking(reader.get(), head, 1, &grain, &payload) == MXL_STATUS_OK && grain.index == head)
            {
                partial += grain.validSlices < grain.totalSlices ? 1 : 0;
            }
            std::this_thread::sleep_for(7ms);
        }
        // On a loaded machine a sample may be late; the head itself never runs ahead.
        EXPECT_GE(withinOneGrain, samples * 9 / 10) << withinOneGrain << " of " << samples;
        EXPECT_GE(partial, 1) << "slices of a grain are committed progressively";
        EXPECT_GE(lastHead - firstHead, 20U) << "about 27 grains pass in 0.45 s";

        gen.tool.signal(SIGINT);
        auto const exit = gen.tool.wait(3s);
        EXPECT_EQ(exit.exitCode, 0) << exit.err;
    }

    TEST(MxlGenTest, AudioIsAOneKilohertzToneAtMinus20dBFS)
    {
        TestDomain domain;
        auto const id = newFlowId();
        Generator gen{domain, {"--no-video", "--audio", "2", "--audio-flow-id", id}};
        ASSERT_EQ(gen.announced(1), std::vector<std::string>{id});
        Instance instance{domain.str()};
        Reader reader{instance, id};
        ASSERT_EQ(reader.status(), MXL_STATUS_OK);
        ASSERT_TRUE(started(reader));

        mxlFlowConfigInfo config{};
        ASSERT_EQ(mxlFlowReaderGetConfigInfo(reader.get(), &config), MXL_STATUS_OK);
        EXPECT_EQ(config.common.maxCommitBatchSizeHint, 48U);
        auto const ring = config.continuous.bufferLength;

        // Read 4800 samples that straddle the ring's wrap, so phase continuity across it is checked.
        constexpr std::size_t count = 4800;
        auto const firstHead = reader.runtime().headIndex;
        std::uint64_t end = 0;
        ASSERT_TRUE(eventually(
            [&] {
                auto const head = reader.runtime().headIndex;
                auto const past = head % ring;
                if (past >= count / 2 && past < count / 2 + 2000 && head - past - count / 2 >= firstHead)
                {
                    end = head - past + count / 2;
                    return true;
                }
                return false;
            },
            2s));
        mxlWrappedMultiBufferSlice slices{};
        ASSERT_EQ(mxlFlowReaderGetSamples(reader.get(), end, count, 100'000'000, &slices), MXL_STATUS_OK);
        ASSERT_EQ(slices.count, 2U);
        EXPECT_EQ(slices.base.fragments[0].size, count / 2 * sizeof(float)) << "the range wraps in the middle";

        for (std::size_t c = 0; c < slices.count; ++c)
        {
            std::vector<float> samples;
            for (auto const& fragment : slices.base.fragments)
            {
                auto const* p = reinterpret_cast<float const*>(static_cast<std::uint8_t const*>(fragment.pointer) + c * slices.stride);
                samples.insert(samples.end(), p, p + fragment.size / sizeof(float));
            }
            ASSERT_EQ(samples.size(), count);
            EXPECT_NEAR(toneAmplitude(samples, 1000, 48000), 0.1, 0.002) << "channel " << c;
            EXPECT_LT(toneAmplitude(samples, 500, 48000), 0.001);
            EXPECT_LT(toneAmplitude(samples, 2000, 48000), 0.001);
            EXPECT_LT(toneAmplitude(samples, 1010, 48000), 0.001) << "the tone is 1 kHz exactly";

            // Sample n is 0.1 sin(2 pi 1000 n / 48000) of its TAI sample index: continuous across
            // commits and the wrap.
            double worst = 0;
            for (std::size_t i = 0; i < count; ++i)
            {
                auto const n = end - count + i;
                auto const expected = 0.1 * std::sin(2.0 * std::numbers::pi * static_cast<double>(n % 48) / 48.0);
                worst = std::max(worst, std::abs(samples[i] - expected));
            }
            EXPECT_LT(worst, 1e-6) << "channel " << c;
        }

        gen.tool.signal(SIGTERM);
        auto const exit = gen.tool.wait(3s);
        EXPECT_EQ(exit.exitCode, 0) << exit.err;
    }

    class MxlGenAncTest : public ::testing::TestWithParam<mxlRational>
    {};

    TEST_P(MxlGenAncTest, AncCarriesTheTimecodeOfItsGrainIndex)
    {
        auto const rate = GetParam();
        TestDomain domain;
        auto const id = newFlowId();
        Generator gen{domain, {"--no-video", "--data", "--rate", fmt::format("{}/{}", rate.numerator, rate.denominator), "--data-flow-id", id}};
        ASSERT_EQ(gen.announced(1), std::vector<std::string>{id});
        Instance instance{domain.str()};
        Reader reader{instance, id};
        ASSERT_EQ(reader.status(), MXL_STATUS_OK);
        ASSERT_TRUE(started(reader));

        auto const head = reader.runtime().headIndex;
        bool const fiftyHz = (rate.numerator / rate.denominator) % 25 == 0;
        for (auto const index : {head, head + 1, head + 2})
        {
            mxlGrainInfo grain{};
            std::uint8_t* payload = nullptr;
            ASSERT_EQ(mxlFlowReaderGetGrain(reader.get(), index, 500'000'000, &grain, &payload), MXL_STATUS_OK);
            ASSERT_EQ(grain.index, index);
            ASSERT_EQ(grain.validSlices, grain.totalSlices);
            auto const tc = decodeAtc(payload, fiftyHz);
            ASSERT_TRUE(tc.has_value());
            auto const want = expectedTimecode(index, rate);
            EXPECT_EQ(tc->hours, want.hours);
            EXPECT_EQ(tc->minutes, want.minutes);
            EXPECT_EQ(tc->seconds, want.seconds);
            EXPECT_EQ(tc->frames, want.frames) << "grain " << index;
            EXPECT_EQ(tc->pairFlag, want.pairFlag) << "grain " << index;
            EXPECT_TRUE(std::all_of(payload + 38, payload + grain.grainSize, [](std::uint8_t b) { return b == 0; }));
        }

        gen.tool.signal(SIGINT);
        EXPECT_EQ(gen.tool.wait(3s).exitCode, 0);
    }

    INSTANTIATE_TEST_SUITE_P(Rates, MxlGenAncTest, ::testing::Values(mxlRational{25, 1}, mxlRational{30000, 1001}, mxlRational{50, 1}, mxlRational{60, 1}),
        [](auto const& p) { return fmt::format("{}_{}", p.param.numerator, p.param.denominator); });

    TEST(MxlGenTest, SigintStopsCleanlyAndTheFlowsDisappear)
    {
        TestDomain domain;
        Generator gen{domain, {"--video", "320x180", "--audio", "2", "--data"}};
        auto const ids = gen.announced(3);
        ASSERT_EQ(ids.size(), 3U);
        for (auto const& id : ids)
        {
            EXPECT_TRUE(flowExists(domain.path(), id)) << id;
        }
        // Every flow is being written.
        auto const listing = runTool(mxlInfo, {"--domain", domain.str(), "--json"});
        ASSERT_EQ(listing.exitCode, 0);
        std::this_thread::sleep_for(300ms);

        gen.tool.signal(SIGINT);
        auto const exit = gen.tool.wait(3s);
        EXPECT_EQ(exit.exitCode, 0) << exit.err;
        EXPECT_TRUE(flowDirectories(domain.path()).empty()) << "the last writer removes its flow";
    }

    TEST(MxlGenTest, FallingBehindSkipsGrainsInsteadOfBursting)
    {
        TestDomain domain;
        auto const id = newFlowId();
        Generator gen{domain, {"--video", "320x180", "--rate", "60", "--flow-id", id}};
        ASSERT_EQ(gen.announced(1), std::vector<std::string>{id});
        Instance instance{domain.str()};
        Reader reader{instance, id};
        ASSERT_EQ(reader.status(), MXL_STATUS_OK);
        ASSERT_TRUE(started(reader));

        // Freeze the generator for 300 ms (18 grains); it must come back at the current grain.
        gen.tool.signal(SIGSTOP);
        std::this_thread::sleep_for(300ms);
        constexpr mxlRational rate{60, 1};
        auto const resumedAt = mxlGetCurrentIndex(&rate);
        gen.tool.signal(SIGCONT);
        ASSERT_TRUE(eventually([&] { return reader.runtime().headIndex >= resumedAt; }, 1s));
        // The grains of the frozen time were never written, although they are within the ring:
        // their slots still hold grains from before the freeze.
        for (auto index = resumedAt - 6; index < resumedAt; ++index)
        {
            mxlGrainInfo grain{};
            std::uint8_t* payload = nullptr;
            EXPECT_NE(mxlFlowReaderGetGrainNonBlocking(reader.get(), index, &grain, &payload), MXL_STATUS_OK) << "grain " << index;
        }

        gen.tool.signal(SIGINT);
        auto const exit = gen.tool.wait(3s);
        EXPECT_EQ(exit.exitCode, 0) << exit.err;
        EXPECT_NE(exit.err.find("skipping to grain"), std::string::npos) << exit.err;
    }

    TEST(MxlGenTest, BadArgumentsExitWithUsageErrorNamingTheOption)
    {
        TestDomain domain;
        struct Case
        {
            std::vector<std::string> args;
            std::string mentions;
        };
        std::vector<Case> const cases{
            {{}, "--domain"},
            {{"--domain", domain.str(), "--video", "1920"}, "--video"},
            {{"--domain", domain.str(), "--video", "1x1080"}, "--video"},
            {{"--domain", domain.str(), "--rate", "0"}, "--rate"},
            {{"--domain", domain.str(), "--rate", "60/x"}, "--rate"},
            {{"--domain", domain.str(), "--format", "h264"}, "--format"},
            {{"--domain", domain.str(), "--flow-id", "nope"}, "--flow-id"},
            {{"--domain", domain.str(), "--audio-flow-id", "nope", "--audio", "2"}, "--audio-flow-id"},
            {{"--domain", domain.str(), "--slices", "0"}, "--slices"},
            {{"--domain", domain.str(), "--audio", "1000"}, "--audio"},
            {{"--domain", domain.str(), "--duration", "-1"}, "--duration"},
            {{"--domain", domain.str(), "--data", "--rate", "120"}, "--rate"},
            {{"--domain", domain.str(), "--no-video"}, "nothing to generate"},
        };
        for (auto const& c : cases)
        {
            auto const r = runTool(mxlGen, c.args);
            EXPECT_EQ(r.exitCode, 2) << c.mentions << ": " << r.err;
            EXPECT_NE(r.err.find(c.mentions), std::string::npos) << r.err;
        }
        EXPECT_TRUE(flowDirectories(domain.path()).empty());

        auto const missing = runTool(mxlGen, {"--domain", domain.str() + "/nowhere", "--duration", "1"});
        EXPECT_EQ(missing.exitCode, 1);
        EXPECT_NE(missing.err.find("nowhere"), std::string::npos) << missing.err;
    }
}
