// SPDX-License-Identifier: Apache-2.0
#pragma once

// --metrics IP:PORT: GET /metrics answered with the Prometheus text format (Content-Type:
// text/plain; version=0.0.4), 404 for other paths, 405 for other methods (400 for a method httplib
// does not know), 400 for malformed requests. Served by HttpServer (HttpServer.hpp), that is
// cpp-httplib's Server with the bridge's connection policy: one request per connection
// (Connection: close); a request head larger than 8 KiB is answered 400, one slower than 2 s 408,
// and the connection closed; at most 16 connections at once, each on a worker thread of a bounded
// pool, others waiting for a free one. A client can never block the bridge: the server only calls
// render().

#include <functional>
#include <memory>
#include <string>

#include "base/Expected.hpp"

namespace mxl::bridge
{
    class MetricsServer
    {
    public:
        /// address: "IP:PORT" or "[IPv6]:PORT" (port 0 picks one, see port()). render() is called for
        /// each GET /metrics on one of the server's threads, one call at a time, and must be safe to
        /// call from threads other than the caller's. Errors: INVALID_ARG (bad address), UNKNOWN
        /// (bind/listen failed, with the errno text).
        static Expected<std::unique_ptr<MetricsServer>> start(std::string const& address, std::function<std::string()> render);

        /// Stops the server's threads and closes every socket, promptly, whatever the clients do.
        ~MetricsServer();
        MetricsServer(MetricsServer const&) = delete;
        MetricsServer& operator=(MetricsServer const&) = delete;

        [[nodiscard]] std::uint16_t port() const noexcept;

    private:
        MetricsServer() = default;
        struct State;
        std::unique_ptr<State> _state;
    };
}
