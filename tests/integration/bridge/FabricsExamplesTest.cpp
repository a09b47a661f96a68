// SPDX-License-Identifier: Apache-2.0
// The fabrics C API's example pair (examples/fabrics_target.c, fabrics_initiator.c, built as C17
// with -Wall -Werror) moves a live 1080p60 flow from host A to host B, two network namespaces, the
// TargetInfo carried in a file as an operator would carry it. A verifier on B checks every grain of
// the mirror byte for byte. Skipped, saying why, where namespaces cannot be made (not root).
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "BridgeMedia.hpp"
#include "TwoHosts.hpp"
#include "ToolProcess.hpp"
#include "support/TestDomain.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        using namespace std::chrono_literals;

        std::unique_ptr<mxl::test::BackgroundTool> runIn(std::string const& ns, std::string const& program, std::vector<std::string> const& args)
        {
            return std::make_unique<mxl::test::BackgroundTool>(TwoHosts::ipTool(), TwoHosts::execIn(ns, program, args));
        }

        bool waitForFile(std::filesystem::path const& path, std::chrono::milliseconds timeout)
        {
            auto const deadline = std::chrono::steady_clock::now() + timeout;
            while (!std::filesystem::exists(path))
            {
                if (std::chrono::steady_clock::now() > deadline)
                {
                    return false;
                }
                std::this_thread::sleep_for(20ms);
            }
            return true;
        }
    }

    TEST(FabricsExamples, TheCPairMovesALiveFlowBetweenTwoHostsByteExact)
    {
        auto made = TwoHosts::create();
        if (!made)
        {
            GTEST_SKIP() << made.error().message;
        }
        auto const hosts = std::move(made.value());
        mxl::test::TestDomain scratch;
        mxl::test::TestDomain domainA;
        mxl::test::TestDomain domainB;

        auto const video = videoFlow();
        auto const flowDefFile = scratch.path() / "flow.json";
        std::ofstream{flowDefFile} << video.definition;
        auto const infoFile = scratch.path() / "target-info";

        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto target = runIn(hosts->namespaceB(), MXL_FABRICS_TARGET_PATH, {domainB.str(), flowDefFile.string(), TwoHosts::addressB, "0", infoFile.string()});
        ASSERT_TRUE(waitForFile(infoFile, 10s)) << "the target wrote no TargetInfo: " << target->wait(1s).err;
        struct stat info{};
        ASSERT_EQ(::stat(infoFile.c_str(), &info), 0);
        EXPECT_EQ(info.st_mode & 0777, 0600U) << "the TargetInfo is a secret: its owner's only";

        MirrorVerifier mirror{domainB.str(), video};
        auto initiator = runIn(hosts->namespaceA(), MXL_FABRICS_INITIATOR_PATH, {domainA.str(), video.id, TwoHosts::addressA, infoFile.string()});
        // Two seconds of 1080p60.
        EXPECT_TRUE(mirror.waitForCount(120, 20s)) << mirror.report();

        initiator->signal(SIGTERM);
        auto const sent = initiator->wait(10s);
        mirror.stop();
        target->signal(SIGTERM);
        auto const received = target->wait(10s);
        writer.stop();

        EXPECT_EQ(sent.exitCode, 0) << sent.err;
        EXPECT_EQ(received.exitCode, 0) << received.err;
        EXPECT_NE(sent.out.find("grains: "), std::string::npos) << sent.out;
        EXPECT_NE(received.out.find("grains: "), std::string::npos) << received.out;
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_GE(report.verified, 120U) << report;
        EXPECT_EQ(writer.problem(), "");
    }
}
