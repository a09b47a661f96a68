// SPDX-License-Identifier: Apache-2.0
// A control connection over real sockets: frames arrive whole however the stream is cut, frames after
// the handshake are accepted only with the right MAC in the right order, nothing but the handshake
// gets through before it, and neither a flooding nor a silent peer makes the buffers grow unbounded.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include "SampleMessages.hpp"
#include "control/Connection.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        using namespace std::chrono_literals;

        std::pair<Fd, Fd> socketPair()
        {
            int fds[2] = {-1, -1};
            EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0) << std::strerror(errno);
            return {Fd{fds[0]}, Fd{fds[1]}};
        }

        void writeAll(int fd, std::span<std::byte const> bytes)
        {
            while (!bytes.empty())
            {
                auto const n = ::write(fd, bytes.data(), bytes.size());
                ASSERT_GT(n, 0) << std::strerror(errno);
                bytes = bytes.subspan(static_cast<std::size_t>(n));
            }
        }

        bool readable(int fd, std::chrono::milliseconds timeout)
        {
            pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
            return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
        }

        PresharedKey const& testKey()
        {
            static PresharedKey const key{std::vector<std::byte>(32, std::byte{0x5A})};
            return key;
        }

        Mac const& testSessionKey()
        {
            static Mac const key = sessionKey(testKey(), Nonce{std::byte{1}}, Nonce{std::byte{2}});
            return key;
        }

        /// The bytes a peer with role writes: handshake frames plain, later frames with their MAC.
        struct PeerStream
        {
            Role role{Role::Client};
            std::uint64_t sequence{0};
            std::vector<std::byte> bytes;

            PeerStream& plain(ControlMessage const& message)
            {
                auto const frame = encodeControl(message);
                bytes.insert(bytes.end(), frame.begin(), frame.end());
                return *this;
            }

            PeerStream& authenticated(ControlMessage const& message)
            {
                auto const frame = encodeControl(message);
                auto const mac = frameMac(testSessionKey(), role, sequence++, frame);
                bytes.insert(bytes.end(), frame.begin(), frame.end());
                bytes.insert(bytes.end(), mac.begin(), mac.end());
                return *this;
            }
        };

        /// receive(), and authenticate() as the owner would once the peer's Auth came out.
        Expected<void> receiveAuthenticating(Connection& connection, std::vector<ControlMessage>& out, bool& authenticated)
        {
            for (;;)
            {
                auto const before = out.size();
                auto result = connection.receive(out);
                bool const authArrived =
                    std::any_of(out.begin() + static_cast<std::ptrdiff_t>(before), out.end(), [](auto const& m) { return std::holds_alternative<Auth>(m); });
                if (!result || authenticated || !authArrived)
                {
                    return result;
                }
                authenticated = true;
                connection.authenticate(testSessionKey());
            }
        }

        /// Receives until count messages arrived (or two seconds passed); any error fails the test.
        std::vector<ControlMessage> receiveMessages(Connection& connection, std::size_t count)
        {
            std::vector<ControlMessage> out;
            auto const deadline = std::chrono::steady_clock::now() + 2s;
            while (out.size() < count && std::chrono::steady_clock::now() < deadline)
            {
                readable(connection.fd(), 10ms);
                auto const result = connection.receive(out);
                if (!result)
                {
                    ADD_FAILURE() << result.error().message;
                    break;
                }
            }
            return out;
        }

        /// Both ends of a socket pair as Connections that went through the real handshake.
        struct ConnectedPair
        {
            Connection client;
            Connection server;
        };

        ConnectedPair handshake()
        {
            auto [a, b] = socketPair();
            ConnectedPair pair{Connection{std::move(a), Role::Client}, Connection{std::move(b), Role::Server}};
            Hello const clientHello{.bridgeId = randomUuid(), .nonce = randomNonce(), .software = "test"};
            Hello const serverHello{.bridgeId = randomUuid(), .nonce = randomNonce(), .software = "test"};
            EXPECT_TRUE(pair.client.send(clientHello));
            EXPECT_TRUE(pair.server.send(serverHello));
            EXPECT_EQ(receiveMessages(pair.server, 1), std::vector<ControlMessage>{clientHello});
            EXPECT_EQ(receiveMessages(pair.client, 1), std::vector<ControlMessage>{serverHello});
            EXPECT_TRUE(pair.client.send(
                Auth{authMac(testKey(), Role::Client, clientHello.bridgeId, serverHello.bridgeId, clientHello.nonce, serverHello.nonce)}));
            EXPECT_TRUE(pair.server.send(
                Auth{authMac(testKey(), Role::Server, serverHello.bridgeId, clientHello.bridgeId, serverHello.nonce, clientHello.nonce)}));
            auto const atServer = receiveMessages(pair.server, 1);
            auto const atClient = receiveMessages(pair.client, 1);
            EXPECT_EQ(atServer.size(), 1U);
            EXPECT_EQ(atClient.size(), 1U);
            if (atServer.size() == 1 && atClient.size() == 1)
            {
                EXPECT_TRUE(verifyAuthMac(testKey(), Role::Client, clientHello.bridgeId, serverHello.bridgeId, clientHello.nonce,
                    serverHello.nonce, std::get<Auth>(atServer[0]).mac));
                EXPECT_TRUE(verifyAuthMac(testKey(), Role::Server, serverHello.bridgeId, clientHello.bridgeId, serverHello.nonce,
                    clientHello.nonce, std::get<Auth>(atClient[0]).mac));
            }
            auto const session = sessionKey(testKey(), clientHello.nonce, serverHello.nonce);
            pair.client.authenticate(session);
            pair.server.authenticate(session);
            return pair;
        }

        /// The messages a session sends after the handshake.
        std::vector<ControlMessage> sessionMessages()
        {
            auto all = sampleMessages();
            return {all.begin() + 2, all.end()};
        }

        /// A peer stream of every kind of frame: the handshake, then authenticated frames.
        std::vector<ControlMessage> streamedMessages(PeerStream& stream)
        {
            auto const samples = sampleMessages();
            std::vector<ControlMessage> const sent{samples[0], samples[1], samples[2], samples[4], samples[7], samples[14]};
            stream.plain(sent[0]).plain(sent[1]);
            for (std::size_t i = 2; i < sent.size(); ++i)
            {
                stream.authenticated(sent[i]);
            }
            return sent;
        }

        ::testing::AssertionResult failsWith(Expected<void> const& result, mxlStatus status, std::string const& part)
        {
            if (result)
            {
                return ::testing::AssertionFailure() << "succeeded";
            }
            if (result.error().status != status || result.error().message.find(part) == std::string::npos)
            {
                return ::testing::AssertionFailure() << "status " << result.error().status << ": " << result.error().message;
            }
            return ::testing::AssertionSuccess();
        }

        /// What a peer with the test session key sends right after the handshake, to a Server connection.
        struct AuthenticatedServer
        {
            Connection connection;
            Fd peer;
        };

        AuthenticatedServer authenticatedServer()
        {
            auto [a, b] = socketPair();
            AuthenticatedServer s{Connection{std::move(a), Role::Server}, std::move(b)};
            s.connection.authenticate(testSessionKey());
            return s;
        }
    }

    TEST(Connection, MessagesArriveBothWaysAfterTheHandshake)
    {
        auto pair = handshake();
        auto const messages = sessionMessages();
        for (auto const& message : messages)
        {
            ASSERT_TRUE(pair.client.send(message));
            ASSERT_TRUE(pair.server.send(message));
        }
        EXPECT_EQ(receiveMessages(pair.server, messages.size()), messages);
        EXPECT_EQ(receiveMessages(pair.client, messages.size()), messages);
        EXPECT_FALSE(pair.client.wantsWrite());
    }

    TEST(Connection, OneReceiveTakesABoundedShareOfAFastPeer)
    {
        // A peer sending as fast as it can: each receive() hands out at most maxFramesPerReceive frames and
        // reads at most maxBytesPerReceive, so that the event loop gets back to others; nothing is lost.
        auto pair = handshake();
        constexpr std::uint64_t count = 3000;
        for (std::uint64_t i = 0; i < count; ++i)
        {
            ASSERT_TRUE(pair.client.send(Heartbeat{.sequence = i}));
        }
        std::vector<ControlMessage> all;
        auto const deadline = std::chrono::steady_clock::now() + 10s;
        while (all.size() < count && std::chrono::steady_clock::now() < deadline)
        {
            ASSERT_TRUE(pair.client.flush());
            readable(pair.server.fd(), 10ms);
            std::vector<ControlMessage> out;
            ASSERT_TRUE(pair.server.receive(out));
            ASSERT_LE(out.size(), Connection::maxFramesPerReceive);
            all.insert(all.end(), out.begin(), out.end());
        }
        ASSERT_EQ(all.size(), count);
        for (std::uint64_t i = 0; i < count; ++i)
        {
            ASSERT_EQ(std::get<Heartbeat>(all[i]).sequence, i) << "frame " << i;
        }
    }

    TEST(Connection, FramesSplitAtEveryByteArrive)
    {
        PeerStream stream;
        auto const sent = streamedMessages(stream);

        {
            auto [local, peer] = socketPair();
            Connection connection{std::move(local), Role::Server};
            std::vector<ControlMessage> out;
            bool authenticated = false;
            for (auto const byte : stream.bytes)
            {
                writeAll(peer.get(), std::span{&byte, 1});
                ASSERT_TRUE(receiveAuthenticating(connection, out, authenticated));
            }
            EXPECT_EQ(out, sent);
            EXPECT_EQ(connection.bufferedBytes(), 0U);
        }

        for (std::size_t cut = 0; cut <= stream.bytes.size(); ++cut)
        {
            auto [local, peer] = socketPair();
            Connection connection{std::move(local), Role::Server};
            std::vector<ControlMessage> out;
            bool authenticated = false;
            writeAll(peer.get(), std::span{stream.bytes}.first(cut));
            ASSERT_TRUE(receiveAuthenticating(connection, out, authenticated)) << cut;
            writeAll(peer.get(), std::span{stream.bytes}.subspan(cut));
            ASSERT_TRUE(receiveAuthenticating(connection, out, authenticated)) << cut;
            ASSERT_EQ(out, sent) << "cut at " << cut;
        }
    }

    TEST(Connection, StopsAtAuthUntilAuthenticated)
    {
        auto [local, peer] = socketPair();
        Connection connection{std::move(local), Role::Server};
        auto const samples = sampleMessages();
        PeerStream stream;
        stream.plain(samples[0]).plain(samples[1]);
        auto const handshakeBytes = stream.bytes.size();
        stream.authenticated(samples[2]);
        writeAll(peer.get(), stream.bytes);

        std::vector<ControlMessage> out;
        ASSERT_TRUE(connection.receive(out));
        EXPECT_EQ(out, (std::vector<ControlMessage>{samples[0], samples[1]}));
        EXPECT_EQ(connection.bufferedBytes(), stream.bytes.size() - handshakeBytes);

        // Not authenticated yet: the Capabilities stay buffered, whatever the number of calls.
        ASSERT_TRUE(connection.receive(out));
        EXPECT_EQ(out.size(), 2U);

        // Nothing new on the socket: the buffered frame comes out once the key is there.
        connection.authenticate(testSessionKey());
        ASSERT_FALSE(readable(connection.fd(), 0ms));
        ASSERT_TRUE(connection.receive(out));
        EXPECT_EQ(out, (std::vector<ControlMessage>{samples[0], samples[1], samples[2]}));
        EXPECT_EQ(connection.bufferedBytes(), 0U);
    }

    TEST(Connection, OnlyTheHandshakeErrorsAndGoodbyeGetThroughBeforeAuthentication)
    {
        auto const samples = sampleMessages();
        for (auto const& message : samples)
        {
            auto [local, peer] = socketPair();
            Connection connection{std::move(local), Role::Client};
            writeAll(peer.get(), encodeControl(message));
            std::vector<ControlMessage> out;
            auto const result = connection.receive(out);
            auto const type = controlType(message);
            if (type == ControlType::Hello || type == ControlType::Auth || type == ControlType::Error || type == ControlType::Goodbye)
            {
                ASSERT_TRUE(result) << result.error().message;
                EXPECT_EQ(out, std::vector<ControlMessage>{message});
            }
            else
            {
                EXPECT_TRUE(failsWith(result, MXL_ERR_PERMISSION_DENIED, std::string{controlTypeName(type)} + " before authentication"));
                EXPECT_TRUE(out.empty());
            }
        }
    }

    TEST(Connection, TamperedFrameAfterAuthenticationIsRefused)
    {
        PeerStream good;
        good.authenticated(Heartbeat{.sequence = 1, .sendTime = 100});
        auto const firstSize = good.bytes.size();
        good.authenticated(Heartbeat{.sequence = 2, .sendTime = 200});
        for (std::size_t position = firstSize; position < good.bytes.size(); ++position)
        {
            auto tampered = good.bytes;
            tampered[position] ^= std::byte{0x01};
            auto s = authenticatedServer();
            writeAll(s.peer.get(), tampered);
            s.peer.reset();
            std::vector<ControlMessage> out;
            auto const result = s.connection.receive(out);
            ASSERT_FALSE(result) << "byte " << position;
            // Header bits are refused as malformed or leave the frame incomplete; body and MAC bits fail the MAC.
            if (position >= firstSize + controlHeaderSize)
            {
                EXPECT_TRUE(failsWith(result, MXL_ERR_PERMISSION_DENIED, "control frame #1 from the peer has a bad MAC")) << position;
            }
            EXPECT_EQ(out, (std::vector<ControlMessage>{Heartbeat{.sequence = 1, .sendTime = 100}})) << "byte " << position;
        }
    }

    TEST(Connection, ReplayedFrameIsRefused)
    {
        PeerStream stream;
        stream.authenticated(Heartbeat{.sequence = 1, .sendTime = 100});
        auto replayed = stream.bytes;
        replayed.insert(replayed.end(), stream.bytes.begin(), stream.bytes.end());
        auto s = authenticatedServer();
        writeAll(s.peer.get(), replayed);
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(s.connection.receive(out), MXL_ERR_PERMISSION_DENIED, "bad MAC"));
        EXPECT_EQ(out.size(), 1U);
    }

    TEST(Connection, ReorderedFramesAreRefused)
    {
        PeerStream first, second;
        first.authenticated(Heartbeat{.sequence = 1});
        second.sequence = 1;
        second.authenticated(Heartbeat{.sequence = 2});
        auto s = authenticatedServer();
        writeAll(s.peer.get(), second.bytes);
        writeAll(s.peer.get(), first.bytes);
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(s.connection.receive(out), MXL_ERR_PERMISSION_DENIED, "control frame #0 from the peer has a bad MAC"));
        EXPECT_TRUE(out.empty());
    }

    TEST(Connection, ReflectedFrameIsRefused)
    {
        // A frame that the Server side itself sent, fed back to it.
        PeerStream reflected{.role = Role::Server, .bytes = {}};
        reflected.authenticated(Heartbeat{.sequence = 1});
        auto s = authenticatedServer();
        writeAll(s.peer.get(), reflected.bytes);
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(s.connection.receive(out), MXL_ERR_PERMISSION_DENIED, "bad MAC"));
        EXPECT_TRUE(out.empty());
    }

    TEST(Connection, FrameWithoutMacAfterAuthenticationIsRefused)
    {
        PeerStream stream;
        stream.plain(Heartbeat{.sequence = 1}).plain(Heartbeat{.sequence = 2}).plain(Heartbeat{.sequence = 3});
        auto s = authenticatedServer();
        writeAll(s.peer.get(), stream.bytes);
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(s.connection.receive(out), MXL_ERR_PERMISSION_DENIED, "bad MAC"));
        EXPECT_TRUE(out.empty());
    }

    TEST(Connection, FrameWithTheWrongSessionKeyIsRefused)
    {
        auto const frame = encodeControl(Heartbeat{.sequence = 1});
        auto const mac = frameMac(sessionKey(testKey(), Nonce{std::byte{1}}, Nonce{std::byte{3}}), Role::Client, 0, frame);
        auto s = authenticatedServer();
        writeAll(s.peer.get(), frame);
        writeAll(s.peer.get(), mac);
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(s.connection.receive(out), MXL_ERR_PERMISSION_DENIED, "bad MAC"));
    }

    TEST(Connection, PeerClosedIsReported)
    {
        PeerStream stream;
        stream.authenticated(Heartbeat{.sequence = 9});
        auto s = authenticatedServer();
        writeAll(s.peer.get(), stream.bytes);
        s.peer.reset();
        std::vector<ControlMessage> out;
        auto const result = s.connection.receive(out);
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error().status, MXL_ERR_UNKNOWN);
        EXPECT_EQ(result.error().message, "peer closed the connection");
        EXPECT_EQ(out, std::vector<ControlMessage>{Heartbeat{.sequence = 9}});
    }

    TEST(Connection, NothingToReadIsNotAnError)
    {
        auto s = authenticatedServer();
        std::vector<ControlMessage> out;
        EXPECT_TRUE(s.connection.receive(out));
        EXPECT_TRUE(out.empty());
    }

    TEST(Connection, OversizedLengthIsRefusedBeforeReading)
    {
        auto [local, peer] = socketPair();
        Connection connection{std::move(local), Role::Client};
        auto header = encodeControl(Offer{.offerEpoch = 1, .flowOffer = {}});
        header.resize(controlHeaderSize);
        auto const length = static_cast<std::uint32_t>(maxControlBody + 1);
        std::memcpy(header.data() + 8, &length, sizeof length);
        writeAll(peer.get(), header);
        // The peer keeps the connection open and sends no body: the header alone is enough to refuse.
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(connection.receive(out), MXL_ERR_INVALID_ARG, "exceeds 1048576"));
    }

    TEST(Connection, FrameLargerThanAHandshakeIsRefusedBeforeAuthentication)
    {
        // Before authentication only Hello and Auth are expected: a peer may not make the bridge buffer a
        // megabyte per connection by announcing one.
        auto [local, peer] = socketPair();
        Connection connection{std::move(local), Role::Server};
        auto header = encodeControl(Hello{});
        header.resize(controlHeaderSize);
        auto const length = static_cast<std::uint32_t>(maxPreAuthenticationBody + 1);
        std::memcpy(header.data() + 8, &length, sizeof length);
        writeAll(peer.get(), header);
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(connection.receive(out), MXL_ERR_INVALID_ARG, "before authentication"));
    }

    TEST(Connection, GarbageIsRefusedAsSoonAsAHeaderIsThere)
    {
        auto [local, peer] = socketPair();
        Connection connection{std::move(local), Role::Server};
        std::string const text = "GET / HTTP/1.1\r\n";
        writeAll(peer.get(), std::as_bytes(std::span{text.data(), text.size()}));
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(connection.receive(out), MXL_ERR_INVALID_ARG, "bad magic"));
    }

    TEST(Connection, MaximalFrameArrivesWithinTheInputBound)
    {
        auto pair = handshake();
        Offer const offer{.flowId = sampleUuid(1), .offerEpoch = 5, .flowOffer = sampleBlob(maxControlBody - 16 - 8 - 4, 3)};
        ASSERT_EQ(encodeControl(offer).size(), controlHeaderSize + maxControlBody);
        ASSERT_TRUE(pair.client.send(offer));
        ASSERT_TRUE(pair.client.send(Heartbeat{.sequence = 1}));
        std::vector<ControlMessage> out;
        auto const deadline = std::chrono::steady_clock::now() + 5s;
        while (out.size() < 2 && std::chrono::steady_clock::now() < deadline)
        {
            ASSERT_TRUE(pair.client.flush());
            readable(pair.server.fd(), 10ms);
            ASSERT_TRUE(pair.server.receive(out));
            ASSERT_LE(pair.server.bufferedBytes(), Connection::maxBufferedBytes);
        }
        EXPECT_EQ(out, (std::vector<ControlMessage>{offer, Heartbeat{.sequence = 1}}));
        EXPECT_FALSE(pair.client.wantsWrite());
    }

    TEST(Connection, InputStaysBoundedWhileWaitingForTheSessionKey)
    {
        auto [local, peer] = socketPair();
        Connection connection{std::move(local), Role::Server};
        PeerStream stream;
        stream.plain(sampleMessages()[0]).plain(sampleMessages()[1]);
        writeAll(peer.get(), stream.bytes);
        ASSERT_EQ(::fcntl(peer.get(), F_SETFL, O_NONBLOCK), 0);

        // The peer floods before the key is there: the connection must stop reading, not buffer it all.
        std::vector<std::byte> const junk(64 * 1024);
        std::vector<ControlMessage> out;
        std::size_t written = 0;
        for (int round = 0; round < 400 && written < 8 * maxControlBody; ++round)
        {
            auto const n = ::write(peer.get(), junk.data(), junk.size());
            written += n > 0 ? static_cast<std::size_t>(n) : 0;
            ASSERT_TRUE(connection.receive(out));
            ASSERT_LE(connection.bufferedBytes(), Connection::maxBufferedBytes);
        }
        EXPECT_EQ(out.size(), 2U);
        EXPECT_GE(connection.bufferedBytes(), Connection::maxBufferedBytes - Connection::readChunk);
        EXPECT_LT(connection.bufferedBytes(), written);

        connection.authenticate(testSessionKey());
        EXPECT_TRUE(failsWith(connection.receive(out), MXL_ERR_INVALID_ARG, "bad magic"));
    }

    TEST(Connection, PeerThatNeverReadsIsCutOff)
    {
        auto [local, peer] = socketPair();
        Connection connection{std::move(local), Role::Client};
        Offer const offer{.flowId = sampleUuid(2), .offerEpoch = 1, .flowOffer = sampleBlob(maxControlBody / 2, 4)};
        std::size_t accepted = 0;
        Expected<void> result{};
        while (accepted < 100)
        {
            result = connection.send(offer);
            if (!result)
            {
                break;
            }
            ++accepted;
        }
        EXPECT_TRUE(failsWith(result, MXL_ERR_UNKNOWN, "peer is not reading"));
        EXPECT_GE(accepted * (maxControlBody / 2), Connection::maxQueuedBytes);
        EXPECT_LT(accepted, 100U);
        EXPECT_TRUE(connection.wantsWrite());
    }

    TEST(Connection, QueuedFramesDrainWhenThePeerReads)
    {
        auto pair = handshake();
        std::vector<ControlMessage> sent;
        for (std::uint64_t i = 1; i <= 40; ++i)
        {
            sent.push_back(Offer{.flowId = sampleUuid(static_cast<std::uint8_t>(i)), .offerEpoch = i, .flowOffer = sampleBlob(100 * 1024, static_cast<std::uint8_t>(i))});
            ASSERT_TRUE(pair.client.send(sent.back()));
        }
        ASSERT_TRUE(pair.client.wantsWrite()) << "the socket took 4 MB at once; the test proves nothing";
        std::vector<ControlMessage> out;
        auto const deadline = std::chrono::steady_clock::now() + 5s;
        while (out.size() < sent.size() && std::chrono::steady_clock::now() < deadline)
        {
            ASSERT_TRUE(pair.client.flush());
            readable(pair.server.fd(), 10ms);
            ASSERT_TRUE(pair.server.receive(out));
        }
        EXPECT_EQ(out, sent);
        EXPECT_FALSE(pair.client.wantsWrite());
    }

    TEST(Connection, OversizedMessageIsNotSent)
    {
        auto pair = handshake();
        Offer const offer{.flowId = sampleUuid(3), .offerEpoch = 1, .flowOffer = sampleBlob(maxControlBody, 5)};
        EXPECT_TRUE(failsWith(pair.client.send(offer), MXL_ERR_INVALID_ARG, "control message Offer: body of 1048604 bytes exceeds 1048576"));
        EXPECT_FALSE(pair.client.wantsWrite());
        // The refused message used no sequence number: the next one is accepted.
        ASSERT_TRUE(pair.client.send(Heartbeat{.sequence = 4}));
        EXPECT_EQ(receiveMessages(pair.server, 1), std::vector<ControlMessage>{Heartbeat{.sequence = 4}});
    }

    TEST(Connection, SendToAClosedPeerFailsWithoutASignal)
    {
        auto [local, peer] = socketPair();
        Connection connection{std::move(local), Role::Client};
        peer.reset();
        EXPECT_TRUE(failsWith(connection.send(Heartbeat{}), MXL_ERR_UNKNOWN, "send to the peer failed"));
    }

    TEST(Connection, WorksOverTcpWhileStillConnecting)
    {
        Fd listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        ASSERT_EQ(::listen(listener.get(), 1), 0);
        ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);

        Fd clientSocket{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
        auto const connected = ::connect(clientSocket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
        ASSERT_TRUE(connected == 0 || errno == EINPROGRESS) << std::strerror(errno);
        Connection client{std::move(clientSocket), Role::Client};
        ASSERT_TRUE(client.send(Hello{.bridgeId = sampleUuid(1), .software = "test"}));

        Fd accepted{::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
        ASSERT_TRUE(accepted.valid());
        std::optional<Connection> server{std::in_place, std::move(accepted), Role::Server};
        for (auto const* connection : {&client, &*server})
        {
            EXPECT_NE(::fcntl(connection->fd(), F_GETFL) & O_NONBLOCK, 0);
            int noDelay = 0;
            socklen_t size = sizeof noDelay;
            ASSERT_EQ(::getsockopt(connection->fd(), IPPROTO_TCP, TCP_NODELAY, &noDelay, &size), 0);
            EXPECT_EQ(noDelay, 1);
        }
        while (client.wantsWrite())
        {
            ASSERT_TRUE(client.flush());
        }
        EXPECT_EQ(receiveMessages(*server, 1), (std::vector<ControlMessage>{Hello{.bridgeId = sampleUuid(1), .software = "test"}}));
        ASSERT_TRUE(server->send(Goodbye{.reason = "done"}));
        EXPECT_EQ(receiveMessages(client, 1), std::vector<ControlMessage>{Goodbye{.reason = "done"}});

        server.reset();
        ASSERT_TRUE(readable(client.fd(), 2000ms));
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(client.receive(out), MXL_ERR_UNKNOWN, "peer closed the connection"));
    }
}
