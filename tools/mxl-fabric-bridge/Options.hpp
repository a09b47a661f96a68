// SPDX-License-Identifier: Apache-2.0
#pragma once

// mxl-fabric-bridge's options, from the command line and --config FILE (the same names, one
// "name = value" per line; repeatable options may repeat; the command line wins for single values
// and adds to repeatable ones). A bad option throws boost::program_options::error naming it.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/Uuid.hpp"

namespace mxl::bridge
{
    inline constexpr int exitOk = 0;
    inline constexpr int exitFailed = 1;      ///< A runtime failure (domain, listening, another bridge).
    inline constexpr int exitUsage = 2;       ///< Bad options, configuration or key file.
    inline constexpr int exitNoProvider = 3;  ///< The provider asked for is not available or not supported.

    inline constexpr char usage[] =
        "mxl-fabric-bridge --domain DIR (--psk-file FILE | --insecure) [--listen IP:PORT] [--import PEER_IP:PORT/FLOW_ID]... [options]";

    struct ImportSpec
    {
        std::string peer; ///< "IP:PORT" of the peer bridge's --listen.
        Uuid flowId{};
    };

    struct Options
    {
        std::filesystem::path domain;
        std::string listen{"0.0.0.0:7400"};
        std::string provider{"auto"};
        std::optional<std::filesystem::path> pskFile;
        bool insecure{false};
        std::vector<ImportSpec> imports;
        bool exportAll{true};
        std::vector<Uuid> exports;
        std::optional<std::string> metrics;
        std::string logLevel{"info"};
        /// Largest mirror one offer may make here (bytes of grains or samples).
        std::uint64_t maxMirrorBytes{std::uint64_t{8} << 30};
        /// Largest total of all mirrors; unset: three quarters of the domain's file system.
        std::optional<std::uint64_t> maxMirrorsBytes;
    };

    /// "1048576", "512K", "64M", "8G", "1T" (binary multiples); throws boost::program_options::error
    /// naming option.
    std::uint64_t parseByteSize(std::string const& option, std::string const& text);

    /// Nothing when --help was asked for (the help text is printed).
    std::optional<Options> parseOptions(int argc, char const* const* argv);

    /// "PEER_IP:PORT/FLOW_ID"; throws boost::program_options::error.
    ImportSpec parseImport(std::string const& text);
}
