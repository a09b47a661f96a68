// SPDX-License-Identifier: Apache-2.0
// TargetInfo strings: the round trip through the C API, every malformation refused with what is
// wrong, and nothing of the string (a secret) in the log.
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "FabricsTestSupport.hpp"
#include "api/Base64.hpp"
#include "api/TargetInfo.hpp"
#include "protocol/Wire.hpp"

namespace
{
    using mxl::fabric::RegionGrant;
    using mxl::fabric::Transfer;
    using mxl::test::LogCapture;
    using mxl::test::sampleGrant;
    namespace api = mxl::fabric::api;

    std::string textOf(RegionGrant const& grant)
    {
        return api::formatTargetInfo(api::makeTargetInfo(grant).value());
    }

    /// The string of whatever bytes, as if a target had made it.
    std::string textOfBytes(std::vector<std::byte> const& bytes)
    {
        return std::string{api::targetInfoFormat} + "1:" + api::encodeBase64(bytes);
    }

    /// What mxlFabricsTargetInfoToString gives for a handle, through the size query.
    std::string toString(mxlFabricsTargetInfo info)
    {
        std::size_t size = 0;
        EXPECT_EQ(mxlFabricsTargetInfoToString(info, nullptr, &size), MXL_STATUS_OK);
        std::string text(size, '\0');
        EXPECT_EQ(mxlFabricsTargetInfoToString(info, text.data(), &size), MXL_STATUS_OK);
        EXPECT_EQ(size, text.size());
        text.resize(size - 1); // the NUL
        return text;
    }

    TEST(TargetInfo, RoundTripsThroughTheCApi)
    {
        for (auto const transfer : {Transfer::Rma, Transfer::SendReceive})
        {
            auto const text = textOf(sampleGrant(transfer));
            EXPECT_TRUE(text.starts_with("mxl-target-info/1:")) << "the format and its version lead";
            mxlFabricsTargetInfo info = nullptr;
            ASSERT_EQ(mxlFabricsTargetInfoFromString(text.c_str(), &info), MXL_STATUS_OK);
            ASSERT_NE(info, nullptr);
            EXPECT_EQ(toString(info), text) << "the same string again";
            EXPECT_EQ(mxlFabricsFreeTargetInfo(info), MXL_STATUS_OK);
            EXPECT_EQ(mxlFabricsFreeTargetInfo(info), MXL_ERR_INVALID_ARG) << "freed twice";
        }
    }

    TEST(TargetInfo, CarriesEveryFieldOfTheGrant)
    {
        auto grant = sampleGrant();
        grant.provider = "verbs";
        grant.node = "fd00::2";
        auto const parsed = api::parseTargetInfo(textOf(grant));
        ASSERT_TRUE(parsed) << parsed.error().message;
        auto const& g = parsed->grant;
        EXPECT_EQ(parsed->provider, MXL_FABRICS_PROVIDER_VERBS);
        EXPECT_EQ(g.flowId, grant.flowId);
        EXPECT_EQ(g.epoch, grant.epoch);
        EXPECT_EQ(g.connectKey, grant.connectKey);
        EXPECT_EQ(g.provider, "verbs");
        EXPECT_EQ(g.transfer, Transfer::Rma);
        EXPECT_EQ(g.node, "fd00::2");
        EXPECT_EQ(g.service, "41234");
        EXPECT_EQ(g.commitEntries, grant.commitEntries);
        EXPECT_EQ(g.commitRing.key, grant.commitRing.key);
        ASSERT_EQ(g.regions.size(), grant.regions.size());
        for (std::size_t i = 0; i < g.regions.size(); ++i)
        {
            EXPECT_EQ(g.regions[i].address, grant.regions[i].address);
            EXPECT_EQ(g.regions[i].length, grant.regions[i].length);
            EXPECT_EQ(g.regions[i].key, grant.regions[i].key);
        }
    }

