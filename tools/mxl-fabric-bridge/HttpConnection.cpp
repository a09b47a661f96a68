// SPDX-License-Identifier: Apache-2.0
#include "HttpConnection.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>

#include "control/Network.hpp"

namespace mxl::bridge
{
    namespace
    {
        void describe(Expected<SocketAddress> const& address, std::string& ip, int& port)
        {
            if (address)
            {
                ip = address->host();
                port = address->port();
            }
        }
    }

    HttpConnection::HttpConnection(int fd, int stop, Clock::time_point deadline)
        : _fd{fd}
        , _stop{stop}
        , _deadline{deadline}
    {}

    HttpConnection::Head HttpConnection::readHead(std::size_t limit)
    {
        char chunk[4096];
        std::size_t scanned = 0;
        for (;;)
        {
            auto const end = _in.find("\r\n\r\n", scanned);
            if (end != std::string::npos)
            {
                return end + 4 <= limit ? Head::Complete : Head::TooLarge;
            }
            if (_in.size() > limit)
            {
                return Head::TooLarge;
            }
            scanned = _in.size() < 3 ? 0 : _in.size() - 3;
            auto const n = receive(chunk, sizeof chunk);
            if (n <= 0)
            {
                return n < 0 && _failure == Wait::Deadline ? Head::TimedOut : Head::Gone;
            }
            _in.append(chunk, static_cast<std::size_t>(n));
        }
    }

    std::string_view HttpConnection::requestLine() const
    {
        return std::string_view{_in}.substr(0, _in.find("\r\n"));
    }

    void HttpConnection::sendNow(std::string_view data) const
    {
        (void)::send(_fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }

    void HttpConnection::drain()
    {
        ::shutdown(_fd, SHUT_WR);
        char chunk[4096];
        while (receive(chunk, sizeof chunk) > 0)
        {
        }
    }

    bool HttpConnection::is_readable() const
    {
        return _consumed < _in.size() || wait(POLLIN) == Wait::Ready;
    }

    bool HttpConnection::is_writable() const
    {
        return wait(POLLOUT) == Wait::Ready;
    }

    ssize_t HttpConnection::read(char* ptr, std::size_t size)
    {
        if (_consumed < _in.size())
        {
            auto const n = std::min(size, _in.size() - _consumed);
            std::memcpy(ptr, _in.data() + _consumed, n);
            _consumed += n;
            return static_cast<ssize_t>(n);
        }
        return receive(ptr, size);
    }

    ssize_t HttpConnection::write(char const* ptr, std::size_t size)
    {
        std::size_t sent = 0;
        while (sent < size)
        {
            if (wait(POLLOUT) != Wait::Ready)
            {
                return -1;
            }
            auto const n = ::send(_fd, ptr + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            {
                return -1;
            }
            sent += n < 0 ? 0 : static_cast<std::size_t>(n);
        }
        return static_cast<ssize_t>(size);
    }

    void HttpConnection::get_remote_ip_and_port(std::string& ip, int& port) const
    {
        describe(peerAddress(_fd), ip, port);
    }

    void HttpConnection::get_local_ip_and_port(std::string& ip, int& port) const
    {
        describe(localAddress(_fd), ip, port);
    }

    socket_t HttpConnection::socket() const
    {
        return _fd;
    }

    HttpConnection::Wait HttpConnection::wait(short events) const
    {
        for (;;)
        {
            auto const left = std::chrono::ceil<std::chrono::milliseconds>(_deadline - Clock::now()).count();
            if (left <= 0)
            {
                return Wait::Deadline;
            }
            pollfd fds[2] = {{_fd, events, 0}, {_stop, POLLIN, 0}};
            auto const ready = ::poll(fds, 2, static_cast<int>(left));
            if (ready < 0 && errno != EINTR)
            {
                return Wait::Failed;
            }
            if (ready > 0)
            {
                return fds[1].revents != 0 ? Wait::Stopped : Wait::Ready;
            }
        }
    }

    ssize_t HttpConnection::receive(char* ptr, std::size_t size)
    {
        for (;;)
        {
            _failure = wait(POLLIN);
            if (_failure != Wait::Ready)
            {
                return -1;
            }
            auto const n = ::recv(_fd, ptr, size, MSG_DONTWAIT);
            if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            {
                _failure = n < 0 ? Wait::Failed : Wait::Ready;
                return n;
            }
        }
    }
}
