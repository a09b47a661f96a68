// SPDX-License-Identifier: Apache-2.0
#include "control/Auth.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/Fd.hpp"

namespace mxl::bridge
{
    namespace
    {
        constexpr std::size_t minKeySize = 16;
        constexpr std::size_t maxKeySize = 4096;
        constexpr std::string_view insecureKey = "mxl-fabric-bridge insecure key v1: public, detects accidents only";

        /// Without a working HMAC or random source no session can be secured, and these functions have
        /// no error path to report it on: stop rather than hand out a predictable value.
        [[noreturn]] void cryptoFailure(char const* what) noexcept
        {
            std::fprintf(stderr, "mxl-fabric-bridge: %s failed; cannot continue without it\n", what);
            std::abort();
        }

        std::span<std::byte const> bytesOf(std::string_view text) noexcept
        {
            return std::as_bytes(std::span{text.data(), text.size()});
        }

        unsigned char const* pointer(std::span<std::byte const> bytes) noexcept
        {
            // OpenSSL wants a non-null pointer even for zero bytes.
            static unsigned char const none = 0;
            return bytes.empty() ? &none : reinterpret_cast<unsigned char const*>(bytes.data());
        }

        Mac hmac(std::span<std::byte const> key, std::initializer_list<std::span<std::byte const>> parts)
        {
            static EVP_MAC* const algorithm = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
            if (algorithm == nullptr)
            {
                cryptoFailure("fetching HMAC from libcrypto");
            }
            std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> const context{EVP_MAC_CTX_new(algorithm), &EVP_MAC_CTX_free};
            char digest[] = "SHA256";
            OSSL_PARAM const params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
            bool ok = context && EVP_MAC_init(context.get(), pointer(key), key.size(), params) == 1;
            for (auto const part : parts)
            {
                ok = ok && EVP_MAC_update(context.get(), pointer(part), part.size()) == 1;
            }
            Mac out{};
            std::size_t length = 0;
            ok = ok && EVP_MAC_final(context.get(), reinterpret_cast<unsigned char*>(out.data()), &length, out.size()) == 1 && length == out.size();
            if (!ok)
            {
                cryptoFailure("HMAC-SHA256");
            }
            return out;
        }

        /// Wipes a buffer that held key bytes when it goes out of scope, on every path.
        class Wiped
        {
        public:
            explicit Wiped(std::span<std::byte> bytes) noexcept
                : _bytes{bytes}
            {}

            ~Wiped()
            {
                OPENSSL_cleanse(_bytes.data(), _bytes.size());
            }

            Wiped(Wiped const&) = delete;
            Wiped& operator=(Wiped const&) = delete;

        private:
            std::span<std::byte> _bytes;
        };

        Unexpected keyFileError(std::filesystem::path const& file, std::string_view what)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("key file {}: {}", file.string(), what));
        }
    }

    PresharedKey::~PresharedKey()
    {
        OPENSSL_cleanse(_bytes.data(), _bytes.size());
    }

    PresharedKey& PresharedKey::operator=(PresharedKey&& other) noexcept
    {
        if (this != &other)
        {
            OPENSSL_cleanse(_bytes.data(), _bytes.size());
            _bytes = std::move(other._bytes);
        }
        return *this;
    }

    PresharedKey& PresharedKey::operator=(PresharedKey const& other)
    {
        if (this != &other)
        {
            OPENSSL_cleanse(_bytes.data(), _bytes.size());
            _bytes = other._bytes;
        }
        return *this;
    }

    PresharedKey PresharedKey::insecure()
    {
        auto const bytes = bytesOf(insecureKey);
        return PresharedKey{std::vector<std::byte>{bytes.begin(), bytes.end()}};
    }

    Expected<PresharedKey> loadPresharedKey(std::filesystem::path const& file)
    {
        Fd fd{::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
        if (!fd.valid())
        {
            return keyFileError(file, fmt::format("cannot open: {}", std::strerror(errno)));
        }
        struct stat status{};
        if (::fstat(fd.get(), &status) != 0)
        {
            return keyFileError(file, fmt::format("cannot stat: {}", std::strerror(errno)));
        }
        if ((status.st_mode & 077) != 0)
        {
            return keyFileError(file, fmt::format("is accessible by group or others (mode {:04o}); make it private (chmod 600)", status.st_mode & 07777));
        }

        // Room for the largest key, CRLF and one byte more, so that a longer file is noticed.
        std::array<std::byte, maxKeySize + 3> buffer;
        Wiped const wipe{buffer};
        std::size_t size = 0;
        while (size < buffer.size())
        {
            auto const n = ::read(fd.get(), buffer.data() + size, buffer.size() - size);
            if (n > 0)
            {
                size += static_cast<std::size_t>(n);
            }
            else if (n == 0)
            {
                break;
            }
            else if (errno != EINTR)
            {
                return keyFileError(file, fmt::format("cannot read: {}", std::strerror(errno)));
            }
        }
        if (size > 0 && buffer[size - 1] == std::byte{'\n'})
        {
            --size;
            if (size > 0 && buffer[size - 1] == std::byte{'\r'})
            {
                --size;
            }
        }
        if (size == 0)
        {
            return keyFileError(file, "is empty");
        }
        if (size < minKeySize)
        {
            return keyFileError(file, fmt::format("is too short: a key needs at least {} bytes", minKeySize));
        }
        if (size > maxKeySize)
        {
            return keyFileError(file, fmt::format("is too long: a key has at most {} bytes", maxKeySize));
        }
        return PresharedKey{std::vector<std::byte>{buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size)}};
    }

    Mac hmacSha256(std::span<std::byte const> key, std::span<std::byte const> data)
    {
        return hmac(key, {data});
    }
}
