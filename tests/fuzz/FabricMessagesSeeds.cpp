// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpus of fuzz_fabricmessages: valid offers (video, video with key, data, audio)
// built from real flow definitions, and valid grants of both transfer modes and of a reliable-datagram sink.
// Usage: fuzz_fabricmessages_seeds <directory>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "flow/FlowCreation.hpp"
#include "flow/FlowDefinition.hpp"
#include "protocol/BounceHeader.hpp"
#include "protocol/CommitRecord.hpp"
#include "protocol/Messages.hpp"

namespace
{
    constexpr char const* videoDef = R"({"id":"5fbec3b1-1b0f-417d-9059-8b94a47197ed","format":"urn:x-nmos:format:video","label":"seed",
        "media_type":"video/{}","tags":{"urn:x-nmos:tag:grouphint/v1.0":["seed:video"]},"grain_rate":{"numerator":50,"denominator":1},
        "frame_width":1920,"frame_height":1080,"interlace_mode":"progressive","colorspace":"BT709"})";
    constexpr char const* dataDef = R"({"id":"db3bd465-2772-484f-8fac-830b0471258b","format":"urn:x-nmos:format:data","label":"seed",
        "media_type":"video/smpte291","tags":{"urn:x-nmos:tag:grouphint/v1.0":["seed:anc"]},"grain_rate":{"numerator":50,"denominator":1}})";
    constexpr char const* audioDef = R"({"id":"b3bb5be7-9fe9-4324-a5bb-4c70e1084449","format":"urn:x-nmos:format:audio","label":"seed",
        "media_type":"audio/float32","tags":{"urn:x-nmos:tag:grouphint/v1.0":["seed:audio"]},"sample_rate":{"numerator":48000},
        "channel_count":4,"bit_depth":32})";

    bool offerFor(std::string json, mxl::fabric::FlowOffer& offer)
    {
        auto def = mxl::parseFlowDefinition(json);
        if (!def)
        {
            std::fprintf(stderr, "seed definition refused: %s\n", def.error().message.c_str());
            return false;
        }
        auto config = mxl::makeFlowConfig(*def, {}, mxl::defaultHistoryNs);
        if (!config)
        {
            std::fprintf(stderr, "seed configuration refused: %s\n", config.error().message.c_str());
            return false;
        }
        offer.flowId = def->id;
        offer.config = config.value();
        offer.grainSize = def->discrete() ? def->grainSize : 0;
        offer.totalSlices = def->discrete() ? def->totalSlices : 0;
        offer.sampleWordSize = def->discrete() ? 0 : static_cast<std::uint16_t>(def->sampleWordSize);
        offer.flowDef = std::move(json);
        return true;
    }

    mxl::fabric::RegionGrant grantFor(mxl::fabric::FlowOffer const& offer, std::uint32_t regions, std::uint64_t length)
    {
        mxl::fabric::RegionGrant grant;
        grant.flowId = offer.flowId;
        grant.epoch = 0x5EED5EED12345678ULL;
        for (std::size_t i = 0; i < grant.connectKey.size(); ++i)
        {
            grant.connectKey[i] = static_cast<std::byte>(0x5E ^ i);
        }
        grant.provider = "tcp";
        grant.node = "127.0.0.1";
        grant.service = "7400";
        grant.commitEntries = mxl::fabric::commitRingEntries;
        grant.commitRing = {0x7F12340000ULL, grant.commitEntries * sizeof(mxl::fabric::CommitRecord), 0x1111};
        for (std::uint32_t i = 0; i < regions; ++i)
        {
            grant.regions.push_back({0x7F20000000ULL + i * 0x1000000ULL, length, 0x2000U + i});
        }
        return grant;
    }

    bool write(std::filesystem::path const& path, std::vector<std::byte> const& bytes)
    {
        std::ofstream out{path, std::ios::binary | std::ios::trunc};
        out.write(reinterpret_cast<char const*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        return static_cast<bool>(out);
    }
}

int main(int argc, char** argv)
{
    if (argc != 2)
    {
        std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    std::filesystem::path const dir{argv[1]};
    std::filesystem::create_directories(dir);

    auto withMedia = [](std::string media) {
        std::string json = videoDef;
        json.replace(json.find("{}"), 2, media);
        return json;
    };
    mxl::fabric::FlowOffer v210, v210a, anc, audio;
    if (!offerFor(withMedia("v210"), v210) || !offerFor(withMedia("v210a"), v210a) || !offerFor(dataDef, anc) || !offerFor(audioDef, audio))
    {
        return 1;
    }
    auto sendReceive = grantFor(anc, 0, 0);
    sendReceive.transfer = mxl::fabric::Transfer::SendReceive;
    sendReceive.commitRing = {};
    sendReceive.commitEntries = 0;
    sendReceive.maxChunk = mxl::fabric::bounceChunkSize;
    // A reliable-datagram sink (efa, shm, tcp;ofi_rxm): its endpoint's address travels in the grant.
    auto datagram = grantFor(v210, v210.config.discrete.grainCount, v210.grainSize);
    datagram.provider = "tcp;ofi_rxm";
    datagram.address = {std::byte{2}, std::byte{0}, std::byte{0x1c}, std::byte{0xe8}, std::byte{127}, std::byte{0}, std::byte{0}, std::byte{1},
        std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
    auto const audioBytes = std::uint64_t{audio.config.continuous.channelCount} * audio.config.continuous.bufferLength * audio.sampleWordSize;

    bool ok = write(dir / "offer_v210", mxl::fabric::encode(v210)) && write(dir / "offer_v210a", mxl::fabric::encode(v210a)) &&
              write(dir / "offer_anc", mxl::fabric::encode(anc)) && write(dir / "offer_audio", mxl::fabric::encode(audio)) &&
              write(dir / "grant_v210", mxl::fabric::encode(grantFor(v210, v210.config.discrete.grainCount, v210.grainSize))) &&
              write(dir / "grant_audio", mxl::fabric::encode(grantFor(audio, 1, audioBytes))) &&
              write(dir / "grant_send_receive", mxl::fabric::encode(sendReceive)) && write(dir / "grant_datagram", mxl::fabric::encode(datagram));
    return ok ? 0 : 1;
}
