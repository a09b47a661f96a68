// SPDX-License-Identifier: Apache-2.0
// mxl-bench fabric's baseline: plain RMA writes of the grain size between the benchmark's two
// processes, what the replication's throughput is compared with.
#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include <poll.h>
#include <fmt/format.h>

#include "mxl-bench/Clock.hpp"
#include "mxl-bench/FabricProcesses.hpp"
#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Endpoint.hpp"
#include "ofi/EventQueue.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/MemoryRegion.hpp"
#include "ofi/PassiveEndpoint.hpp"
#include "replication/FabricHints.hpp"

namespace mxl::bench
{
    namespace
    {
        using nlohmann::json;
    }

    /// Sink side of the baseline: a plain registered buffer of `slots` grains, counting writes
    /// that carry immediate data and timing the first and the last.
    json rawSink(FabricOptions const& o, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, Channels& ch)
    {
        auto info = require(ofi::Info::query(fabric::sinkHints(o.provider, o.sinkAddress, "0")), "raw sink: fi_getinfo");
        auto fabricObject = require(ofi::Fabric::open(info), "raw sink: fabric");
        auto events = require(ofi::EventQueue::open(fabricObject), "raw sink: event queue");
        auto listener = require(ofi::PassiveEndpoint::listen(fabricObject, info, events), "raw sink: listen");
        auto domain = require(ofi::Domain::open(fabricObject, info), "raw sink: domain");
        auto cq = require(ofi::CompletionQueue::open(domain, fabric::completionQueueSize), "raw sink: completion queue");
        std::vector<std::byte> buffer(grainSize * slots);
        auto mr = require(ofi::MemoryRegion::create(domain, buffer, FI_REMOTE_WRITE), "raw sink: register");
        auto const region = mr.remoteRegion();
        auto const port = require(listener.port(), "raw sink: port");
        ch.toSource.send(json{{"service", std::to_string(port)}, {"address", region.address}, {"key", region.key}}.dump());

        std::optional<ofi::Endpoint> endpoint;
        std::uint32_t received = 0;
        std::uint64_t first = 0, last = 0;
        auto const deadline = monotonicNs() + 60'000'000'000ULL;
        std::array<fi_cq_data_entry, 64> entries;
        while (received < grains && monotonicNs() < deadline)
        {
            if (auto event = events.read(); event && event->has_value())
            {
                auto& e = **event;
                if (e.kind == ofi::CmEventKind::ConnectionRequest)
                {
                    endpoint.emplace(require(ofi::Endpoint::open(domain, *e.info, ofi::EndpointQueues{cq, cq, &events, nullptr}), "raw sink: endpoint"));
                    require(endpoint->accept(), "raw sink: accept");
                }
            }
            auto const n = cq.read(entries);
            for (ssize_t i = 0; i < n; ++i)
            {
                if ((entries[static_cast<std::size_t>(i)].flags & FI_REMOTE_CQ_DATA) != 0)
                {
                    last = monotonicNs();
                    first = received == 0 ? last : first;
                    ++received;
                }
            }
            if (n <= 0 && cq.tryWait() && events.tryWait())
            {
                std::array<pollfd, 2> fds{{{cq.waitFd(), POLLIN, 0}, {events.waitFd(), POLLIN, 0}}};
                ::poll(fds.data(), fds.size(), 10);
            }
        }
        return {{"grains", received}, {"first_ns", first}, {"last_ns", last}};
    }

    /// Source side of the baseline: the same grain size, the same number of grains in flight
    /// as the replication window, one write with immediate data per grain.
    void rawSource(FabricOptions const& o, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, std::uint32_t depth,
        Channels& ch)
    {
        auto const grant = json::parse(expect(ch.toSource, "raw grant"));
        auto info = require(ofi::Info::query(fabric::sourceHints(o.provider, o.sinkAddress, grant.at("service").get<std::string>())),
            "raw source: fi_getinfo");
        auto fabricObject = require(ofi::Fabric::open(info), "raw source: fabric");
        auto events = require(ofi::EventQueue::open(fabricObject), "raw source: event queue");
        auto domain = require(ofi::Domain::open(fabricObject, info), "raw source: domain");
        auto cq = require(ofi::CompletionQueue::open(domain, fabric::completionQueueSize), "raw source: completion queue");
        auto endpoint = require(ofi::Endpoint::open(domain, info, ofi::EndpointQueues{cq, cq, &events, nullptr}), "raw source: endpoint");
        require(endpoint.connect(), "raw source: connect");
        for (;;)
        {
            auto event = require(events.wait(std::chrono::milliseconds{10'000}), "raw source: connection");
            if (event.kind == ofi::CmEventKind::Connected)
            {
                break;
            }
            if (event.kind == ofi::CmEventKind::Error || event.kind == ofi::CmEventKind::Shutdown)
            {
                throw std::runtime_error{"raw source: connection refused: " + event.message};
            }
        }
        std::vector<std::byte> buffer(grainSize * slots, std::byte{0x5A});
        auto mr = require(ofi::MemoryRegion::create(domain, buffer, FI_WRITE), "raw source: register");
        ofi::RemoteRegion const remote{grant.at("address").get<std::uint64_t>(), grainSize * slots, grant.at("key").get<std::uint64_t>()};

        std::uint32_t posted = 0, completed = 0;
        std::array<fi_cq_data_entry, 64> entries;
        while (completed < grains)
        {
            while (posted < grains && posted - completed < depth)
            {
                auto const slot = posted % slots;
                auto const result = endpoint.writeWithData(std::span{buffer}.subspan(slot * grainSize, grainSize), mr.desc(),
                    *remote.target(slot * grainSize, grainSize), posted, nullptr);
                if (result.again())
                {
                    break;
                }
                if (!result.posted())
                {
                    throw std::runtime_error{fmt::format("raw source: write failed: {}", fi_strerror(result.error()))};
                }
                ++posted;
            }
            auto const n = cq.read(entries);
            if (n == ofi::kCompletionErrorAvailable)
            {
                throw std::runtime_error{"raw source: a write failed"};
            }
            if (n > 0)
            {
                completed += static_cast<std::uint32_t>(n);
                continue;
            }
            if (cq.tryWait())
            {
                pollfd fd{cq.waitFd(), POLLIN, 0};
                ::poll(&fd, 1, 1);
            }
        }
        // The sink decides when it has everything; keep the connection (and progress) until then.
        (void)ch.toSource.receive(60'000);
    }
}
