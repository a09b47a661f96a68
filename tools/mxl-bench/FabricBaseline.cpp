// SPDX-License-Identifier: Apache-2.0
// mxl-bench fabric's baseline: plain RMA writes of the grain size between the benchmark's two
// processes, what the replication's throughput is compared with. On connected endpoints (tcp,
// verbs) where the provider offers them, otherwise on reliable-datagram endpoints (shm,
// tcp;ofi_rxm, udp;ofi_rxd) with the sink's address passed over the pipe. Registration follows the
// provider's mr_mode (ofi::MemoryRegion): local descriptors, virtual addresses or offsets, the
// provider's keys, regions bound to the endpoint.
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fmt/format.h>

#include "mxl-bench/Clock.hpp"
#include "base/Fd.hpp"
#include "mxl-bench/FabricProcesses.hpp"
#include "ofi/AddressVector.hpp"
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

        /// Receives that remote CQ data consumes on FI_RX_CQ_DATA providers, kept posted.
        constexpr std::size_t rdmReceives = 64;

        /// Reliable-datagram endpoints with RMA writes and remote CQ data. shm has no IP address:
        /// only the others are bound to one.
        ofi::Hints rdmHints(FabricOptions const& o, bool sink)
        {
            ofi::Hints hints;
            hints.provider(o.provider)
                .endpointType(FI_EP_RDM)
                .capabilities(FI_RMA | FI_WRITE | FI_REMOTE_WRITE | FI_MSG | FI_SEND | FI_RECV)
                .queueSizes(fabric::transmitDepth, fabric::transmitDepth)
                .cqDataSize(4);
            if (sink && !o.provider.starts_with("shm"))
            {
                hints.source(o.sinkAddress, "0");
            }
            hints.deliveryComplete(!sink && o.baselineDelivery);
            return hints;
        }


        /// The baseline's grain buffers. By default shared memory mapped the way a flow's grains are
        /// (shmem pages, as files on tmpfs have): what the replication itself copies between. In
        /// perf, shm's process_vm_readv spent about twice as long pinning a flow's pages as the
        /// heap baseline's. --baseline-memory heap gives ordinary heap memory.
        class GrainBuffers
        {
        public:
            GrainBuffers(BaselineMemory memory, std::size_t size, std::byte fill)
                : _size{size}
            {
                if (memory == BaselineMemory::Heap)
                {
                    _heap.assign(size, fill);
                    _bytes = _heap.data();
                    return;
                }
                Fd const fd{::memfd_create("mxl-bench-baseline", MFD_CLOEXEC)};
                if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
                {
                    throw std::runtime_error{fmt::format("baseline: shared memory of {} bytes: {}", size, std::strerror(errno))};
                }
                auto* const mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
                if (mapped == MAP_FAILED)
                {
                    throw std::runtime_error{fmt::format("baseline: mapping {} bytes: {}", size, std::strerror(errno))};
                }
                _mapped = static_cast<std::byte*>(mapped);
                _bytes = _mapped;
                // Touched once before timing, as a flow's grains are after their first lap.
                std::memset(_bytes, static_cast<int>(fill), size);
            }

            ~GrainBuffers()
            {
                if (_mapped != nullptr)
                {
                    ::munmap(_mapped, _size);
                }
            }

            GrainBuffers(GrainBuffers const&) = delete;
            GrainBuffers& operator=(GrainBuffers const&) = delete;

            [[nodiscard]] std::span<std::byte> bytes() const noexcept
            {
                return {_bytes, _size};
            }

        private:
            std::size_t _size;
            std::vector<std::byte> _heap;
            std::byte* _mapped{nullptr};
            std::byte* _bytes{nullptr};
        };

        json mrModeNames(std::uint64_t mode)
        {
            auto names = json::array();
            for (auto const& [bit, name] : std::initializer_list<std::pair<std::uint64_t, char const*>>{{FI_MR_LOCAL, "local"},
                     {FI_MR_VIRT_ADDR, "virt_addr"}, {FI_MR_ALLOCATED, "allocated"}, {FI_MR_PROV_KEY, "prov_key"}, {FI_MR_ENDPOINT, "endpoint"}})
            {
                if ((mode & bit) != 0)
                {
                    names.push_back(name);
                }
            }
            return names;
        }

        std::string toHex(std::span<std::byte const> bytes)
        {
            std::string text;
            for (auto const b : bytes)
            {
                text += fmt::format("{:02x}", static_cast<unsigned>(b));
            }
            return text;
        }

        std::vector<std::byte> fromHex(std::string const& text)
        {
            std::vector<std::byte> bytes;
            for (std::size_t i = 0; i + 1 < text.size(); i += 2)
            {
                bytes.push_back(static_cast<std::byte>(std::stoul(text.substr(i, 2), nullptr, 16)));
            }
            return bytes;
        }

        /// Waits (never spinning) until the CQ, or the EQ when there is one, may have entries.
        void waitForEither(ofi::CompletionQueue& cq, ofi::EventQueue* events, int timeoutMs)
        {
            if (cq.waitFd() < 0)
            {
                // No wait fd (shm, udp;ofi_rxd): a short sleep that backs off while nothing comes.
                (void)cq.wait(std::chrono::milliseconds{timeoutMs});
                return;
            }
            if (!cq.tryWait() || (events != nullptr && !events->tryWait()))
            {
                return;
            }
            std::array<pollfd, 2> fds{{{cq.waitFd(), POLLIN, 0}, {events != nullptr ? events->waitFd() : -1, POLLIN, 0}}};
            ::poll(fds.data(), events != nullptr ? 2 : 1, timeoutMs);
        }

        /// Counts writes that carry immediate data until `grains` came (or a minute passed), timing the
        /// first and the last; onIdle() when the CQ is empty, onData() after each write.
        template<typename OnIdle, typename OnData>
        json countArrivals(ofi::CompletionQueue& cq, std::uint32_t grains, OnIdle&& onIdle, OnData&& onData)
        {
            std::uint32_t received = 0;
            std::uint64_t first = 0, last = 0;
            auto const deadline = monotonicNs() + 60'000'000'000ULL;
            std::array<fi_cq_data_entry, 64> entries;
            while (received < grains && monotonicNs() < deadline)
            {
                auto const n = cq.read(entries);
                for (ssize_t i = 0; i < n; ++i)
                {
                    if ((entries[static_cast<std::size_t>(i)].flags & FI_REMOTE_CQ_DATA) != 0)
                    {
                        last = monotonicNs();
                        first = received == 0 ? last : first;
                        ++received;
                        onData();
                    }
                }
                if (n <= 0)
                {
                    onIdle();
                }
            }
            return {{"grains", received}, {"first_ns", first}, {"last_ns", last}};
        }

        /// Writes `grains` grains round the sink's ring, `depth` in flight, one write with immediate
        /// data each; reading the CQ is also what drives the provider.
        void writeGrains(ofi::Endpoint& endpoint, ofi::CompletionQueue& cq, ofi::MemoryRegion const& mr, std::span<std::byte const> buffer,
            ofi::RemoteRegion const& remote, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, std::uint32_t depth, fi_addr_t peer)
        {
            std::uint32_t posted = 0, completed = 0;
            std::array<fi_cq_data_entry, 64> entries;
            while (completed < grains)
            {
                while (posted < grains && posted - completed < depth)
                {
                    auto const slot = posted % slots;
                    auto const result = endpoint.writeWithData(buffer.subspan(slot * grainSize, grainSize), mr.desc(),
                        *remote.target(slot * grainSize, grainSize), posted, nullptr, peer);
                    if (result.again())
                    {
                        break; // Also while ofi_rxm connects on first use.
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
                    ofi::CompletionError error;
                    (void)cq.readError(error);
                    throw std::runtime_error{fmt::format("raw source: a write failed: {}", error.providerMessage.data())};
                }
                if (n > 0)
                {
                    completed += static_cast<std::uint32_t>(n);
                    continue;
                }
                waitForEither(cq, nullptr, 1);
            }
        }

        json rdmSink(ofi::Info info, BaselineMemory memory, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, Channels& ch)
        {
            auto fabricObject = require(ofi::Fabric::open(info), "raw sink: fabric");
            auto domain = require(ofi::Domain::open(fabricObject, info), "raw sink: domain");
            auto cq = require(ofi::CompletionQueue::open(domain, fabric::completionQueueSize), "raw sink: completion queue");
            auto av = require(ofi::AddressVector::open(domain, 4), "raw sink: address vector");
            auto endpoint = require(ofi::Endpoint::open(domain, info, ofi::EndpointQueues{cq, cq, nullptr, &av}), "raw sink: endpoint");
            GrainBuffers const grains_{memory, grainSize * slots, std::byte{0}};
            auto const buffer = grains_.bytes();
            auto mr = require(ofi::MemoryRegion::create(domain, buffer, FI_REMOTE_WRITE, &endpoint), "raw sink: register");
            std::vector<std::byte> receives(rdmReceives * 64);
            auto receivesMr = require(ofi::MemoryRegion::create(domain, receives, FI_RECV, &endpoint), "raw sink: register receives");
            std::size_t next = 0;
            auto const postReceive = [&] {
                if (endpoint.requiresRxCqData())
                {
                    (void)endpoint.recv(std::span{receives}.subspan((next++ % rdmReceives) * 64, 64), receivesMr.desc(), nullptr);
                }
            };
            for (std::size_t i = 0; i < rdmReceives; ++i)
            {
                postReceive();
            }
            auto const region = mr.remoteRegion();
            auto const address = require(endpoint.address(), "raw sink: address");
            ch.toSource.send(json{{"endpoint", "rdm"}, {"name", toHex(address)}, {"address", region.address}, {"key", region.key}}.dump());
            auto result = countArrivals(cq, grains, [&] { waitForEither(cq, nullptr, 1); }, postReceive);
            result["endpoint"] = "rdm";
            result["mr_mode"] = mrModeNames(info.mrMode());
            return result;
        }

        void rdmSource(FabricOptions const& o, json const& grant, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains,
            std::uint32_t depth, Channels& ch)
        {
            auto info = require(ofi::Info::query(rdmHints(o, false)), "raw source: fi_getinfo");
            auto fabricObject = require(ofi::Fabric::open(info), "raw source: fabric");
            auto domain = require(ofi::Domain::open(fabricObject, info), "raw source: domain");
            auto cq = require(ofi::CompletionQueue::open(domain, fabric::completionQueueSize), "raw source: completion queue");
            auto const deadline = monotonicNs() + 60'000'000'000ULL;
            auto av = require(ofi::AddressVector::open(domain, 4), "raw source: address vector");
            auto endpoint = require(ofi::Endpoint::open(domain, info, ofi::EndpointQueues{cq, cq, nullptr, &av}), "raw source: endpoint");
            auto const peer = require(av.insert(fromHex(grant.at("name").get<std::string>())), "raw source: insert the sink's address");
            GrainBuffers const grains_{o.baselineMemory, grainSize * slots, std::byte{0x5A}};
            auto const buffer = grains_.bytes();
            auto mr = require(ofi::MemoryRegion::create(domain, buffer, FI_WRITE, &endpoint), "raw source: register");
            ofi::RemoteRegion const remote{grant.at("address").get<std::uint64_t>(), grainSize * slots, grant.at("key").get<std::uint64_t>()};
            writeGrains(endpoint, cq, mr, buffer, remote, grainSize, slots, grains, depth, peer);
            // A write completed here may still be on its way: keep the endpoint (and progress) until
            // the sink has everything.
            std::array<fi_cq_data_entry, 8> late;
            while (!ch.toSource.receive(1).has_value() && monotonicNs() < deadline)
            {
                (void)cq.read(late);
            }
        }
    }

    /// Sink side of the baseline: a plain registered buffer of `slots` grains, counting writes
    /// that carry immediate data and timing the first and the last.
    json rawSink(FabricOptions const& o, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, Channels& ch)
    {
        auto connected = ofi::Info::query(fabric::sinkHints(o.provider, o.sinkAddress, "0"));
        if (!connected)
        {
            return rdmSink(require(ofi::Info::query(rdmHints(o, true)), "raw sink: fi_getinfo"), o.baselineMemory, grainSize, slots, grains, ch);
        }
        auto& info = *connected;
        auto fabricObject = require(ofi::Fabric::open(info), "raw sink: fabric");
        auto events = require(ofi::EventQueue::open(fabricObject), "raw sink: event queue");
        auto listener = require(ofi::PassiveEndpoint::listen(fabricObject, info, events), "raw sink: listen");
        auto domain = require(ofi::Domain::open(fabricObject, info), "raw sink: domain");
        auto cq = require(ofi::CompletionQueue::open(domain, fabric::completionQueueSize), "raw sink: completion queue");
        GrainBuffers const grains_{o.baselineMemory, grainSize * slots, std::byte{0}};
        auto const buffer = grains_.bytes();
        auto mr = require(ofi::MemoryRegion::create(domain, buffer, FI_REMOTE_WRITE), "raw sink: register");
        auto const region = mr.remoteRegion();
        auto const port = require(listener.port(), "raw sink: port");
        ch.toSource.send(json{{"endpoint", "msg"}, {"service", std::to_string(port)}, {"address", region.address}, {"key", region.key}}.dump());

        std::optional<ofi::Endpoint> endpoint;
        auto const onIdle = [&] {
            if (auto event = events.read(); event && event->has_value() && (**event).kind == ofi::CmEventKind::ConnectionRequest)
            {
                endpoint.emplace(require(ofi::Endpoint::open(domain, *(**event).info, ofi::EndpointQueues{cq, cq, &events, nullptr}), "raw sink: endpoint"));
                require(endpoint->accept(), "raw sink: accept");
            }
            waitForEither(cq, &events, 10);
        };
        auto result = countArrivals(cq, grains, onIdle, [] {});
        result["endpoint"] = "msg";
        result["mr_mode"] = mrModeNames(info.mrMode());
        return result;
    }

    /// Source side of the baseline: the same grain size, the same number of grains in flight
    /// as the replication window, one write with immediate data per grain.
    void rawSource(FabricOptions const& o, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, std::uint32_t depth,
        Channels& ch)
    {
        auto const grant = json::parse(expect(ch.toSource, "raw grant"));
        if (grant.at("endpoint") == "rdm")
        {
            rdmSource(o, grant, grainSize, slots, grains, depth, ch);
            return;
        }
        auto hints = fabric::sourceHints(o.provider, o.sinkAddress, grant.at("service").get<std::string>());
        hints.deliveryComplete(o.baselineDelivery);
        auto info = require(ofi::Info::query(hints), "raw source: fi_getinfo");
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
        GrainBuffers const grains_{o.baselineMemory, grainSize * slots, std::byte{0x5A}};
        auto const buffer = grains_.bytes();
        auto mr = require(ofi::MemoryRegion::create(domain, buffer, FI_WRITE, &endpoint), "raw source: register");
        ofi::RemoteRegion const remote{grant.at("address").get<std::uint64_t>(), grainSize * slots, grant.at("key").get<std::uint64_t>()};
        writeGrains(endpoint, cq, mr, buffer, remote, grainSize, slots, grains, depth, FI_ADDR_UNSPEC);
        // The sink decides when it has everything; keep the connection (and progress) until then.
        (void)ch.toSource.receive(60'000);
    }

    json memcpyReference(BaselineMemory memory, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains)
    {
        GrainBuffers const fromBuffers{memory, grainSize * slots, std::byte{0x5A}};
        GrainBuffers const toBuffers{memory, grainSize * slots, std::byte{0}};
        auto const from = fromBuffers.bytes();
        auto const to = toBuffers.bytes();
        // Touched once before timing, as the baseline's registered buffers are.
        std::memcpy(to.data(), from.data(), to.size());
        auto const start = monotonicNs();
        for (std::uint32_t i = 0; i < grains; ++i)
        {
            auto const slot = static_cast<std::size_t>(i % slots) * grainSize;
            std::memcpy(to.data() + slot, from.data() + slot, grainSize);
        }
        auto const elapsed = monotonicNs() - start;
        // The copies must happen although nothing reads them.
        asm volatile("" : : "r"(to.data()) : "memory");
        return {{"grains", grains}, {"bytes_per_s", elapsed > 0 ? static_cast<double>(grainSize) * grains / (static_cast<double>(elapsed) / 1e9) : 0.0}};
    }
}
