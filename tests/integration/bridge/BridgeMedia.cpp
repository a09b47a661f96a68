// SPDX-License-Identifier: Apache-2.0
#include "BridgeMedia.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include <mxl/time.h>
#include "base/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace mxl::bridge::test
{
    static_assert(std::endian::native == std::endian::little, "the content is laid out as little-endian words");

    namespace
    {
        constexpr std::uint64_t wordStep = 0x9E3779B97F4A7C15ULL;
        constexpr auto pollStep = std::chrono::milliseconds{10};

        std::uint64_t mix(std::uint64_t x) noexcept
        {
            x ^= x >> 30;
            x *= 0xBF58476D1CE4E5B9ULL;
            x ^= x >> 27;
            x *= 0x94D049BB133111EBULL;
            return x ^ (x >> 31);
        }

        std::uint64_t fnv1a(std::string const& text) noexcept
        {
            std::uint64_t hash = 0xCBF29CE484222325ULL;
            for (auto c : text)
            {
                hash = (hash ^ static_cast<std::uint8_t>(c)) * 0x100000001B3ULL;
            }
            return hash;
        }

        /// Word w of a grain is key + w * wordStep: cheap enough for 1080p60 several times over, and a
        /// word found in the wrong place tells whose it is and where it belonged (wordOffsetOf).
        std::uint64_t grainKey(TestFlow const& flow, std::uint64_t index) noexcept
        {
            return mix(flow.seed ^ mix(index + 1));
        }

        std::uint8_t byteAt(std::uint64_t key, std::size_t offset) noexcept
        {
            auto const word = key + (offset / 8) * wordStep;
            return static_cast<std::uint8_t>(word >> (8 * (offset % 8)));
        }

        std::mutex knownFlowsMutex;
        std::vector<TestFlow> knownFlows; ///< Every flow a LiveWriter wrote in this process.

        /// The word offset w with key + w * wordStep == word (wordStep is odd, so it has an inverse modulo 2^64).
        std::uint64_t wordOffsetOf(std::uint64_t word, std::uint64_t key) noexcept
        {
            auto inverse = wordStep;
            for (int i = 0; i < 6; ++i)
            {
                inverse *= 2 - wordStep * inverse;
            }
            return (word - key) * inverse;
        }

        TestFlow makeFlow(Media media, std::string definition, std::string id, mxlRational rate)
        {
            auto const seed = fnv1a(id);
            return TestFlow{std::move(id), media, std::move(definition), rate, seed};
        }

        std::string orRandomId(std::string id)
        {
            return id.empty() ? formatUuid(randomUuid().value()) : id;
        }

        bool isHead(std::uint64_t head) noexcept
        {
            return head != 0 && head != MXL_UNDEFINED_INDEX;
        }
    }

    TestFlow videoFlow(int width, int height, mxlRational rate, std::string id)
    {
        id = orRandomId(std::move(id));
        auto def = mxl::test::flowDef(id, "v210", width, height, static_cast<int>(rate.numerator), static_cast<int>(rate.denominator));
        return makeFlow(Media::Video, std::move(def), std::move(id), rate);
    }

    TestFlow audioFlow(std::uint32_t channels, std::uint64_t sampleRate, std::string id)
    {
        id = orRandomId(std::move(id));
        auto def = mxl::test::flowDef(id, "audio", 0, 0, static_cast<int>(sampleRate), 1, static_cast<int>(channels));
        return makeFlow(Media::Audio, std::move(def), std::move(id), mxlRational{static_cast<std::int64_t>(sampleRate), 1});
    }

    TestFlow ancFlow(mxlRational rate, std::string id)
    {
        id = orRandomId(std::move(id));
        auto def = mxl::test::flowDef(id, "smpte291", 0, 0, static_cast<int>(rate.numerator), static_cast<int>(rate.denominator));
        return makeFlow(Media::Anc, std::move(def), std::move(id), rate);
    }

    std::uint64_t currentIndex(TestFlow const& flow)
    {
        return mxlGetCurrentIndex(&flow.rate);
    }

    void fillGrain(std::uint8_t* payload, std::size_t from, std::size_t to, TestFlow const& flow, std::uint64_t index) noexcept
    {
        auto const key = grainKey(flow, index);
        auto i = from;
        for (; i < to && i % 8 != 0; ++i)
        {
            payload[i] = byteAt(key, i);
        }
        for (; i + 8 <= to; i += 8)
        {
            auto const word = key + (i / 8) * wordStep;
            std::memcpy(payload + i, &word, 8);
        }
        for (; i < to; ++i)
        {
            payload[i] = byteAt(key, i);
        }
    }

    std::optional<std::size_t> firstWrongByte(std::uint8_t const* payload, std::size_t size, TestFlow const& flow, std::uint64_t index) noexcept
    {
        auto const key = grainKey(flow, index);
        std::size_t i = 0;
        for (; i + 8 <= size; i += 8)
        {
            std::uint64_t word;
            std::memcpy(&word, payload + i, 8);
            if (word != key + (i / 8) * wordStep)
            {
                break;
            }
        }
        for (; i < size; ++i)
        {
            if (payload[i] != byteAt(key, i))
            {
                return i;
            }
        }
        return std::nullopt;
    }

    float sampleValue(TestFlow const& flow, std::uint32_t channel, std::uint64_t n) noexcept
    {
        return static_cast<float>((flow.seed + channel * 1000003ULL + n * 7ULL) & 0xFFFFFFULL);
    }

    std::string whoseBytes(std::uint8_t const* payload, std::size_t size, std::size_t at, TestFlow const& flow, std::uint64_t index)
    {
        auto const aligned = at - at % 8;
        if (aligned + 8 > size)
        {
            return {};
        }
        auto const key = grainKey(flow, index);
        std::size_t wrongWords = 0;
        auto lastWrong = aligned;
        for (auto offset = aligned; offset + 8 <= size; offset += 8)
        {
            std::uint64_t word;
            std::memcpy(&word, payload + offset, 8);
            if (word != key + (offset / 8) * wordStep)
            {
                ++wrongWords;
                lastWrong = offset;
            }
        }
        auto text = fmt::format(" ({} wrong words up to byte {}", wrongWords, lastWrong + 7);
        std::uint64_t word;
        std::memcpy(&word, payload + aligned, 8);
        if (word == 0)
        {
            return text + "; zeros at the first)";
        }
        std::lock_guard lock{knownFlowsMutex};
        for (auto const& other : knownFlows)
        {
            for (std::int64_t d = -64; d <= 64; ++d)
            {
                auto const otherIndex = index + static_cast<std::uint64_t>(d);
                auto const offset = wordOffsetOf(word, grainKey(other, otherIndex)) * 8;
                if (offset < size)
                {
                    return text + fmt::format("; the first is byte {} of grain {} of flow {})", offset, otherIndex, other.id);
                }
            }
        }
        return text + "; the first belongs to no grain near it of any flow written here)";
    }

    std::ostream& operator<<(std::ostream& out, VerifierReport const& r)
    {
        out << "verified " << r.verified << ", corrupt " << r.corrupt << ", invalid " << r.invalidFlagged << ", missed " << r.missed << ", late "
            << r.late << ", silenced " << r.silenced << ", reopened " << r.reopened;
        if (r.first)
        {
            out << ", indices " << *r.first << ".." << r.last.value_or(0);
        }
        if (!r.missedIndices.empty())
        {
            out << ", first missed:";
            for (auto const index : r.missedIndices)
            {
                out << " " << index;
            }
        }
        if (!r.firstProblem.empty())
        {
            out << "; first problem: " << r.firstProblem;
        }
        return out;
    }

    // ---------------------------------------------------------------- LiveWriter

    LiveWriter::LiveWriter(std::string const& domain, TestFlow flow, unsigned batches)
        : _flow{std::move(flow)}
        , _batches{std::max(1U, batches)}
    {
        _instance = mxlCreateInstance(domain.c_str(), nullptr);
        if (_instance == nullptr)
        {
            _problem = "no instance on domain " + domain;
            return;
        }
        if (auto const status = mxlCreateFlowWriter(_instance, _flow.definition.c_str(), nullptr, &_writer, &_config, nullptr);
            status != MXL_STATUS_OK)
        {
            _problem = fmt::format("cannot create the writer of flow {} (status {})", _flow.id, static_cast<int>(status));
            return;
        }
        {
            std::lock_guard lock{knownFlowsMutex};
            knownFlows.push_back(_flow);
        }
        _thread = std::thread{[this] { run(); }};
    }

    LiveWriter::~LiveWriter()
    {
        stop();
        if (_writer != nullptr)
        {
            mxlReleaseFlowWriter(_instance, _writer);
        }
        if (_instance != nullptr)
        {
            mxlDestroyInstance(_instance);
        }
    }

    void LiveWriter::stop()
    {
        {
            std::lock_guard lock{_mutex};
            _stop = true;
        }
        _wake.notify_all();
        if (_thread.joinable())
        {
            _thread.join();
        }
    }

    std::string LiveWriter::problem() const
    {
        std::lock_guard lock{_mutex};
        return _problem;
    }

    std::uint64_t LiveWriter::written() const
    {
        std::lock_guard lock{_mutex};
        return _written;
    }

    std::uint64_t LiveWriter::skipped() const
    {
        std::lock_guard lock{_mutex};
        return _skipped;
    }

    void LiveWriter::report(std::string problem)
    {
        std::lock_guard lock{_mutex};
        if (_problem.empty())
        {
            _problem = std::move(problem);
        }
    }

    void LiveWriter::run()
    {
        if (_flow.media == Media::Audio)
        {
            writeSamples();
        }
        else
        {
            writeGrains();
        }
    }

    void LiveWriter::writeGrains()
    {
        auto const grainCount = _config.discrete.grainCount;
        auto const& sliceSizes = _config.discrete.sliceSizes;
        auto next = currentIndex(_flow);
        for (;;)
        {
            auto const now = currentIndex(_flow);
            if (now < next)
            {
                std::unique_lock lock{_mutex};
                auto const wait = std::chrono::nanoseconds{mxlGetNsUntilIndex(next, &_flow.rate)};
                if (_wake.wait_for(lock, std::min<std::chrono::nanoseconds>(wait, pollStep), [this] { return _stop; }))
                {
                    return;
                }
                continue;
            }
            if (now + 1 - next > grainCount)
            {
                std::lock_guard lock{_mutex};
                _skipped += now + 1 - grainCount - next;
                next = now + 1 - grainCount;
            }
            for (; next <= now; ++next)
            {
                mxlGrainInfo info;
                std::uint8_t* payload = nullptr;
                if (auto const status = mxlFlowWriterOpenGrain(_writer, next, &info, &payload); status != MXL_STATUS_OK)
                {
                    report(fmt::format("cannot open grain {} of flow {} (status {})", next, _flow.id, static_cast<int>(status)));
                    continue;
                }
                std::uint16_t done = 0;
                for (unsigned batch = 1; batch <= _batches; ++batch)
                {
                    auto const end = static_cast<std::uint16_t>(std::size_t{info.totalSlices} * batch / _batches);
                    if (end == done && batch != _batches)
                    {
                        continue;
                    }
                    std::size_t plane = 0;
                    for (std::size_t p = 0; p < MXL_MAX_PLANES_PER_GRAIN && sliceSizes[p] != 0; ++p)
                    {
                        fillGrain(payload, plane + std::size_t{done} * sliceSizes[p], plane + std::size_t{end} * sliceSizes[p], _flow, next);
                        plane += std::size_t{info.totalSlices} * sliceSizes[p];
                    }
                    info.validSlices = end;
                    if (auto const status = mxlFlowWriterCommitGrain(_writer, &info); status != MXL_STATUS_OK)
                    {
                        report(fmt::format("cannot commit grain {} of flow {} (status {})", next, _flow.id, static_cast<int>(status)));
                        break;
                    }
                    done = end;
                }
                std::lock_guard lock{_mutex};
                ++_written;
            }
        }
    }

    void LiveWriter::writeSamples()
    {
        std::size_t maxCount = 0;
        if (mxlFlowWriterGetMaxWriteLengthSamples(_writer, &maxCount) != MXL_STATUS_OK || maxCount == 0)
        {
            report("cannot get the maximum write length of flow " + _flow.id);
            return;
        }
        auto written = currentIndex(_flow);
        for (;;)
        {
            {
                std::unique_lock lock{_mutex};
                if (_wake.wait_for(lock, std::chrono::milliseconds{5}, [this] { return _stop; }))
                {
                    return;
                }
            }
            // Every sample is written, in order, even after a stall: a gap would leave old samples in the ring.
            auto const now = currentIndex(_flow);
            while (written < now)
            {
                auto const count = std::min<std::uint64_t>(now - written, maxCount);
                mxlMutableWrappedMultiBufferSlice slices;
                if (auto const status = mxlFlowWriterOpenSamples(_writer, written + count, count, &slices); status != MXL_STATUS_OK)
                {
                    report(fmt::format("cannot open samples up to {} of flow {} (status {})", written + count, _flow.id, static_cast<int>(status)));
                    written += count;
                    continue;
                }
                for (std::uint32_t c = 0; c < slices.count; ++c)
                {
                    auto n = written;
                    for (auto const& fragment : slices.base.fragments)
                    {
                        auto* samples = reinterpret_cast<float*>(static_cast<std::uint8_t*>(fragment.pointer) + c * slices.stride);
                        for (std::size_t i = 0; i < fragment.size / sizeof(float); ++i, ++n)
                        {
                            samples[i] = sampleValue(_flow, c, n);
                        }
                    }
                }
                if (auto const status = mxlFlowWriterCommitSamples(_writer); status != MXL_STATUS_OK)
                {
                    report(fmt::format("cannot commit samples up to {} of flow {} (status {})", written + count, _flow.id, static_cast<int>(status)));
                }
                written += count;
                std::lock_guard lock{_mutex};
                ++_written;
            }
        }
    }

    // ---------------------------------------------------------------- MirrorVerifier

    MirrorVerifier::MirrorVerifier(std::string const& domain, TestFlow flow)
        : _domain{domain}
        , _flow{std::move(flow)}
    {
        _thread = std::thread{[this] { run(); }};
    }

    MirrorVerifier::~MirrorVerifier()
    {
        stop();
    }

    void MirrorVerifier::stop()
    {
        {
            std::lock_guard lock{_mutex};
            _stop = true;
        }
        _changed.notify_all();
        if (_thread.joinable())
        {
            _thread.join();
        }
    }

    bool MirrorVerifier::stopping() const
    {
        std::lock_guard lock{_mutex};
        return _stop;
    }

    VerifierReport MirrorVerifier::report() const
    {
        std::lock_guard lock{_mutex};
        return _report;
    }

    std::vector<Arrival> MirrorVerifier::arrivals() const
    {
        std::lock_guard lock{_mutex};
        return _arrivals;
    }

    std::optional<Clock::time_point> MirrorVerifier::waitForVerified(std::uint64_t minIndex, std::chrono::milliseconds timeout) const
    {
        std::unique_lock lock{_mutex};
        std::optional<Clock::time_point> at;
        _changed.wait_for(lock, timeout, [&] {
            auto const found = std::find_if(_arrivals.rbegin(), _arrivals.rend(), [&](Arrival const& a) { return a.index < minIndex; });
            // Arrivals are in index order within one mirror; the first one at or past minIndex follows the newest one before it.
            auto const firstNew = found.base();
            if (firstNew != _arrivals.end())
            {
                at = firstNew->at;
            }
            return at.has_value() || _stop;
        });
        return at;
    }

    bool MirrorVerifier::waitForCount(std::uint64_t count, std::chrono::milliseconds timeout) const
    {
        std::unique_lock lock{_mutex};
        return _changed.wait_for(lock, timeout, [&] { return _report.verified >= count || _stop; }) && _report.verified >= count;
    }

    void MirrorVerifier::noteProblem(std::string problem)
    {
        std::lock_guard lock{_mutex};
        if (_report.firstProblem.empty())
        {
            _report.firstProblem = std::move(problem);
        }
    }

    void MirrorVerifier::noteVerified(std::uint64_t index)
    {
        {
            std::lock_guard lock{_mutex};
            ++_report.verified;
            if (!_report.first)
            {
                _report.first = index;
            }
            _report.last = index;
            _arrivals.push_back(Arrival{index, Clock::now()});
        }
        _changed.notify_all();
    }

    void MirrorVerifier::run()
    {
        _instance = mxlCreateInstance(_domain.c_str(), nullptr);
        if (_instance == nullptr)
        {
            noteProblem("no instance on domain " + _domain);
            return;
        }
        while (!stopping())
        {
            if (_reader == nullptr && !open())
            {
                std::this_thread::sleep_for(pollStep);
                continue;
            }
            if (_flow.media == Media::Audio)
            {
                followSamples();
            }
            else
            {
                followGrains();
            }
            if (_invalid)
            {
                std::lock_guard lock{_mutex};
                ++_report.reopened;
            }
            release();
        }
        mxlDestroyInstance(_instance);
    }

    bool MirrorVerifier::open()
    {
        _invalid = false;
        // Looked for first: the library logs every attempt to open a flow that is not there.
        if (!std::filesystem::exists(std::filesystem::path{_domain} / (_flow.id + ".mxl-flow") / "data"))
        {
            return false;
        }
        return mxlCreateFlowReader(_instance, _flow.id.c_str(), nullptr, &_reader) == MXL_STATUS_OK;
    }

    void MirrorVerifier::release()
    {
        if (_reader != nullptr)
        {
            mxlReleaseFlowReader(_instance, _reader);
            _reader = nullptr;
        }
    }

    std::optional<std::uint64_t> MirrorVerifier::firstHead()
    {
        std::uint64_t next = 0;
        while (!isHead(next))
        {
            if (stopping())
            {
                return std::nullopt;
            }
            next = head();
            if (next == MXL_UNDEFINED_INDEX)
            {
                _invalid = true;
                return std::nullopt;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{2});
        }
        return next;
    }

    std::uint64_t MirrorVerifier::head() const
    {
        mxlFlowRuntimeInfo runtime{};
        auto const status = mxlFlowReaderGetRuntimeInfo(_reader, &runtime);
        return status == MXL_STATUS_OK ? runtime.headIndex : MXL_UNDEFINED_INDEX;
    }

    void MirrorVerifier::checkGrain(std::uint64_t index, mxlGrainInfo const& info, std::uint8_t const* payload)
    {
        if ((info.flags & MXL_GRAIN_FLAG_INVALID) != 0)
        {
            std::lock_guard lock{_mutex};
            ++_report.invalidFlagged;
            return;
        }
        std::optional<std::string> wrong;
        if (info.index != index)
        {
            wrong = fmt::format("grain {} of flow {} has index {}", index, _flow.id, info.index);
        }
        else if (info.validSlices != info.totalSlices)
        {
            wrong = fmt::format("grain {} of flow {} was handed out with {} of {} slices", index, _flow.id, info.validSlices, info.totalSlices);
        }
        else if (auto const at = firstWrongByte(payload, info.grainSize, _flow, index))
        {
            auto const key = grainKey(_flow, index);
            wrong = fmt::format("grain {} of flow {}: byte {} of {} is {:#04x}, expected {:#04x}", index, _flow.id, *at, info.grainSize, payload[*at],
                byteAt(key, *at));
            *wrong += whoseBytes(payload, info.grainSize, *at, _flow, index);
        }
        // The payload was read in place: if the slot was reused meanwhile, what was read may be a newer grain's.
        mxlGrainInfo again;
        std::uint8_t* unused = nullptr;
        auto const still = mxlFlowReaderGetGrainNonBlocking(_reader, index, &again, &unused);
        if (still != MXL_STATUS_OK && still != MXL_ERR_OUT_OF_RANGE_TOO_EARLY)
        {
            std::lock_guard lock{_mutex};
            ++_report.late;
            return;
        }
        if (wrong)
        {
            {
                std::lock_guard lock{_mutex};
                ++_report.corrupt;
            }
            noteProblem(*wrong);
            return;
        }
        noteVerified(index);
    }

    void MirrorVerifier::followGrains()
    {
        mxlFlowConfigInfo config;
        if (mxlFlowReaderGetConfigInfo(_reader, &config) != MXL_STATUS_OK)
        {
            _invalid = true;
            return;
        }
        auto const grainCount = config.discrete.grainCount;
        _grainCount = grainCount;
        auto first = firstHead();
        if (!first)
        {
            return;
        }
        auto next = *first;
        while (!stopping())
        {
            auto const newest = head();
            if (newest == MXL_UNDEFINED_INDEX)
            {
                _invalid = true;
                return;
            }
            if (next + grainCount <= newest)
            {
                std::lock_guard lock{_mutex};
                _report.late += newest + 1 - grainCount - next;
                next = newest + 1 - grainCount;
            }
            mxlGrainInfo info;
            std::uint8_t* payload = nullptr;
            auto status = MXL_STATUS_OK;
            if (newest >= next + 2)
            {
                // Newer grains are arriving: this one is complete, still arriving, or never coming.
                status = mxlFlowReaderGetGrainSliceNonBlocking(_reader, next, MXL_GRAIN_VALID_SLICES_ANY, &info, &payload);
                if (status == MXL_STATUS_OK && info.validSlices < info.totalSlices && (info.flags & MXL_GRAIN_FLAG_INVALID) == 0)
                {
                    status = mxlFlowReaderGetGrain(_reader, next, 50'000'000ULL, &info, &payload);
                }
                if (status == MXL_ERR_OUT_OF_RANGE_TOO_EARLY)
                {
                    std::lock_guard lock{_mutex};
                    ++_report.missed;
                    if (_report.missedIndices.size() < 10)
                    {
                        _report.missedIndices.push_back(next);
                    }
                    ++next;
                    continue;
                }
            }
            else
            {
                status = mxlFlowReaderGetGrain(_reader, next, 100'000'000ULL, &info, &payload);
            }
            switch (status)
            {
                case MXL_STATUS_OK: checkGrain(next, info, payload); ++next; break;
                case MXL_ERR_OUT_OF_RANGE_TOO_EARLY: break;
                case MXL_ERR_OUT_OF_RANGE_TOO_LATE:
                {
                    std::lock_guard lock{_mutex};
                    ++_report.late;
                    ++next;
                    break;
                }
                case MXL_ERR_FLOW_INVALID: _invalid = true; return;
                default:
                    noteProblem(fmt::format("reading grain {} of flow {} failed (status {})", next, _flow.id, static_cast<int>(status)));
                    std::this_thread::sleep_for(pollStep);
                    break;
            }
        }
    }

    void MirrorVerifier::followSamples()
    {
        mxlFlowConfigInfo config;
        std::size_t maxCount = 0;
        if (mxlFlowReaderGetConfigInfo(_reader, &config) != MXL_STATUS_OK || mxlFlowReaderGetMaxReadLengthSamples(_reader, &maxCount) != MXL_STATUS_OK)
        {
            _invalid = true;
            return;
        }
        auto const bufferLength = config.continuous.bufferLength;
        auto const block = std::min<std::uint64_t>(maxCount, std::max<std::uint64_t>(1, static_cast<std::uint64_t>(_flow.rate.numerator / 100)));
        auto first = firstHead();
        if (!first)
        {
            return;
        }
        auto next = *first;
        while (!stopping())
        {
            mxlWrappedMultiBufferSlice slices;
            auto const status = mxlFlowReaderGetSamples(_reader, next + block, block, 100'000'000ULL, &slices);
            if (status == MXL_ERR_OUT_OF_RANGE_TOO_EARLY)
            {
                continue;
            }
            if (status == MXL_ERR_FLOW_INVALID)
            {
                _invalid = true;
                return;
            }
            if (status == MXL_ERR_OUT_OF_RANGE_TOO_LATE)
            {
                auto const newest = head();
                std::lock_guard lock{_mutex};
                ++_report.late;
                next = newest > bufferLength / 2 ? newest - bufferLength / 2 : next + block;
                continue;
            }
            if (status != MXL_STATUS_OK)
            {
                noteProblem(fmt::format("reading samples up to {} of flow {} failed (status {})", next + block, _flow.id, static_cast<int>(status)));
                std::this_thread::sleep_for(pollStep);
                continue;
            }
            std::optional<std::string> wrong;
            bool silent = false;
            if (slices.count != config.continuous.channelCount)
            {
                wrong = fmt::format("samples up to {} of flow {} came in {} channels", next + block, _flow.id, slices.count);
            }
            for (std::uint32_t c = 0; c < slices.count && !wrong; ++c)
            {
                auto n = next;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto const* samples = reinterpret_cast<float const*>(static_cast<std::uint8_t const*>(fragment.pointer) + c * slices.stride);
                    for (std::size_t i = 0; i < fragment.size / sizeof(float) && !wrong; ++i, ++n)
                    {
                        if (samples[i] == 0.0F && sampleValue(_flow, c, n) != 0.0F)
                        {
                            // Silence where the source lost samples (the mirror's head moved over them).
                            silent = true;
                        }
                        else if (samples[i] != sampleValue(_flow, c, n))
                        {
                            wrong = fmt::format("sample {} of channel {} of flow {} is {}, expected {}", n, c, _flow.id, samples[i], sampleValue(_flow, c, n));
                        }
                    }
                }
            }
            // Read in place: samples overwritten while being checked prove nothing either way.
            if (head() >= next + bufferLength)
            {
                std::lock_guard lock{_mutex};
                ++_report.late;
            }
            else if (wrong)
            {
                {
                    std::lock_guard lock{_mutex};
                    ++_report.corrupt;
                }
                noteProblem(*wrong);
            }
            else if (silent)
            {
                std::lock_guard lock{_mutex};
                ++_report.silenced;
            }
            else
            {
                noteVerified(next + block);
            }
            next += block;
        }
    }
}
