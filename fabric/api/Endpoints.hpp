// SPDX-License-Identifier: Apache-2.0
#pragma once

// What a fabrics C API target and initiator are underneath: a Receiver that reports what landed,
// and one Sender per target that serves the application's transfer requests. The C functions
// (FabricsCoreApi.cpp) check arguments and handles, then call these.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <mxl/fabrics.h>
#include "api/Options.hpp"
#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "domain/Domain.hpp"
#include "protocol/Messages.hpp"
#include "replication/Arrivals.hpp"
#include "replication/Receiver.hpp"
#include "replication/Sender.hpp"
#include "replication/TransferRequests.hpp"

namespace mxl::fabric::api
{
    /// The libfabric provider for an interface configuration: tcp or verbs (ANY: verbs where this
    /// host has it, else tcp). efa and shm run over reliable-datagram endpoints.
    [[nodiscard]] Expected<std::string> libfabricProvider(mxlFabricsProvider provider);

    class TargetEndpoint
    {
    public:
        /// Registers the flow of the writer (flowId, in the domain at domainPath) and listens on the
        /// interface's address. The endpoint opens the domain for itself: it does not depend on the
        /// application's mxlInstance living as long as it does.
        static Expected<std::unique_ptr<TargetEndpoint>> create(std::filesystem::path const& domainPath, Uuid const& flowId, mxlFabricsInterfaceConfig const& interface,
            TargetOptions const& options);

        ~TargetEndpoint();

        [[nodiscard]] RegionGrant const& grant() const noexcept
        {
            return _receiver->grant();
        }

        [[nodiscard]] bool continuous() const noexcept
        {
            return _receiver->continuous();
        }

        /// The next arrival still held in the mirror (older ones are skipped and counted); waits at
        /// most timeout (zero: does not wait).
        [[nodiscard]] std::optional<Arrival> read(std::chrono::milliseconds timeout);

        /// Arrivals skipped because the mirror had overwritten them before they were read.
        [[nodiscard]] std::uint64_t overtaken() const noexcept
        {
            return _overtaken;
        }

    private:
        TargetEndpoint() = default;
        [[nodiscard]] bool stillHeld(Arrival const& arrival) const noexcept;

        std::uint64_t _overtaken{0};
        std::unique_ptr<Domain> _domain;
        std::shared_ptr<Arrivals> _arrivals;
        std::unique_ptr<Receiver> _receiver;
    };

    class InitiatorEndpoint
    {
    public:
        /// The flow flowId of the domain at domainPath (opened for the endpoint itself).
        static Expected<std::unique_ptr<InitiatorEndpoint>> create(std::filesystem::path const& domainPath, Uuid const& flowId, bool continuous);
        ~InitiatorEndpoint();

        /// Starts connecting to the target in the background (MakeProgress reports the outcome).
        /// EXISTS when the target was added already.
        [[nodiscard]] Expected<void> add(RegionGrant const& grant);
        /// Stops sending to the target. NOT_FOUND when it is not one of this initiator's.
        [[nodiscard]] Expected<void> remove(RegionGrant const& grant);

        /// Queues a request for every target. NOT_READY when a target's queue is full (nothing queued).
        [[nodiscard]] mxlStatus transfer(TransferRequest const& request);

        /// OK once everything queued has been sent to every target; NOT_READY while anything is
        /// pending (a connection, requests); the error of a target that failed (until it is removed).
        /// Waits at most timeout for that (zero: does not wait).
        [[nodiscard]] mxlStatus progress(std::chrono::milliseconds timeout);

        [[nodiscard]] bool continuous() const noexcept
        {
            return _continuous;
        }

    private:
        struct Peer
        {
            RegionGrant grant;
            std::shared_ptr<TransferRequests> requests;
            std::future<Expected<std::unique_ptr<Sender>>> connecting;
            std::unique_ptr<Sender> sender;
            std::optional<mxlStatus> failure;
        };

        /// OK, NOT_READY or a failure, without waiting.
        mxlStatus poll();
        static bool sameTarget(RegionGrant const& a, RegionGrant const& b) noexcept;

        InitiatorEndpoint(std::unique_ptr<Domain> domain, Uuid const& flowId, bool continuous);

        std::unique_ptr<Domain> _domain;
        Uuid _flowId;
        bool _continuous;
        std::atomic<std::uint32_t> _progress{0};
        std::mutex _mutex;
        std::vector<std::unique_ptr<Peer>> _peers;
        /// Removed while still connecting: kept until the connection attempt ends.
        std::vector<std::unique_ptr<Peer>> _leaving;
    };
}
