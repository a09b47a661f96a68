// SPDX-License-Identifier: Apache-2.0
#include "protocol/ConnectProof.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/Random.hpp"

namespace mxl::fabric
{
    namespace
    {
        constexpr std::string_view label = "mxl-fabric data endpoint v1";
        constexpr std::size_t nonceOffset = 1;
        constexpr std::size_t macOffset = nonceOffset + connectNonceSize;

        using Mac = std::array<std::byte, connectMacSize>;

        std::optional<Mac> mac(ConnectKey const& key, Uuid const& flowId, std::uint64_t epoch, std::span<std::byte const> nonce)
        {
            std::array<unsigned char, label.size() + sizeof(Uuid) + sizeof(std::uint64_t) + connectNonceSize> message{};
            auto* at = std::copy(label.begin(), label.end(), message.begin());
            at = std::copy(flowId.begin(), flowId.end(), at);
            for (std::size_t i = 0; i < sizeof epoch; ++i)
            {
                *at++ = static_cast<unsigned char>(epoch >> (8 * i));
            }
            std::memcpy(at, nonce.data(), connectNonceSize);
            Mac out{};
            unsigned int length = 0;
            if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(),
                    reinterpret_cast<unsigned char*>(out.data()), &length) == nullptr ||
                length != out.size())
            {
                return std::nullopt;
            }
            return out;
        }
    }

    Expected<ConnectKey> makeConnectKey()
    {
        ConnectKey key{};
        if (auto r = fillRandom(key, "the data endpoint's connect key"); !r)
        {
            return r.take_error();
        }
        return key;
    }

    Expected<ConnectProof> makeConnectProof(ConnectKey const& key, Uuid const& flowId, std::uint64_t epoch)
    {
        ConnectNonce nonce{};
        if (auto r = fillRandom(nonce, "a connection nonce"); !r)
        {
            return r.take_error();
        }
        return makeConnectProof(key, flowId, epoch, nonce);
    }

    Expected<ConnectProof> makeConnectProof(ConnectKey const& key, Uuid const& flowId, std::uint64_t epoch, ConnectNonce const& nonce)
    {
        auto const tag = mac(key, flowId, epoch, nonce);
        if (!tag)
        {
            return fail(MXL_ERR_INTERNAL, "HMAC-SHA256 is not available from libcrypto");
        }
        ConnectProof proof{};
        proof[0] = std::byte{connectProofVersion};
        std::copy(nonce.begin(), nonce.end(), proof.begin() + nonceOffset);
        std::copy(tag->begin(), tag->end(), proof.begin() + macOffset);
        return proof;
    }

    std::optional<std::string> verifyConnectProof(std::span<std::byte const> data, ConnectKey const& key, Uuid const& flowId,
        std::uint64_t epoch)
    {
        if (data.empty())
        {
            return "no connection data";
        }
        if (data.size() != connectProofSize)
        {
            return fmt::format("wrong length {}", data.size());
        }
        if (data[0] != std::byte{connectProofVersion})
        {
            return fmt::format("unknown format version {}", static_cast<unsigned>(data[0]));
        }
        auto const expected = mac(key, flowId, epoch, data.subspan(nonceOffset, connectNonceSize));
        // Without a working HMAC nothing can be proven: refused, like a forgery.
        if (!expected || CRYPTO_memcmp(expected->data(), data.data() + macOffset, connectMacSize) != 0)
        {
            return "bad MAC";
        }
        return std::nullopt;
    }

    std::optional<std::string> ConnectProofChecker::admit(std::span<std::byte const> data, ConnectKey const& key, Uuid const& flowId,
        std::uint64_t epoch)
    {
        if (auto reason = verifyConnectProof(data, key, flowId, epoch))
        {
            return reason;
        }
        ConnectNonce nonce{};
        std::copy_n(data.begin() + nonceOffset, connectNonceSize, nonce.begin());
        if (std::find(_nonces.begin(), _nonces.end(), nonce) != _nonces.end())
        {
            return "replayed nonce";
        }
        if (_nonces.size() < rememberedNonces)
        {
            _nonces.push_back(nonce);
        }
        else
        {
            _nonces[_next] = nonce;
            _next = (_next + 1) % rememberedNonces;
        }
        return std::nullopt;
    }

    void ConnectProofChecker::forget() noexcept
    {
        _nonces.clear();
        _next = 0;
    }
}
