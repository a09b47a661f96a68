// SPDX-License-Identifier: Apache-2.0
// The --metrics HTTP server, spoken to over real sockets: answers, refusals, and clients that are
// silent, too many or too large, none of which may hold the server up.

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "MetricsServer.hpp"
#include "base/Fd.hpp"

using namespace mxl::bridge;
using Clock = std::chrono::steady_clock;

namespace
{
    std::string const body = "# HELP mxl_bridge_info x\n# TYPE mxl_bridge_info gauge\nmxl_bridge_info{bridge_id=\"b\",listen=\"l\"} 1\n";

    std::unique_ptr<MetricsServer> startServer(std::function<std::string()> render = [] { return body; })
    {
        auto server = MetricsServer::start("127.0.0.1:0", std::move(render));
        if (!server)
        {
            throw std::runtime_error{server.error().message};
        }
        return std::move(*server);
    }

    mxl::Fd connectTo(std::uint16_t port)
    {
        mxl::Fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr const*>(&sa), sizeof sa) != 0)
        {
            throw std::runtime_error{std::string{"connect: "} + std::strerror(errno)};
        }
        return fd;
    }

    void sendAll(mxl::Fd const& fd, std::string const& data)
    {
        std::size_t sent = 0;
        while (sent < data.size())
        {
            auto const n = ::send(fd.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n <= 0)
            {
                return; // the server may close early on a refused request
            }
            sent += static_cast<std::size_t>(n);
        }
    }

    /// Everything the server sends until it closes; nothing if it does not close in time.
    std::optional<std::string> readToEnd(mxl::Fd const& fd, std::chrono::milliseconds timeout = std::chrono::seconds{5})
    {
        std::string out;
        auto const deadline = Clock::now() + timeout;
        for (;;)
        {
            auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            pollfd p{fd.get(), POLLIN, 0};
            if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
            {
                return std::nullopt;
            }
            char chunk[4096];
            auto const n = ::recv(fd.get(), chunk, sizeof chunk, 0);
            if (n <= 0)
            {
                return out;
            }
            out.append(chunk, static_cast<std::size_t>(n));
        }
    }

    std::string request(std::uint16_t port, std::string const& text)
    {
        auto const fd = connectTo(port);
        sendAll(fd, text);
        return readToEnd(fd).value_or("(no answer)");
    }

    std::string statusLine(std::string const& response)
    {
        return response.substr(0, response.find("\r\n"));
    }

    std::string bodyOf(std::string const& response)
    {
        auto const end = response.find("\r\n\r\n");
        return end == std::string::npos ? std::string{} : response.substr(end + 4);
    }
}

