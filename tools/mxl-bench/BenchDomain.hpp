// SPDX-License-Identifier: Apache-2.0
#pragma once

// The domain directory a benchmark runs in: the one the user gave, or a fresh one under /dev/shm
// that is removed at the end.

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace mxl::bench
{
    struct BenchDomain
    {
        /// given: a directory to use as it is; empty for a temporary one.
        explicit BenchDomain(std::string const& given = {})
        {
            if (!given.empty())
            {
                path = given;
                return;
            }
            std::string pattern = "/dev/shm/mxl-bench-XXXXXX";
            if (::mkdtemp(pattern.data()) == nullptr)
            {
                throw std::runtime_error{"cannot create a temporary domain under /dev/shm"};
            }
            path = pattern;
            owned = true;
        }

        ~BenchDomain()
        {
            if (owned)
            {
                std::error_code ec;
                std::filesystem::remove_all(path, ec);
            }
        }

        BenchDomain(BenchDomain const&) = delete;
        BenchDomain& operator=(BenchDomain const&) = delete;

        std::string path;
        bool owned{false};
    };
}
