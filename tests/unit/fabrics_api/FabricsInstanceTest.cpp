// SPDX-License-Identifier: Apache-2.0
// Fabrics instances, targets and initiators: their lifecycle, and every handle the calls must
// refuse (NULL, destroyed, of another instance, of another kind).
#include <cstdint>

#include <gtest/gtest.h>

#include "FabricsTestSupport.hpp"

namespace
{
    using mxl::test::FabricsFixture;
    using mxl::test::LogCapture;
    using mxl::test::TestDomain;

    template<typename To, typename From>
    To as(From handle)
    {
        return reinterpret_cast<To>(handle);
    }

    TEST(FabricsInstance, CreatesOnAnInstanceAndDestroys)
    {
        TestDomain domain;
        auto* instance = mxlCreateInstance(domain.str().c_str(), nullptr);
        ASSERT_NE(instance, nullptr);
        mxlFabricsInstance fabrics = nullptr;
        ASSERT_EQ(mxlFabricsCreateInstance(instance, nullptr, &fabrics), MXL_STATUS_OK);
        ASSERT_NE(fabrics, nullptr);
        mxlFabricsInstance second = nullptr;
        ASSERT_EQ(mxlFabricsCreateInstance(instance, "", &second), MXL_STATUS_OK);
        EXPECT_NE(second, fabrics);
        EXPECT_EQ(mxlFabricsDestroyInstance(second), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyInstance(fabrics), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyInstance(fabrics), MXL_ERR_INVALID_ARG) << "destroyed twice";
        EXPECT_EQ(mxlDestroyInstance(instance), MXL_STATUS_OK);
    }

