// SPDX-License-Identifier: Apache-2.0
// flow_def.json parsing, writer options and domain options: the geometry each definition gives, and
// a named MXL_ERR_UNKNOWN for each way a definition can be wrong.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "flow/FlowDefinition.hpp"
#include "support/TestDomain.hpp"

using mxl::test::flowDef;
using mxl::test::newFlowId;
using mxl::test::ScopedInstance;
using mxl::test::TestDomain;
using nlohmann::json;

namespace
{
    constexpr char grouphintKey[] = "urn:x-nmos:tag:grouphint/v1.0";

    json video(std::string const& media = "v210", int width = 1920, int height = 1080, int num = 60000, int den = 1001)
    {
        return json::parse(flowDef(newFlowId(), media, width, height, num, den));
    }

    json audio(int rate = 48000, int channels = 2)
    {
        return json::parse(flowDef(newFlowId(), "audio", 0, 0, rate, 1, channels));
    }

    json anc()
    {
        return json::parse(flowDef(newFlowId(), "smpte291", 0, 0, 50, 1));
    }

    mxl::FlowDefinition parsed(json const& def)
    {
        auto result = mxl::parseFlowDefinition(def.dump());
        if (!result)
        {
            ADD_FAILURE() << "unexpected parse failure: " << result.error().message;
            return {};
        }
        return *result;
    }

    struct BadCase
    {
        char const* what;
        json def;
        char const* fieldNamed;
    };

    void expectRejected(std::vector<BadCase> const& cases)
    {
        for (auto const& c : cases)
        {
            SCOPED_TRACE(c.what);
            auto const result = mxl::parseFlowDefinition(c.def.dump());
            ASSERT_FALSE(result.has_value());
            EXPECT_EQ(result.error().status, MXL_ERR_UNKNOWN);
            EXPECT_NE(result.error().message.find(c.fieldNamed), std::string::npos) << "message: " << result.error().message;
        }
    }

    json without(json def, std::string const& field)
    {
        def.erase(field);
        return def;
    }

    json with(json def, std::string const& field, json value)
    {
        def[field] = std::move(value);
        return def;
    }

    json withHints(json def, json hints)
    {
        def["tags"][grouphintKey] = std::move(hints);
        return def;
    }
}

TEST(FlowDefinition, V210GeometryIsOneLinePerSlice)
{
    auto const def = parsed(video("v210", 1920, 1080));
    EXPECT_EQ(def.format, MXL_DATA_FORMAT_VIDEO);
    EXPECT_TRUE(def.discrete());
    EXPECT_EQ(def.sliceSizes, (std::array<std::uint32_t, 4>{5120, 0, 0, 0}));
    EXPECT_EQ(def.grainSize, 5'529'600U);
    EXPECT_EQ(def.totalSlices, 1080U);
    EXPECT_EQ(def.rate.numerator, 60000);
    EXPECT_EQ(def.rate.denominator, 1001);

    // Lines are padded to whole 48-pixel groups of 128 bytes.
    auto const hd720 = parsed(video("v210", 1280, 720));
    EXPECT_EQ(hd720.sliceSizes[0], 3456U);
    EXPECT_EQ(hd720.grainSize, 3456U * 720U);
    auto const odd = parsed(video("v210", 49, 3));
    EXPECT_EQ(odd.sliceSizes[0], 256U);
    EXPECT_EQ(odd.grainSize, 768U);
}

TEST(FlowDefinition, V210aAddsAKeyPlaneAfterTheFillPlane)
{
    auto const def = parsed(video("v210a", 1920, 1080));
    EXPECT_EQ(def.sliceSizes, (std::array<std::uint32_t, 4>{5120, 2560, 0, 0}));
    EXPECT_EQ(def.grainSize, 8'294'400U);
    EXPECT_EQ(def.totalSlices, 1080U);
}

TEST(FlowDefinition, Smpte291IsA4096ByteGrainOfOneByteSlices)
{
    auto const def = parsed(anc());
    EXPECT_EQ(def.format, MXL_DATA_FORMAT_DATA);
    EXPECT_TRUE(def.discrete());
    EXPECT_EQ(def.grainSize, 4096U);
    EXPECT_EQ(def.totalSlices, 4096U);
    EXPECT_EQ(def.sliceSizes, (std::array<std::uint32_t, 4>{1, 0, 0, 0}));
    EXPECT_EQ(def.rate.numerator, 50);
    EXPECT_EQ(def.rate.denominator, 1);
}

