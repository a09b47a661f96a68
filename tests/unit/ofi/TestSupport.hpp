// SPDX-License-Identifier: Apache-2.0
#pragma once

// A connected pair of tcp endpoints on 127.0.0.1, each side with its own fabric, domain and
// queues as two hosts would have, and the means to drive both from one thread without spinning.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Endpoint.hpp"
#include "ofi/EventQueue.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Info.hpp"
#include "ofi/PassiveEndpoint.hpp"

namespace mxl::ofi::test
{
    using namespace std::chrono_literals;

    inline constexpr auto kLoopback = "127.0.0.1";
    inline constexpr auto kTimeout = std::chrono::milliseconds{5000};

    /// Set-up steps throw, so that GoogleTest reports the step and libfabric's reason.
    template<typename T>
    T require(Expected<T> result, std::string_view what)
    {
        if (!result)
        {
            throw std::runtime_error(std::string{what} + ": " + result.error().message);
        }
        return std::move(result).value();
    }

    void require(Expected<void> result, std::string_view what);

    /// Hints for a tcp connected endpoint listening on, or connecting to, loopback.
    [[nodiscard]] Hints tcpListenHints();
    [[nodiscard]] Hints tcpConnectHints(std::uint16_t port);

    /// Everything read from one CQ so far.
    struct Completions
    {
        std::vector<fi_cq_data_entry> entries;
        std::vector<CompletionError> errors;

        /// Reads all that is available now.
        void drain(CompletionQueue& cq);
        [[nodiscard]] std::size_t total() const noexcept { return entries.size() + errors.size(); }
        [[nodiscard]] std::size_t count(std::uint64_t flag) const noexcept;
    };

    /// Everything one side has read from its queues so far.
    struct Inbox
    {
        std::vector<CmEvent> events;
        Completions completions;

        /// The first event of `kind` about `fid`, or nullptr.
        [[nodiscard]] CmEvent* find(CmEventKind kind, fid_t fid) noexcept;
    };

    /// The queues of one side (either may be null) and where what they deliver goes.
    struct Watched
    {
        EventQueue* events{nullptr};
        CompletionQueue* cq{nullptr};
        Inbox* inbox{nullptr};
    };

    /// Reads every watched queue until done() holds or the timeout passes, blocking on the wait
    /// fds in between; returns done(). All sides are read because tcp progresses a side (its
    /// handshakes, its socket) only while that side's queues are read.
    bool pumpUntil(std::vector<Watched> const& watched, std::function<bool()> const& done, std::chrono::milliseconds timeout = kTimeout);

    /// The accepting side: listens on an ephemeral loopback port.
    struct Server
    {
        explicit Server(Hints const& hints = tcpListenHints());
        [[nodiscard]] Watched watched() noexcept { return {&events, &cq, &inbox}; }
        /// Opens the endpoint for the pending connection request and accepts it.
        void accept();

        Info info;
        Fabric fabric;
        Domain domain;
        EventQueue events;
        CompletionQueue cq;
        PassiveEndpoint listener;
        Inbox inbox;
        std::optional<Info> request;
        std::optional<Endpoint> endpoint;
    };

    /// The connecting side.
    struct Client
    {
        explicit Client(std::uint16_t port);
        explicit Client(Hints const& hints);
        [[nodiscard]] Watched watched() noexcept { return {&events, &cq, &inbox}; }

        Info info;
        Fabric fabric;
        Domain domain;
        EventQueue events;
        CompletionQueue cq;
        Endpoint endpoint;
        Inbox inbox;
    };

    /// A server and a client connected to it, both having seen FI_CONNECTED.
    struct Connection
    {
        /// deliveryComplete: both sides' writes complete only once placed (Hints::deliveryComplete).
        explicit Connection(bool deliveryComplete = false);
        bool pumpUntil(std::function<bool()> const& done, std::chrono::milliseconds timeout = kTimeout);

        Server server;
        Client client;
    };

    /// Bytes with a recognisable pattern that differs per seed, so misplaced bytes are caught.
    [[nodiscard]] std::vector<std::byte> pattern(std::size_t size, std::uint8_t seed);

    /// Mask of the CQ data bits a provider with `cqDataSize` bytes carries.
    [[nodiscard]] std::uint64_t cqDataMask(std::size_t cqDataSize) noexcept;
}
