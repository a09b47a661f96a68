// SPDX-License-Identifier: Apache-2.0
// mxl/remote.h as an application calls it: the URI grammar, and mxlAcquireRemoteFlow /
// mxlReleaseRemoteFlow through the real command ring, answered by a CommandServer on a thread
// standing in for the bridge (the bridge's own handling of leases is tested with the bridge).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <mxl/mxl.h>
#include <mxl/remote.h>
#include "remote/CommandChannel.hpp"
#include "remote/RemoteUri.hpp"
#include "support/TestDomain.hpp"

namespace mxl::fabric::remote
{
    namespace
    {
        using namespace std::chrono_literals;
        using test::TestDomain;

        constexpr char flowId[] = "5f0c1b2a-3d4e-4f60-8a9b-0c1d2e3f4a5b";

        TEST(RemoteUri, AcceptsIpv4Ipv6InBracketsAndHostNamesWithOrWithoutAPort)
        {
            struct Case
            {
                std::string text;
                std::string host;
                std::uint16_t port;
            };
            for (auto const& c : std::vector<Case>{{std::string{"mxl://10.0.0.1/"} + flowId, "10.0.0.1", 7400},
                     {std::string{"mxl://10.0.0.1:7500/"} + flowId, "10.0.0.1", 7500},
                     {std::string{"mxl://[fd00::1]/"} + flowId, "fd00::1", 7400},
                     {std::string{"mxl://[::1]:9/"} + flowId, "::1", 9},
                     {std::string{"mxl://studio-b.example.net/"} + flowId, "studio-b.example.net", 7400},
                     {std::string{"mxl://host-a:65535/"} + flowId, "host-a", 65535}})
            {
                auto const uri = parseRemoteUri(c.text);
                ASSERT_TRUE(uri) << c.text << ": " << uri.error().message;
                EXPECT_EQ(uri->host, c.host) << c.text;
                EXPECT_EQ(uri->port, c.port) << c.text;
                EXPECT_EQ(formatUuid(uri->flowId), flowId) << c.text;
            }
        }

        TEST(RemoteUri, RefusesEachMalformationSayingWhatIsWrong)
        {
            auto const id = std::string{flowId};
            for (auto const& [text, says] : std::vector<std::pair<std::string, std::string>>{
                     {"http://10.0.0.1/" + id, "mxl://"},
                     {"mxl://10.0.0.1", "no /FLOW-ID"},
                     {"mxl:///" + id, "no host"},
                     {"mxl://fd00::1/" + id, "brackets"},
                     {"mxl://[fd00::1/" + id, "not closed"},
                     {"mxl://[10.0.0.1]/" + id, "not an IPv6"},
                     {"mxl://[::1]x/" + id, "after ]"},
                     {"mxl://300.1.1.1/" + id, "not an IPv4"},
                     {"mxl://-host/" + id, "not a host name"},
                     {"mxl://host_a/" + id, "not a host name"},
                     {"mxl://host:/" + id, "empty port"},
                     {"mxl://host:0/" + id, "port"},
                     {"mxl://host:65536/" + id, "port"},
                     {"mxl://host:7x/" + id, "port"},
                     {"mxl://host/not-a-uuid", "flow id"},
                     {"mxl://host/" + id + "/", "flow id"},
                     {"mxl://" + std::string(600, 'a') + "/" + id, "longer than"},
                     {"mxl://host-\x8f/" + id, "not a host name"}, // not UTF-8: quoted, not thrown at
                 })
            {
                auto const uri = parseRemoteUri(text);
                ASSERT_FALSE(uri) << text;
                EXPECT_EQ(uri.error().status, MXL_ERR_INVALID_ARG) << text;
                EXPECT_NE(uri.error().message.find(says), std::string::npos) << text << " -> " << uri.error().message;
            }
        }

        class RemoteFlowApi : public ::testing::Test
        {
        protected:
            void SetUp() override
            {
                instance = mxlCreateInstance(domain.str().c_str(), nullptr);
                ASSERT_NE(instance, nullptr);
            }

            void TearDown() override
            {
                if (bridge.joinable())
                {
                    bridge.join();
                }
                EXPECT_EQ(mxlDestroyInstance(instance), MXL_STATUS_OK);
            }

            /// A stand-in bridge answering `count` requests with answer(request).
            template<typename Answer>
            void serve(int count, Answer answer)
            {
                auto server = CommandServer::create(domain.path());
                ASSERT_TRUE(server) << server.error().message;
                bridge = std::thread{[this, count, answer, server = std::make_shared<CommandServer>(std::move(*server))] {
                    Received batch;
                    for (int handled = 0; handled < count;)
                    {
                        server->receive(batch, 2s);
                        for (auto const& request : batch.requests)
                        {
                            ++handled;
                            seen.push_back(request);
                            answer(*server, request);
                        }
                        if (batch.requests.empty())
                        {
                            return;
                        }
                    }
                }};
            }

            TestDomain domain;
            mxlInstance instance{nullptr};
            std::thread bridge;
            std::vector<Request> seen;
        };

