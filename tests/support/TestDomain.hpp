// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <string>

namespace mxl::test
{
    /// A fresh domain directory under /dev/shm (mkdtemp), removed with everything in it on
    /// destruction. Each test makes its own, so parallel and repeated runs never collide.
    class TestDomain
    {
    public:
        TestDomain();
        ~TestDomain();
        TestDomain(TestDomain const&) = delete;
        TestDomain& operator=(TestDomain const&) = delete;

        [[nodiscard]] std::filesystem::path const& path() const noexcept
        {
            return _path;
        }

        [[nodiscard]] std::string str() const
        {
            return _path.string();
        }

    private:
        std::filesystem::path _path;
    };

    /// A flow definition for tests. media: "v210", "v210a", "smpte291", "audio".
    std::string flowDef(std::string const& id, std::string const& media, int width = 1920, int height = 1080, int rateNum = 60000,
        int rateDen = 1001, int channels = 2);
}
