// SPDX-License-Identifier: Apache-2.0
#pragma once

// --metrics IP:PORT: a minimal HTTP/1.1 server on its own thread answering GET /metrics with the
// Prometheus text format (Content-Type: text/plain; version=0.0.4), 404 for other paths, 405 for
// other methods, 400 for malformed requests. One request per connection (Connection: close);
// requests larger than 8 KiB or slower than 2 s are answered 400/408 and closed; a bounded number of
// connections at once. A client can never block the bridge: the server only calls render().

#include <functional>
#include <memory>
#include <string>

#include "base/Expected.hpp"

namespace mxl::bridge
{
    class MetricsServer
    {
    public:
        /// address: "IP:PORT" (IPv4; port 0 picks one, see port()). render() is called on the server
        /// thread for each GET /metrics and must be thread-safe. Errors: INVALID_ARG (bad address),
        /// UNKNOWN (bind/listen failed, with the errno text).
        static Expected<std::unique_ptr<MetricsServer>> start(std::string const& address, std::function<std::string()> render);

        /// Stops the thread and closes every socket.
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
