// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace mxl
{
    /// Maps opaque C handles to objects so that a NULL, forged or already released handle is
    /// recognised and refused instead of dereferenced. A handle encodes a slot and the slot's
    /// generation; releasing bumps the generation, so stale handles never match again. Lookups are
    /// lock free (two atomic loads), which keeps them off the cost of a grain read.
    template<typename T>
    class HandleTable
    {
    public:
        HandleTable() = default;
        HandleTable(HandleTable const&) = delete;
        HandleTable& operator=(HandleTable const&) = delete;

        /// Registers object and returns its handle, or 0 when the table is full.
        std::uintptr_t insert(T* object)
        {
            std::lock_guard lock{_mutex};
            std::uint32_t slot;
            if (!_free.empty())
            {
                slot = _free.back();
                _free.pop_back();
            }
            else
            {
                if (_next >= chunkCount * chunkSize)
                {
                    return 0;
                }
                slot = _next++;
                auto& chunk = _chunks[slot / chunkSize];
                if (chunk.load(std::memory_order_relaxed) == nullptr)
                {
                    _owned.push_back(std::make_unique<Chunk>());
                    chunk.store(_owned.back().get(), std::memory_order_release);
                }
            }
            auto& e = entry(slot);
            e.object.store(object, std::memory_order_release);
            auto const generation = e.generation.load(std::memory_order_relaxed);
            return (static_cast<std::uintptr_t>(generation) << 32) | (slot + 1);
        }

        /// The object behind handle, or nullptr.
        T* lookup(void const* handle) const noexcept
        {
            auto const value = reinterpret_cast<std::uintptr_t>(handle);
            auto const low = static_cast<std::uint32_t>(value & 0xFFFF'FFFFU);
            if (low == 0 || low > chunkCount * chunkSize)
            {
                return nullptr;
            }
            auto const slot = low - 1;
            auto const* chunk = _chunks[slot / chunkSize].load(std::memory_order_acquire);
            if (chunk == nullptr)
            {
                return nullptr;
            }
            auto const& e = (*chunk)[slot % chunkSize];
            if (e.generation.load(std::memory_order_acquire) != static_cast<std::uint32_t>(value >> 32))
            {
                return nullptr;
            }
            return e.object.load(std::memory_order_acquire);
        }

        /// Unregisters handle and returns its object, or nullptr if it was not valid.
        T* remove(void const* handle) noexcept
        {
            std::lock_guard lock{_mutex};
            auto* object = lookup(handle);
            if (object == nullptr)
            {
                return nullptr;
            }
            auto const slot = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(handle) & 0xFFFF'FFFFU) - 1;
            auto& e = entry(slot);
            // Generation 0 is never handed out, so a zeroed handle cannot match after wrap-around.
            auto next = e.generation.load(std::memory_order_relaxed) + 1;
            e.generation.store(next == 0 ? 1 : next, std::memory_order_release);
            e.object.store(nullptr, std::memory_order_release);
            _free.push_back(slot);
            return object;
        }

    private:
        static constexpr std::uint32_t chunkSize = 4096;
        static constexpr std::uint32_t chunkCount = 256;

        struct Entry
        {
            std::atomic<std::uint32_t> generation{1};
            std::atomic<T*> object{nullptr};
        };

        using Chunk = std::array<Entry, chunkSize>;

        Entry& entry(std::uint32_t slot) noexcept
        {
            return (*_chunks[slot / chunkSize].load(std::memory_order_relaxed))[slot % chunkSize];
        }

        std::mutex _mutex;
        std::array<std::atomic<Chunk*>, chunkCount> _chunks{};
        std::vector<std::unique_ptr<Chunk>> _owned;
        std::vector<std::uint32_t> _free;
        std::uint32_t _next{0};
    };
}
