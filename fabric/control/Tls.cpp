// SPDX-License-Identifier: Apache-2.0
#include "control/Tls.hpp"

#include <array>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

namespace mxl::bridge
{
    namespace
    {
        constexpr std::string_view pskLabel = "mxl-fabric-bridge tls13 psk v2";
        constexpr char keyedIdentity[] = "mxl-fabric-bridge control 2";
        constexpr char insecureIdentity[] = "mxl-fabric-bridge control 2 insecure";
        constexpr char cipherSuites[] = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";
        constexpr std::array<unsigned char, 2> aes128GcmSha256{0x13, 0x01};

        /// OpenSSL's queued errors as one line (and the queue emptied), for messages.
        std::string openSslErrors()
        {
            std::string text;
            while (auto const code = ERR_get_error())
            {
                std::array<char, 256> buffer{};
                ERR_error_string_n(code, buffer.data(), buffer.size());
                if (!text.empty())
                {
                    text += "; ";
                }
                text += buffer.data();
            }
            return text.empty() ? std::string{"no details from OpenSSL"} : text;
        }

        /// The index of our context pointer in an SSL_CTX's ex data.
        int contextIndex()
        {
            static int const index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
            return index;
        }

        int channelIndex()
        {
            static int const index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
            return index;
        }

        TlsContext const* contextOf(SSL* ssl)
        {
            return static_cast<TlsContext const*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), contextIndex()));
        }

        /// A resumption-style session holding the external PSK.
        SSL_SESSION* pskSession(SSL* ssl, TlsContext const& context)
        {
            auto const* cipher = SSL_CIPHER_find(ssl, aes128GcmSha256.data());
            auto* session = SSL_SESSION_new();
            if (cipher == nullptr || session == nullptr || SSL_SESSION_set1_master_key(session, context.psk().data(), context.psk().size()) != 1 ||
                SSL_SESSION_set_cipher(session, cipher) != 1 || SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION) != 1)
            {
                SSL_SESSION_free(session);
                return nullptr;
            }
            return session;
        }

        SSL_CTX* newContext(SSL_METHOD const* method, TlsContext* owner)
        {
            auto* ctx = SSL_CTX_new(method);
            if (ctx == nullptr)
            {
                return nullptr;
            }
            auto const ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 && SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
                            SSL_CTX_set_ciphersuites(ctx, cipherSuites) == 1 && SSL_CTX_set_num_tickets(ctx, 0) == 1 &&
                            SSL_CTX_set_ex_data(ctx, contextIndex(), owner) == 1;
            if (!ok)
            {
                SSL_CTX_free(ctx);
                return nullptr;
            }
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
            return ctx;
        }
    }

    struct TlsChannel::State
    {
        std::shared_ptr<TlsContext const> context;
        Role role{Role::Client};
        SSL* ssl{nullptr};
        BIO* in{nullptr};  ///< Ciphertext from the peer (owned by ssl).
        BIO* out{nullptr}; ///< Ciphertext for the peer (owned by ssl).
        std::string refusal; ///< Why the server callback refused the client's PSK identity, if it did.

        ~State()
        {
            SSL_free(ssl);
        }
    };

    namespace
    {
        /// Client: offer the PSK under our identity.
        int useSession(SSL* ssl, EVP_MD const* md, unsigned char const** id, std::size_t* idLength, SSL_SESSION** session)
        {
            auto const* context = contextOf(ssl);
            *session = nullptr;
            if (context == nullptr)
            {
                return 0;
            }
            auto* offered = pskSession(ssl, *context);
            if (offered == nullptr)
            {
                return 0;
            }
            if (md != nullptr && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(offered)))
            {
                SSL_SESSION_free(offered); // a suite of another hash was chosen (after a HelloRetryRequest): no PSK for it
                return 1;
            }
            *session = offered;
            *id = reinterpret_cast<unsigned char const*>(context->identity().data());
            *idLength = context->identity().size();
            return 1;
        }

        /// Server: the client's identity must be ours; the binder (checked by OpenSSL) proves the key.
        int findSession(SSL* ssl, unsigned char const* id, std::size_t idLength, SSL_SESSION** session)
        {
            auto const* context = contextOf(ssl);
            auto* refusal = static_cast<std::string*>(SSL_get_ex_data(ssl, channelIndex()));
            *session = nullptr;
            if (context == nullptr)
            {
                return 0;
            }
            std::string_view const identity{reinterpret_cast<char const*>(id), idLength};
            if (identity == context->identity())
            {
                *session = pskSession(ssl, *context);
                return *session != nullptr ? 1 : 0;
            }
            // Go on without a PSK: with no certificate either, the handshake fails, and we say why.
            if (refusal != nullptr)
            {
                *refusal = identity == context->otherIdentity()
                              ? (context->insecure() ? "the peer requires a key and this bridge runs --insecure"
                                                     : "the peer runs --insecure and this bridge requires a key")
                              : "the peer offered an unknown pre-shared key identity (not an mxl-fabric-bridge speaking control protocol 2)";
            }
            return 1;
        }
    }

    Expected<std::shared_ptr<TlsContext const>> TlsContext::create(PresharedKey const& key, bool insecure)
    {
        std::shared_ptr<TlsContext> context{new TlsContext{}};
        context->_insecure = insecure;
        auto const label = std::as_bytes(std::span{pskLabel.data(), pskLabel.size()});
        auto const psk = hmacSha256(key.bytes(), label);
        context->_psk.resize(psk.size());
        std::memcpy(context->_psk.data(), psk.data(), psk.size());
        context->_identity = insecure ? insecureIdentity : keyedIdentity;
        context->_otherIdentity = insecure ? keyedIdentity : insecureIdentity;
        context->_client = newContext(TLS_client_method(), context.get());
        context->_server = newContext(TLS_server_method(), context.get());
        if (context->_client == nullptr || context->_server == nullptr)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("TLS 1.3 with a pre-shared key is not available from libssl: {}", openSslErrors()));
        }
        SSL_CTX_set_psk_use_session_callback(context->_client, &useSession);
        SSL_CTX_set_psk_find_session_callback(context->_server, &findSession);
        return std::shared_ptr<TlsContext const>{std::move(context)};
    }

    TlsContext::~TlsContext()
    {
        SSL_CTX_free(_client);
        SSL_CTX_free(_server);
        OPENSSL_cleanse(_psk.data(), _psk.size());
    }

    Expected<TlsChannel> TlsChannel::open(std::shared_ptr<TlsContext const> context, Role role)
    {
        auto state = std::make_unique<State>();
        state->role = role;
        state->ssl = SSL_new(context->raw(role));
        state->in = BIO_new(BIO_s_mem());
        state->out = BIO_new(BIO_s_mem());
        if (state->ssl == nullptr || state->in == nullptr || state->out == nullptr)
        {
            BIO_free(state->in);
            BIO_free(state->out);
            return fail(MXL_ERR_UNKNOWN, fmt::format("cannot create a TLS connection: {}", openSslErrors()));
        }
        // An empty memory BIO means "not yet", not end of file.
        BIO_set_mem_eof_return(state->in, -1);
        SSL_set_bio(state->ssl, state->in, state->out);
        // The server callback says why it refused an identity in state->refusal.
        SSL_set_ex_data(state->ssl, channelIndex(), &state->refusal);
        if (role == Role::Client)
        {
            SSL_set_connect_state(state->ssl);
        }
        else
        {
            SSL_set_accept_state(state->ssl);
        }
        state->context = std::move(context);
        return TlsChannel{std::move(state)};
    }

    TlsChannel::TlsChannel(std::unique_ptr<State> state) noexcept
        : _state{std::move(state)}
    {}

    TlsChannel::~TlsChannel() = default;
    TlsChannel::TlsChannel(TlsChannel&&) noexcept = default;
    TlsChannel& TlsChannel::operator=(TlsChannel&&) noexcept = default;

    void TlsChannel::receiveCiphertext(std::span<std::byte const> bytes)
    {
        if (!bytes.empty())
        {
            BIO_write(_state->in, bytes.data(), static_cast<int>(bytes.size()));
        }
    }

    Expected<void> TlsChannel::failure(int result, char const* what)
    {
        auto const error = SSL_get_error(_state->ssl, result);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
        {
            return {};
        }
        if (error == SSL_ERROR_ZERO_RETURN)
        {
            ERR_clear_error();
            return fail(MXL_ERR_UNKNOWN, "peer closed the TLS session");
        }
        auto const reason = ERR_GET_REASON(ERR_peek_error());
        auto const details = openSslErrors();
        if (!_state->refusal.empty())
        {
            return fail(MXL_ERR_PERMISSION_DENIED, fmt::format("authentication failed: {}", _state->refusal));
        }
        if (reason == SSL_R_BINDER_DOES_NOT_VERIFY)
        {
            return fail(MXL_ERR_PERMISSION_DENIED, "authentication failed: the peer does not hold this bridge's key (its TLS PSK binder does not verify)");
        }
        if ((reason == SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER || reason == SSL_R_TLSV1_ALERT_DECRYPT_ERROR) && !_established)
        {
            // What OpenSSL answers when our PSK binder does not verify on its side.
            return fail(MXL_ERR_PERMISSION_DENIED,
                fmt::format("authentication failed: the peer refused this bridge's key (TLS alert {}): the two bridges' key files differ",
                    reason == SSL_R_TLSV1_ALERT_DECRYPT_ERROR ? "decrypt_error" : "illegal_parameter"));
        }
        if (reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE && !_established)
        {
            return fail(MXL_ERR_PERMISSION_DENIED,
                "authentication failed: the peer refused the TLS handshake (alert handshake_failure): a different --insecure setting, or not an "
                "mxl-fabric-bridge speaking control protocol 2");
        }
        if (_established)
        {
            return fail(MXL_ERR_PERMISSION_DENIED, fmt::format("TLS {} failed (a tampered or malformed record): {}", what, details));
        }
        return fail(MXL_ERR_INVALID_ARG, fmt::format("TLS {} failed: {}", what, details));
    }

    Expected<void> TlsChannel::handshake()
    {
        if (_established)
        {
            return {};
        }
        ERR_clear_error();
        auto const result = SSL_do_handshake(_state->ssl);
        if (result == 1)
        {
            _established = true;
            return {};
        }
        return failure(result, "handshake");
    }

    Expected<std::size_t> TlsChannel::read(std::span<std::byte> out)
    {
        if (!_established || out.empty())
        {
            return std::size_t{0};
        }
        ERR_clear_error();
        std::size_t got = 0;
        auto const result = SSL_read_ex(_state->ssl, out.data(), out.size(), &got);
        if (result == 1)
        {
            return got;
        }
        if (auto failed = failure(result, "read"); !failed)
        {
            return failed.take_error();
        }
        return std::size_t{0};
    }

    Expected<void> TlsChannel::write(std::span<std::byte const> plaintext)
    {
        if (!_established)
        {
            return fail(MXL_ERR_INVALID_ARG, "TLS write before the handshake completed");
        }
        ERR_clear_error();
        std::size_t written = 0;
        // Memory BIOs take everything: a write completes in one call.
        if (SSL_write_ex(_state->ssl, plaintext.data(), plaintext.size(), &written) != 1 || written != plaintext.size())
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("TLS write failed: {}", openSslErrors()));
        }
        return {};
    }

    void TlsChannel::takeCiphertext(std::vector<std::byte>& out)
    {
        auto const pending = BIO_ctrl_pending(_state->out);
        if (pending == 0)
        {
            return;
        }
        auto const old = out.size();
        out.resize(old + pending);
        auto const n = BIO_read(_state->out, out.data() + old, static_cast<int>(pending));
        out.resize(old + static_cast<std::size_t>(std::max(n, 0)));
    }

    std::size_t TlsChannel::bufferedCiphertext() const noexcept
    {
        return BIO_ctrl_pending(_state->in);
    }
}
