// SPDX-License-Identifier: Apache-2.0
// Creating the mirror of an offered flow in the sink domain: a local flow of that id that differs
// from the source is never taken over, and an offer must agree with its own definition.
#include <fstream>
#include <string_view>

#include <gtest/gtest.h>

#include "ReceiverSession.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Offer.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        struct Offered
        {
            explicit Offered(std::string const& media, int width = 1920, int height = 1080)
                : source{sourceDir, media == "audio" ? mxl::test::flowDef(id, media, 0, 0, 48000, 1, 2)
                                                     : mxl::test::flowDef(id, media, width, height, 50, 1)}
                , sourceDomain{require(Domain::open(sourceDir.path(), nullptr), "source domain")}
                , offer{require(makeFlowOffer(*sourceDomain, *parseUuid(id)), "flow offer")}
            {}

            mxl::test::TestDomain sourceDir;
            std::string id{formatUuid(randomUuid().value())};
            Source source;
            std::unique_ptr<Domain> sourceDomain;
            FlowOffer offer;
        };

        void expectRefused(Expected<std::unique_ptr<Receiver>> const& receiver, mxlStatus status)
        {
            ASSERT_FALSE(receiver) << "the receiver was created";
            EXPECT_EQ(receiver.error().status, status) << receiver.error().message;
        }
    }

    TEST(Mirror, FlowOfTheSameIdWithAnotherGeometryAndALiveWriterConflicts)
    {
        Offered offered{"v210"};
        mxl::test::TestDomain sinkDir;
        Source squatter{sinkDir, mxl::test::flowDef(offered.id, "v210", 1280, 720, 50, 1)};
        auto sinkDomain = require(Domain::open(sinkDir.path(), nullptr), "sink domain");

        expectRefused(Receiver::create(*sinkDomain, offered.offer, {}), MXL_ERR_CONFLICT);

        mxlFlowConfigInfo config{};
        mxlFlowReader reader = nullptr;
        ASSERT_EQ(mxlCreateFlowReader(squatter.instance, offered.id.c_str(), nullptr, &reader), MXL_STATUS_OK);
        ASSERT_EQ(mxlFlowReaderGetConfigInfo(reader, &config), MXL_STATUS_OK);
        mxlReleaseFlowReader(squatter.instance, reader);
        EXPECT_EQ(config.discrete.sliceSizes[0], squatter.config.discrete.sliceSizes[0]) << "the local flow was replaced";
        squatter.writeGrain(squatter.currentIndex());
    }

    TEST(Mirror, FlowOfTheSameGeometryWithAnotherRingLengthConflicts)
    {
        Offered offered{"v210"};
        mxl::test::TestDomain sinkDir;
        // A sink domain that keeps twice the history, so its own writers make rings twice as long.
        std::ofstream{sinkDir.path() / "options.json"} << R"({"urn:x-mxl:option:history_duration/v1.0": 400000000})";
        Source local{sinkDir, mxl::test::flowDef(offered.id, "v210", 1920, 1080, 50, 1)};
        ASSERT_EQ(local.config.discrete.grainCount, 2 * offered.offer.config.discrete.grainCount);
        auto sinkDomain = require(Domain::open(sinkDir.path(), nullptr), "sink domain");

        expectRefused(Receiver::create(*sinkDomain, offered.offer, {}), MXL_ERR_CONFLICT);
    }

    TEST(Mirror, OfferWhoseConfigurationDisagreesWithItsDefinitionIsRefused)
    {
        Offered video{"v210", 1920, 1080};
        auto otherRate = video.offer;
        otherRate.config.common.grainRate = {25, 1};
        auto otherPlanes = video.offer;
        otherPlanes.config.discrete.sliceSizes[0] = 2560;
        otherPlanes.config.discrete.sliceSizes[1] = 2560;
        Offered audio{"audio"};
        auto moreChannels = audio.offer;
        moreChannels.config.continuous.channelCount *= 2;
        mxl::test::TestDomain sinkDir;
        auto sinkDomain = require(Domain::open(sinkDir.path(), nullptr), "sink domain");

        for (auto const* offer : {&otherRate, &otherPlanes, &moreChannels})
        {
            ASSERT_TRUE(decodeFlowOffer(encode(*offer))) << "the offer is well-formed: only its definition disagrees";
            expectRefused(Receiver::create(*sinkDomain, *offer, {}), MXL_ERR_INVALID_ARG);
        }
        EXPECT_TRUE(sinkDomain->listFlows().empty()) << "a mirror was left behind";
    }

    TEST(Mirror, AProviderThisHostLacksCreatesNoMirror)
    {
        Offered video{"v210", 64, 8};
        mxl::test::TestDomain sinkDir;
        auto sinkDomain = require(Domain::open(sinkDir.path(), nullptr), "sink domain");
        for (auto const* provider : {"efa", "no-such-provider"})
        {
            if (replicationEndpointType(provider))
            {
                continue; // this machine has an efa device
            }
            Receiver::Options options;
            options.provider = provider;
            auto const receiver = Receiver::create(*sinkDomain, video.offer, options);
            ASSERT_FALSE(receiver) << provider;
            EXPECT_EQ(receiver.error().status, MXL_ERR_NO_FABRIC) << provider << ": " << receiver.error().message;
        }
        EXPECT_TRUE(sinkDomain->listFlows().empty()) << "a mirror was created for a provider that is not there";
    }

    TEST(Mirror, AReliableDatagramSinkGrantsItsEndpointAddressAndAConnectedOneDoesNot)
    {
        Offered video{"v210", 64, 8};
        for (auto const* provider : {"shm", "tcp;ofi_rxm", "tcp"})
        {
            mxl::test::TestDomain sinkDir;
            auto sinkDomain = require(Domain::open(sinkDir.path(), nullptr), "sink domain");
            Receiver::Options options;
            options.provider = provider;
            auto const receiver = require(Receiver::create(*sinkDomain, video.offer, options), provider);
            auto const rdm = std::string_view{provider} != "tcp";
            EXPECT_EQ(receiver->grant().address.empty(), !rdm) << provider;
            EXPECT_EQ(receiver->grant().provider, provider);
            EXPECT_FALSE(receiver->grant().regions.empty()) << provider;
        }
    }
}