TEST(FlowDefinition, AudioWordSizeFollowsBitDepth)
{
    auto const def32 = parsed(audio(48000, 8));
    EXPECT_EQ(def32.format, MXL_DATA_FORMAT_AUDIO);
    EXPECT_FALSE(def32.discrete());
    EXPECT_EQ(def32.channelCount, 8U);
    EXPECT_EQ(def32.sampleWordSize, 4U);
    EXPECT_EQ(def32.rate.numerator, 48000);
    EXPECT_EQ(def32.rate.denominator, 1);

    auto const def64 = parsed(with(audio(48000, 2), "bit_depth", 64));
    EXPECT_EQ(def64.sampleWordSize, 8U);
}

TEST(FlowDefinition, InterlacedVideoHasFieldGrainsAtTwiceTheFrameRate)
{
    for (auto const* mode : {"interlaced_tff", "interlaced_bff"})
    {
        SCOPED_TRACE(mode);
        auto const def = parsed(with(video("v210", 1920, 1080, 30000, 1001), "interlace_mode", mode));
        EXPECT_EQ(def.totalSlices, 540U);
        EXPECT_EQ(def.grainSize, 5120U * 540U);
        EXPECT_EQ(def.rate.numerator, 60000);
        EXPECT_EQ(def.rate.denominator, 1001);
    }
    // PsF carries whole frames.
    auto const psf = parsed(with(video("v210", 1920, 1080, 25, 1), "interlace_mode", "interlaced_psf"));
    EXPECT_EQ(psf.totalSlices, 1080U);
    EXPECT_EQ(psf.rate.numerator, 25);
}

TEST(FlowDefinition, InterlacedGrainRateMustBe30000Over1001Or25)
{
    // As in MXL 1.x: the grain_rate of interlaced video is the frame rate, one of two, in any unreduced form.
    struct Accepted
    {
        int num, den;
        std::int64_t fieldNum, fieldDen;
    };
    for (auto const& [num, den, fieldNum, fieldDen] : {Accepted{30000, 1001, 60000, 1001}, Accepted{25, 1, 50, 1}, Accepted{50, 2, 50, 1},
             Accepted{60000, 2002, 60000, 1001}})
    {
        SCOPED_TRACE(::testing::Message() << num << "/" << den);
        auto const def = parsed(with(video("v210", 1920, 1080, num, den), "interlace_mode", "interlaced_bff"));
        EXPECT_EQ(def.rate.numerator, fieldNum);
        EXPECT_EQ(def.rate.denominator, fieldDen);
    }
    std::vector<BadCase> refused;
    for (auto const& [num, den] : {std::pair{60000, 1001}, std::pair{50, 1}, std::pair{30, 1}, std::pair{24000, 1001}, std::pair{24, 1}})
    {
        for (auto const* mode : {"interlaced_tff", "interlaced_bff"})
        {
            refused.push_back({"interlaced rate", with(video("v210", 1920, 1080, num, den), "interlace_mode", mode), "30000/1001 or 25/1"});
        }
    }
    expectRejected(refused);

    // Through the C API too, with MXL's status for an invalid definition; progressive video keeps any rate.
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    mxlFlowWriter writer = nullptr;
    auto const interlaced = with(video("v210", 1920, 1080, 60000, 1001), "interlace_mode", "interlaced_tff").dump();
    EXPECT_EQ(mxlCreateFlowWriter(instance.get(), interlaced.c_str(), nullptr, &writer, nullptr, nullptr), MXL_ERR_UNKNOWN);
    auto const progressive = with(video("v210", 1920, 1080, 60000, 1001), "interlace_mode", "progressive").dump();
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), progressive.c_str(), nullptr, &writer, nullptr, nullptr), MXL_STATUS_OK);
    EXPECT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
}

TEST(FlowDefinition, IdentityLabelHintsAndTextAreKeptVerbatim)
{
    auto const id = newFlowId();
    auto const text = flowDef(id, "v210", 64, 16, 25, 1);
    auto const def = mxl::parseFlowDefinition(text);
    ASSERT_TRUE(def.has_value()) << def.error().message;
    EXPECT_EQ(mxl::formatUuid(def->id), id);
    EXPECT_EQ(def->label, "test video");
    EXPECT_EQ(def->mediaType, "video/v210");
    EXPECT_EQ(def->groupHints, (std::vector<std::string>{"test:video"}));
    EXPECT_EQ(def->json, text);
}

TEST(FlowDefinition, GrainRateWithoutDenominatorMeansDenominatorOne)
{
    auto def = video("v210", 64, 16);
    def["grain_rate"] = json{{"numerator", 50}};
    auto const p = parsed(def);
    EXPECT_EQ(p.rate.numerator, 50);
    EXPECT_EQ(p.rate.denominator, 1);
}

