// SPDX-License-Identifier: Apache-2.0
#pragma once

// mxl-fabric-bridge's command line and --config FILE (the same names, one "name = value" per line;
// repeatable options may repeat; the command line wins for single values and adds to repeatable
// ones). A bad option throws boost::program_options::error naming it.

#include <cstdint>
#include <optional>
#include <string>

#include "bridge/Options.hpp"
#include "toolkit/Cli.hpp"

namespace mxl::bridge
{
    inline constexpr tools::Program program{"mxl-fabric-bridge",
        "mxl-fabric-bridge --domain DIR (--psk-file FILE | --insecure) [--listen IP:PORT] [--import PEER_IP:PORT/FLOW_ID]... [options]"};

    /// "1048576", "512K", "64M", "8G", "1T" (binary multiples); throws boost::program_options::error
    /// naming option.
    std::uint64_t parseByteSize(std::string const& option, std::string const& text);

    /// Nothing when --help was asked for (the help text is printed).
    std::optional<Options> parseOptions(int argc, char const* const* argv);

    /// "PEER_IP:PORT/FLOW_ID"; throws boost::program_options::error.
    ImportSpec parseImport(std::string const& text);
}
