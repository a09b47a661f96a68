// SPDX-License-Identifier: Apache-2.0
#pragma once

// Requests through the command ring (CommandRing.hpp): the bridge's side (CommandServer) takes them
// out in batches, validated, and replies; a client's side (CommandClient) sends them and waits for
// the reply. The C API of issue 12 (mxlAcquireRemoteFlow) is meant to be a thin layer over
// CommandClient, and the bridge's lease handling over CommandServer.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/Expected.hpp"
#include "remote/CommandRing.hpp"
#include "remote/Requests.hpp"

namespace mxl::fabric::remote
{
    struct ServerOptions
    {
        RingOptions ring;
        std::size_t batch{64}; ///< entries taken out of the ring at once
        /// Each client's allowance (a token bucket keyed by pid and start time): requests per
        /// second, and how many may come at once. A client over it gets Busy.
        double ratePerClient{200.0};
        double burstPerClient{32.0};
        /// All clients together (a bucket of its own, after the client's): many processes, or
        /// forged pids, cannot make the bridge do more than this.
        double rateTotal{2000.0};
        double burstTotal{256.0};
        /// Check every request's pid against its start time in /proc (a forged or stale identity
        /// gets PermissionDenied). Off only for tests and the benchmark.
        bool verifyClients{true};
    };

    /// A request the server did not pass on, and why.
    struct Refusal
    {
        std::uint64_t position{0};
        ReplyStatus status{ReplyStatus::InvalidArg};
        std::string reason;
        ProcessIdentity client; ///< as the request named it; zero when it could not be decoded
    };

    /// What one receive took out of the ring.
    struct Received
    {
        std::vector<Request> requests; ///< valid, verified, within their client's rate
        std::vector<Refusal> refusals; ///< already answered where the request named a reply slot
    };

    class CommandServer
    {
    public:
        /// Creates the domain's command ring (CommandRing::create).
        static Expected<CommandServer> create(std::filesystem::path const& domain, ServerOptions const& options = {});

        /// Takes the requests that came, waiting up to timeout for the first. Each entry is decoded
        /// (a refusal names the field), its client checked (pid and start time) and rate-limited;
        /// refused requests that name a reply slot get their reply here (InvalidArg is never sent:
        /// an undecodable entry names no trustworthy slot). Clears out and fills it.
        void receive(Received& out, std::chrono::nanoseconds timeout);

        /// Answers request. false when its client no longer waits (gave up or died): undo what the
        /// request did. A request without a reply slot is not answered (true).
        bool reply(Request const& request, ReplyStatus status, std::uint64_t leaseId, std::string_view reason);

        /// CommandRing::reclaimReplies, and forgets the rate state of clients that are gone.
        std::vector<ProcessIdentity> reclaimDeadClients();

        [[nodiscard]] CommandRing& ring() noexcept
        {
            return _ring;
        }

    private:
        struct Client
        {
            std::uint64_t startTime{0};
            std::uint64_t verifiedNs{0};
            double tokens{0};
            std::uint64_t refilledNs{0};
        };

        CommandServer(CommandRing ring, ServerOptions const& options);
        ReplyStatus admit(Request const& request, std::string& reason, std::uint64_t now);

        CommandRing _ring;
        ServerOptions _options;
        std::vector<RingEntry> _entries;
        std::unordered_map<std::uint32_t, Client> _clients;
        double _totalTokens{0};
        std::uint64_t _totalRefilledNs{0};
    };

    class CommandClient
    {
    public:
        /// Opens the domain's command ring (CommandRing::open) as this process.
        static Expected<CommandClient> open(std::filesystem::path const& domain);

        /// Asks the bridge to import flowId from the bridge at host:port and waits for the reply:
        /// the bridge's own timeout is timeoutMs, this call waits that and a second more.
        Expected<Reply> acquire(std::string const& host, std::uint16_t port, Uuid const& flowId, std::uint32_t timeoutMs);

        /// Ends a lease; waits for the reply up to timeout.
        Expected<Reply> release(std::uint64_t leaseId, std::chrono::nanoseconds timeout);

        /// Sends body and waits for its reply up to timeout. MXL_ERR_INVALID_ARG when the request
        /// would be refused (the decoder's own sentence); MXL_ERR_NOT_READY when the ring stayed
        /// full or no reply slot was free until timeout; MXL_ERR_TIMEOUT when no reply came.
        Expected<Reply> call(std::variant<AcquireRequest, ReleaseRequest> body, std::chrono::nanoseconds timeout);

        /// Sends body wanting no reply; retries a full ring until timeout (zero: one attempt).
        Expected<void> send(std::variant<AcquireRequest, ReleaseRequest> body, std::chrono::nanoseconds timeout);

        [[nodiscard]] CommandRing& ring() noexcept
        {
            return _ring;
        }

        [[nodiscard]] ProcessIdentity const& identity() const noexcept
        {
            return _self;
        }

    private:
        CommandClient(CommandRing ring, ProcessIdentity self);
        Expected<void> push(Request const& request, std::uint64_t deadlineNs);

        CommandRing _ring;
        ProcessIdentity _self;
        std::uint64_t _nextRequestId{1};
    };
}
