// SPDX-License-Identifier: Apache-2.0
#pragma once

// SMPTE ST 12 timecode derived from a grain index, carried as an ST 12-2 ancillary time code
// (ATC, DID 0x60 / SDID 0x60) packet in an RFC 8331 payload, as mxl-gen writes it in
// video/smpte291 grains. docs/tools.md documents the exact layout.

#include <array>
#include <bit>
#include <cstdint>
#include <span>

#include <mxl/rational.h>

namespace mxl::gen
{
    struct Timecode
    {
        std::uint32_t hours{0};
        std::uint32_t minutes{0};
        std::uint32_t seconds{0};
        std::uint32_t frames{0};
        /// Above 30 frames a second, ST 12-1 counts frame pairs: set on the second frame of a pair.
        bool secondOfPair{false};

        friend bool operator==(Timecode const&, Timecode const&) = default;
    };

    /// Frames per second as timecode counts them: the rate rounded up (30 for 30000/1001).
    [[nodiscard]] constexpr std::uint64_t timecodeFrameRate(mxlRational const& rate) noexcept
    {
        auto const num = static_cast<std::uint64_t>(rate.numerator);
        auto const den = static_cast<std::uint64_t>(rate.denominator);
        return (num + den - 1) / den;
    }

    /// Non-drop-frame timecode of a grain: the grain index counted modulo a day of nominal frames.
    /// For integer rates this is the time of day (TAI) of the grain. Rates up to 60 frames a second.
    [[nodiscard]] constexpr Timecode timecodeForIndex(std::uint64_t index, mxlRational const& rate) noexcept
    {
        auto const fps = timecodeFrameRate(rate);
        auto const count = index % (fps * 86'400);
        auto const frame = count % fps;
        auto const second = count / fps;
        Timecode tc;
        tc.hours = static_cast<std::uint32_t>(second / 3600);
        tc.minutes = static_cast<std::uint32_t>(second / 60 % 60);
        tc.seconds = static_cast<std::uint32_t>(second % 60);
        if (fps > 30)
        {
            tc.frames = static_cast<std::uint32_t>(frame / 2);
            tc.secondOfPair = frame % 2 == 1;
        }
        else
        {
            tc.frames = static_cast<std::uint32_t>(frame);
        }
        return tc;
    }

    /// The 64 timecode bits of ST 12-1 (LTC order, sync word excluded): BCD digits, no binary
    /// groups, no drop-frame or colour-frame flag. The frame-pair flag is bit 27, or bit 59 for
    /// 25-frame based rates.
    [[nodiscard]] constexpr std::uint64_t timecodeBits(Timecode const& tc, mxlRational const& rate) noexcept
    {
        auto digit = [](std::uint32_t v, int shift) {
            return static_cast<std::uint64_t>(v) << shift;
        };
        std::uint64_t bits = digit(tc.frames % 10, 0) | digit(tc.frames / 10, 8) | digit(tc.seconds % 10, 16) | digit(tc.seconds / 10, 24) |
                             digit(tc.minutes % 10, 32) | digit(tc.minutes / 10, 40) | digit(tc.hours % 10, 48) | digit(tc.hours / 10, 56);
        if (tc.secondOfPair)
        {
            bits |= std::uint64_t{1} << (timecodeFrameRate(rate) % 25 == 0 ? 59 : 27);
        }
        return bits;
    }

    /// A ST 291 10-bit word from 8 data bits: b8 even parity of b0..b7, b9 = !b8.
    [[nodiscard]] constexpr std::uint16_t ancWord(std::uint8_t value) noexcept
    {
        auto const parity = static_cast<std::uint16_t>(std::popcount(value) & 1);
        return static_cast<std::uint16_t>(value | parity << 8 | (parity ^ 1U) << 9);
    }

    inline constexpr std::uint8_t atcDid = 0x60;
    inline constexpr std::uint8_t atcSdid = 0x60;
    inline constexpr std::size_t atcUserWords = 16;
    inline constexpr std::uint16_t atcLineNumber = 9;
    inline constexpr std::uint16_t ancNoSpecificHorizontalOffset = 0xFFF;

    /// The 16 user data words of an ATC_LTC packet: word n carries timecode bits 4n..4n+3 in b4..b7
    /// and a distributed binary bit in b3 (DBB1 = 0x00: LTC; DBB2 = 0x00).
    [[nodiscard]] constexpr std::array<std::uint16_t, atcUserWords> atcUserDataWords(std::uint64_t timecode) noexcept
    {
        std::array<std::uint16_t, atcUserWords> words{};
        for (std::size_t n = 0; n < atcUserWords; ++n)
        {
            words[n] = ancWord(static_cast<std::uint8_t>(((timecode >> (4 * n)) & 0xFU) << 4));
        }
        return words;
    }

    /// Writes bit fields most significant bit first, as RFC 8331 lays them out.
    class BitWriter
    {
    public:
        explicit BitWriter(std::span<std::uint8_t> out) noexcept
            : _out{out}
        {}

        void put(std::uint32_t value, unsigned bits) noexcept
        {
            for (unsigned i = bits; i-- > 0;)
            {
                auto const byte = _bit / 8;
                if (byte < _out.size())
                {
                    auto const mask = static_cast<std::uint8_t>(0x80U >> (_bit % 8));
                    _out[byte] = static_cast<std::uint8_t>(((value >> i) & 1U) != 0 ? _out[byte] | mask : _out[byte] & ~mask);
                }
                ++_bit;
            }
        }

        void alignTo32() noexcept
        {
            while (_bit % 32 != 0)
            {
                put(0, 1);
            }
        }

        [[nodiscard]] std::size_t bits() const noexcept
        {
            return _bit;
        }

    private:
        std::span<std::uint8_t> _out;
        std::size_t _bit{0};
    };

    /// Bytes atcPayload writes: Length, ANC_Count/F/reserved and one 32-byte ANC packet.
    inline constexpr std::size_t atcPayloadBytes = 38;

    /// Writes the RFC 8331 payload, from its Length field on, holding one ATC packet for tc.
    /// Returns the bytes written (atcPayloadBytes), or 0 if out is too small.
    inline std::size_t writeAtcPayload(Timecode const& tc, mxlRational const& rate, std::span<std::uint8_t> out) noexcept
    {
        if (out.size() < atcPayloadBytes)
        {
            return 0;
        }
        auto const udw = atcUserDataWords(timecodeBits(tc, rate));
        auto const did = ancWord(atcDid);
        auto const sdid = ancWord(atcSdid);
        auto const dataCount = ancWord(static_cast<std::uint8_t>(atcUserWords));
        std::uint32_t sum = (did & 0x1FFU) + (sdid & 0x1FFU) + (dataCount & 0x1FFU);
        for (auto const w : udw)
        {
            sum += w & 0x1FFU;
        }
        sum &= 0x1FFU;
        auto const checksum = static_cast<std::uint16_t>(sum | ((~sum >> 8) & 1U) << 9);

        auto const packet = out.subspan(6);
        BitWriter p{packet};
        p.put(0, 1); // C: luma
        p.put(atcLineNumber, 11);
        p.put(ancNoSpecificHorizontalOffset, 12);
        p.put(0, 1); // S: no data stream number
        p.put(0, 7); // StreamNum
        p.put(did, 10);
        p.put(sdid, 10);
        p.put(dataCount, 10);
        for (auto const w : udw)
        {
            p.put(w, 10);
        }
        p.put(checksum, 10);
        p.alignTo32();
        auto const length = p.bits() / 8;

        BitWriter h{out.first(6)};
        h.put(static_cast<std::uint32_t>(length), 16); // Length: octets from the first C bit
        h.put(1, 8);                                   // ANC_Count
        h.put(0, 2);                                   // F: progressive frame
        h.put(0, 22);                                  // reserved
        return 6 + length;
    }
}
