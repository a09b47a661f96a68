// SPDX-License-Identifier: Apache-2.0
// Providers to and from their names, with the size convention of the string outputs; base64.
#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <mxl/fabrics.h>
#include "api/Base64.hpp"

namespace
{
    TEST(FabricsProvider, NamesConvertBothWays)
    {
        struct Known
        {
            mxlFabricsProvider provider;
            char const* name;
        };
        for (auto const& [provider, name] : {Known{MXL_FABRICS_PROVIDER_ANY, "any"}, Known{MXL_FABRICS_PROVIDER_TCP, "tcp"},
                 Known{MXL_FABRICS_PROVIDER_VERBS, "verbs"}, Known{MXL_FABRICS_PROVIDER_EFA, "efa"}, Known{MXL_FABRICS_PROVIDER_SHM, "shm"}})
        {
            std::size_t size = 0;
            ASSERT_EQ(mxlFabricsProviderToString(provider, nullptr, &size), MXL_STATUS_OK);
            EXPECT_EQ(size, std::strlen(name) + 1);
            std::vector<char> text(size, 'x');
            ASSERT_EQ(mxlFabricsProviderToString(provider, text.data(), &size), MXL_STATUS_OK);
            EXPECT_STREQ(text.data(), name);
            EXPECT_EQ(size, std::strlen(name) + 1);
            auto back = static_cast<mxlFabricsProvider>((static_cast<int>(provider) + 1) % 5);
            ASSERT_EQ(mxlFabricsProviderFromString(text.data(), &back), MXL_STATUS_OK);
            EXPECT_EQ(back, provider);
        }
    }

    TEST(FabricsProvider, FromStringTakesAnyCaseAndNothingElse)
    {
        auto provider = MXL_FABRICS_PROVIDER_ANY;
        EXPECT_EQ(mxlFabricsProviderFromString("TCP", &provider), MXL_STATUS_OK);
        EXPECT_EQ(provider, MXL_FABRICS_PROVIDER_TCP);
        EXPECT_EQ(mxlFabricsProviderFromString("Verbs", &provider), MXL_STATUS_OK);
        EXPECT_EQ(provider, MXL_FABRICS_PROVIDER_VERBS);
        for (auto const* text : {"", "udp", "tcp;ofi_rxm", "tcp ", " tcp", "sockets", "tcptcptcptcptcptcptcp"})
        {
            provider = MXL_FABRICS_PROVIDER_EFA;
            EXPECT_EQ(mxlFabricsProviderFromString(text, &provider), MXL_ERR_INVALID_ARG) << text;
            EXPECT_EQ(provider, MXL_FABRICS_PROVIDER_EFA) << "left alone on failure";
        }
        EXPECT_EQ(mxlFabricsProviderFromString(nullptr, &provider), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsProviderFromString("tcp", nullptr), MXL_ERR_INVALID_ARG);
    }

    TEST(FabricsProvider, ToStringSaysTheSizeItNeeds)
    {
        std::array<char, 8> text{};
        text.fill('x');
        std::size_t size = 5; // "verbs" needs 6 with its NUL
        EXPECT_EQ(mxlFabricsProviderToString(MXL_FABRICS_PROVIDER_VERBS, text.data(), &size), MXL_ERR_STRLEN);
        EXPECT_EQ(size, 6U);
        EXPECT_EQ(text[0], 'x') << "nothing written when it does not fit";
        size = 0;
        EXPECT_EQ(mxlFabricsProviderToString(MXL_FABRICS_PROVIDER_TCP, text.data(), &size), MXL_ERR_STRLEN);
        EXPECT_EQ(size, 4U);
        size = text.size();
        EXPECT_EQ(mxlFabricsProviderToString(MXL_FABRICS_PROVIDER_TCP, text.data(), &size), MXL_STATUS_OK);
        EXPECT_STREQ(text.data(), "tcp");
        EXPECT_EQ(size, 4U);
        EXPECT_EQ(mxlFabricsProviderToString(MXL_FABRICS_PROVIDER_TCP, text.data(), nullptr), MXL_ERR_INVALID_ARG);
        size = text.size();
        EXPECT_EQ(mxlFabricsProviderToString(static_cast<mxlFabricsProvider>(5), text.data(), &size), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsProviderToString(static_cast<mxlFabricsProvider>(7), text.data(), &size), MXL_ERR_INVALID_ARG);
    }

    std::vector<std::byte> bytes(std::string_view text)
    {
        auto const b = std::as_bytes(std::span{text.data(), text.size()});
        return {b.begin(), b.end()};
    }

    TEST(Base64, EncodesAsRfc4648)
    {
        // RFC 4648, section 10.
        EXPECT_EQ(mxl::fabric::api::encodeBase64(bytes("")), "");
        EXPECT_EQ(mxl::fabric::api::encodeBase64(bytes("f")), "Zg==");
        EXPECT_EQ(mxl::fabric::api::encodeBase64(bytes("fo")), "Zm8=");
        EXPECT_EQ(mxl::fabric::api::encodeBase64(bytes("foo")), "Zm9v");
        EXPECT_EQ(mxl::fabric::api::encodeBase64(bytes("foob")), "Zm9vYg==");
        EXPECT_EQ(mxl::fabric::api::encodeBase64(bytes("fooba")), "Zm9vYmE=");
        EXPECT_EQ(mxl::fabric::api::encodeBase64(bytes("foobar")), "Zm9vYmFy");
        std::vector<std::byte> all(256);
        for (std::size_t i = 0; i < all.size(); ++i)
        {
            all[i] = static_cast<std::byte>(i);
        }
        for (std::size_t length = 0; length <= all.size(); ++length)
        {
            auto const part = std::span{all}.first(length);
            auto const decoded = mxl::fabric::api::decodeBase64(mxl::fabric::api::encodeBase64(part));
            ASSERT_TRUE(decoded) << length;
            EXPECT_TRUE(std::ranges::equal(decoded.value(), part)) << length;
        }
    }

    TEST(Base64, DecodesOnlyTheCanonicalForm)
    {
        auto const decoded = mxl::fabric::api::decodeBase64("Zm9vYmE=");
        ASSERT_TRUE(decoded);
        EXPECT_EQ(decoded.value(), bytes("fooba"));
        for (auto const* text : {"Zm9vYmE", "Zm9vYmE==", "Zm9v YmE=", "Zm9vYmE=\n", "Zm=vYmE=", "Zm9vYm-=", "Zm9vYm_=", "Zh==", "Zm9=",
                 "====", "Z===", "Zm9vYmE=Zm9v"})
        {
            auto const refused = mxl::fabric::api::decodeBase64(text);
            ASSERT_FALSE(refused) << text;
            EXPECT_EQ(refused.error().status, MXL_ERR_INVALID_ARG);
            EXPECT_FALSE(refused.error().message.empty());
        }
    }
}
