// SPDX-License-Identifier: Apache-2.0
// The calls of the core (setup, reads, transfers, progress): each checks its arguments, handles and
// call order as the contract says, with a log line naming what was wrong. Moving data is in
// FabricsTransferTest.cpp.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include "FabricsTestSupport.hpp"
#include "api/Handles.hpp"
#include "api/TargetInfo.hpp"
#include "base/Uuid.hpp"

namespace
{
    using mxl::test::LogCapture;

    class FabricsCore : public mxl::test::FabricsFixture
    {
    protected:
        void SetUp() override
        {
            FabricsFixture::SetUp();
            ASSERT_EQ(mxlFabricsCreateTarget(fabrics, &target), MXL_STATUS_OK);
            ASSERT_EQ(mxlFabricsCreateInitiator(fabrics, &initiator), MXL_STATUS_OK);
            flowId = mxl::formatUuid(mxl::randomUuid().value());
            auto const def = mxl::test::flowDef(flowId, "v210", 64, 8, 50, 1);
            ASSERT_EQ(mxlCreateFlowWriter(instance, def.c_str(), nullptr, &writer, nullptr, nullptr), MXL_STATUS_OK);
            ASSERT_EQ(mxlCreateFlowReader(instance, flowId.c_str(), nullptr, &reader), MXL_STATUS_OK);
            auto const text = mxl::fabric::api::formatTargetInfo(mxl::fabric::api::makeTargetInfo(mxl::test::sampleGrant()).value());
            ASSERT_EQ(mxlFabricsTargetInfoFromString(text.c_str(), &info), MXL_STATUS_OK);
        }

        void TearDown() override
        {
            if (info != nullptr)
            {
                EXPECT_EQ(mxlFabricsFreeTargetInfo(info), MXL_STATUS_OK);
            }
            FabricsFixture::TearDown();
        }

        mxlFabricsTargetConfig targetConfig() const
        {
            mxlFabricsTargetConfig config{};
            config.version = MXL_FABRICS_API_VERSION;
            config.interface.version = MXL_FABRICS_API_VERSION;
            config.interface.provider = MXL_FABRICS_PROVIDER_TCP;
            config.interface.caps.version = MXL_FABRICS_API_VERSION;
            config.interface.address = {"127.0.0.1", "0"};
            config.writer = writer;
            return config;
        }

        mxlFabricsInitiatorConfig initiatorConfig() const
        {
            mxlFabricsInitiatorConfig config{};
            config.version = MXL_FABRICS_API_VERSION;
            config.interface = targetConfig().interface;
            config.reader = reader;
            return config;
        }

        mxlFabricsTarget target{nullptr};
        mxlFabricsInitiator initiator{nullptr};
        std::string flowId;
        mxlFlowWriter writer{nullptr};
        mxlFlowReader reader{nullptr};
        mxlFabricsTargetInfo info{nullptr};
    };

