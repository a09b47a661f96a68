// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "api/HandleTable.hpp"
#include "domain/Domain.hpp"
#include "flow/FlowReader.hpp"
#include "flow/FlowWriter.hpp"
#include "sync/SyncGroup.hpp"

namespace mxl
{
    /// A reader handle and how many creates it answered (as in MXL, one reader per flow per
    /// instance: each mxlCreateFlowReader of the same flow returns it again and needs a release).
    struct ReaderEntry
    {
        std::unique_ptr<FlowReader> reader;
        std::string flowKey; ///< The flow id as asked, lower case.
        std::uint32_t references{1};
    };

    /// What an mxlInstance owns. Every reader, writer and group handle created through it is
    /// registered both here (ownership) and in the process-wide handle tables (validation).
    struct Instance
    {
        std::unique_ptr<Domain> domain;
        std::mutex mutex;
        std::unordered_map<std::uintptr_t, ReaderEntry> readers;
        /// The handle a new create of a flow answers with; a reader whose flow was removed or
        /// recreated is not handed out again (its handle lives on until released).
        std::unordered_map<std::string, std::uintptr_t> readerByFlow;
        std::unordered_map<std::uintptr_t, std::unique_ptr<FlowWriter>> writers;
        std::unordered_map<std::uintptr_t, std::unique_ptr<SyncGroup>> groups;
    };

    HandleTable<Instance>& instanceTable();
    HandleTable<FlowReader>& readerTable();
    HandleTable<FlowWriter>& writerTable();
    HandleTable<SyncGroup>& groupTable();

    inline Instance* toInstance(mxlInstance handle) noexcept
    {
        return instanceTable().lookup(handle);
    }

    inline FlowReader* toReader(mxlFlowReader handle) noexcept
    {
        return readerTable().lookup(handle);
    }

    inline FlowWriter* toWriter(mxlFlowWriter handle) noexcept
    {
        return writerTable().lookup(handle);
    }

    inline SyncGroup* toGroup(mxlFlowSynchronizationGroup handle) noexcept
    {
        return groupTable().lookup(handle);
    }

    template<typename Handle>
    std::uintptr_t handleValue(Handle handle) noexcept
    {
        return reinterpret_cast<std::uintptr_t>(handle);
    }

    template<typename Handle>
    Handle fromValue(std::uintptr_t value) noexcept
    {
        return reinterpret_cast<Handle>(value);
    }
}
