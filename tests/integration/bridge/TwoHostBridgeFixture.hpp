// SPDX-License-Identifier: Apache-2.0
#pragma once

// Two hosts, each with its own domain and its own mxl-fabric-bridge: A (10.201.0.1) exports, B
// (10.201.0.2) imports. Skipped, saying why, where network namespaces cannot be made (not root).
// The bridges' logs are printed when a test fails.

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "BridgeMedia.hpp"
#include "BridgeProcess.hpp"
#include "TwoHosts.hpp"
#include "support/TestDomain.hpp"

namespace mxl::bridge::test
{
    class TwoHostBridge : public ::testing::Test
    {
    protected:
        static constexpr char controlPort[] = "7400";

        void SetUp() override
        {
            auto made = TwoHosts::create(testProvider() == "verbs");
            if (!made)
            {
                // Asked for verbs on a host that cannot make Soft-RoCE devices: a failure, not a skip.
                ASSERT_NE(made.error().status, MXL_ERR_NO_FABRIC) << made.error().message;
                GTEST_SKIP() << made.error().message;
            }
            hosts = std::move(made.value());
            key = writeKey(scratch.path() / "bridge.key");
        }

        void TearDown() override
        {
            if (HasFailure())
            {
                std::cout << "---- status on A: " << describeStatus(domainA.path()) << "---- status on B: " << describeStatus(domainB.path());
                for (auto const& bridge : bridges)
                {
                    std::cout << "---- " << bridge->logFile().filename().string() << "\n" << tail(bridge->log()) << "\n";
                }
            }
        }

        /// The exporting bridge on A (a restart is just another call). Waits until it serves its status.
        RunningBridge& startA(std::vector<std::string> const& extra = {})
        {
            std::vector<std::string> args{"--domain", domainA.str(), "--listen", std::string{TwoHosts::addressA} + ":" + controlPort};
            args.insert(args.end(), extra.begin(), extra.end());
            auto& bridge = start("a", hosts->namespaceA(), args, key);
            EXPECT_TRUE(waitForStatus(domainA.path(), [&](BridgeStatus const& s) { return s.pid == static_cast<std::uint32_t>(bridge.pid()); },
                std::chrono::seconds{10}))
                << "bridge A published no status";
            return bridge;
        }

        /// The importing bridge on B, importing flows from A, with extra options.
        RunningBridge& startB(std::vector<TestFlow const*> const& imports, std::filesystem::path const& keyFile, std::vector<std::string> const& extra = {})
        {
            std::vector<std::string> args{"--domain", domainB.str(), "--listen", std::string{TwoHosts::addressB} + ":" + controlPort};
            args.insert(args.end(), extra.begin(), extra.end());
            for (auto const* flow : imports)
            {
                args.push_back("--import");
                args.push_back(std::string{TwoHosts::addressA} + ":" + controlPort + "/" + flow->id);
            }
            return start("b", hosts->namespaceB(), args, keyFile);
        }

        RunningBridge& startB(std::vector<TestFlow const*> const& imports)
        {
            return startB(imports, key);
        }

        std::unique_ptr<TwoHosts> hosts;
        mxl::test::TestDomain scratch; ///< Keys and logs.
        mxl::test::TestDomain domainA;
        mxl::test::TestDomain domainB;
        std::filesystem::path key;
        std::vector<std::unique_ptr<RunningBridge>> bridges;

    private:
        RunningBridge& start(std::string const& host, std::string const& ns, std::vector<std::string> args, std::filesystem::path const& keyFile)
        {
            auto const log = scratch.path() / (host + std::to_string(bridges.size()) + ".log");
            args.insert(args.end(), {"--provider", testProvider(), "--psk-file", keyFile.string(), "--log-level", "debug"});
            bridges.push_back(std::make_unique<RunningBridge>(log, args, ns));
            return *bridges.back();
        }
    };
}
