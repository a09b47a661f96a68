// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include <mxl/flowinfo.h>
#include "base/Expected.hpp"
#include "base/Fd.hpp"
#include "common/Mapping.hpp"
#include "base/Uuid.hpp"
#include "flow/FlowLayout.hpp"

namespace mxl
{
    enum class FlowAccess
    {
        /// O_RDONLY, PROT_READ, no locks: what readers (and the bridge's source side) use.
        ReadOnly,
        /// O_RDWR, PROT_READ|PROT_WRITE, LOCK_SH on every file while open: what writers use.
        ReadWrite,
    };

    /// The files of one flow, opened, validated and mapped. Everything a writer or reader touches is
    /// reached through here; sizes used for pointer arithmetic come from the files' real sizes,
    /// never from header fields another process could change.
    class Flow
    {
    public:
        /// Opens `dir` (a `<uuid>.mxl-flow` directory). Errors: FLOW_NOT_FOUND, PERMISSION_DENIED,
        /// FLOW_INVALID (wrong version, size, truncated or inconsistent files; the message says which).
        static Expected<std::unique_ptr<Flow>> open(std::filesystem::path const& dir, FlowAccess access);

        Flow(Flow const&) = delete;
        Flow& operator=(Flow const&) = delete;
        ~Flow();

        [[nodiscard]] FlowAccess access() const noexcept
        {
            return _access;
        }

        [[nodiscard]] std::filesystem::path const& dir() const noexcept
        {
            return _dir;
        }

        [[nodiscard]] Uuid id() const noexcept;

        [[nodiscard]] mxlFlowInfo const& info() const noexcept
        {
            return data()->info;
        }

        [[nodiscard]] FlowData* data() const noexcept
        {
            return _dataMap.as<FlowData>();
        }

        [[nodiscard]] bool discrete() const noexcept;

        /// The futex word of this flow.
        [[nodiscard]] std::uint32_t* syncCounter() const noexcept
        {
            return &data()->state.syncCounter;
        }

        [[nodiscard]] std::atomic_ref<std::uint64_t> headIndex() const noexcept
        {
            return std::atomic_ref<std::uint64_t>{data()->info.runtime.headIndex};
        }

        /// Increments the sync counter and wakes every waiter (writers only).
        void signal() const noexcept;

        // Discrete flows.
        [[nodiscard]] std::uint32_t grainCount() const noexcept
        {
            return static_cast<std::uint32_t>(_grainMaps.size());
        }

        [[nodiscard]] mxlGrainInfo* grainHeader(std::uint32_t slot) const noexcept
        {
            return _grainMaps[slot].as<mxlGrainInfo>();
        }

        [[nodiscard]] std::uint8_t* grainPayload(std::uint32_t slot) const noexcept
        {
            return _grainMaps[slot].data() + grainPayloadOffset;
        }

        /// Payload bytes of every grain, from the file size checked at open.
        [[nodiscard]] std::uint32_t grainSize() const noexcept
        {
            return _grainSize;
        }

        [[nodiscard]] std::uint16_t totalSlices() const noexcept
        {
            return _totalSlices;
        }

        /// Whole mapping of grain file `slot` (header and payload), for memory registration.
        [[nodiscard]] Mapping const& grainMapping(std::uint32_t slot) const noexcept
        {
            return _grainMaps[slot];
        }

        // Continuous flows.
        [[nodiscard]] std::uint8_t* channels() const noexcept
        {
            return _channelsMap.data();
        }

        [[nodiscard]] Mapping const& channelsMapping() const noexcept
        {
            return _channelsMap;
        }

        [[nodiscard]] std::uint32_t channelCount() const noexcept
        {
            return info().config.continuous.channelCount;
        }

        [[nodiscard]] std::uint32_t bufferLength() const noexcept
        {
            return _bufferLength;
        }

        [[nodiscard]] std::uint32_t sampleWordSize() const noexcept
        {
            return _sampleWordSize;
        }

        /// True once the flow's files were unlinked (deleted, or replaced by a new flow of that id).
        [[nodiscard]] bool removed() const noexcept;

        /// Sets the `access` file's atime to now (readers, after a successful read). Quiet on a
        /// read-only domain.
        void touchAccess() const noexcept;

        /// The `access` file's atime in TAI ns, or 0.
        [[nodiscard]] std::uint64_t accessTime() const noexcept;

        /// True while this flow's `data` is locked by some writer (liveness probe).
        [[nodiscard]] bool hasWriter() const noexcept;

    private:
        Flow(std::filesystem::path dir, FlowAccess access);
        Expected<void> openData();
        Expected<void> openGrains();
        Expected<void> openChannels();

        std::filesystem::path _dir;
        FlowAccess _access;
        Fd _dataFd;
        Mapping _dataMap;
        Fd _accessFd;
        std::vector<Fd> _grainFds;
        std::vector<Mapping> _grainMaps;
        std::uint32_t _grainSize{0};
        std::uint16_t _totalSlices{0};
        Fd _channelsFd;
        Mapping _channelsMap;
        std::uint32_t _bufferLength{0};
        std::uint32_t _sampleWordSize{0};
    };
}
