// SPDX-License-Identifier: Apache-2.0
// A control connection over real sockets: TLS 1.3 with the pre-shared key before any frame; peers
// with another key, the other --insecure setting or control protocol 1 refused by name; nothing in
// clear text on the wire; tampered or replayed records refused; frames arrive whole however the
// stream is cut; neither a flooding nor a silent peer makes the buffers grow unbounded.
#include <algorithm>
#include <functional>
#include <thread>
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

        /// What a non-blocking read of fd gives now (empty when nothing).
        std::vector<std::byte> readSome(int fd)
        {
            std::vector<std::byte> bytes(64 * 1024);
            auto const n = ::recv(fd, bytes.data(), bytes.size(), MSG_DONTWAIT);
            bytes.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
            return bytes;
        }

        std::shared_ptr<TlsContext const> tlsWith(std::string const& key, bool insecure = false)
        {
            auto const raw = std::as_bytes(std::span{key.data(), key.size()});
            auto context = TlsContext::create(insecure ? PresharedKey::insecure() : PresharedKey{{raw.begin(), raw.end()}}, insecure);
            EXPECT_TRUE(context) << context.error().message;
            return context ? context.value() : nullptr;
        }

        std::shared_ptr<TlsContext const> const& testTls()
        {
            static auto const context = tlsWith("the test key, 32 bytes long, ok!");
            return context;
        }

        Connection open(Fd socket, Role role, std::shared_ptr<TlsContext const> tls = testTls())
        {
            auto connection = Connection::open(std::move(socket), role, std::move(tls));
            EXPECT_TRUE(connection) << connection.error().message;
            return std::move(connection).value();
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

        /// One end as a bridge drives it: flush, receive, remember the first error.
        struct End
        {
            Connection connection;
            std::vector<ControlMessage> received;
            std::optional<Error> error;

            void turn()
            {
                if (error)
                {
                    return;
                }
                if (auto flushed = connection.flush(); !flushed)
                {
                    error = flushed.error();
                    return;
                }
                if (auto r = connection.receive(received); !r)
                {
                    error = r.error();
                }
            }
        };

        /// Turns both ends until done() holds or two seconds pass.
        template<typename Done>
        bool pump(End& a, End& b, Done done, std::chrono::milliseconds timeout = 2000ms)
        {
            auto const deadline = std::chrono::steady_clock::now() + timeout;
            while (!done())
            {
                if (std::chrono::steady_clock::now() > deadline)
                {
                    return false;
                }
                a.turn();
                b.turn();
                if (!done())
                {
                    pollfd fds[2] = {{a.connection.fd(), POLLIN, 0}, {b.connection.fd(), POLLIN, 0}};
                    ::poll(fds, 2, 5);
                }
            }
            return true;
        }

        /// Both ends of a socket pair through the TLS handshake.
        struct SecurePair
        {
            End client;
            End server;
        };

        SecurePair securePair(std::shared_ptr<TlsContext const> clientTls = testTls(), std::shared_ptr<TlsContext const> serverTls = testTls())
        {
            auto [a, b] = socketPair();
            SecurePair pair{End{open(std::move(a), Role::Client, std::move(clientTls)), {}, {}}, End{open(std::move(b), Role::Server, std::move(serverTls)), {}, {}}};
            pump(pair.client, pair.server, [&] {
                return (pair.client.connection.secure() && pair.server.connection.secure()) || pair.client.error || pair.server.error;
            });
            return pair;
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

        /// The messages a session sends (all but the retired type).
        std::vector<ControlMessage> sessionMessages()
        {
            auto all = sampleMessages();
            std::erase_if(all, [](auto const& m) { return retired(m); });
            return all;
        }

        /// A man in the middle between a client and a server Connection: forwards whole TLS records (type
        /// u8 | version u16 | length u16 BE | payload) and keeps a copy of every byte, so that a test can
        /// look at the wire or tamper with it.
        class Relay
        {
        public:
            Relay()
            {
                auto [c, cPeer] = socketPair();
                auto [s, sPeer] = socketPair();
                client.emplace(End{open(std::move(c), Role::Client), {}, {}});
                server.emplace(End{open(std::move(s), Role::Server), {}, {}});
                _toClient = std::move(cPeer);
                _toServer = std::move(sPeer);
            }

            /// Forwards what is there; tamper may change a record (from the client) before it goes on.
            template<typename Tamper>
            void step(Tamper tamper)
            {
                forward(_toClient.get(), _toServer.get(), _fromClient, clientRecords, tamper);
                forward(_toServer.get(), _toClient.get(), _fromServer, serverRecords, [](std::vector<std::byte>&) {});
            }

            void step()
            {
                step([](std::vector<std::byte>&) {});
            }

            bool run(std::function<bool()> const& done)
            {
                return run(done, [](std::vector<std::byte>&) {});
            }

            template<typename Tamper>
            bool run(std::function<bool()> const& done, Tamper tamper)
            {
                auto const deadline = std::chrono::steady_clock::now() + 2s;
                while (!done() && std::chrono::steady_clock::now() < deadline)
                {
                    client->turn();
                    server->turn();
                    step(tamper);
                    std::this_thread::sleep_for(1ms);
                }
                return done();
            }

            /// Sends raw bytes to the server Connection as if from the client.
            void inject(std::span<std::byte const> bytes)
            {
                writeAll(_toServer.get(), bytes);
            }

            std::optional<End> client;
            std::optional<End> server;
            std::vector<std::vector<std::byte>> clientRecords; ///< Every record the client sent, as sent.
            std::vector<std::vector<std::byte>> serverRecords;

        private:
            template<typename Tamper>
            static void forward(int from, int to, std::vector<std::byte>& pending, std::vector<std::vector<std::byte>>& records, Tamper tamper)
            {
                auto const bytes = readSome(from);
                pending.insert(pending.end(), bytes.begin(), bytes.end());
                while (pending.size() >= 5)
                {
                    auto const length = (std::to_integer<std::size_t>(pending[3]) << 8) | std::to_integer<std::size_t>(pending[4]);
                    if (pending.size() < 5 + length)
                    {
                        break;
                    }
                    std::vector<std::byte> record{pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(5 + length)};
                    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(5 + length));
                    records.push_back(record);
                    tamper(record);
                    writeAll(to, record);
                }
            }

            Fd _toClient; ///< The relay's end towards the client.
            Fd _toServer; ///< The relay's end towards the server.
            std::vector<std::byte> _fromClient;
            std::vector<std::byte> _fromServer;
        };

        bool contains(std::vector<std::vector<std::byte>> const& records, std::span<std::byte const> needle)
        {
            for (auto const& record : records)
            {
                if (std::search(record.begin(), record.end(), needle.begin(), needle.end()) != record.end())
                {
                    return true;
                }
            }
            return false;
        }

        /// A protocol-1 frame as a protocol-1 bridge sent it first: Hello, in clear text.
        std::vector<std::byte> protocolOneHello()
        {
            auto frame = encodeControl(Hello{.minVersion = 1, .maxVersion = 1, .bridgeId = sampleUuid(9), .software = "mxl-fabric-bridge 0.2"});
            frame[4] = std::byte{1};
            frame[5] = std::byte{0};
            return frame;
        }
    }

    TEST(Connection, TlsHandshakeThenMessagesArriveBothWays)
    {
        auto pair = securePair();
        ASSERT_FALSE(pair.client.error) << pair.client.error->message;
        ASSERT_FALSE(pair.server.error) << pair.server.error->message;
        auto const messages = sessionMessages();
        for (auto const& message : messages)
        {
            ASSERT_TRUE(pair.client.connection.send(message));
            ASSERT_TRUE(pair.server.connection.send(message));
        }
        EXPECT_EQ(receiveMessages(pair.server.connection, messages.size()), messages);
        EXPECT_EQ(receiveMessages(pair.client.connection, messages.size()), messages);
        EXPECT_FALSE(pair.client.connection.wantsWrite());
    }

    TEST(Connection, MessagesSentBeforeTheHandshakeWaitForIt)
    {
        // A session sends Hello at once: it must travel inside TLS, after the handshake.
        Relay relay;
        Hello const hello{.bridgeId = sampleUuid(1), .software = "canary-in-clear-text"};
        ASSERT_TRUE(relay.client->connection.send(hello));
        ASSERT_TRUE(relay.run([&] { return !relay.server->received.empty() || relay.server->error || relay.client->error; }));
        ASSERT_FALSE(relay.server->error) << relay.server->error->message;
        EXPECT_EQ(relay.server->received, std::vector<ControlMessage>{hello});
        std::string const canary = "canary-in-clear-text";
        EXPECT_FALSE(contains(relay.clientRecords, std::as_bytes(std::span{canary.data(), canary.size()})));
    }

    TEST(Connection, RegionKeysAndEpochsNeverCrossTheWireInClearText)
    {
        Relay relay;
        ASSERT_TRUE(relay.run([&] { return relay.client->connection.secure() && relay.server->connection.secure(); }));
        // A Grant carries the fabric layer's region grant (memory keys) and the offer epoch: recognisable bytes.
        auto const secret = sampleBlob(4096, 0x42);
        Grant const grant{.flowId = sampleUuid(3), .offerEpoch = 0x1122334455667788ULL, .regionGrant = secret};
        ASSERT_TRUE(relay.client->connection.send(grant));
        ASSERT_TRUE(relay.run([&] { return !relay.server->received.empty() || relay.server->error; }));
        EXPECT_EQ(relay.server->received, std::vector<ControlMessage>{grant});
        EXPECT_FALSE(contains(relay.clientRecords, std::span{secret}.subspan(100, 32))) << "grant bytes on the wire in clear text";
        std::uint64_t const epoch = 0x1122334455667788ULL;
        EXPECT_FALSE(contains(relay.clientRecords, std::as_bytes(std::span{&epoch, 1}))) << "the epoch on the wire in clear text";
        std::string const magic = "MXLC";
        EXPECT_FALSE(contains(relay.clientRecords, std::as_bytes(std::span{magic.data(), magic.size()}))) << "a control frame in clear text";
        for (auto const& record : relay.clientRecords)
        {
            auto const type = std::to_integer<int>(record[0]);
            EXPECT_TRUE(type == 22 || type == 23 || type == 20) << "record type " << type;
        }
    }

    TEST(Connection, PeersWithDifferentKeysRefuseEachOtherNamingTheKey)
    {
        auto pair = securePair(tlsWith("one key of thirty-two bytes!!!!!"), tlsWith("another key of thirty-two bytes!"));
        pump(pair.client, pair.server, [&] { return pair.client.error && pair.server.error; });
        ASSERT_TRUE(pair.server.error);
        ASSERT_TRUE(pair.client.error);
        EXPECT_EQ(pair.server.error->status, MXL_ERR_PERMISSION_DENIED) << pair.server.error->message;
        EXPECT_NE(pair.server.error->message.find("does not hold this bridge's key"), std::string::npos) << pair.server.error->message;
        EXPECT_EQ(pair.client.error->status, MXL_ERR_PERMISSION_DENIED) << pair.client.error->message;
        EXPECT_NE(pair.client.error->message.find("key files differ"), std::string::npos) << pair.client.error->message;
        EXPECT_FALSE(pair.client.connection.secure());
        EXPECT_FALSE(pair.server.connection.secure());
    }

    TEST(Connection, InsecurePeerAndKeyedPeerRefuseEachOtherByName)
    {
        for (bool const clientInsecure : {true, false})
        {
            auto pair = securePair(clientInsecure ? tlsWith("", true) : testTls(), clientInsecure ? testTls() : tlsWith("", true));
            pump(pair.client, pair.server, [&] { return pair.client.error && pair.server.error; });
            ASSERT_TRUE(pair.server.error && pair.client.error);
            EXPECT_EQ(pair.server.error->status, MXL_ERR_PERMISSION_DENIED);
            EXPECT_EQ(pair.client.error->status, MXL_ERR_PERMISSION_DENIED);
            auto const expected = clientInsecure ? "the peer runs --insecure and this bridge requires a key"
                                                 : "the peer requires a key and this bridge runs --insecure";
            EXPECT_NE(pair.server.error->message.find(expected), std::string::npos) << pair.server.error->message;
            EXPECT_NE(pair.client.error->message.find("--insecure"), std::string::npos) << pair.client.error->message;
        }
    }

    TEST(Connection, InsecureBridgesTalkToEachOther)
    {
        auto pair = securePair(tlsWith("", true), tlsWith("", true));
        ASSERT_TRUE(pair.client.connection.secure() && pair.server.connection.secure());
        ASSERT_TRUE(pair.client.connection.send(Heartbeat{.sequence = 3}));
        EXPECT_EQ(receiveMessages(pair.server.connection, 1), std::vector<ControlMessage>{Heartbeat{.sequence = 3}});
    }

    TEST(Connection, ProtocolOnePeerIsRefusedByNameAndToldWhy)
    {
        // A protocol-1 client: its clear-text Hello reaches our server.
        {
            auto [local, peer] = socketPair();
            auto server = open(std::move(local), Role::Server);
            writeAll(peer.get(), protocolOneHello());
            std::vector<ControlMessage> out;
            EXPECT_TRUE(failsWith(server.receive(out), MXL_ERR_UNSUPPORTED_OPERATION, "the peer speaks control protocol 1"));
            // It is told why in a frame it understands: protocol 1's header, an Error.
            ASSERT_TRUE(readable(peer.get(), 1000ms));
            auto reply = readSome(peer.get());
            ASSERT_GE(reply.size(), controlHeaderSize);
            EXPECT_EQ(std::memcmp(reply.data(), "MXLC", 4), 0);
            EXPECT_EQ(std::to_integer<int>(reply[4]), 1) << "version";
            EXPECT_EQ(std::to_integer<int>(reply[6]), static_cast<int>(ControlType::Error));
            reply[4] = std::byte{static_cast<unsigned char>(controlVersion)};
            auto decoded = decodeControl(reply);
            ASSERT_TRUE(decoded) << decoded.error().message;
            EXPECT_NE(std::get<ControlError>(decoded.value()).reason.find("refuses protocol 1: upgrade this bridge"), std::string::npos);
        }
        // A protocol-1 server: it sends its Hello as soon as our client connects.
        {
            auto [local, peer] = socketPair();
            auto client = open(std::move(local), Role::Client);
            writeAll(peer.get(), protocolOneHello());
            std::vector<ControlMessage> out;
            EXPECT_TRUE(failsWith(client.receive(out), MXL_ERR_UNSUPPORTED_OPERATION, "refuses protocol 1: upgrade the peer"));
        }
    }

    TEST(Connection, GarbageInsteadOfTlsIsRefusedAtTheFirstByte)
    {
        auto [local, peer] = socketPair();
        auto server = open(std::move(local), Role::Server);
        std::string const text = "GET / HTTP/1.1\r\n";
        writeAll(peer.get(), std::as_bytes(std::span{text.data(), text.size()}));
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(server.receive(out), MXL_ERR_INVALID_ARG, "neither TLS nor the mxl-fabric-bridge control protocol"));
    }

    TEST(Connection, TamperedRecordIsRefused)
    {
        Relay relay;
        ASSERT_TRUE(relay.run([&] { return relay.client->connection.secure() && relay.server->connection.secure(); }));
        auto const recordsBefore = relay.clientRecords.size();
        ASSERT_TRUE(relay.client->connection.send(Heartbeat{.sequence = 1}));
        relay.run([&] { return relay.server->error.has_value(); },
            [&](std::vector<std::byte>& record) {
                if (relay.clientRecords.size() > recordsBefore && record.size() > 10)
                {
                    record[record.size() / 2] ^= std::byte{0x01};
                }
            });
        ASSERT_TRUE(relay.server->error);
        EXPECT_EQ(relay.server->error->status, MXL_ERR_PERMISSION_DENIED) << relay.server->error->message;
        EXPECT_TRUE(relay.server->received.empty());
    }

    TEST(Connection, ReplayedRecordIsRefused)
    {
        Relay relay;
        ASSERT_TRUE(relay.run([&] { return relay.client->connection.secure() && relay.server->connection.secure(); }));
        ASSERT_TRUE(relay.client->connection.send(Heartbeat{.sequence = 1}));
        ASSERT_TRUE(relay.run([&] { return relay.server->received.size() == 1; }));
        // The same record again: its sequence number is spent, so it no longer decrypts.
        relay.inject(relay.clientRecords.back());
        relay.run([&] { return relay.server->error.has_value() || relay.server->received.size() > 1; });
        ASSERT_TRUE(relay.server->error);
        EXPECT_EQ(relay.server->error->status, MXL_ERR_PERMISSION_DENIED) << relay.server->error->message;
        EXPECT_EQ(relay.server->received.size(), 1U);
    }

    TEST(Connection, PeerClosedIsReported)
    {
        auto pair = securePair();
        ASSERT_TRUE(pair.client.connection.send(Heartbeat{.sequence = 9}));
        ASSERT_TRUE(pair.client.connection.flush());
        { auto gone = std::move(pair.client.connection); }
        std::vector<ControlMessage> out;
        Expected<void> result{};
        auto const deadline = std::chrono::steady_clock::now() + 2s;
        while (result && std::chrono::steady_clock::now() < deadline)
        {
            readable(pair.server.connection.fd(), 10ms);
            result = pair.server.connection.receive(out);
        }
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error().status, MXL_ERR_UNKNOWN);
        EXPECT_EQ(result.error().message, "peer closed the connection");
        EXPECT_EQ(out, std::vector<ControlMessage>{Heartbeat{.sequence = 9}});
    }

    TEST(Connection, PeerClosingDuringTheHandshakeIsReported)
    {
        auto [local, peer] = socketPair();
        auto server = open(std::move(local), Role::Server);
        peer.reset();
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(server.receive(out), MXL_ERR_UNKNOWN, "during the TLS handshake"));
    }

    TEST(Connection, NothingToReadIsNotAnError)
    {
        auto pair = securePair();
        std::vector<ControlMessage> out;
        EXPECT_TRUE(pair.server.connection.receive(out));
        EXPECT_TRUE(out.empty());
    }

    TEST(Connection, FramesCutAtEveryByteArrive)
    {
        // The relay hands every byte over on its own: records, and the frames inside them, arrive in pieces.
        auto [c, cPeer] = socketPair();
        auto [s, sPeer] = socketPair();
        End client{open(std::move(c), Role::Client), {}, {}};
        End server{open(std::move(s), Role::Server), {}, {}};
        auto const messages = sessionMessages();
        for (auto const& message : messages)
        {
            ASSERT_TRUE(client.connection.send(message));
        }
        std::vector<std::byte> toServer;
        std::vector<std::byte> toClient;
        auto const deadline = std::chrono::steady_clock::now() + 20s;
        while (server.received.size() < messages.size() && !server.error && !client.error && std::chrono::steady_clock::now() < deadline)
        {
            client.turn();
            server.turn();
            auto const a = readSome(cPeer.get());
            toServer.insert(toServer.end(), a.begin(), a.end());
            auto const b = readSome(sPeer.get());
            toClient.insert(toClient.end(), b.begin(), b.end());
            for (int i = 0; i < 64 && !toServer.empty(); ++i)
            {
                writeAll(sPeer.get(), std::span{toServer}.first(1));
                toServer.erase(toServer.begin());
                server.turn();
            }
            if (!toClient.empty())
            {
                writeAll(cPeer.get(), std::span{toClient}.first(1));
                toClient.erase(toClient.begin());
            }
        }
        ASSERT_FALSE(server.error) << server.error->message;
        ASSERT_FALSE(client.error) << client.error->message;
        EXPECT_EQ(server.received, messages);
        EXPECT_EQ(server.connection.bufferedBytes(), 0U);
    }

    TEST(Connection, OneReceiveTakesABoundedShareOfAFastPeer)
    {
        // A peer sending as fast as it can: each receive() hands out at most maxFramesPerReceive frames and
        // reads at most maxBytesPerReceive, so that the event loop gets back to others; nothing is lost.
        auto pair = securePair();
        constexpr std::uint64_t count = 3000;
        for (std::uint64_t i = 0; i < count; ++i)
        {
            ASSERT_TRUE(pair.client.connection.send(Heartbeat{.sequence = i}));
        }
        std::vector<ControlMessage> all;
        auto const deadline = std::chrono::steady_clock::now() + 10s;
        while (all.size() < count && std::chrono::steady_clock::now() < deadline)
        {
            ASSERT_TRUE(pair.client.connection.flush());
            readable(pair.server.connection.fd(), 10ms);
            std::vector<ControlMessage> out;
            ASSERT_TRUE(pair.server.connection.receive(out));
            ASSERT_LE(out.size(), Connection::maxFramesPerReceive);
            all.insert(all.end(), out.begin(), out.end());
        }
        ASSERT_EQ(all.size(), count);
        for (std::uint64_t i = 0; i < count; ++i)
        {
            ASSERT_EQ(std::get<Heartbeat>(all[i]).sequence, i) << "frame " << i;
        }
    }

    TEST(Connection, MaximalFrameArrivesWithinTheInputBound)
    {
        auto pair = securePair();
        Offer const offer{.flowId = sampleUuid(1), .offerEpoch = 5, .flowOffer = sampleBlob(maxControlBody - 16 - 8 - 4, 3)};
        ASSERT_EQ(encodeControl(offer).size(), controlHeaderSize + maxControlBody);
        ASSERT_TRUE(pair.client.connection.send(offer));
        ASSERT_TRUE(pair.client.connection.send(Heartbeat{.sequence = 1}));
        std::vector<ControlMessage> out;
        auto const deadline = std::chrono::steady_clock::now() + 5s;
        while (out.size() < 2 && std::chrono::steady_clock::now() < deadline)
        {
            ASSERT_TRUE(pair.client.connection.flush());
            readable(pair.server.connection.fd(), 10ms);
            ASSERT_TRUE(pair.server.connection.receive(out));
            ASSERT_LE(pair.server.connection.bufferedBytes(), Connection::maxBufferedBytes);
        }
        EXPECT_EQ(out, (std::vector<ControlMessage>{offer, Heartbeat{.sequence = 1}}));
        EXPECT_FALSE(pair.client.connection.wantsWrite());
    }

    TEST(Connection, PeerThatNeverReadsIsCutOff)
    {
        auto pair = securePair();
        auto& connection = pair.client.connection; // the server end never reads again
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

    TEST(Connection, MessagesWaitingForTheHandshakeAreBounded)
    {
        auto [local, peer] = socketPair();
        auto connection = open(std::move(local), Role::Client);
        Offer const offer{.flowId = sampleUuid(2), .offerEpoch = 1, .flowOffer = sampleBlob(maxControlBody / 2, 4)};
        std::size_t accepted = 0;
        Expected<void> result{};
        while (accepted < 100 && (result = connection.send(offer)))
        {
            ++accepted;
        }
        EXPECT_TRUE(failsWith(result, MXL_ERR_UNKNOWN, "peer is not reading"));
        EXPECT_EQ(accepted, Connection::maxQueuedBytes / (controlHeaderSize + 16 + 8 + 4 + maxControlBody / 2));
    }

    TEST(Connection, QueuedFramesDrainWhenThePeerReads)
    {
        auto pair = securePair();
        std::vector<ControlMessage> sent;
        for (std::uint64_t i = 1; i <= 40; ++i)
        {
            sent.push_back(Offer{.flowId = sampleUuid(static_cast<std::uint8_t>(i)), .offerEpoch = i, .flowOffer = sampleBlob(100 * 1024, static_cast<std::uint8_t>(i))});
            ASSERT_TRUE(pair.client.connection.send(sent.back()));
        }
        ASSERT_TRUE(pair.client.connection.wantsWrite()) << "the socket took 4 MB at once; the test proves nothing";
        std::vector<ControlMessage> out;
        auto const deadline = std::chrono::steady_clock::now() + 5s;
        while (out.size() < sent.size() && std::chrono::steady_clock::now() < deadline)
        {
            ASSERT_TRUE(pair.client.connection.flush());
            readable(pair.server.connection.fd(), 10ms);
            ASSERT_TRUE(pair.server.connection.receive(out));
        }
        EXPECT_EQ(out, sent);
        EXPECT_FALSE(pair.client.connection.wantsWrite());
    }

    TEST(Connection, OversizedMessageIsNotSent)
    {
        auto pair = securePair();
        Offer const offer{.flowId = sampleUuid(3), .offerEpoch = 1, .flowOffer = sampleBlob(maxControlBody, 5)};
        EXPECT_TRUE(failsWith(pair.client.connection.send(offer), MXL_ERR_INVALID_ARG, "control message Offer: body of 1048604 bytes exceeds 1048576"));
        EXPECT_FALSE(pair.client.connection.wantsWrite());
        // The refused message used no sequence number: the next one is accepted.
        ASSERT_TRUE(pair.client.connection.send(Heartbeat{.sequence = 4}));
        EXPECT_EQ(receiveMessages(pair.server.connection, 1), std::vector<ControlMessage>{Heartbeat{.sequence = 4}});
    }

    TEST(Connection, SendToAClosedPeerFailsWithoutASignal)
    {
        auto [local, peer] = socketPair();
        auto connection = open(std::move(local), Role::Client);
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
        auto client = open(std::move(clientSocket), Role::Client);
        ASSERT_TRUE(client.send(Hello{.bridgeId = sampleUuid(1), .software = "test"}));

        Fd accepted{::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
        ASSERT_TRUE(accepted.valid());
        std::optional<Connection> server{open(std::move(accepted), Role::Server)};
        for (auto const* connection : {&client, &*server})
        {
            EXPECT_NE(::fcntl(connection->fd(), F_GETFL) & O_NONBLOCK, 0);
            int noDelay = 0;
            socklen_t size = sizeof noDelay;
            ASSERT_EQ(::getsockopt(connection->fd(), IPPROTO_TCP, TCP_NODELAY, &noDelay, &size), 0);
            EXPECT_EQ(noDelay, 1);
        }
        // The handshake, then the Hello that waited for it.
        std::vector<ControlMessage> atClient;
        std::vector<ControlMessage> atServer;
        auto const deadline = std::chrono::steady_clock::now() + 2s;
        while (atServer.empty() && std::chrono::steady_clock::now() < deadline)
        {
            ASSERT_TRUE(client.flush());
            ASSERT_TRUE(server->flush());
            readable(server->fd(), 5ms);
            ASSERT_TRUE(server->receive(atServer));
            ASSERT_TRUE(client.receive(atClient));
        }
        EXPECT_EQ(atServer, (std::vector<ControlMessage>{Hello{.bridgeId = sampleUuid(1), .software = "test"}}));
        ASSERT_TRUE(server->send(Goodbye{.reason = "done"}));
        EXPECT_EQ(receiveMessages(client, 1), std::vector<ControlMessage>{Goodbye{.reason = "done"}});

        server.reset();
        ASSERT_TRUE(readable(client.fd(), 2000ms));
        std::vector<ControlMessage> out;
        EXPECT_TRUE(failsWith(client.receive(out), MXL_ERR_UNKNOWN, "peer closed the connection"));
    }
}