TEST(FlowDefinition, EveryMissingRequiredFieldIsRejectedByName)
{
    json noTags = video();
    noTags.erase("tags");
    json noHintTag = video();
    noHintTag["tags"] = json::object();
    expectRejected({
        {"no id", without(video(), "id"), "id"},
        {"no format", without(video(), "format"), "format"},
        {"no label", without(video(), "label"), "label"},
        {"no tags", noTags, "tags"},
        {"no grouphint tag", noHintTag, "grouphint"},
        {"no grain_rate", without(video(), "grain_rate"), "grain_rate"},
        {"no grain_rate for data", without(anc(), "grain_rate"), "grain_rate"},
        {"no sample_rate", without(audio(), "sample_rate"), "sample_rate"},
        {"no media_type", without(video(), "media_type"), "media_type"},
        {"no frame_width", without(video(), "frame_width"), "frame_width"},
        {"no frame_height", without(video(), "frame_height"), "frame_height"},
        {"no channel_count", without(audio(), "channel_count"), "channel_count"},
        {"no bit_depth", without(audio(), "bit_depth"), "bit_depth"},
    });
}

TEST(FlowDefinition, OutOfRangeValuesAreRejectedByName)
{
    expectRejected({
        {"width 1", with(video(), "frame_width", 1), "frame_width"},
        {"width 7681", with(video(), "frame_width", 7681), "frame_width"},
        {"height 0", with(video(), "frame_height", 0), "frame_height"},
        {"height 4321", with(video(), "frame_height", 4321), "frame_height"},
        {"rate numerator 0", with(video(), "grain_rate", json{{"numerator", 0}, {"denominator", 1}}), "grain_rate"},
        {"rate numerator negative", with(video(), "grain_rate", json{{"numerator", -25}, {"denominator", 1}}), "grain_rate"},
        {"rate denominator 0", with(video(), "grain_rate", json{{"numerator", 25}, {"denominator", 0}}), "grain_rate"},
        {"sample rate 0", with(audio(), "sample_rate", json{{"numerator", 0}}), "sample_rate"},
        {"bad uuid", with(video(), "id", "not-a-uuid"), "id"},
        {"uuid too short", with(video(), "id", "5fbec3b1-1b0f-417d-9059-8b94a47197e"), "id"},
        {"empty label", with(video(), "label", ""), "label"},
        {"empty grouphint array", withHints(video(), json::array()), "grouphint"},
        {"grouphint without colon", withHints(video(), json::array({"nocolon"})), "group:role"},
        {"grouphint without role", withHints(video(), json::array({"group:"})), "group:role"},
        {"unknown format", with(video(), "format", "urn:x-nmos:format:mux"), "format"},
        {"video media type not supported", with(video(), "media_type", "video/raw"), "media_type"},
        {"audio media type not supported", with(audio(), "media_type", "audio/L24"), "media_type"},
        {"channel_count 0", with(audio(), "channel_count", 0), "channel_count"},
        {"bit_depth 24", with(audio(), "bit_depth", 24), "bit_depth"},
        {"odd interlaced height", with(with(video("v210", 1920, 1081), "interlace_mode", "interlaced_tff"), "frame_height", 1081), "frame_height"},
        {"unknown interlace mode", with(video(), "interlace_mode", "sideways"), "interlace_mode"},
    });
}

TEST(FlowDefinition, WrongTypesAreRejectedByName)
{
    expectRejected({
        {"width as string", with(video(), "frame_width", "1920"), "frame_width"},
        {"height as float", with(video(), "frame_height", 1080.5), "frame_height"},
        {"id as number", with(video(), "id", 42), "id"},
        {"label as array", with(video(), "label", json::array({"a"})), "label"},
        {"grain_rate as string", with(video(), "grain_rate", "25"), "grain_rate"},
        {"numerator as string", with(video(), "grain_rate", json{{"numerator", "25"}}), "grain_rate"},
        {"grouphint as string", withHints(video(), "group:role"), "grouphint"},
        {"grouphint entry as number", withHints(video(), json::array({7})), "group"},
        {"channel_count as string", with(audio(), "channel_count", "2"), "channel_count"},
    });
}

