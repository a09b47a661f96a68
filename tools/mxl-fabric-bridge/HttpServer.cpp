// SPDX-License-Identifier: Apache-2.0
#include "HttpServer.hpp"

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <fmt/format.h>

#include "HttpConnection.hpp"
#include "common/Logging.hpp"

namespace mxl::bridge
{
    namespace
    {
        std::string_view reasonPhrase(int status)
        {
            switch (status)
            {
                case 400: return "Bad Request";
                case 404: return "Not Found";
                case 405: return "Method Not Allowed";
                case 408: return "Request Timeout";
                case 413: return "Payload Too Large";
                case 416: return "Range Not Satisfiable";
                case 500: return "Internal Server Error";
                default: return "Error";
            }
        }

        std::string errorBody(int status)
        {
            return fmt::format("{} {}\n", status, reasonPhrase(status));
        }

        /// An error answered before httplib has seen the request, laid out as httplib lays out its own.
        std::string refusal(int status)
        {
            auto const body = errorBody(status);
            return fmt::format("HTTP/1.1 {} {}\r\nConnection: close\r\nContent-Length: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
                status, reasonPhrase(status), body.size(), body);
        }

        /// httplib splits the request line at every run of blanks; HTTP/1.1 (RFC 9112) has exactly one
        /// space between method, target and version, and the bridge has always insisted on it.
        bool singleSpaced(std::string_view line)
        {
            auto const first = line.find(' ');
            auto const last = line.rfind(' ');
            return first != std::string_view::npos && first > 0 && last > first + 1 && last + 1 < line.size() &&
                   line.substr(first + 1, last - first - 1).find(' ') == std::string_view::npos && line.find('\t') == std::string_view::npos;
        }

        /// The host as getaddrinfo takes it, numerically, with an IPv6 zone as its index.
        std::string numericHost(SocketAddress const& address)
        {
            char text[INET6_ADDRSTRLEN] = {};
            if (address.storage.ss_family != AF_INET6)
            {
                ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in const*>(&address.storage)->sin_addr, text, sizeof text);
                return text;
            }
            auto const& v6 = *reinterpret_cast<sockaddr_in6 const*>(&address.storage);
            ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
            return v6.sin6_scope_id == 0 ? std::string{text} : fmt::format("{}%{}", text, v6.sin6_scope_id);
        }

        /// httplib's TaskQueue, bounded: at most `workers` jobs (connections) at once, each on a
        /// thread of its own, threads started as needed up to that number. enqueue() runs on
        /// httplib's accept loop and waits while every worker is busy, so that nobody else is
        /// accepted meanwhile.
        class BoundedPool final : public httplib::TaskQueue
        {
        public:
            explicit BoundedPool(std::size_t workers)
                : _workers{workers}
            {}

            void enqueue(std::function<void()> job) override
            {
                std::unique_lock lock{_mutex};
                _changed.wait(lock, [&] { return _busy < _workers; });
                ++_busy;
                _jobs.push_back(std::move(job));
                if (_threads.size() < _busy)
                {
                    _threads.emplace_back([this] { work(); });
                }
                _changed.notify_all();
            }

            /// Runs what was handed over, then joins every thread.
            void shutdown() override
            {
                {
                    std::lock_guard lock{_mutex};
                    _shuttingDown = true;
                }
                _changed.notify_all();
                for (auto& t : _threads)
                {
                    t.join();
                }
                _threads.clear();
            }

        private:
            void work()
            {
                std::unique_lock lock{_mutex};
                for (;;)
                {
                    _changed.wait(lock, [&] { return !_jobs.empty() || _shuttingDown; });
                    if (_jobs.empty())
                    {
                        return;
                    }
                    auto job = std::move(_jobs.front());
                    _jobs.pop_front();
                    lock.unlock();
                    job();
                    job = nullptr;
                    lock.lock();
                    --_busy;
                    _changed.notify_all();
                }
            }

