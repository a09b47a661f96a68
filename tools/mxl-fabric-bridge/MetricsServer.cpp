// SPDX-License-Identifier: Apache-2.0
#include "MetricsServer.hpp"

#include <chrono>
#include <mutex>

#include <fmt/format.h>

#include "HttpServer.hpp"
#include "control/Network.hpp"

namespace mxl::bridge
{
    namespace
    {
        constexpr HttpServer::Limits limits{
            .clients = 16,
            .requestBytes = 8 * 1024,
            .deadline = std::chrono::seconds{2},
        };
    }

    struct MetricsServer::State
    {
        std::function<std::string()> render;
        /// One render() at a time, as when the server had a single thread.
        std::mutex rendering;
        std::uint16_t port{0};
        /// Last: destroyed first, joining the threads that use the rest.
        HttpServer http{"metrics server", limits};
    };

    Expected<std::unique_ptr<MetricsServer>> MetricsServer::start(std::string const& address, std::function<std::string()> render)
    {
        // The one IP:PORT parser of the bridge: IPv4 or [IPv6]:PORT, as --listen takes it.
        auto parsed = parseSocketAddress(address);
        if (!parsed)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("metrics address: {}", parsed.error().message));
        }
        auto state = std::make_unique<State>();
        state->render = std::move(render);
        state->http.Get("/metrics", [s = state.get()](httplib::Request const&, httplib::Response& res) {
            std::lock_guard lock{s->rendering};
            res.set_content(s->render(), "text/plain; version=0.0.4; charset=utf-8");
        });
        // GET /metrics only: any other method on any path is 405 (httplib would say 404, or serve HEAD).
        state->http.set_pre_routing_handler([](httplib::Request const& req, httplib::Response& res) {
            if (req.method == "GET")
            {
                return httplib::Server::HandlerResponse::Unhandled;
            }
            res.status = 405;
            res.set_header("Allow", "GET");
            return httplib::Server::HandlerResponse::Handled;
        });
        auto port = state->http.start(*parsed);
        if (!port)
        {
            return fail(port.error().status, fmt::format("metrics server on {}: {}", address, port.error().message));
        }
        state->port = *port;
        std::unique_ptr<MetricsServer> server{new MetricsServer{}};
        server->_state = std::move(state);
        return server;
    }

    MetricsServer::~MetricsServer() = default;

    std::uint16_t MetricsServer::port() const noexcept
    {
        return _state->port;
    }
}
