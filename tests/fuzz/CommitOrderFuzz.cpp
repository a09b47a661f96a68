// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the order a sink applies commit records in (fabric/replication/CommitOrder.hpp)
// under whatever sequences a hostile source's immediate data names. The input is a list of
// arrivals of 3 bytes each: a signed 16-bit distance from the record awaited, and flags (bit 0: the
// record was lost, its slot overwritten; bit 1: a new session starts first). Each arrival is
// checked against a plain model (a map of what waits): the same answer, and next() gives the same
// records in the same order. Never a crash, never a record twice, never one out of order.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "replication/CommitOrder.hpp"

namespace
{
    using mxl::fabric::CommitOrder;
    using mxl::fabric::CommitRecord;
    using mxl::fabric::commitReorderWindow;

    /// What CommitOrder must do, written the obvious way.
    struct Model
    {
        std::uint32_t awaited{0};
        std::map<std::uint32_t, bool> waiting; ///< sequence -> lost

        CommitOrder::Arrival arrive(std::uint32_t sequence, bool lost)
        {
            auto const ahead = static_cast<std::uint32_t>(sequence - awaited);
            if (ahead >= (1U << 31))
            {
                return CommitOrder::Arrival::Repeated;
            }
            if (ahead >= commitReorderWindow)
            {
                return CommitOrder::Arrival::TooFarAhead;
            }
            if (!waiting.emplace(sequence, lost).second)
            {
                return CommitOrder::Arrival::Repeated;
            }
            return ahead == 0 ? CommitOrder::Arrival::Next : CommitOrder::Arrival::Early;
        }

        std::optional<std::uint32_t> next()
        {
            for (auto it = waiting.find(awaited); it != waiting.end(); it = waiting.find(awaited))
            {
                auto const lost = it->second;
                auto const sequence = it->first;
                waiting.erase(it);
                ++awaited;
                if (!lost)
                {
                    return sequence;
                }
            }
            return std::nullopt;
        }
    };
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    CommitOrder order;
    Model model;
    for (std::size_t at = 0; at + 3 <= size; at += 3)
    {
        std::int16_t distance = 0;
        std::memcpy(&distance, data + at, sizeof distance);
        auto const flags = data[at + 2];
        if ((flags & 2) != 0)
        {
            order.reset();
            model = Model{};
        }
        auto const sequence = static_cast<std::uint32_t>(model.awaited + static_cast<std::uint32_t>(static_cast<std::int32_t>(distance)));
        auto const lost = (flags & 1) != 0;
        std::optional<CommitRecord> record;
        if (!lost)
        {
            record = CommitRecord{1, std::uint64_t{sequence} + 7, sequence, 0, 1, mxl::fabric::CommitKind::Grain, 0};
        }
        if (order.arrive(sequence, record) != model.arrive(sequence, lost))
        {
            std::abort();
        }
        for (;;)
        {
            auto const got = order.next();
            auto const expected = model.next();
            if (got.has_value() != expected.has_value())
            {
                std::abort();
            }
            if (!got)
            {
                break;
            }
            if (got->sequence != *expected || got->index != std::uint64_t{*expected} + 7)
            {
                std::abort();
            }
        }
        if (order.awaited() != model.awaited)
        {
            std::abort();
        }
    }
    return 0;
}