    TEST_F(FabricsCore, TargetSetupChecksItsArgumentsThenSetsUpOnce)
    {
        mxlFabricsTargetInfo out = nullptr;
        auto config = targetConfig();
        EXPECT_EQ(mxlFabricsTargetSetup(nullptr, &config, nullptr, &out), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetSetup(target, nullptr, nullptr, &out), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, nullptr), MXL_ERR_INVALID_ARG);
        config.version = 1;
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_ERR_INVALID_ARG);
        config = targetConfig();
        config.interface.version = 1;
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_ERR_INVALID_ARG);
        config = targetConfig();
        config.interface.caps.version = -1;
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_ERR_INVALID_ARG);
        config = targetConfig();
        config.interface.provider = static_cast<mxlFabricsProvider>(7);
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_ERR_INVALID_ARG);
        config = targetConfig();
        for (auto const* options : {R"({"cqDepth": 0})", R"({"cqDepth": "8"})", R"({"cqDepth": 2.5})", R"({"depth": 8})", "[8]", R"({"transfer": "udp"})"})
        {
            EXPECT_EQ(mxlFabricsTargetSetup(target, &config, options, &out), MXL_ERR_INVALID_ARG) << options;
        }
        config.writer = nullptr;
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_ERR_INVALID_FLOW_WRITER);
        config = targetConfig();
        EXPECT_EQ(out, nullptr);

        config.interface.address = {"", "0"};
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_ERR_INVALID_ARG) << "no address to reach it at";
        config = targetConfig();

        ASSERT_EQ(mxlFabricsTargetSetup(target, &config, R"({"cqDepth": 64})", &out), MXL_STATUS_OK);
        ASSERT_NE(out, nullptr);
        auto const* made = mxl::fabric::api::toTargetInfo(out);
        ASSERT_NE(made, nullptr);
        EXPECT_EQ(mxl::formatUuid(made->grant.flowId), flowId);
        EXPECT_EQ(made->grant.node, "127.0.0.1");
        EXPECT_NE(made->grant.service, "0") << "the port it listens on";
        EXPECT_EQ(made->provider, MXL_FABRICS_PROVIDER_TCP);

        mxlFabricsTargetInfo again = nullptr;
        LogCapture log;
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &again), MXL_ERR_INVALID_STATE);
        EXPECT_EQ(again, nullptr);
        EXPECT_NE(log.text().find("set up already"), std::string::npos) << log.text();
        EXPECT_EQ(mxlFabricsFreeTargetInfo(out), MXL_STATUS_OK);
    }

    TEST_F(FabricsCore, TargetSetupRefusesAWriterOfAnotherInstance)
    {
        auto* other = mxlCreateInstance(domain.str().c_str(), nullptr);
        ASSERT_NE(other, nullptr);
        mxlFlowWriter otherWriter = nullptr;
        auto const otherId = mxl::formatUuid(mxl::randomUuid().value());
        ASSERT_EQ(mxlCreateFlowWriter(other, mxl::test::flowDef(otherId, "v210", 64, 8, 50, 1).c_str(), nullptr, &otherWriter, nullptr, nullptr),
            MXL_STATUS_OK);
        auto config = targetConfig();
        config.writer = otherWriter;
        mxlFabricsTargetInfo out = nullptr;
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_ERR_INVALID_FLOW_WRITER);
        EXPECT_EQ(mxlDestroyInstance(other), MXL_STATUS_OK);
    }

    TEST_F(FabricsCore, ATargetWhoseMxlInstanceIsGoneIsInTheWrongState)
    {
        auto config = targetConfig();
        ASSERT_EQ(mxlDestroyInstance(instance), MXL_STATUS_OK);
        instance = nullptr;
        mxlFabricsTargetInfo out = nullptr;
        EXPECT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_ERR_INVALID_STATE);
        auto initiatorConfig = FabricsCore::initiatorConfig();
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, &initiatorConfig, nullptr), MXL_ERR_INVALID_STATE);
    }

    TEST_F(FabricsCore, TargetReadsCheckTheirArgumentsAndTheTargetsState)
    {
        std::uint64_t index = 0;
        std::size_t count = 0;
        EXPECT_EQ(mxlFabricsTargetReadGrainNonBlocking(nullptr, &index), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadGrainNonBlocking(target, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadGrain(nullptr, 10, &index), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadGrain(target, 10, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadSamplesNonBlocking(nullptr, &index, &count), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadSamplesNonBlocking(target, nullptr, &count), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadSamplesNonBlocking(target, &index, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadSamples(nullptr, 10, &index, &count), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadSamples(target, 10, nullptr, &count), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadSamples(target, 10, &index, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsTargetReadGrain(reinterpret_cast<mxlFabricsTarget>(initiator), 10, &index), MXL_ERR_INVALID_ARG);

        {
            LogCapture log;
            EXPECT_EQ(mxlFabricsTargetReadGrainNonBlocking(target, &index), MXL_ERR_INVALID_STATE);
            EXPECT_EQ(mxlFabricsTargetReadGrain(target, 10, &index), MXL_ERR_INVALID_STATE);
            EXPECT_EQ(mxlFabricsTargetReadSamplesNonBlocking(target, &index, &count), MXL_ERR_INVALID_STATE);
            EXPECT_EQ(mxlFabricsTargetReadSamples(target, 10, &index, &count), MXL_ERR_INVALID_STATE);
            EXPECT_NE(log.text().find("mxlFabricsTargetReadGrain: the target is not set up"), std::string::npos) << log.text();
        }

        auto config = targetConfig();
        mxlFabricsTargetInfo out = nullptr;
        ASSERT_EQ(mxlFabricsTargetSetup(target, &config, nullptr, &out), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsTargetReadGrainNonBlocking(target, &index), MXL_ERR_NOT_READY) << "nothing arrived";
        EXPECT_EQ(mxlFabricsTargetReadGrain(target, 10, &index), MXL_ERR_TIMEOUT);
        LogCapture log;
        EXPECT_EQ(mxlFabricsTargetReadSamplesNonBlocking(target, &index, &count), MXL_ERR_INVALID_STATE);
        EXPECT_NE(log.text().find("receives a discrete flow"), std::string::npos) << log.text();
        EXPECT_EQ(mxlFabricsFreeTargetInfo(out), MXL_STATUS_OK);
    }

    TEST_F(FabricsCore, InitiatorSetupChecksItsArgumentsThenSetsUpOnce)
    {
        auto config = initiatorConfig();
        EXPECT_EQ(mxlFabricsInitiatorSetup(nullptr, &config, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, nullptr, nullptr), MXL_ERR_INVALID_ARG);
        config.version = 2;
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, &config, nullptr), MXL_ERR_INVALID_ARG);
        config = initiatorConfig();
        config.interface.version = 2;
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, &config, nullptr), MXL_ERR_INVALID_ARG);
        config = initiatorConfig();
        config.interface.provider = static_cast<mxlFabricsProvider>(5);
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, &config, nullptr), MXL_ERR_INVALID_ARG);
        config = initiatorConfig();
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, &config, R"({"cqDepth": 8})"), MXL_ERR_INVALID_ARG) << "a target's option";
        config.reader = nullptr;
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, &config, nullptr), MXL_ERR_INVALID_FLOW_READER);


        config = initiatorConfig();
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, &config, "{}"), MXL_STATUS_OK);
        LogCapture log;
        EXPECT_EQ(mxlFabricsInitiatorSetup(initiator, &config, nullptr), MXL_ERR_INVALID_STATE);
        EXPECT_NE(log.text().find("mxlFabricsInitiatorSetup: the initiator is set up already"), std::string::npos) << log.text();
    }

    TEST_F(FabricsCore, InitiatorCallsCheckTheirArgumentsAndTheInitiatorsState)
    {
        EXPECT_EQ(mxlFabricsInitiatorAddTarget(nullptr, info), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorAddTarget(initiator, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorRemoveTarget(nullptr, info), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorRemoveTarget(initiator, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorTransferGrain(nullptr, 1, 0, 1), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorTransferGrain(initiator, 1, 2, 1), MXL_ERR_INVALID_ARG) << "start after end";
        EXPECT_EQ(mxlFabricsInitiatorTransferSamples(nullptr, 1, 1), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorMakeProgressNonBlocking(nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorMakeProgressBlocking(nullptr, 10), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorMakeProgressBlocking(reinterpret_cast<mxlFabricsInitiator>(target), 10), MXL_ERR_INVALID_ARG);

        {
            LogCapture log;
            EXPECT_EQ(mxlFabricsInitiatorAddTarget(initiator, info), MXL_ERR_INVALID_STATE);
            EXPECT_EQ(mxlFabricsInitiatorRemoveTarget(initiator, info), MXL_ERR_INVALID_STATE);
            EXPECT_EQ(mxlFabricsInitiatorTransferGrain(initiator, 1, 0, 8), MXL_ERR_INVALID_STATE);
            EXPECT_EQ(mxlFabricsInitiatorTransferSamples(initiator, 480, 48), MXL_ERR_INVALID_STATE);
            EXPECT_EQ(mxlFabricsInitiatorMakeProgressNonBlocking(initiator), MXL_ERR_INVALID_STATE);
            EXPECT_EQ(mxlFabricsInitiatorMakeProgressBlocking(initiator, 10), MXL_ERR_INVALID_STATE);
            EXPECT_NE(log.text().find("mxlFabricsInitiatorTransferGrain: the initiator is not set up"), std::string::npos) << log.text();
        }

        auto config = initiatorConfig();
        ASSERT_EQ(mxlFabricsInitiatorSetup(initiator, &config, nullptr), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsInitiatorMakeProgressNonBlocking(initiator), MXL_STATUS_OK) << "no target, nothing pending";
        EXPECT_EQ(mxlFabricsInitiatorTransferGrain(initiator, 1, 0, 0), MXL_STATUS_OK) << "the header only, to no target";
        EXPECT_EQ(mxlFabricsInitiatorTransferSamples(initiator, 480, 48), MXL_ERR_INVALID_STATE) << "a discrete flow";
        EXPECT_EQ(mxlFabricsInitiatorTransferSamples(initiator, 480, 0), MXL_ERR_INVALID_ARG) << "no samples";
        EXPECT_EQ(mxlFabricsInitiatorAddTarget(initiator, info), MXL_ERR_INVALID_ARG) << "a target of another flow";
        EXPECT_EQ(mxlFabricsInitiatorRemoveTarget(initiator, info), MXL_ERR_NOT_FOUND);

        // A target of this flow where nothing listens: added at once, the failure comes from progress.
        auto grant = mxl::test::sampleGrant();
        grant.flowId = *mxl::parseUuid(flowId);
        grant.service = "1"; // tcpmux: nothing listens there here
        auto const text = mxl::fabric::api::formatTargetInfo(mxl::fabric::api::makeTargetInfo(grant).value());
        mxlFabricsTargetInfo nowhere = nullptr;
        ASSERT_EQ(mxlFabricsTargetInfoFromString(text.c_str(), &nowhere), MXL_STATUS_OK);
        ASSERT_EQ(mxlFabricsInitiatorAddTarget(initiator, nowhere), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsInitiatorAddTarget(initiator, nowhere), MXL_ERR_EXISTS);
        auto status = MXL_ERR_NOT_READY;
        for (int i = 0; i < 100 && status == MXL_ERR_NOT_READY; ++i)
        {
            status = mxlFabricsInitiatorMakeProgressBlocking(initiator, 100);
        }
        EXPECT_NE(status, MXL_STATUS_OK);
        EXPECT_NE(status, MXL_ERR_NOT_READY);
        EXPECT_EQ(mxlFabricsInitiatorRemoveTarget(initiator, nowhere), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsInitiatorMakeProgressNonBlocking(initiator), MXL_STATUS_OK) << "the failed target is gone";
        EXPECT_EQ(mxlFabricsFreeTargetInfo(nowhere), MXL_STATUS_OK);

        // A freed TargetInfo is no TargetInfo.
        ASSERT_EQ(mxlFabricsFreeTargetInfo(info), MXL_STATUS_OK);
        auto const freed = info;
        info = nullptr;
        EXPECT_EQ(mxlFabricsInitiatorAddTarget(initiator, freed), MXL_ERR_INVALID_ARG);
    }
}