    TEST(FabricsInstance, RefusesNullsAndWhatIsNotAnInstance)
    {
        TestDomain domain;
        auto* instance = mxlCreateInstance(domain.str().c_str(), nullptr);
        ASSERT_NE(instance, nullptr);
        mxlFabricsInstance fabrics = nullptr;
        EXPECT_EQ(mxlFabricsCreateInstance(nullptr, nullptr, &fabrics), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsCreateInstance(instance, nullptr, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsCreateInstance(as<mxlInstance>(std::uintptr_t{0x1234}), nullptr, &fabrics), MXL_ERR_INVALID_ARG);
        ASSERT_EQ(mxlFabricsCreateInstance(instance, nullptr, &fabrics), MXL_STATUS_OK);
        // A fabrics instance is not an mxlInstance, nor the other way round.
        mxlFabricsInstance other = nullptr;
        EXPECT_EQ(mxlFabricsCreateInstance(as<mxlInstance>(fabrics), nullptr, &other), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyInstance(as<mxlFabricsInstance>(instance)), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyInstance(nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyInstance(fabrics), MXL_STATUS_OK);
        EXPECT_EQ(mxlDestroyInstance(instance), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsCreateInstance(instance, nullptr, &fabrics), MXL_ERR_INVALID_ARG) << "a destroyed mxlInstance";
    }

    TEST(FabricsInstance, OptionsAreNoneOrAnObjectOfKnownKeys)
    {
        TestDomain domain;
        auto* instance = mxlCreateInstance(domain.str().c_str(), nullptr);
        ASSERT_NE(instance, nullptr);
        mxlFabricsInstance fabrics = nullptr;
        ASSERT_EQ(mxlFabricsCreateInstance(instance, "{}", &fabrics), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyInstance(fabrics), MXL_STATUS_OK);
        {
            LogCapture log;
            fabrics = nullptr;
            EXPECT_EQ(mxlFabricsCreateInstance(instance, R"({"cqDepth": 8})", &fabrics), MXL_ERR_INVALID_ARG);
            EXPECT_EQ(fabrics, nullptr);
            EXPECT_NE(log.text().find(R"(unknown option "cqDepth")"), std::string::npos) << log.text();
        }
        for (auto const* options : {"[]", "{", "42", "\"text\"", "null", "{} {}"})
        {
            EXPECT_EQ(mxlFabricsCreateInstance(instance, options, &fabrics), MXL_ERR_INVALID_ARG) << options;
        }
        EXPECT_EQ(mxlDestroyInstance(instance), MXL_STATUS_OK);
    }

    using FabricsObjects = FabricsFixture;

    TEST_F(FabricsObjects, TargetsAndInitiatorsAreCreatedAndDestroyed)
    {
        mxlFabricsTarget target = nullptr;
        mxlFabricsTarget target2 = nullptr;
        mxlFabricsInitiator initiator = nullptr;
        ASSERT_EQ(mxlFabricsCreateTarget(fabrics, &target), MXL_STATUS_OK);
        ASSERT_EQ(mxlFabricsCreateTarget(fabrics, &target2), MXL_STATUS_OK);
        ASSERT_EQ(mxlFabricsCreateInitiator(fabrics, &initiator), MXL_STATUS_OK);
        EXPECT_NE(target, nullptr);
        EXPECT_NE(target, target2);
        EXPECT_NE(initiator, nullptr);
        EXPECT_EQ(mxlFabricsDestroyTarget(fabrics, target), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyTarget(fabrics, target), MXL_ERR_INVALID_ARG) << "destroyed twice";
        EXPECT_EQ(mxlFabricsDestroyTarget(fabrics, target2), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyInitiator(fabrics, initiator), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyInitiator(fabrics, initiator), MXL_ERR_INVALID_ARG) << "destroyed twice";
    }

    TEST_F(FabricsObjects, CreateRefusesNulls)
    {
        mxlFabricsTarget target = nullptr;
        mxlFabricsInitiator initiator = nullptr;
        EXPECT_EQ(mxlFabricsCreateTarget(fabrics, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsCreateTarget(nullptr, &target), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsCreateInitiator(fabrics, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsCreateInitiator(nullptr, &initiator), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyTarget(fabrics, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyInitiator(fabrics, nullptr), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(target, nullptr);
        EXPECT_EQ(initiator, nullptr);
    }

    TEST_F(FabricsObjects, AnotherInstancesTargetIsRefusedAndLeftAlone)
    {
        mxlFabricsInstance other = nullptr;
        ASSERT_EQ(mxlFabricsCreateInstance(instance, nullptr, &other), MXL_STATUS_OK);
        mxlFabricsTarget target = nullptr;
        mxlFabricsInitiator initiator = nullptr;
        ASSERT_EQ(mxlFabricsCreateTarget(other, &target), MXL_STATUS_OK);
        ASSERT_EQ(mxlFabricsCreateInitiator(other, &initiator), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyTarget(fabrics, target), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyInitiator(fabrics, initiator), MXL_ERR_INVALID_ARG);
        // Still the other instance's.
        EXPECT_EQ(mxlFabricsDestroyTarget(other, target), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyInitiator(other, initiator), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyInstance(other), MXL_STATUS_OK);
    }

    TEST_F(FabricsObjects, AHandleOfOneKindIsNoneOfAnother)
    {
        mxlFabricsTarget target = nullptr;
        mxlFabricsInitiator initiator = nullptr;
        ASSERT_EQ(mxlFabricsCreateTarget(fabrics, &target), MXL_STATUS_OK);
        ASSERT_EQ(mxlFabricsCreateInitiator(fabrics, &initiator), MXL_STATUS_OK);
        // Each kind has its own table, so a target may well have the slot and generation of an
        // instance or an initiator: the kind carried in the handle tells them apart.
        EXPECT_EQ(mxlFabricsDestroyInitiator(fabrics, as<mxlFabricsInitiator>(target)), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyTarget(fabrics, as<mxlFabricsTarget>(initiator)), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyInstance(as<mxlFabricsInstance>(target)), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsFreeTargetInfo(as<mxlFabricsTargetInfo>(target)), MXL_ERR_INVALID_ARG);
        mxlFabricsTarget fromInstance = nullptr;
        EXPECT_EQ(mxlFabricsCreateTarget(as<mxlFabricsInstance>(initiator), &fromInstance), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyTarget(fabrics, target), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyInitiator(fabrics, initiator), MXL_STATUS_OK);
    }

    TEST_F(FabricsObjects, DestroyingTheInstanceDestroysItsTargetsAndInitiators)
    {
        mxlFabricsTarget target = nullptr;
        mxlFabricsInitiator initiator = nullptr;
        ASSERT_EQ(mxlFabricsCreateTarget(fabrics, &target), MXL_STATUS_OK);
        ASSERT_EQ(mxlFabricsCreateInitiator(fabrics, &initiator), MXL_STATUS_OK);
        ASSERT_EQ(mxlFabricsDestroyInstance(fabrics), MXL_STATUS_OK);
        fabrics = nullptr;
        // Their handles died with it: a call on them is refused, not a use after free.
        std::uint64_t index = 0;
        EXPECT_EQ(mxlFabricsTargetReadGrainNonBlocking(target, &index), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsInitiatorMakeProgressNonBlocking(initiator), MXL_ERR_INVALID_ARG);
        mxlFabricsInstance again = nullptr;
        ASSERT_EQ(mxlFabricsCreateInstance(instance, nullptr, &again), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsDestroyTarget(again, target), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyInitiator(again, initiator), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsDestroyInstance(again), MXL_STATUS_OK);
    }
}