            std::size_t const _workers;
            std::mutex _mutex;
            std::condition_variable _changed;
            std::deque<std::function<void()>> _jobs;
            /// Jobs handed over and not finished: never more than _workers, nor than _threads.
            std::size_t _busy{0};
            bool _shuttingDown{false};
            std::vector<std::thread> _threads;
        };
    }

    HttpServer::HttpServer(std::string name, Limits limits)
        : _name{std::move(name)}
        , _limits{limits}
    {
        new_task_queue = [clients = _limits.clients] { return new BoundedPool{clients}; };
        // httplib sets these on each accepted socket (SO_RCVTIMEO, SO_SNDTIMEO); the connection never
        // blocks in the kernel anyway (poll, then MSG_DONTWAIT) and keeps the deadline for all of it.
        set_read_timeout(_limits.deadline);
        set_write_timeout(_limits.deadline);
        // For a route that reads a body: beyond this, httplib answers 413 without reading it all.
        set_payload_max_length(_limits.requestBytes);
        set_error_handler([](httplib::Request const&, httplib::Response& res) { res.set_content(errorBody(res.status), "text/plain; charset=utf-8"); });
        set_exception_handler([this](httplib::Request const& req, httplib::Response& res, std::exception_ptr const& failure) {
            try
            {
                std::rethrow_exception(failure);
            }
            catch (std::exception const& e)
            {
                log().error("{}: answering {} {} failed: {}", _name, req.method, req.path, e.what());
            }
            catch (...)
            {
                log().error("{}: answering {} {} failed", _name, req.method, req.path);
            }
            res.status = 500;
        });
    }

    HttpServer::~HttpServer()
    {
        if (!_thread.joinable())
        {
            return;
        }
        std::uint64_t const one = 1;
        if (::write(_stop.get(), &one, sizeof one) != sizeof one)
        {
            log().error("{}: cannot tell its connections to stop: {}", _name, std::strerror(errno));
        }
        stop(); // httplib: closes the listener; listen_after_bind() returns once every worker is done
        _thread.join();
    }

    Expected<std::uint16_t> HttpServer::start(SocketAddress const& address)
    {
        _stop = Fd{::eventfd(0, EFD_CLOEXEC)};
        if (!_stop.valid())
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("eventfd failed: {}", std::strerror(errno)));
        }
        set_address_family(address.storage.ss_family);
        // httplib's default options set SO_REUSEPORT, with which a second process could listen on the
        // same port and take half of the connections: SO_REUSEADDR alone, as every bridge listener.
        set_socket_options([](socket_t sock) {
            int one = 1;
            ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        });
        int const numericOnly = AI_NUMERICHOST | AI_NUMERICSERV;
        auto const host = numericHost(address);
        int port = address.port();
        errno = 0;
        bool const bound = port == 0 ? (port = bind_to_any_port(host, numericOnly)) >= 0 : bind_to_port(host, port, numericOnly);
        if (!bound)
        {
            // httplib reports a bool; errno is still that of the failed bind() or listen().
            return fail(MXL_ERR_UNKNOWN, fmt::format("cannot listen on {}: {}", address.text(), errno != 0 ? std::strerror(errno) : "bind or listen failed"));
        }
        _thread = std::thread{[this] {
            if (!listen_after_bind())
            {
                log().error("{}: accepting connections failed, no more are served", _name);
            }
            _listenEnded = true;
        }};
        // httplib's stop() does nothing until listen_after_bind() has begun: wait for it, so that the
        // destructor always stops what it joins.
        while (!is_running() && !_listenEnded)
        {
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
        }
        return static_cast<std::uint16_t>(port);
    }

    bool HttpServer::process_and_close_socket(socket_t sock)
    {
        Fd const fd{sock};
        ::fcntl(sock, F_SETFD, FD_CLOEXEC); // httplib 0.11 accepts without SOCK_CLOEXEC
        HttpConnection c{sock, _stop.get(), HttpConnection::Clock::now() + _limits.deadline};
        switch (c.readHead(_limits.requestBytes))
        {
            case HttpConnection::Head::Gone: return false;
            case HttpConnection::Head::TimedOut: c.sendNow(refusal(408)); return false;
            case HttpConnection::Head::TooLarge: (void)c.write(refusal(400)); c.drain(); return false;
            case HttpConnection::Head::Complete: break;
        }
        if (!singleSpaced(c.requestLine()))
        {
            (void)c.write(refusal(400));
            c.drain();
            return false;
        }
        auto closed = false;
        // close_connection: one request per connection, answered with "Connection: close". The
        // request loses what would make httplib answer in part (Range) or compressed (Accept-Encoding).
        auto const answered = process_request(c, true, closed, [](httplib::Request& req) {
            req.headers.erase("Accept-Encoding");
            req.ranges.clear();
        });
        c.drain();
        return answered;
    }
}
