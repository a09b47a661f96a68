// SPDX-License-Identifier: Apache-2.0
#pragma once

// A connected pair of tcp endpoints on 127.0.0.1, each side with its own fabric, domain and
// queues as two hosts would have, and the means to wait on them without spinning.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <memory>
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

    /// Test set-up steps throw, so that GoogleTest reports the step and libfabric's reason.
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

    /// Hints for a tcp connected endpoint, listening on (source) or reaching (destination) loopback.
    [[nodiscard]] Hints tcpListenHints();
    [[nodiscard]] Hints tcpConnectHints(std::uint16_t port);

    /// Returns once any of the queues may have entries or the timeout passed. It returns at once
    /// when a queue already holds entries (fi_trywait), so loops around it never spin idle.
    void waitAny(std::vector<EventQueue const*> const& events, std::vector<CompletionQueue const*> const& completions,
        std::chrono::milliseconds timeout);

    /// Everything read from one CQ so far.
    struct Completions
    {
        std::vector<fi_cq_data_entry> entries;
        std::vector<CompletionError> errors;

        /// Reads all that is available now.
        void drain(CompletionQueue& cq);
        [[nodiscard]] std::size_t total() const noexcept { return entries.size() + errors.size(); }
    };

    /// Drains every CQ until `done()` holds or the timeout passes; returns done().
    template<typename Done>
    bool pumpUntil(std::initializer_list<std::pair<CompletionQueue*, Completions*>> queues, Done done, std::chrono::milliseconds timeout = kTimeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (true)
        {
            for (auto [cq, out] : queues)
            {
                out->drain(*cq);
            }
            auto const remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (done() || remaining.count() <= 0)
            {
                return done();
            }
            // The provider makes progress on each side only while its queue is read.
            auto cqs = std::vector<CompletionQueue const*>{};
            for (auto [cq, out] : queues)
            {
                cqs.push_back(cq);
            }
            waitAny({}, cqs, remaining);
        }
    }

    /// The accepting side: listens on an ephemeral loopback port.
    struct Server
    {
        explicit Server(Hints const& hints = tcpListenHints());

        Info info;
        Fabric fabric;
        Domain domain;
        EventQueue events;
        CompletionQueue cq;
        PassiveEndpoint listener;
        std::optional<Info> request;
        std::optional<Endpoint> endpoint;
    };

    /// The connecting side.
    struct Client
    {
        explicit Client(std::uint16_t port);

        Info info;
        Fabric fabric;
        Domain domain;
        EventQueue events;
        CompletionQueue cq;
        Endpoint endpoint;
    };

    /// Waits on one EQ for an event of `kind` about `fid`; throws on an error event or timeout.
    CmEvent awaitEvent(EventQueue& events, CmEventKind kind, fid_t fid, std::chrono::milliseconds timeout = kTimeout);

    /// A server and a client connected to it, both having seen FI_CONNECTED.
    struct Connection
    {
        Connection();

        Server server;
        Client client;
    };

    /// Bytes with a recognisable pattern that differs per seed, so misplaced bytes are caught.
    [[nodiscard]] std::vector<std::byte> pattern(std::size_t size, std::uint8_t seed);

    /// Mask of the CQ data bits a provider with `cqDataSize` bytes carries.
    [[nodiscard]] std::uint64_t cqDataMask(std::size_t cqDataSize) noexcept;
}
