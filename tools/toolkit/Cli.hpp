// SPDX-License-Identifier: Apache-2.0
#pragma once

// The command-line convention of the four tools, and the parsers of option values that more than
// one tool takes:
// - exit codes: 0 done, 1 failed (stderr says why), 2 bad arguments; mxl-fabric-bridge adds 3
//   (provider not available);
// - -h or --help prints the help on stdout and exits 0: "NAME: what it does", its usage, the options
//   (helpCaption); mxl-bench's lists its commands, and each command has a --help of its own;
// - a bad argument prints "NAME: message" (the message names the option) and where the help is on
//   stderr, and exits 2. Run bare, without any argument, a tool adds its usage: its caller has yet
//   to learn how to call it. A more specific mistake gets the message alone, not buried under the
//   usage.
// Options are parsed with boost::program_options (parseCommandLine); a bad value throws po::error
// naming the option, which runMain turns into exit code 2.

#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>
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

    /// How a tool introduces itself in its help and its messages.
    struct Program
    {
        std::string_view name;
        /// The ways to call it, one a line: "mxl-info --domain DIR [--flow ID]\nmxl-info --domain DIR --gc".
        std::string_view usage;
    };

    /// "usage: " and the usage, its further lines aligned under the first.
    inline std::string usageText(std::string_view usage)
    {
        std::string text{"usage: "};
        for (auto const c : usage)
        {
            text += c;
            if (c == '\n')
            {
                text += "       ";
            }
        }
        return text;
    }

    /// The caption of a tool's --help: "NAME: SUMMARY", its usage, then rest (what else comes before
    /// the options: their heading, exit codes), a blank line apart.
    inline std::string helpCaption(Program const& program, std::string_view summary, std::string_view rest)
    {
        return fmt::format("{}: {}\n\n{}\n\n{}", program.name, summary, usageText(program.usage), rest);
    }

    /// Options that start with -h/--help, which parseCommandLine answers.
    inline boost::program_options::options_description optionsWithHelp(std::string const& caption)
    {
        boost::program_options::options_description options{caption};
        options.add_options()("help,h", "show this help");
        return options;
    }

    /// The arguments (the command line after the program's name) parsed against options, stored into
    /// the variables they name and notified; nothing when -h/--help was among them, after printing
    /// the help. A bad argument throws po::error.
    inline std::optional<boost::program_options::variables_map> parseCommandLine(boost::program_options::options_description const& options,
        std::vector<std::string> const& arguments)
    {
        boost::program_options::variables_map vm;
        boost::program_options::store(boost::program_options::command_line_parser(arguments).options(options).run(), vm);
        if (vm.count("help") != 0)
        {
            std::cout << options << "\n";
            return std::nullopt;
        }
        boost::program_options::notify(vm);
        return vm;
    }

    inline std::optional<boost::program_options::variables_map> parseCommandLine(boost::program_options::options_description const& options,
        int argc, char const* const* argv)
    {
        return parseCommandLine(options, argc > 1 ? std::vector<std::string>(argv + 1, argv + argc) : std::vector<std::string>{});
    }

    /// Runs a tool's main body under the convention above: bad arguments (po::error) exit 2 with
    /// the message and where the help is, and the usage when the command line (argc) was bare; any
    /// other failure exits 1 with its message; otherwise the body's exit code.
    template<typename Body>
    int runMain(Program const& program, int argc, Body&& body) noexcept
    {
        try
        {
            return body();
        }
        catch (boost::program_options::error const& e)
        {
            std::cerr << program.name << ": " << e.what() << "\n";
            if (argc < 2)
            {
                std::cerr << usageText(program.usage) << "\n";
            }
            std::cerr << "(" << program.name << " --help lists the options)\n";
            return exitUsage;
        }
        catch (std::exception const& e)
        {
            std::cerr << program.name << ": " << e.what() << "\n";
            return exitFailed;
        }
    }
}