TEST(MetricsServer, GetMetricsAnswers200WithTheRenderedBody)
{
    std::atomic<int> renders{0};
    auto server = startServer([&] {
        ++renders;
        return body;
    });
    ASSERT_NE(server->port(), 0);
    auto const r = request(server->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
    EXPECT_EQ(statusLine(r), "HTTP/1.1 200 OK") << r;
    EXPECT_NE(r.find("\r\nContent-Type: text/plain; version=0.0.4"), std::string::npos) << r;
    EXPECT_NE(r.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << r;
    EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos) << r;
    EXPECT_EQ(bodyOf(r), body);
    EXPECT_EQ(renders.load(), 1);

    // Sent in pieces, as a slow client does.
    auto const fd = connectTo(server->port());
    for (auto const* piece : {"GET /met", "rics HTTP/1.0\r", "\nUser-Agent: t\r\n", "\r\n"})
    {
        sendAll(fd, piece);
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    auto const pieces = readToEnd(fd);
    ASSERT_TRUE(pieces);
    EXPECT_EQ(statusLine(*pieces), "HTTP/1.1 200 OK");
    EXPECT_EQ(bodyOf(*pieces), body);
}

TEST(MetricsServer, OtherPathsAre404OtherMethods405AndGarbage400)
{
    std::atomic<int> renders{0};
    auto server = startServer([&] {
        ++renders;
        return body;
    });
    EXPECT_EQ(statusLine(request(server->port(), "GET /other HTTP/1.1\r\n\r\n")), "HTTP/1.1 404 Not Found");
    EXPECT_EQ(statusLine(request(server->port(), "GET /metricsx HTTP/1.1\r\n\r\n")), "HTTP/1.1 404 Not Found");
    auto const post = request(server->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(statusLine(post), "HTTP/1.1 405 Method Not Allowed");
    EXPECT_NE(post.find("\r\nAllow: GET\r\n"), std::string::npos) << post;
    EXPECT_EQ(statusLine(request(server->port(), "hello\r\n\r\n")), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(statusLine(request(server->port(), "GET /metrics SMTP\r\n\r\n")), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(statusLine(request(server->port(), "GET  /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(renders.load(), 0) << "only GET /metrics renders";
    EXPECT_EQ(statusLine(request(server->port(), "GET /metrics?x=1 HTTP/1.1\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST(MetricsServer, RenderFailureIs500AndTheServerCarriesOn)
{
    bool fail = true;
    auto server = startServer([&]() -> std::string {
        if (std::exchange(fail, false))
        {
            throw std::runtime_error{"no status"};
        }
        return body;
    });
    EXPECT_EQ(statusLine(request(server->port(), "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 500 Internal Server Error");
    EXPECT_EQ(statusLine(request(server->port(), "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST(MetricsServer, SilentClientIsClosedAfterTheDeadlineWhileAnotherIsServed)
{
    auto server = startServer();
    auto const start = Clock::now();
    auto const silent = connectTo(server->port());
    std::this_thread::sleep_for(std::chrono::milliseconds{50});

    auto const served = request(server->port(), "GET /metrics HTTP/1.1\r\n\r\n");
    EXPECT_EQ(statusLine(served), "HTTP/1.1 200 OK");
    // Served before the silent client's 2 s deadline ran out: it did not hold the other up.
    pollfd pending{silent.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&pending, 1, 0), 0) << "the silent client was answered before the other was served: it held it up";

    auto const answer = readToEnd(silent, std::chrono::seconds{5});
    auto const closedAfter = Clock::now() - start;
    ASSERT_TRUE(answer) << "the silent client was never closed";
    EXPECT_EQ(statusLine(*answer), "HTTP/1.1 408 Request Timeout");
    EXPECT_GE(closedAfter, std::chrono::milliseconds{1900});
    EXPECT_LT(closedAfter, std::chrono::milliseconds{3500});
}

TEST(MetricsServer, RequestOver8KiBIsRefusedWith400)
{
    auto server = startServer();
    auto const r = request(server->port(), "GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(9000, 'a') + "\r\n\r\n");
    EXPECT_EQ(statusLine(r), "HTTP/1.1 400 Bad Request") << r.substr(0, 200);

    // Just under the limit is fine.
    auto const fits = request(server->port(), "GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(8000, 'a') + "\r\n\r\n");
    EXPECT_EQ(statusLine(fits), "HTTP/1.1 200 OK");
}

TEST(MetricsServer, ClientsBeyondSixteenWaitForAFreeSlot)
{
    auto server = startServer();
    auto const start = Clock::now();
    std::vector<mxl::Fd> silent;
    for (int i = 0; i < 16; ++i)
    {
        silent.push_back(connectTo(server->port()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    // The kernel completes the connection (backlog); the server takes it once a slot frees.
    auto const waiting = request(server->port(), "GET /metrics HTTP/1.1\r\n\r\n");
    EXPECT_EQ(statusLine(waiting), "HTTP/1.1 200 OK");
    EXPECT_GE(Clock::now() - start, std::chrono::milliseconds{1900}) << "served while sixteen clients held every slot";
}

TEST(MetricsServer, StopsPromptlyWithClientsConnected)
{
    auto server = startServer();
    auto const silent = connectTo(server->port());
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    auto const start = Clock::now();
    server.reset();
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds{1900}) << "stopping waited for the client's 2 s deadline";
    auto const rest = readToEnd(silent, std::chrono::seconds{1});
    ASSERT_TRUE(rest) << "the client's socket was not closed";
    EXPECT_TRUE(rest->empty());
}

TEST(MetricsServer, BadAddressesAreInvalidAndABusyPortIsUnknownWithTheReason)
{
    for (auto const* address : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:80x", "localhost:9464", "::1:9464", "1.2.3:9464"})
    {
        auto const r = MetricsServer::start(address, [] { return std::string{}; });
        ASSERT_FALSE(r) << address;
        EXPECT_EQ(r.error().status, MXL_ERR_INVALID_ARG) << address;
        EXPECT_NE(r.error().message.find(address), std::string::npos) << r.error().message;
    }
    auto first = startServer();
    auto const second = MetricsServer::start("127.0.0.1:" + std::to_string(first->port()), [] { return std::string{}; });
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().status, MXL_ERR_UNKNOWN);
    EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;
}

TEST(MetricsServer, ListensOnIpv6AddressesAsTheControlListenerDoes)
{
    // The same IP:PORT parser as --listen: [IPv6]:PORT is accepted at option parsing and works at start.
    auto server = MetricsServer::start("[::1]:0", [] { return body; });
    if (!server && server.error().message.find("Cannot assign requested address") != std::string::npos)
    {
        GTEST_SKIP() << "no IPv6 loopback on this host: " << server.error().message;
    }
    ASSERT_TRUE(server) << server.error().message;
    mxl::Fd fd{::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons((*server)->port());
    sa.sin6_addr = in6addr_loopback;
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr const*>(&sa), sizeof sa), 0) << std::strerror(errno);
    sendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    auto const response = readToEnd(fd).value_or("(no answer)");
    EXPECT_EQ(statusLine(response), "HTTP/1.1 200 OK");
    EXPECT_EQ(bodyOf(response), body);
}

TEST(MetricsServer, ClientThatKeepsSendingAfterItsRequestIsClosedAtTheDeadline)
{
    // Draining what a client sends after its request used to loop for as long as it kept sending: no
    // deadline, no other client, no stop() while it did.
    auto server = startServer();
    auto const flooder = connectTo(server->port());
    std::string const requestText = "GET /metrics HTTP/1.1\r\n\r\n";
    ASSERT_EQ(::send(flooder.get(), requestText.data(), requestText.size(), MSG_NOSIGNAL), static_cast<ssize_t>(requestText.size()));
    std::atomic<bool> cutOff{false};
    std::thread flood{[&] {
        std::string const junk(64 * 1024, 'x');
        auto const until = Clock::now() + std::chrono::seconds{15};
        while (Clock::now() < until)
        {
            auto const n = ::send(flooder.get(), junk.data(), junk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            {
                cutOff.store(true);
                return;
            }
            if (n < 0)
            {
                std::this_thread::sleep_for(std::chrono::milliseconds{1});
            }
        }
    }};
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    EXPECT_EQ(statusLine(request(server->port(), "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 200 OK") << "another client was not served";
    flood.join();
    EXPECT_TRUE(cutOff.load()) << "the server kept reading from a client past its deadline";
    auto const start = Clock::now();
    server.reset();
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds{1900}) << "stopping waited for the client's 2 s deadline";
}
