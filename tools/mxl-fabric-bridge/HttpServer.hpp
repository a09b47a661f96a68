// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bridge's HTTP server: cpp-httplib's Server (Debian's libcpp-httplib, 0.11) parses requests,
// routes them to the handlers set with Get() and the like, and writes the responses. On top of it,
// what httplib 0.11 does not enforce itself, for every connection:
// - at most Limits::clients are served at once, each by a worker of a bounded pool that starts
//   threads only as needed; while all are busy httplib's accept loop waits, so further clients wait
//   in the kernel's listen queue (no queue, no thread, no memory of ours grows with clients);
// - the request head (request line and headers) must fit in Limits::requestBytes (else 400) and
//   arrive within Limits::deadline of a worker taking the connection (else 408); answering and
//   closing the connection stay within that same deadline;
// - one request per connection (Connection: close), answered whole and uncompressed (httplib's
//   Range and Accept-Encoding handling is switched off), and exactly one space between method,
//   target and version (httplib would accept runs of blanks);
// - error responses (4xx, 5xx) carry "STATUS REASON\n" as text/plain; a handler that throws is
//   logged and answered 500, and the server carries on;
// - the destructor stops it promptly, whatever its clients do.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include <httplib.h>

#include "base/Expected.hpp"
#include "base/Fd.hpp"
#include "control/Network.hpp"

namespace mxl::bridge
{
    class HttpServer final : public httplib::Server
    {
    public:
        struct Limits
        {
            std::size_t clients;
            std::size_t requestBytes;
            std::chrono::milliseconds deadline;
        };

        /// name: how logs call it ("metrics server").
        HttpServer(std::string name, Limits limits);
        /// Stops accepting, closes every connection at once and joins every thread.
        ~HttpServer() override;
        HttpServer(HttpServer const&) = delete;
        HttpServer& operator=(HttpServer const&) = delete;

        /// Binds to the address (port 0 picks one) and serves on a thread of its own; returns the
        /// port. Set the handlers before. Errors: UNKNOWN, with the reason (errno text).
        Expected<std::uint16_t> start(SocketAddress const& address);

    private:
        /// httplib's accept loop hands each connection to a worker, which calls this.
        bool process_and_close_socket(socket_t sock) override;

        std::string _name;
        Limits _limits;
        /// eventfd, written once by the destructor: every connection waits on it too.
        Fd _stop;
        std::atomic<bool> _listenEnded{false};
        std::thread _thread;
    };
}
