// SPDX-License-Identifier: Apache-2.0
#pragma once

// The media a bridge test moves, through the public C API only: writers that produce a flow in real
// time on the source host's domain (TAI-based indices, video committed in slice batches), and
// verifiers that follow the mirror on the sink host's domain and check every grain and sample byte
// for byte. The content is a function of (flow, index, byte offset) alone, so a verifier needs
// nothing from the source, and a grain landing in another flow's mirror or at another index is
// caught as surely as a flipped byte. (ReplicationMedia.hpp's pattern has no flow in it: several
// flows replicated at once would all look alike.)

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/rational.h>

namespace mxl::bridge::test
{
    using Clock = std::chrono::steady_clock;

    enum class Media
    {
        Video, ///< v210
        Audio, ///< float32 planar
        Anc,   ///< video/smpte291
    };

    struct TestFlow
    {
        std::string id;
        Media media;
        std::string definition;
        mxlRational rate;
        std::uint64_t seed; ///< Derived from the id: the flow's part of the content.
    };

    /// A flow with a random id, or with id when one is given (the content then follows from it, so that
    /// a writer and a verifier in different processes agree on it: tests/soak).
    TestFlow videoFlow(int width = 1920, int height = 1080, mxlRational rate = {60, 1}, std::string id = {});
    TestFlow audioFlow(std::uint32_t channels = 2, std::uint64_t sampleRate = 48000, std::string id = {});
    TestFlow ancFlow(mxlRational rate = {60, 1}, std::string id = {});

    /// The current TAI-based grain (or sample) index of the flow.
    std::uint64_t currentIndex(TestFlow const& flow);

    /// Writes the content of grain index of flow into payload[from, to).
    void fillGrain(std::uint8_t* payload, std::size_t from, std::size_t to, TestFlow const& flow, std::uint64_t index) noexcept;

    /// The first byte of payload[0, size) that is not grain index of flow, or nothing.
    std::optional<std::size_t> firstWrongByte(std::uint8_t const* payload, std::size_t size, TestFlow const& flow, std::uint64_t index) noexcept;

    /// What the wrong bytes of grain index of flow from offset at on are: their extent, and whose
    /// grain (of any flow written in this process) and offset the first wrong word belongs to.
    std::string whoseBytes(std::uint8_t const* payload, std::size_t size, std::size_t at, TestFlow const& flow, std::uint64_t index);

    /// Sample n of channel: an integer below 2^24, so exact in float32.
    float sampleValue(TestFlow const& flow, std::uint32_t channel, std::uint64_t n) noexcept;

    /// Produces a flow in real time on its own thread until stopped. Discrete flows: every grain
    /// index from the first on, each committed in `batches` slice batches; audio: every sample, in
    /// blocks of about 5 ms. Releasing the writer on destruction removes the flow from the domain.
    class LiveWriter
    {
    public:
        LiveWriter(std::string const& domain, TestFlow flow, unsigned batches = 8);
        ~LiveWriter();
        LiveWriter(LiveWriter const&) = delete;
        LiveWriter& operator=(LiveWriter const&) = delete;

        /// Empty while all is well; otherwise what went wrong first (setup or writing).
        [[nodiscard]] std::string problem() const;
        /// Grains (or sample blocks) committed so far.
        [[nodiscard]] std::uint64_t written() const;
        /// Grains given up because the writer fell more than a ring behind (an overloaded machine).
        [[nodiscard]] std::uint64_t skipped() const;

        void stop();

    private:
        void run();
        void writeGrains();
        void writeSamples();
        void report(std::string problem);

        TestFlow _flow;
        unsigned _batches;
        mxlInstance _instance{nullptr};
        mxlFlowWriter _writer{nullptr};
        mxlFlowConfigInfo _config{};
        mutable std::mutex _mutex;
        std::string _problem;
        std::uint64_t _written{0};
        std::uint64_t _skipped{0};
        bool _stop{false};
        std::condition_variable _wake;
        std::thread _thread;
    };

    struct Arrival
    {
        std::uint64_t index; ///< Grain index, or the sample index one past a checked block.
        Clock::time_point at;
    };

    struct VerifierReport
    {
        std::uint64_t verified{0};       ///< Grains (or sample blocks) checked byte exact.
        std::uint64_t corrupt{0};        ///< Wrong bytes, samples or index: must never happen.
        std::uint64_t invalidFlagged{0}; ///< Grains flagged invalid (a gap the bridge admits to).
        std::uint64_t missed{0};         ///< Indices the mirror never completed while newer ones arrived.
        std::vector<std::uint64_t> missedIndices; ///< The first few of them.
        std::uint64_t late{0};           ///< Indices overwritten before the verifier got to them.
        std::uint64_t silenced{0};       ///< Audio blocks holding silence for samples the source lost (a gap the bridge admits to).
        std::uint64_t reopened{0};       ///< Times the mirror was deleted or recreated under the reader.
        std::optional<std::uint64_t> first; ///< First index checked.
        std::optional<std::uint64_t> last;  ///< Newest index checked.
        std::string firstProblem;
    };

    std::ostream& operator<<(std::ostream& out, VerifierReport const& report);

    /// Follows a flow's mirror on its own thread: waits for it to appear, opens a reader, and checks
    /// every grain (or block of samples) from the head on as it completes; reopens the mirror when
    /// it is recreated.
    class MirrorVerifier
    {
    public:
        MirrorVerifier(std::string const& domain, TestFlow flow);
        ~MirrorVerifier();
        MirrorVerifier(MirrorVerifier const&) = delete;
        MirrorVerifier& operator=(MirrorVerifier const&) = delete;

        [[nodiscard]] VerifierReport report() const;
        [[nodiscard]] std::vector<Arrival> arrivals() const;

        /// Waits until an index at least minIndex was verified; returns when that happened.
        std::optional<Clock::time_point> waitForVerified(std::uint64_t minIndex, std::chrono::milliseconds timeout) const;

        /// Waits until count grains (or blocks) were verified in all.
        bool waitForCount(std::uint64_t count, std::chrono::milliseconds timeout) const;

        void stop();

    private:
        void run();
        bool open();
        void release();
        void followGrains();
        void followSamples();
        void checkGrain(std::uint64_t index, mxlGrainInfo const& info, std::uint8_t const* payload);
        void noteProblem(std::string problem);
        void noteVerified(std::uint64_t index);
        bool stopping() const;
        std::uint64_t head() const;
        /// Waits until the mirror has a head; nothing when stopped first or the flow went invalid.
        std::optional<std::uint64_t> firstHead();

        std::string _domain;
        TestFlow _flow;
        mxlInstance _instance{nullptr};
        mxlFlowReader _reader{nullptr};
        std::uint32_t _grainCount{0};
        bool _invalid{false};
        mutable std::mutex _mutex;
        mutable std::condition_variable _changed;
        VerifierReport _report;
        std::vector<Arrival> _arrivals;
        bool _stop{false};
        std::thread _thread;
    };
}
