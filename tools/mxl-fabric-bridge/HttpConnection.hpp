// SPDX-License-Identifier: Apache-2.0
#pragma once

// One client connection of HttpServer, as httplib's Stream. Every wait is bounded by the
// connection's deadline and ends as soon as the server stops (its eventfd becomes readable). It
// first reads the request head itself (readHead()), so that its size and time are bounded before
// httplib parses anything, then hands httplib those bytes before any more from the socket. It never
// blocks in the kernel: poll, then recv/send with MSG_DONTWAIT.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <httplib.h>

namespace mxl::bridge
{
    class HttpConnection final : public httplib::Stream
    {
    public:
        using Clock = std::chrono::steady_clock;

        enum class Head
        {
            Complete,
            TooLarge,
            TimedOut,
            /// Closed by the client, failed, or the server is stopping: nothing to answer.
            Gone,
        };

        /// fd: the client's socket, not owned. stop: the server's eventfd.
        HttpConnection(int fd, int stop, Clock::time_point deadline);

        /// Reads until the blank line that ends the request head, at most `limit` bytes of head.
        Head readHead(std::size_t limit);

        /// The head's first line, without its CRLF (once readHead() gave Complete).
        [[nodiscard]] std::string_view requestLine() const;

        /// Once, without waiting: for the 408, whose deadline has passed.
        void sendNow(std::string_view data) const;

        /// After the answer: nothing more from us, and what the client still sends is read and
        /// dropped until it closes (or the deadline), so that our close does not become a reset that
        /// loses the answer before the client has read it.
        void drain();

        bool is_readable() const override;
        bool is_writable() const override;
        ssize_t read(char* ptr, std::size_t size) override;
        using httplib::Stream::write;
        /// All of it, or -1.
        ssize_t write(char const* ptr, std::size_t size) override;
        void get_remote_ip_and_port(std::string& ip, int& port) const override;
        void get_local_ip_and_port(std::string& ip, int& port) const override;
        socket_t socket() const override;

    private:
        enum class Wait
        {
            Ready,
            Deadline,
            Stopped,
            Failed,
        };

        [[nodiscard]] Wait wait(short events) const;
        /// Waits first, so that a client that keeps sending is still held to the deadline and to stop.
        ssize_t receive(char* ptr, std::size_t size);

        int const _fd;
        int const _stop;
        Clock::time_point const _deadline;
        /// Why receive() last returned -1.
        Wait _failure{Wait::Ready};
        /// Read ahead of httplib: the request head and whatever followed it in the same reads.
        std::string _in;
        /// How much of _in httplib has read.
        std::size_t _consumed{0};
    };
}
