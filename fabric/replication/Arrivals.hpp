// SPDX-License-Identifier: Apache-2.0
#pragma once

// What has landed in a Receiver's mirror, in the order it was made readable, for an application
// that asks (the fabrics C API's mxlFabricsTargetRead*). The Receiver's thread drains the
// completion queue and pushes here; the application pops whenever it likes. A slow application
// loses nothing that is still in the ring: the queue holds more entries than the ring holds grains
// (consecutive arrivals of one grain, or of adjacent samples, share an entry), and when it is full
// the oldest entry, long overwritten in the mirror, makes room and is counted.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

namespace mxl::fabric
{
    struct Arrival
    {
        std::uint64_t index{0}; ///< The grain, or the end (exclusive) of the samples.
        std::uint64_t count{0}; ///< Continuous: samples per channel ending at index.
    };

    class Arrivals
    {
    public:
        /// capacity: at least the mirror's grain count (discrete).
        explicit Arrivals(std::size_t capacity)
            : _capacity{capacity}
            , _ring{std::make_unique<Arrival[]>(capacity)}
        {}

        /// A grain (some of its slices) was made readable.
        void pushGrain(std::uint64_t index)
        {
            std::lock_guard lock{_mutex};
            if (_size > 0 && newest().index == index)
            {
                return;
            }
            append(Arrival{index, 1});
        }

        /// Samples [end - count, end) were made readable (per channel). Adjacent batches merge, up to
        /// maxCount samples per entry.
        void pushSamples(std::uint64_t end, std::uint64_t count, std::uint64_t maxCount)
        {
            std::lock_guard lock{_mutex};
            if (_size > 0 && newest().index == end - count && newest().count + count <= maxCount)
            {
                newest().index = end;
                newest().count += count;
                _ready.notify_all();
                return;
            }
            append(Arrival{end, count});
        }

        [[nodiscard]] std::optional<Arrival> pop()
        {
            std::lock_guard lock{_mutex};
            return take();
        }

        /// Waits at most timeout for an arrival.
        [[nodiscard]] std::optional<Arrival> pop(std::chrono::milliseconds timeout)
        {
            std::unique_lock lock{_mutex};
            _ready.wait_for(lock, timeout, [this] { return _size > 0 || _closed; });
            return take();
        }

        /// Wakes every waiter (the target is going away).
        void close()
        {
            std::lock_guard lock{_mutex};
            _closed = true;
            _ready.notify_all();
        }

        /// Entries dropped because the queue was full (each long overwritten in the mirror).
        [[nodiscard]] std::uint64_t overflowed() const
        {
            std::lock_guard lock{_mutex};
            return _overflowed;
        }

    private:
        Arrival& newest() noexcept
        {
            return _ring[(_first + _size - 1) % _capacity];
        }

        void append(Arrival const& arrival)
        {
            if (_size == _capacity)
            {
                _first = (_first + 1) % _capacity;
                --_size;
                ++_overflowed;
            }
            _ring[(_first + _size) % _capacity] = arrival;
            ++_size;
            _ready.notify_all();
        }

        std::optional<Arrival> take()
        {
            if (_size == 0)
            {
                return std::nullopt;
            }
            auto const arrival = _ring[_first];
            _first = (_first + 1) % _capacity;
            --_size;
            return arrival;
        }

        std::size_t const _capacity;
        std::unique_ptr<Arrival[]> _ring;
        std::size_t _first{0};
        std::size_t _size{0};
        std::uint64_t _overflowed{0};
        bool _closed{false};
        mutable std::mutex _mutex;
        std::condition_variable _ready;
    };
}