TEST(FlowDefinition, MalformedJsonAndNonObjectsAreRejected)
{
    for (std::string const text : {"{\"id\": ", "", "not json at all", "[1, 2, 3]", "\"a string\"", "42", "null"})
    {
        SCOPED_TRACE(text);
        auto const result = mxl::parseFlowDefinition(text);
        ASSERT_FALSE(result.has_value());
        EXPECT_EQ(result.error().status, MXL_ERR_UNKNOWN);
        EXPECT_FALSE(result.error().message.empty());
    }
    auto const array = mxl::parseFlowDefinition("[]");
    ASSERT_FALSE(array.has_value());
    EXPECT_NE(array.error().message.find("object"), std::string::npos);
}

TEST(FlowDefinition, InvalidDefinitionsFailWriterCreationWithUnknown)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    for (auto const& bad : {with(video(), "frame_width", 7681).dump(), without(audio(), "bit_depth").dump(), std::string{"{"}})
    {
        mxlFlowWriter writer = nullptr;
        EXPECT_EQ(mxlCreateFlowWriter(instance.get(), bad.c_str(), nullptr, &writer, nullptr, nullptr), MXL_ERR_UNKNOWN);
        EXPECT_EQ(writer, nullptr);
    }
    // Nothing was left behind in the domain.
    EXPECT_TRUE(std::filesystem::is_empty(domain.path()));
}

TEST(WriterOptions, ParsesBatchHintsAndRejectsValuesBelowOne)
{
    auto const defaults = mxl::parseWriterOptions(nullptr);
    ASSERT_TRUE(defaults.has_value());
    EXPECT_EQ(defaults->maxCommitBatchSizeHint, 0U);
    EXPECT_EQ(defaults->maxSyncBatchSizeHint, 0U);

    auto const both = mxl::parseWriterOptions(R"({"maxCommitBatchSizeHint": 4, "maxSyncBatchSizeHint": 8})");
    ASSERT_TRUE(both.has_value());
    EXPECT_EQ(both->maxCommitBatchSizeHint, 4U);
    EXPECT_EQ(both->maxSyncBatchSizeHint, 8U);

    for (auto const* bad : {R"({"maxCommitBatchSizeHint": 0})", R"({"maxSyncBatchSizeHint": 0})", R"({"maxCommitBatchSizeHint": -3})",
             R"({"maxCommitBatchSizeHint": "4"})", R"({"maxSyncBatchSizeHint": 4294967296})", R"([4])", R"({"maxCommitBatchSizeHint": )"})
    {
        SCOPED_TRACE(bad);
        auto const result = mxl::parseWriterOptions(bad);
        ASSERT_FALSE(result.has_value());
        EXPECT_EQ(result.error().status, MXL_ERR_UNKNOWN);
    }
}

TEST(WriterOptions, InvalidHintsFailWriterCreationWithUnknown)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const def = flowDef(newFlowId(), "v210", 64, 16, 25, 1);
    for (auto const* bad : {R"({"maxCommitBatchSizeHint": 0})", R"({"maxSyncBatchSizeHint": 0})",
             R"({"maxCommitBatchSizeHint": 4, "maxSyncBatchSizeHint": 6})", R"({"maxCommitBatchSizeHint": 17})", R"({"maxSyncBatchSizeHint": 3})",
             "not json"})
    {
        SCOPED_TRACE(bad);
        mxlFlowWriter writer = nullptr;
        EXPECT_EQ(mxlCreateFlowWriter(instance.get(), def.c_str(), bad, &writer, nullptr, nullptr), MXL_ERR_UNKNOWN);
    }

    mxlFlowWriter writer = nullptr;
    mxlFlowConfigInfo config{};
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), def.c_str(), R"({"maxCommitBatchSizeHint": 4, "maxSyncBatchSizeHint": 8})", &writer, &config,
                  nullptr),
        MXL_STATUS_OK);
    EXPECT_EQ(config.common.maxCommitBatchSizeHint, 4U);
    EXPECT_EQ(config.common.maxSyncBatchSizeHint, 8U);
}

TEST(WriterOptions, DefaultHintsAreAWholeGrainOrOneHundredthOfASecond)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    mxlFlowWriter writer = nullptr;
    mxlFlowConfigInfo config{};
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(newFlowId(), "v210", 64, 16, 25, 1).c_str(), nullptr, &writer, &config, nullptr),
        MXL_STATUS_OK);
    EXPECT_EQ(config.common.maxCommitBatchSizeHint, 16U);
    EXPECT_EQ(config.common.maxSyncBatchSizeHint, 16U);

    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(newFlowId(), "audio", 0, 0, 48000).c_str(), nullptr, &writer, &config, nullptr),
        MXL_STATUS_OK);
    EXPECT_EQ(config.common.maxCommitBatchSizeHint, 480U);
    EXPECT_EQ(config.common.maxSyncBatchSizeHint, 480U);
}

