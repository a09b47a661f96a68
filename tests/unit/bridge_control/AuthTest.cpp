// SPDX-License-Identifier: Apache-2.0
// The key of two bridges: HMAC-SHA256 as RFC 4231 defines it, and key files that must be private and
// of a sensible size; errors never show the key. (The handshake that proves the key is TLS 1.3:
// ConnectionTest.cpp.)
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "control/Auth.hpp"
#include "support/TestDomain.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        std::vector<std::byte> bytesOf(std::string const& text)
        {
            auto const raw = std::as_bytes(std::span{text.data(), text.size()});
            return {raw.begin(), raw.end()};
        }

        std::string hex(Mac const& mac)
        {
            static constexpr char digits[] = "0123456789abcdef";
            std::string out;
            for (auto const b : mac)
            {
                out.push_back(digits[std::to_integer<unsigned>(b) >> 4]);
                out.push_back(digits[std::to_integer<unsigned>(b) & 0xF]);
            }
            return out;
        }

        PresharedKey keyOf(std::string const& text)
        {
            return PresharedKey{bytesOf(text)};
        }

        std::filesystem::path writeKeyFile(mxl::test::TestDomain const& dir, std::string const& content, mode_t mode = 0600)
        {
            auto const path = dir.path() / "bridge.key";
            {
                std::ofstream out{path, std::ios::binary | std::ios::trunc};
                out << content;
            }
            EXPECT_EQ(::chmod(path.c_str(), mode), 0);
            return path;
        }

        std::string const secret = "correct horse battery staple";
    }

    TEST(Auth, KnownHmacVector)
    {
        // RFC 4231, test case 2 (a key shorter than the block), case 1 and case 6 (a key longer than the block).
        EXPECT_EQ(hex(hmacSha256(bytesOf("Jefe"), bytesOf("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        EXPECT_EQ(hex(hmacSha256(std::vector<std::byte>(20, std::byte{0x0b}), bytesOf("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        EXPECT_EQ(hex(hmacSha256(std::vector<std::byte>(131, std::byte{0xaa}), bytesOf("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    TEST(Auth, InsecureKeyIsFixedAndLongEnough)
    {
        EXPECT_GE(PresharedKey::insecure().bytes().size(), 16U);
        auto const a = PresharedKey::insecure();
        auto const b = PresharedKey::insecure();
        EXPECT_TRUE(std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin(), b.bytes().end()));
    }

    TEST(Auth, KeyFileIsReadWithoutOneTrailingNewline)
    {
        mxl::test::TestDomain const dir;
        for (auto const& [content, expected] : std::vector<std::pair<std::string, std::string>>{
                 {secret, secret}, {secret + "\n", secret}, {secret + "\r\n", secret}, {secret + "\n\n", secret + "\n"}, {secret + "\r", secret + "\r"}})
        {
            auto const key = loadPresharedKey(writeKeyFile(dir, content));
            ASSERT_TRUE(key) << key.error().message;
            auto const bytes = key.value().bytes();
            EXPECT_EQ(std::string(reinterpret_cast<char const*>(bytes.data()), bytes.size()), expected);
        }
    }

    TEST(Auth, KeyFileReadableByOthersIsRefused)
    {
        mxl::test::TestDomain const dir;
        for (mode_t const mode : {0644, 0640, 0604, 0602, 0620, 0610})
        {
            auto const path = writeKeyFile(dir, secret, mode);
            auto const key = loadPresharedKey(path);
            ASSERT_FALSE(key) << std::oct << mode;
            EXPECT_EQ(key.error().status, MXL_ERR_INVALID_ARG);
            EXPECT_NE(key.error().message.find(path.string()), std::string::npos) << key.error().message;
            EXPECT_NE(key.error().message.find("group or others"), std::string::npos) << key.error().message;
            EXPECT_EQ(key.error().message.find(secret), std::string::npos) << key.error().message;
        }
        EXPECT_TRUE(loadPresharedKey(writeKeyFile(dir, secret, 0400)));
    }

    TEST(Auth, KeyFileTooShortIsRefused)
    {
        mxl::test::TestDomain const dir;
        std::string const fifteen = "0123456789abcde";
        for (auto const& content : {fifteen, fifteen + "\n", fifteen + "\r\n"})
        {
            auto const key = loadPresharedKey(writeKeyFile(dir, content));
            ASSERT_FALSE(key);
            EXPECT_EQ(key.error().status, MXL_ERR_INVALID_ARG);
            EXPECT_NE(key.error().message.find("too short"), std::string::npos) << key.error().message;
            EXPECT_EQ(key.error().message.find(fifteen), std::string::npos) << key.error().message;
        }
        EXPECT_TRUE(loadPresharedKey(writeKeyFile(dir, fifteen + "f\n")));
    }

    TEST(Auth, KeyFileTooLongIsRefused)
    {
        mxl::test::TestDomain const dir;
        for (auto const& content : {std::string(4097, 'k'), std::string(4097, 'k') + "\n", std::string(100000, 'k')})
        {
            auto const key = loadPresharedKey(writeKeyFile(dir, content));
            ASSERT_FALSE(key) << content.size();
            EXPECT_NE(key.error().message.find("too long"), std::string::npos) << key.error().message;
        }
        for (auto const& content : {std::string(4096, 'k'), std::string(4096, 'k') + "\n", std::string(4096, 'k') + "\r\n"})
        {
            auto const key = loadPresharedKey(writeKeyFile(dir, content));
            ASSERT_TRUE(key) << key.error().message;
            EXPECT_EQ(key.value().bytes().size(), 4096U);
        }
    }

    TEST(Auth, EmptyOrMissingKeyFileIsRefused)
    {
        mxl::test::TestDomain const dir;
        for (auto const& content : {std::string{}, std::string{"\n"}, std::string{"\r\n"}})
        {
            auto const key = loadPresharedKey(writeKeyFile(dir, content));
            ASSERT_FALSE(key);
            EXPECT_NE(key.error().message.find("is empty"), std::string::npos) << key.error().message;
        }
        auto const missing = loadPresharedKey(dir.path() / "absent.key");
        ASSERT_FALSE(missing);
        EXPECT_EQ(missing.error().status, MXL_ERR_INVALID_ARG);
        EXPECT_NE(missing.error().message.find("absent.key: cannot open"), std::string::npos) << missing.error().message;
        auto const directory = loadPresharedKey(dir.path());
        ASSERT_FALSE(directory);
    }

    TEST(Auth, AssignedKeyTakesTheOtherKeysBytes)
    {
        auto key = keyOf(secret);
        auto const other = keyOf("another key of enough length");
        key = other;
        EXPECT_TRUE(std::equal(key.bytes().begin(), key.bytes().end(), other.bytes().begin(), other.bytes().end()));
        key = PresharedKey::insecure();
        auto const insecure = PresharedKey::insecure();
        EXPECT_TRUE(std::equal(key.bytes().begin(), key.bytes().end(), insecure.bytes().begin(), insecure.bytes().end()));
    }
}
