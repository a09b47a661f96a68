// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "base/Expected.hpp"
#include "base/Fd.hpp"

namespace mxl
{
    /// Largest flow_def.json read (NMOS flow definitions are a few KiB).
    inline constexpr std::size_t maxFlowDefinitionBytes = 1024 * 1024;
    /// Largest options.json read.
    inline constexpr std::size_t maxOptionsBytes = 64 * 1024;

    /// Opens a file inside a domain, where anyone who may write the domain could have put anything:
    /// never follows a symbolic link, never blocks (a FIFO opened for reading would wait for a writer
    /// forever), and refuses what is not a regular file, naming what it is. flags: O_RDONLY or O_RDWR.
    /// A missing file gives MXL_ERR_FLOW_NOT_FOUND, one that may not be opened PERMISSION_DENIED, any
    /// other kind of file FLOW_INVALID.
    Expected<Fd> openDomainFile(std::filesystem::path const& path, int flags);

    /// Reads a whole file inside a domain (opened as openDomainFile does), refusing one larger than
    /// maxBytes with FLOW_INVALID before reading it.
    Expected<std::string> readDomainFile(std::filesystem::path const& path, std::size_t maxBytes);
}