TEST(DomainOptions, RingLengthsFollowTheHistoryDuration)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    mxlFlowWriter writer = nullptr;
    mxlFlowConfigInfo config{};

    // floor(0.2 s x 29.97) = 5 grains.
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(newFlowId(), "v210", 64, 16, 30000, 1001).c_str(), nullptr, &writer, &config, nullptr),
        MXL_STATUS_OK);
    EXPECT_EQ(config.discrete.grainCount, 5U);

    // floor(0.2 s x 59.94) = 11 grains.
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(newFlowId(), "v210", 64, 16, 60000, 1001).c_str(), nullptr, &writer, &config, nullptr),
        MXL_STATUS_OK);
    EXPECT_EQ(config.discrete.grainCount, 11U);

    // 2 x 0.2 s x 48 kHz = 19200 samples, rounded up to whole pages of floats: 19456.
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(newFlowId(), "audio", 0, 0, 48000).c_str(), nullptr, &writer, &config, nullptr),
        MXL_STATUS_OK);
    EXPECT_EQ(config.continuous.bufferLength, 19456U);
    EXPECT_EQ(config.continuous.channelCount, 2U);

    // The same in doubles: pages of 512 samples, 38 of them.
    auto def64 = audio(48000, 1);
    def64["bit_depth"] = 64;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), def64.dump().c_str(), nullptr, &writer, &config, nullptr), MXL_STATUS_OK);
    EXPECT_EQ(config.continuous.bufferLength, 19456U);

    // 44.1 kHz: 17640 samples -> 18432.
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(newFlowId(), "audio", 0, 0, 44100).c_str(), nullptr, &writer, &config, nullptr),
        MXL_STATUS_OK);
    EXPECT_EQ(config.continuous.bufferLength, 18432U);
}

TEST(DomainOptions, OptionsFileSetsHistoryAndInstanceOptionsOverrideIt)
{
    TestDomain domain;
    {
        std::ofstream{domain.path() / "options.json"} << R"({"urn:x-mxl:option:history_duration/v1.0": 400000000})";
    }
    auto const grainCountAt25 = [&](char const* options) -> std::uint32_t {
        ScopedInstance instance{domain.str(), options};
        if (!instance)
        {
            ADD_FAILURE() << "no instance";
            return 0;
        }
        mxlFlowWriter writer = nullptr;
        mxlFlowConfigInfo config{};
        auto const s = mxlCreateFlowWriter(instance.get(), flowDef(newFlowId(), "v210", 64, 16, 25, 1).c_str(), nullptr, &writer, &config, nullptr);
        EXPECT_EQ(s, MXL_STATUS_OK);
        return config.discrete.grainCount;
    };
    EXPECT_EQ(grainCountAt25(nullptr), 10U);
    EXPECT_EQ(grainCountAt25(""), 10U);
    EXPECT_EQ(grainCountAt25("{}"), 10U);
    EXPECT_EQ(grainCountAt25(R"({"urn:x-mxl:option:history_duration/v1.0": 120000000})"), 3U);
}

TEST(DomainOptions, MalformedInstanceOptionsGiveNoInstance)
{
    TestDomain domain;
    for (auto const* bad : {"{", "[]", R"({"urn:x-mxl:option:history_duration/v1.0": "200000000"})",
             R"({"urn:x-mxl:option:history_duration/v1.0": 0})", R"({"urn:x-mxl:option:history_duration/v1.0": -5})",
             R"({"urn:x-mxl:option:history_duration/v1.0": 1.5})"})
    {
        SCOPED_TRACE(bad);
        auto const instance = mxlCreateInstance(domain.str().c_str(), bad);
        EXPECT_EQ(instance, nullptr);
        if (instance != nullptr)
        {
            mxlDestroyInstance(instance);
        }
    }
}

TEST(DomainOptions, MalformedOptionsFileGivesNoInstance)
{
    for (auto const* bad : {"{ not json", R"({"urn:x-mxl:option:history_duration/v1.0": "fast"})", "17"})
    {
        SCOPED_TRACE(bad);
        TestDomain domain;
        {
            std::ofstream{domain.path() / "options.json"} << bad;
        }
        auto const instance = mxlCreateInstance(domain.str().c_str(), nullptr);
        EXPECT_EQ(instance, nullptr);
        if (instance != nullptr)
        {
            mxlDestroyInstance(instance);
        }
    }
}
