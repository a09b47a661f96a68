// SPDX-License-Identifier: Apache-2.0
#pragma once

// Transfers an application asks for explicitly (the fabrics C API's mxlFabricsInitiatorTransfer*),
// instead of a Sender following its flow by itself. One producer (the application's thread, under
// the initiator's lock) and one consumer (the Sender's thread) share a fixed ring: nothing is
// allocated per request, and a full ring is refused, never overwritten.
//
// The consumer waits on an eventfd (with its completion queue's fd, so that a request that comes
// while transfers are in flight is served at once, not after the next completion). The producer
// writes to it only when the consumer said it waits: no system call per request while requests
// flow. The consumer reports what it finished, bumping `progress`, a futex word the application
// may sleep on, shared by all the queues of one initiator.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include <sys/eventfd.h>
#include <unistd.h>

#include "base/Expected.hpp"
#include "base/Fd.hpp"

#include "sync/Futex.hpp"

namespace mxl::fabric
{
    struct TransferRequest
    {
        /// Discrete: the grain. Continuous: the end (exclusive) of the samples to send.
        std::uint64_t index{0};
        std::uint64_t count{0};      ///< Continuous: samples per channel ending at index.
        std::uint16_t startSlice{0}; ///< Discrete: slices [startSlice, endSlice).
        std::uint16_t endSlice{0};
    };

    class TransferRequests
    {
    public:
        static constexpr std::size_t capacity = 4096;

        /// progress: the word to bump and wake when requests finish (or nullptr).
        static Expected<std::shared_ptr<TransferRequests>> create(std::atomic<std::uint32_t>* progress)
        {
            Fd wake{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
            if (!wake.valid())
            {
                return fail(MXL_ERR_INTERNAL, "no eventfd for a transfer queue");
            }
            return std::shared_ptr<TransferRequests>{new TransferRequests{progress, std::move(wake)}};
        }

        /// Producer: room for one more request.
        [[nodiscard]] bool full() const noexcept
        {
            return _tail.load(std::memory_order_relaxed) - _head.load(std::memory_order_acquire) >= capacity;
        }

        /// Producer: queues a request (the caller checked full()) and wakes the consumer.
        void push(TransferRequest const& request) noexcept
        {
            auto const tail = _tail.load(std::memory_order_relaxed);
            _ring[tail % capacity] = request;
            _tail.store(tail + 1, std::memory_order_release);
            // A system call only when the consumer said it sleeps (or is about to): with both sides
            // sequentially consistent, either this load sees its flag or its futex sees the new signal.
            _signal.fetch_add(1, std::memory_order_seq_cst);
            if (_waiting.load(std::memory_order_seq_cst))
            {
                std::uint64_t const one = 1;
                (void)::write(_wake.get(), &one, sizeof one);
            }
        }

        /// Consumer: before polling wakeFd() (with expected, the signalValue() it last looked at):
        /// false when a request came since, so that it must not wait.
        [[nodiscard]] bool prepareWait(std::uint32_t expected) noexcept
        {
            _waiting.store(true, std::memory_order_seq_cst);
            if (_signal.load(std::memory_order_seq_cst) != expected)
            {
                _waiting.store(false, std::memory_order_relaxed);
                return false;
            }
            return true;
        }

        /// Consumer: after polling.
        void endWait() noexcept
        {
            _waiting.store(false, std::memory_order_relaxed);
            std::uint64_t count = 0;
            (void)::read(_wake.get(), &count, sizeof count);
        }

        [[nodiscard]] int wakeFd() const noexcept
        {
            return _wake.get();
        }

        /// Consumer: the oldest request not taken yet.
        [[nodiscard]] std::optional<TransferRequest> front() const noexcept
        {
            auto const head = _head.load(std::memory_order_relaxed);
            if (head == _tail.load(std::memory_order_acquire))
            {
                return std::nullopt;
            }
            return _ring[head % capacity];
        }

        /// Consumer: the front request is taken (its work queued, or given up).
        void pop() noexcept
        {
            _head.store(_head.load(std::memory_order_relaxed) + 1, std::memory_order_release);
        }

        /// Requests pushed so far: a request is finished once finished() passed its number.
        [[nodiscard]] std::uint64_t pushed() const noexcept
        {
            return _tail.load(std::memory_order_acquire);
        }

        [[nodiscard]] std::uint64_t taken() const noexcept
        {
            return _head.load(std::memory_order_relaxed);
        }

        /// Consumer: every request before `count` is finished (sent, or given up).
        void finish(std::uint64_t count) noexcept
        {
            if (count > _finished.load(std::memory_order_relaxed))
            {
                _finished.store(count, std::memory_order_release);
                wakeProgress();
            }
        }

        [[nodiscard]] std::uint64_t finished() const noexcept
        {
            return _finished.load(std::memory_order_acquire);
        }

        /// Wakes whoever waits for progress (finished requests, a failed session).
        void wakeProgress() noexcept
        {
            if (_progress != nullptr)
            {
                _progress->fetch_add(1, std::memory_order_release);
                futexWakeAll(reinterpret_cast<std::uint32_t*>(_progress));
            }
        }

        [[nodiscard]] std::uint32_t signalValue() const noexcept
        {
            return _signal.load(std::memory_order_acquire);
        }

    private:
        TransferRequests(std::atomic<std::uint32_t>* progress, Fd wake) noexcept
            : _wake{std::move(wake)}
            , _progress{progress}
        {}

        static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) && std::atomic<std::uint32_t>::is_always_lock_free);

        std::array<TransferRequest, capacity> _ring{};
        alignas(64) std::atomic<std::uint64_t> _head{0};
        alignas(64) std::atomic<std::uint64_t> _tail{0};
        std::atomic<std::uint64_t> _finished{0};
        std::atomic<std::uint32_t> _signal{0};
        std::atomic<bool> _waiting{false};
        Fd _wake;
        std::atomic<std::uint32_t>* _progress;
    };
}
