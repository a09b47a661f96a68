// SPDX-License-Identifier: Apache-2.0
#include <cctype>
#include <cstring>
#include <string>

#include <mxl/flow.h>
#include "api/Guard.hpp"
#include "api/Instance.hpp"
#include "flow/ContinuousFlowReader.hpp"
#include "flow/ContinuousFlowWriter.hpp"
#include "flow/DiscreteFlowReader.hpp"
#include "flow/DiscreteFlowWriter.hpp"

using namespace mxl;

namespace
{
    DiscreteFlowReader* discreteReader(mxlFlowReader handle) noexcept
    {
        auto* reader = toReader(handle);
        return reader != nullptr && reader->discrete() ? static_cast<DiscreteFlowReader*>(reader) : nullptr;
    }

    ContinuousFlowReader* continuousReader(mxlFlowReader handle) noexcept
    {
        auto* reader = toReader(handle);
        return reader != nullptr && !reader->discrete() ? static_cast<ContinuousFlowReader*>(reader) : nullptr;
    }

    DiscreteFlowWriter* discreteWriter(mxlFlowWriter handle) noexcept
    {
        auto* writer = toWriter(handle);
        return writer != nullptr && writer->discrete() ? static_cast<DiscreteFlowWriter*>(writer) : nullptr;
    }

    ContinuousFlowWriter* continuousWriter(mxlFlowWriter handle) noexcept
    {
        auto* writer = toWriter(handle);
        return writer != nullptr && !writer->discrete() ? static_cast<ContinuousFlowWriter*>(writer) : nullptr;
    }
}

