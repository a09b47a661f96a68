// SPDX-License-Identifier: Apache-2.0
#include "support/TestDomain.hpp"

#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

namespace mxl::test
{
    TestDomain::TestDomain()
    {
        std::string pattern = "/dev/shm/mxl-test-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr)
        {
            throw std::runtime_error{"mkdtemp under /dev/shm failed"};
        }
        _path = pattern;
    }

    TestDomain::~TestDomain()
    {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }

    std::string flowDef(std::string const& id, std::string const& media, int width, int height, int rateNum, int rateDen, int channels)
    {
        if (media == "audio")
        {
            return fmt::format(R"({{"id":"{}","format":"urn:x-nmos:format:audio","label":"test audio","media_type":"audio/float32",
                "tags":{{"urn:x-nmos:tag:grouphint/v1.0":["test:audio"]}},"sample_rate":{{"numerator":{}}},"channel_count":{},"bit_depth":32}})",
                id, rateNum, channels);
        }
        if (media == "smpte291")
        {
            return fmt::format(R"({{"id":"{}","format":"urn:x-nmos:format:data","label":"test anc","media_type":"video/smpte291",
                "tags":{{"urn:x-nmos:tag:grouphint/v1.0":["test:anc"]}},"grain_rate":{{"numerator":{},"denominator":{}}}}})",
                id, rateNum, rateDen);
        }
        return fmt::format(R"({{"id":"{}","format":"urn:x-nmos:format:video","label":"test video","media_type":"video/{}",
            "tags":{{"urn:x-nmos:tag:grouphint/v1.0":["test:video"]}},"grain_rate":{{"numerator":{},"denominator":{}}},
            "frame_width":{},"frame_height":{},"interlace_mode":"progressive","colorspace":"BT709"}})",
            id, media, rateNum, rateDen, width, height);
    }
}
