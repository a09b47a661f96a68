// SPDX-License-Identifier: Apache-2.0
#pragma once

// What moves the grains in mxl-bench fabric, behind one face so that the same measurement runs
// through either: our Sender and Receiver driven directly (as the bridge drives them), or the
// fabrics C API (mxl/fabrics.h) used as an application would use it (--api c).

#include <cstdint>
#include <memory>
#include <string>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <nlohmann/json.hpp>

#include "domain/Domain.hpp"
#include "mxl-bench/FabricProcesses.hpp"
#include "protocol/Messages.hpp"
#include "replication/Stages.hpp"

namespace mxl::bench
{
    /// The source's side: told of every commit, asked to keep the writer within reach.
    class SourceLink
    {
    public:
        virtual ~SourceLink() = default;

        /// Slices [from, to) of grain index were just committed.
        virtual void committed(std::uint64_t index, std::uint16_t from, std::uint16_t to) = 0;
        /// Waits until grain index (of a ring of grainCount, written from first on) may be written
        /// without overwriting a grain that was not sent yet, or that would then not be sent.
        virtual void paceBefore(std::uint64_t index, std::uint64_t first, std::uint32_t grainCount) = 0;
        /// Stops sending; then what it counted: "skipped" and "errors".
        virtual nlohmann::json stop() = 0;
    };

    /// The sink's side: something that makes the mirror readable.
    class SinkLink
    {
    public:
        virtual ~SinkLink() = default;
        /// Stops receiving; then what it counted: "receiver_grains", "refused", "reordered_records"
        /// (commit records that landed before one made earlier) and "errors".
        virtual nlohmann::json stop() = 0;
    };

    /// Source: the offer goes to the sink, the grant (or TargetInfo) comes back, and the link
    /// connects. The flow (flowId, written by the caller's writer) is in domain, opened by instance.
    /// stages: told as commits reach each stage (our Sender only), or null.
    std::unique_ptr<SourceLink> connectSource(FabricOptions const& o, Channels& ch, Domain& domain, mxlInstance instance, Uuid const& flowId,
        std::shared_ptr<fabric::StageObserver> stages);

    /// Sink: receives the offer, makes the mirror (in domain, opened by instance too) and sends back
    /// what the source needs. Returns the flow's id. stages: as for connectSource (our Receiver only).
    std::unique_ptr<SinkLink> acceptSink(FabricOptions const& o, Channels& ch, Domain& domain, mxlInstance instance, fabric::FlowOffer& offer,
        std::shared_ptr<fabric::StageObserver> stages);
}
