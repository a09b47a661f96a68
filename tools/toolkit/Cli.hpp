// SPDX-License-Identifier: Apache-2.0
#pragma once

// Command-line conventions shared by the tools: exit codes, the parsers of option values that
// more than one tool takes, and main()'s error handling. A bad value throws po::error naming the
// option, which runMain turns into exit code 2.

#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>

#include <boost/program_options/errors.hpp>
#include <fmt/format.h>

#include <mxl/rational.h>
#include "base/Uuid.hpp"

namespace mxl::tools
{
    inline constexpr int exitOk = 0;
    inline constexpr int exitFailed = 1;
    inline constexpr int exitUsage = 2;

    /// A fresh flow id in its canonical form; throws (exit code 1) when there is no randomness.
    inline std::string newFlowId()
    {
        auto id = randomUuid();
        if (!id)
        {
            throw std::runtime_error{id.error().message};
        }
        return formatUuid(*id);
    }

    struct FrameSize
    {
        std::uint32_t width{0};
        std::uint32_t height{0};
    };

    /// "WIDTHxHEIGHT" with positive integers and nothing after them.
    inline FrameSize parseFrameSize(std::string const& option, std::string const& text)
    {
        unsigned w = 0, h = 0;
        char x = 0;
        int consumed = 0;
        if (std::sscanf(text.c_str(), "%u%c%u%n", &w, &x, &h, &consumed) != 3 || x != 'x' || w == 0 || h == 0 ||
            static_cast<std::size_t>(consumed) != text.size())
        {
            throw boost::program_options::error{fmt::format("{} expects WIDTHxHEIGHT (e.g. 1920x1080), got '{}'", option, text)};
        }
        return {w, h};
    }

    /// "N" or "N/D" with positive integers.
    inline mxlRational parseRate(std::string const& option, std::string const& text)
    {
        long long n = 0, d = 1;
        int consumed = 0;
        int const fields = std::sscanf(text.c_str(), "%lld%n/%lld%n", &n, &consumed, &d, &consumed);
        if (fields < 1 || n <= 0 || d <= 0 || static_cast<std::size_t>(consumed) != text.size())
        {
            throw boost::program_options::error{fmt::format("{} expects N or N/D with positive integers (e.g. 60 or 60000/1001), got '{}'", option, text)};
        }
        return mxlRational{n, d};
    }

    /// A flow id in canonical UUID form; returned lowercase, as in flow directory names.
    inline std::string parseFlowId(std::string const& option, std::string const& text)
    {
        auto const id = parseUuid(text);
        if (!id)
        {
            throw boost::program_options::error{fmt::format("{} expects a flow id (a UUID such as 5fbec3b1-1b0f-417d-9059-8b94a47197ed), got '{}'", option, text)};
        }
        return formatUuid(*id);
    }

    /// "60" for 60/1, "59.94" for 60000/1001.
    inline std::string formatRate(mxlRational const& rate)
    {
        if (rate.denominator == 1)
        {
            return std::to_string(rate.numerator);
        }
        auto const value = static_cast<double>(rate.numerator) / static_cast<double>(rate.denominator);
        return fmt::format("{:.2f}", value);
    }

    /// Runs a tool's body: bad arguments (po::error) exit 2 with the message and a hint, any other
    /// failure exits 1 with its message; otherwise the body's exit code.
    template<typename Body>
    int runMain(char const* tool, Body&& body) noexcept
    {
        try
        {
            return body();
        }
        catch (boost::program_options::error const& e)
        {
            std::cerr << tool << ": " << e.what() << "\n(" << tool << " --help lists the options)\n";
            return exitUsage;
        }
        catch (std::exception const& e)
        {
            std::cerr << tool << ": " << e.what() << "\n";
            return exitFailed;
        }
    }
}