    TEST(TargetInfo, ToStringFollowsTheSizeConvention)
    {
        auto const text = textOf(sampleGrant());
        mxlFabricsTargetInfo info = nullptr;
        ASSERT_EQ(mxlFabricsTargetInfoFromString(text.c_str(), &info), MXL_STATUS_OK);
        std::vector<char> buffer(text.size(), 'x'); // one short: no room for the NUL
        auto size = buffer.size();
        EXPECT_EQ(mxlFabricsTargetInfoToString(info, buffer.data(), &size), MXL_ERR_STRLEN);
        EXPECT_EQ(size, text.size() + 1);
        EXPECT_EQ(std::string(buffer.begin(), buffer.end()), std::string(text.size(), 'x')) << "nothing of it written";
        EXPECT_EQ(mxlFabricsTargetInfoToString(info, buffer.data(), nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetInfoToString(nullptr, nullptr, &size), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsFreeTargetInfo(info), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsTargetInfoToString(info, nullptr, &size), MXL_ERR_INVALID_ARG) << "freed";
        EXPECT_EQ(mxlFabricsFreeTargetInfo(nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetInfoFromString(nullptr, &info), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetInfoFromString(text.c_str(), nullptr), MXL_ERR_INVALID_ARG);
    }

    struct Malformed
    {
        char const* what;
        std::string text;
        mxlStatus status;
        char const* says; ///< A part of the error message.
    };

    std::vector<Malformed> malformations()
    {
        auto const good = textOf(sampleGrant());
        auto const body = good.substr(good.find(':') + 1);
        auto const encoded = mxl::fabric::encode(sampleGrant());
        std::vector<Malformed> cases;
        cases.push_back({"empty", "", MXL_ERR_INVALID_ARG, "does not begin with"});
        cases.push_back({"another format", "mxl-flow-offer/1:" + body, MXL_ERR_INVALID_ARG, "does not begin with"});
        cases.push_back({"base64 alone", body, MXL_ERR_INVALID_ARG, "does not begin with"});
        cases.push_back({"no version", "mxl-target-info/", MXL_ERR_INVALID_ARG, "no ':'"});
        cases.push_back({"another version", "mxl-target-info/2:" + body, MXL_ERR_UNSUPPORTED_OPERATION, "format version 2"});
        cases.push_back({"version 0", "mxl-target-info/0:" + body, MXL_ERR_UNSUPPORTED_OPERATION, "format version 0"});
        cases.push_back({"version with a leading zero", "mxl-target-info/01:" + body, MXL_ERR_INVALID_ARG, "not a decimal number"});
        cases.push_back({"version not a number", "mxl-target-info/one:" + body, MXL_ERR_INVALID_ARG, "not a decimal number"});
        cases.push_back({"huge version", "mxl-target-info/99999999999999999999:" + body, MXL_ERR_INVALID_ARG, "not a decimal number"});
        cases.push_back({"bad base64", good.substr(0, good.size() - 4) + "A*==", MXL_ERR_INVALID_ARG, "outside the alphabet"});
        cases.push_back({"truncated string", good.substr(0, good.size() - 1), MXL_ERR_INVALID_ARG, "not a multiple of 4"});
        cases.push_back({"trailing whitespace", good + "\n", MXL_ERR_INVALID_ARG, "not a multiple of 4"});
        cases.push_back({"no bytes", "mxl-target-info/1:", MXL_ERR_INVALID_ARG, "shorter than the"});
        auto shorter = encoded;
        shorter.resize(shorter.size() - 24); // one region less than the frame says
        cases.push_back({"truncated grant", textOfBytes(shorter), MXL_ERR_INVALID_ARG, "body length field"});
        auto longer = encoded;
        longer.insert(longer.end(), 3, std::byte{0});
        cases.push_back({"trailing bytes", textOfBytes(longer), MXL_ERR_INVALID_ARG, "body length field"});
        auto otherProtocol = encoded;
        otherProtocol[4] = std::byte{2}; // the frame's version field (u16 after the magic)
        cases.push_back({"another protocol version", textOfBytes(otherProtocol), MXL_ERR_UNSUPPORTED_OPERATION, "protocol version 2"});
        auto offer = mxl::fabric::encode(mxl::fabric::FlowOffer{});
        cases.push_back({"a flow offer", textOfBytes(offer), MXL_ERR_INVALID_ARG, "where 2 was expected"});
        auto zeroEpoch = sampleGrant();
        zeroEpoch.epoch = 0;
        cases.push_back({"a grant that does not decode", textOfBytes(mxl::fabric::encode(zeroEpoch)), MXL_ERR_INVALID_ARG, "epoch 0"});
        auto layered = sampleGrant();
        layered.provider = "tcp;ofi_rxm";
        cases.push_back({"a layered provider", textOfBytes(mxl::fabric::encode(layered)), MXL_ERR_INVALID_ARG, "none of tcp, verbs, efa, shm"});
        auto unknown = sampleGrant();
        unknown.provider = "udp";
        cases.push_back({"an unknown provider", textOfBytes(mxl::fabric::encode(unknown)), MXL_ERR_INVALID_ARG, "none of tcp, verbs"});
        auto noAddress = sampleGrant();
        noAddress.node.clear();
        cases.push_back({"no address", textOfBytes(mxl::fabric::encode(noAddress)), MXL_ERR_INVALID_ARG, "no address"});
        cases.push_back({"too long", "mxl-target-info/1:" + std::string(api::maxTargetInfoLength, 'A'), MXL_ERR_INVALID_ARG, "longer than any"});
        return cases;
    }

    TEST(TargetInfo, RefusesEachMalformationSayingWhatIsWrong)
    {
        for (auto const& m : malformations())
        {
            auto const parsed = api::parseTargetInfo(m.text);
            ASSERT_FALSE(parsed) << m.what;
            EXPECT_EQ(parsed.error().status, m.status) << m.what << ": " << parsed.error().message;
            EXPECT_NE(parsed.error().message.find(m.says), std::string::npos) << m.what << ": " << parsed.error().message;
            EXPECT_TRUE(parsed.error().message.starts_with("TargetInfo string refused: ")) << m.what;

            mxlFabricsTargetInfo info = nullptr;
            EXPECT_EQ(mxlFabricsTargetInfoFromString(m.text.c_str(), &info), m.status) << m.what;
            EXPECT_EQ(info, nullptr) << m.what;
        }
    }

    TEST(TargetInfo, NothingOfItIsLogged)
    {
        // The secrets of the sample grant, as they appear in its string: the base64 and, decoded,
        // the connect key and the region keys. No log line may hold any 12 characters of the base64.
        auto const good = textOf(sampleGrant());
        auto const body = good.substr(good.find(':') + 1);
        auto longer = mxl::fabric::encode(sampleGrant());
        longer.push_back(std::byte{0});
        auto const malformedText = textOfBytes(longer);
        auto const malformedBody = malformedText.substr(malformedText.find(':') + 1);
        LogCapture log;
        mxlFabricsTargetInfo info = nullptr;
        EXPECT_EQ(mxlFabricsTargetInfoFromString(malformedText.c_str(), &info), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetInfoFromString(("mxl-target-info/7:" + body).c_str(), &info), MXL_ERR_UNSUPPORTED_OPERATION);
        EXPECT_EQ(mxlFabricsTargetInfoFromString((body + "!").c_str(), &info), MXL_ERR_INVALID_ARG);
        ASSERT_EQ(mxlFabricsTargetInfoFromString(good.c_str(), &info), MXL_STATUS_OK);
        std::size_t size = 4;
        std::array<char, 4> small{};
        EXPECT_EQ(mxlFabricsTargetInfoToString(info, small.data(), &size), MXL_ERR_STRLEN);
        EXPECT_EQ(mxlFabricsFreeTargetInfo(info), MXL_STATUS_OK);
        auto const text = log.text();
        EXPECT_NE(text.find("TargetInfo string refused"), std::string::npos) << "the refusals are logged";
        for (auto const& secret : {body, malformedBody})
        {
            for (std::size_t i = 0; i + 12 <= secret.size(); i += 4)
            {
                ASSERT_EQ(text.find(secret.substr(i, 12)), std::string::npos) << "the log holds a part of a TargetInfo:\n" << text;
            }
        }
    }
}