        TEST_F(RemoteFlowApi, WithoutABridgeTheAnswerIsNoFabric)
        {
            mxlRemoteFlow remote = nullptr;
            EXPECT_EQ(mxlAcquireRemoteFlow(instance, (std::string{"mxl://10.0.0.1/"} + flowId).c_str(), 100, &remote), MXL_ERR_NO_FABRIC);
            EXPECT_EQ(remote, nullptr);
        }

        TEST_F(RemoteFlowApi, ArgumentsAreChecked)
        {
            mxlRemoteFlow remote = nullptr;
            auto const uri = std::string{"mxl://10.0.0.1/"} + flowId;
            EXPECT_EQ(mxlAcquireRemoteFlow(nullptr, uri.c_str(), 100, &remote), MXL_ERR_INVALID_ARG);
            EXPECT_EQ(mxlAcquireRemoteFlow(instance, nullptr, 100, &remote), MXL_ERR_INVALID_ARG);
            EXPECT_EQ(mxlAcquireRemoteFlow(instance, uri.c_str(), 100, nullptr), MXL_ERR_INVALID_ARG);
            EXPECT_EQ(mxlAcquireRemoteFlow(instance, "mxl://10.0.0.1", 100, &remote), MXL_ERR_INVALID_ARG);
            EXPECT_EQ(mxlReleaseRemoteFlow(instance, nullptr), MXL_ERR_INVALID_ARG);
            EXPECT_EQ(mxlReleaseRemoteFlow(instance, reinterpret_cast<mxlRemoteFlow>(instance)), MXL_ERR_INVALID_ARG);
        }

        TEST_F(RemoteFlowApi, ALeaseIsAcquiredAndReleasedThroughTheRing)
        {
            ASSERT_NO_FATAL_FAILURE(serve(2, [](CommandServer& server, Request const& request) {
                if (request.kind() == RequestKind::Acquire)
                {
                    EXPECT_TRUE(server.reply(request, ReplyStatus::Ok, 42, ""));
                }
                else
                {
                    EXPECT_EQ(std::get<ReleaseRequest>(request.body).leaseId, 42U);
                    EXPECT_TRUE(server.reply(request, ReplyStatus::Ok, 0, ""));
                }
            }));
            mxlRemoteFlow remote = nullptr;
            ASSERT_EQ(mxlAcquireRemoteFlow(instance, (std::string{"mxl://[fd00::7]:7411/"} + flowId).c_str(), 1000, &remote), MXL_STATUS_OK);
            ASSERT_NE(remote, nullptr);
            auto* other = mxlCreateInstance(domain.str().c_str(), nullptr);
            ASSERT_NE(other, nullptr);
            EXPECT_EQ(mxlReleaseRemoteFlow(other, remote), MXL_ERR_INVALID_ARG) << "a lease of another instance";
            EXPECT_EQ(mxlDestroyInstance(other), MXL_STATUS_OK);
            EXPECT_EQ(mxlReleaseRemoteFlow(instance, remote), MXL_STATUS_OK);
            EXPECT_EQ(mxlReleaseRemoteFlow(instance, remote), MXL_ERR_INVALID_ARG) << "released already";
            bridge.join();
            ASSERT_EQ(seen.size(), 2U);
            auto const& acquire = std::get<AcquireRequest>(seen[0].body);
            EXPECT_EQ(acquire.host, "fd00::7");
            EXPECT_EQ(acquire.port, 7411);
            EXPECT_EQ(formatUuid(acquire.flowId), flowId);
            EXPECT_EQ(acquire.timeoutMs, 1000U);
        }

        TEST_F(RemoteFlowApi, TheBridgesRefusalsAreTheCallersStatuses)
        {
            std::vector<std::pair<ReplyStatus, mxlStatus>> const cases{{ReplyStatus::NotFound, MXL_ERR_NOT_FOUND},
                {ReplyStatus::PermissionDenied, MXL_ERR_PERMISSION_DENIED}, {ReplyStatus::Timeout, MXL_ERR_TIMEOUT},
                {ReplyStatus::NoFabric, MXL_ERR_NO_FABRIC}};
            std::size_t next = 0;
            ASSERT_NO_FATAL_FAILURE(serve(static_cast<int>(cases.size()), [&](CommandServer& server, Request const& request) {
                EXPECT_TRUE(server.reply(request, cases[next++].first, 0, "as the test says"));
            }));
            for (auto const& [reply, status] : cases)
            {
                mxlRemoteFlow remote = nullptr;
                EXPECT_EQ(mxlAcquireRemoteFlow(instance, (std::string{"mxl://host-a/"} + flowId).c_str(), 1000, &remote), status);
                EXPECT_EQ(remote, nullptr);
            }
            bridge.join();
        }

        TEST_F(RemoteFlowApi, ABridgeThatDoesNotAnswerIsATimeout)
        {
            auto server = CommandServer::create(domain.path()); // the ring exists, nobody reads it
            ASSERT_TRUE(server) << server.error().message;
            mxlRemoteFlow remote = nullptr;
            EXPECT_EQ(mxlAcquireRemoteFlow(instance, (std::string{"mxl://host-a/"} + flowId).c_str(), 100, &remote), MXL_ERR_TIMEOUT);
        }
    }
}
