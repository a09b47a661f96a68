// SPDX-License-Identifier: Apache-2.0
#pragma once

// Helpers for the fabrics C API's tests: a domain with an mxlInstance and a fabrics instance on it,
// grants to make TargetInfos of, and a copy of what the library logs.

#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <mxl/fabrics.h>
#include <mxl/mxl.h>
#include "common/Logging.hpp"
#include "protocol/Messages.hpp"
#include "support/TestDomain.hpp"

namespace mxl::test
{
    /// A domain, an mxlInstance on it and a fabrics instance on that, destroyed in reverse order.
    class FabricsFixture : public ::testing::Test
    {
    protected:
        void SetUp() override
        {
            instance = ::mxlCreateInstance(domain.str().c_str(), nullptr);
            ASSERT_NE(instance, nullptr);
            ASSERT_EQ(::mxlFabricsCreateInstance(instance, nullptr, &fabrics), MXL_STATUS_OK);
            ASSERT_NE(fabrics, nullptr);
        }

        void TearDown() override
        {
            if (fabrics != nullptr)
            {
                EXPECT_EQ(::mxlFabricsDestroyInstance(fabrics), MXL_STATUS_OK);
            }
            if (instance != nullptr)
            {
                EXPECT_EQ(::mxlDestroyInstance(instance), MXL_STATUS_OK);
            }
        }

        TestDomain domain;
        mxlInstance instance{nullptr};
        mxlFabricsInstance fabrics{nullptr};
    };

    /// A grant as a target on tcp would give: three payload regions and the commit ring.
    inline fabric::RegionGrant sampleGrant(fabric::Transfer transfer = fabric::Transfer::Rma)
    {
        fabric::RegionGrant grant;
        for (std::size_t i = 0; i < grant.flowId.size(); ++i)
        {
            grant.flowId[i] = static_cast<std::uint8_t>(0xA0 + i);
        }
        grant.epoch = 0x1122334455667788ULL;
        for (std::size_t i = 0; i < grant.connectKey.size(); ++i)
        {
            grant.connectKey[i] = static_cast<std::byte>(0x5A ^ i);
        }
        grant.provider = "tcp";
        grant.transfer = transfer;
        grant.node = "127.0.0.1";
        grant.service = "41234";
        if (transfer == fabric::Transfer::Rma)
        {
            grant.commitEntries = 1024;
            grant.commitRing = {0x7f0000100000ULL, 1024 * 32, 0xC0FFEE};
            grant.regions = {{0x7f0000200000ULL, 4096, 0x1001}, {0x7f0000300000ULL, 4096, 0x1002}, {0x7f0000400000ULL, 4096, 0x1003}};
        }
        else
        {
            grant.maxChunk = 256 * 1024;
        }
        return grant;
    }

    /// Copies what the library logs from construction to destruction.
    class LogCapture
    {
    public:
        LogCapture()
            : _sink{std::make_shared<spdlog::sinks::ostream_sink_mt>(_text)}
        {
            mxl::log().sinks().push_back(_sink);
        }

        ~LogCapture()
        {
            auto& sinks = mxl::log().sinks();
            std::erase(sinks, _sink);
        }

        LogCapture(LogCapture const&) = delete;
        LogCapture& operator=(LogCapture const&) = delete;

        [[nodiscard]] std::string text()
        {
            mxl::log().flush();
            return _text.str();
        }

    private:
        std::ostringstream _text;
        std::shared_ptr<spdlog::sinks::ostream_sink_mt> _sink;
    };
}
