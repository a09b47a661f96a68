// SPDX-License-Identifier: Apache-2.0
#pragma once

// Completions of posted work and remote CQ data, read without blocking; waiting goes through
// the wait fd (see Wait.hpp for why never fi_cq_sread).
//
// Reading the CQ is also what drives the provider: tcp (libfabric 1.17) moves an endpoint's bytes
// and notices a peer that went away (FI_SHUTDOWN on the EQ) only while the endpoint's CQ is read.

#include <array>
#include <chrono>
#include <ctime>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <sys/types.h>

#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>

#include "base/Expected.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Fid.hpp"
#include "ofi/Wait.hpp"

namespace mxl::ofi
{
    /// Returned by CompletionQueue::read when the next entry is an error: take it with readError().
    inline constexpr ssize_t kCompletionErrorAvailable = -FI_EAVAIL;

    /// A failed operation, copied out of fi_cq_readerr so it outlives the next read.
    struct CompletionError
    {
        void* context{nullptr};
        std::uint64_t flags{0};  ///< FI_WRITE, FI_RECV, ... of the failed operation.
        std::size_t length{0};
        std::uint64_t data{0};
        int error{0};            ///< Positive fi errno.
        int providerError{0};
        std::array<char, 128> providerMessage{}; ///< fi_cq_strerror's text, NUL-terminated.
    };

    class CompletionQueue
    {
    public:
        /// Opens a CQ with FI_CQ_FORMAT_DATA entries and a wait fd. Must be outlived by its Domain
        /// and must outlive the endpoints bound to it.
        [[nodiscard]] static Expected<CompletionQueue> open(Domain& domain, std::size_t size);

        /// Reads up to entries.size() completions without blocking and without allocating.
        /// Returns how many (0 when none), kCompletionErrorAvailable when an error entry is next,
        /// or another negative fi errno when the queue itself failed.
        [[nodiscard]] ssize_t read(std::span<fi_cq_data_entry> entries) noexcept;

        /// Takes the next error entry. Returns false when there was none.
        [[nodiscard]] bool readError(CompletionError& error) noexcept;

        /// Reads until the queue is empty, without allocating: onBatch(std::span<fi_cq_data_entry
        /// const>) for each batch of up to 64 entries, onError(CompletionError const&) for each error
        /// entry, in the order the provider reports them.
        template<typename OnBatch, typename OnError>
        void drain(OnBatch&& onBatch, OnError&& onError)
        {
            std::array<fi_cq_data_entry, 64> entries;
            for (;;)
            {
                auto const n = read(entries);
                if (n == kCompletionErrorAvailable)
                {
                    CompletionError error;
                    if (readError(error))
                    {
                        onError(static_cast<CompletionError const&>(error));
                    }
                    continue;
                }
                if (n <= 0)
                {
                    return;
                }
                onBatch(std::span<fi_cq_data_entry const>{entries.data(), static_cast<std::size_t>(n)});
            }
        }

        /// True when it is safe to block on waitFd(); false when completions are already pending.
        /// Always true for a queue without a wait fd.
        [[nodiscard]] bool tryWait() const noexcept;
        /// -1 where the provider has no wait fd for completion queues (shm, udp;ofi_rxd in 1.17):
        /// then poll the queue, sleeping pollTimeout() between looks.
        [[nodiscard]] int waitFd() const noexcept { return _waitFd; }
        /// How long to block (ppoll) waiting for completions: `longest` on a queue with a wait fd;
        /// without one, a short interval that backs off from 20 us to 1 ms while reads find nothing.
        [[nodiscard]] timespec pollTimeout(std::chrono::milliseconds longest) const noexcept;

        /// tryWait() then poll on waitFd() for at most `timeout`. Read the queue after Ready.
        [[nodiscard]] WaitResult wait(std::chrono::milliseconds timeout) const noexcept;

        [[nodiscard]] std::string_view providerName() const noexcept { return _provider; }
        [[nodiscard]] fid_cq* raw() const noexcept { return _cq.get(); }

    private:
        CompletionQueue(FidPtr<fid_cq> cq, fid_fabric* fabric, int waitFd, std::string provider) noexcept;

        std::string _provider;
        fid_fabric* _fabric;
        int _waitFd;
        unsigned _idleReads{0};
        FidPtr<fid_cq> _cq;
    };
}