extern "C" MXL_EXPORT mxlStatus mxlCreateFlowWriter(mxlInstance in_instance, char const* in_flowDef, char const* in_options,
    mxlFlowWriter* out_writer, mxlFlowConfigInfo* out_configInfo, bool* out_created)
{
    return guarded("mxlCreateFlowWriter", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr || in_flowDef == nullptr || out_writer == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto created = instance->domain->createWriter(in_flowDef, in_options);
        if (!created)
        {
            return report("mxlCreateFlowWriter", created.error());
        }
        auto& writer = created->writer;
        auto const handle = writerTable().insert(writer.get());
        if (handle == 0)
        {
            instance->domain->releaseWriter(std::move(writer));
            return MXL_ERR_UNKNOWN;
        }
        if (out_configInfo != nullptr)
        {
            *out_configInfo = writer->flow().info().config;
        }
        if (out_created != nullptr)
        {
            *out_created = created->created;
        }
        std::lock_guard lock{instance->mutex};
        instance->writers.emplace(handle, std::move(writer));
        *out_writer = fromValue<mxlFlowWriter>(handle);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlReleaseFlowWriter(mxlInstance in_instance, mxlFlowWriter in_writer)
{
    return guarded("mxlReleaseFlowWriter", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        std::unique_ptr<FlowWriter> writer;
        {
            std::lock_guard lock{instance->mutex};
            auto const it = instance->writers.find(handleValue(in_writer));
            if (it == instance->writers.end())
            {
                return MXL_ERR_INVALID_FLOW_WRITER;
            }
            writerTable().remove(in_writer);
            writer = std::move(it->second);
            instance->writers.erase(it);
        }
        instance->domain->releaseWriter(std::move(writer));
        return MXL_STATUS_OK;
    });
}

namespace
{
    std::string flowKey(char const* flowId)
    {
        std::string key{flowId};
        for (auto& c : key)
        {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        return key;
    }

    /// The reader this instance already has for the flow, with one more reference; 0 if none
    /// (or its flow was removed or recreated since). Called with the instance's mutex held.
    std::uintptr_t reuseReader(Instance& instance, std::string const& key)
    {
        auto const known = instance.readerByFlow.find(key);
        if (known == instance.readerByFlow.end())
        {
            return 0;
        }
        auto const entry = instance.readers.find(known->second);
        if (entry == instance.readers.end() || entry->second.reader->flow().removed())
        {
            instance.readerByFlow.erase(known);
            return 0;
        }
        ++entry->second.references;
        return known->second;
    }
}

extern "C" MXL_EXPORT mxlStatus mxlCreateFlowReader(mxlInstance in_instance, char const* in_flowId, char const*, mxlFlowReader* out_reader)
{
    return guarded("mxlCreateFlowReader", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr || in_flowId == nullptr || out_reader == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto const key = flowKey(in_flowId);
        {
            std::lock_guard lock{instance->mutex};
            if (auto const handle = reuseReader(*instance, key); handle != 0)
            {
                *out_reader = fromValue<mxlFlowReader>(handle);
                return MXL_STATUS_OK;
            }
        }
        auto reader = instance->domain->createReader(in_flowId);
        if (!reader)
        {
            return report("mxlCreateFlowReader", reader.error());
        }
        std::lock_guard lock{instance->mutex};
        // Another thread may have opened the same flow meanwhile: one reader per flow all the same.
        if (auto const handle = reuseReader(*instance, key); handle != 0)
        {
            *out_reader = fromValue<mxlFlowReader>(handle);
            return MXL_STATUS_OK;
        }
        auto const handle = readerTable().insert(reader->get());
        if (handle == 0)
        {
            return MXL_ERR_UNKNOWN;
        }
        instance->readers.emplace(handle, ReaderEntry{std::move(*reader), key, 1});
        instance->readerByFlow[key] = handle;
        *out_reader = fromValue<mxlFlowReader>(handle);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlReleaseFlowReader(mxlInstance in_instance, mxlFlowReader in_reader)
{
    return guarded("mxlReleaseFlowReader", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        std::lock_guard lock{instance->mutex};
        auto const it = instance->readers.find(handleValue(in_reader));
        if (it == instance->readers.end())
        {
            return MXL_ERR_INVALID_FLOW_READER;
        }
        if (--it->second.references > 0)
        {
            return MXL_STATUS_OK;
        }
        // The last release: the handle goes, and with it the reader's place in every group.
        readerTable().remove(in_reader);
        for (auto& [handle, group] : instance->groups)
        {
            group->remove(it->second.reader.get());
        }
        if (auto const known = instance->readerByFlow.find(it->second.flowKey);
            known != instance->readerByFlow.end() && known->second == it->first)
        {
            instance->readerByFlow.erase(known);
        }
        instance->readers.erase(it);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlIsFlowActive(mxlInstance in_instance, char const* in_flowId, bool* out_isActive)
{
    return guarded("mxlIsFlowActive", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr || in_flowId == nullptr || out_isActive == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto active = instance->domain->isFlowActive(in_flowId);
        if (!active)
        {
            return active.error().status;
        }
        *out_isActive = *active;
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlGetFlowDef(mxlInstance in_instance, char const* in_flowId, char* buffer, size_t* io_bufferSize)
{
    return guarded("mxlGetFlowDef", [&] {
        auto* instance = toInstance(in_instance);
        if (instance == nullptr || in_flowId == nullptr || io_bufferSize == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto def = instance->domain->flowDefinition(in_flowId);
        if (!def)
        {
            return def.error().status;
        }
        auto const needed = def->size() + 1;
        auto const capacity = *io_bufferSize;
        *io_bufferSize = needed;
        if (buffer == nullptr || capacity < needed)
        {
            return MXL_ERR_INVALID_ARG;
        }
        std::memcpy(buffer, def->c_str(), needed);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetInfo(mxlFlowReader reader, mxlFlowInfo* out_info)
{
    auto* r = toReader(reader);
    if (r == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_READER;
    }
    if (out_info == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    std::memcpy(out_info, &r->flow().info(), sizeof(mxlFlowInfo));
    return r->flow().removed() ? MXL_ERR_FLOW_INVALID : MXL_STATUS_OK;
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetConfigInfo(mxlFlowReader reader, mxlFlowConfigInfo* out_info)
{
    auto* r = toReader(reader);
    if (r == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_READER;
    }
    if (out_info == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    *out_info = r->flow().info().config;
    return MXL_STATUS_OK;
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetRuntimeInfo(mxlFlowReader reader, mxlFlowRuntimeInfo* out_info)
{
    auto* r = toReader(reader);
    if (r == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_READER;
    }
    if (out_info == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    std::memcpy(out_info, &r->flow().info().runtime, sizeof(mxlFlowRuntimeInfo));
    return r->flow().removed() ? MXL_ERR_FLOW_INVALID : MXL_STATUS_OK;
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetGrainSlice(mxlFlowReader reader, uint64_t in_index, uint16_t in_minValidSlices,
    uint64_t in_timeoutNs, mxlGrainInfo* out_grain, uint8_t** out_payload)
{
    auto* r = discreteReader(reader);
    if (r == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_READER;
    }
    return r->getGrain(in_index, in_minValidSlices, in_timeoutNs, out_grain, out_payload);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetGrain(mxlFlowReader reader, uint64_t in_index, uint64_t in_timeoutNs, mxlGrainInfo* out_grain,
    uint8_t** out_payload)
{
    return mxlFlowReaderGetGrainSlice(reader, in_index, MXL_GRAIN_VALID_SLICES_ALL, in_timeoutNs, out_grain, out_payload);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetGrainNonBlocking(mxlFlowReader reader, uint64_t in_index, mxlGrainInfo* out_grain,
    uint8_t** out_payload)
{
    return mxlFlowReaderGetGrainSlice(reader, in_index, MXL_GRAIN_VALID_SLICES_ALL, 0, out_grain, out_payload);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetGrainSliceNonBlocking(mxlFlowReader reader, uint64_t in_index, uint16_t in_minValidSlices,
    mxlGrainInfo* out_grain, uint8_t** out_payload)
{
    return mxlFlowReaderGetGrainSlice(reader, in_index, in_minValidSlices, 0, out_grain, out_payload);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowWriterGetGrainInfo(mxlFlowWriter writer, uint64_t in_index, mxlGrainInfo* out_grain)
{
    auto* w = discreteWriter(writer);
    if (w == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_WRITER;
    }
    return w->grainInfo(in_index, out_grain);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowWriterOpenGrain(mxlFlowWriter writer, uint64_t in_index, mxlGrainInfo* out_grain, uint8_t** out_payload)
{
    auto* w = discreteWriter(writer);
    if (w == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_WRITER;
    }
    return w->openGrain(in_index, out_grain, out_payload);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowWriterCancelGrain(mxlFlowWriter writer)
{
    auto* w = discreteWriter(writer);
    if (w == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_WRITER;
    }
    return w->cancelGrain();
}

extern "C" MXL_EXPORT mxlStatus mxlFlowWriterCommitGrain(mxlFlowWriter writer, mxlGrainInfo const* in_grain)
{
    auto* w = discreteWriter(writer);
    if (w == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_WRITER;
    }
    if (in_grain == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    return w->commitGrain(*in_grain);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetMaxReadLengthSamples(mxlFlowReader reader, size_t* out_count)
{
    auto* r = continuousReader(reader);
    if (r == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_READER;
    }
    if (out_count == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    *out_count = r->maxReadLength();
    return MXL_STATUS_OK;
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetSamples(mxlFlowReader reader, uint64_t in_index, size_t in_count, uint64_t in_timeoutNs,
    mxlWrappedMultiBufferSlice* out_slices)
{
    auto* r = continuousReader(reader);
    if (r == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_READER;
    }
    return r->getSamples(in_index, in_count, in_timeoutNs, out_slices);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowReaderGetSamplesNonBlocking(mxlFlowReader reader, uint64_t in_index, size_t in_count,
    mxlWrappedMultiBufferSlice* out_slices)
{
    return mxlFlowReaderGetSamples(reader, in_index, in_count, 0, out_slices);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowWriterGetMaxWriteLengthSamples(mxlFlowWriter writer, size_t* out_count)
{
    auto* w = continuousWriter(writer);
    if (w == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_WRITER;
    }
    if (out_count == nullptr)
    {
        return MXL_ERR_INVALID_ARG;
    }
    *out_count = w->maxWriteLength();
    return MXL_STATUS_OK;
}

extern "C" MXL_EXPORT mxlStatus mxlFlowWriterOpenSamples(mxlFlowWriter writer, uint64_t in_index, size_t in_count,
    mxlMutableWrappedMultiBufferSlice* out_slices)
{
    auto* w = continuousWriter(writer);
    if (w == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_WRITER;
    }
    return w->openSamples(in_index, in_count, out_slices);
}

extern "C" MXL_EXPORT mxlStatus mxlFlowWriterCancelSamples(mxlFlowWriter writer)
{
    auto* w = continuousWriter(writer);
    if (w == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_WRITER;
    }
    return w->cancelSamples();
}

extern "C" MXL_EXPORT mxlStatus mxlFlowWriterCommitSamples(mxlFlowWriter writer)
{
    auto* w = continuousWriter(writer);
    if (w == nullptr)
    {
        return MXL_ERR_INVALID_FLOW_WRITER;
    }
    return w->commitSamples();
}
