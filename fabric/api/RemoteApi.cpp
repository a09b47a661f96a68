// SPDX-License-Identifier: Apache-2.0
// Remote flows on demand (mxl/remote.h): a thin layer over the command ring's client
// (remote/CommandChannel.hpp). The bridge's side (imports on demand, leases) is in the bridge engine.
#include <mxl/remote.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "api/Guard.hpp"
#include "api/Handles.hpp"
#include "api/Instance.hpp"
#include "remote/CommandChannel.hpp"
#include "remote/RemoteUri.hpp"

namespace mxl::fabric::api
{
    namespace
    {
        /// A lease, and where to end it. The ring is opened again to release: a bridge that restarted
        /// made a new one (and answers NotFound for a lease of its predecessor).
        struct RemoteFlow
        {
            std::uintptr_t owner{0}; ///< The mxlInstance's handle.
            std::filesystem::path domain;
            std::uint64_t leaseId{0};
        };

        TaggedTable<RemoteFlow, 0xF5>& remoteFlowTable()
        {
            static TaggedTable<RemoteFlow, 0xF5> table;
            return table;
        }

        /// How long an acquire waits beyond its timeout for the bridge's own Timeout answer.
        constexpr std::chrono::milliseconds replyGrace{250};

        /// How long a release waits for the bridge's answer.
        constexpr std::chrono::seconds releaseTimeout{2};

        mxlStatus refuse(char const* function, std::string_view what, mxlStatus status = MXL_ERR_INVALID_ARG)
        {
            log().error("{}: {}", function, what);
            return status;
        }

        /// The client's view of a failure to reach the bridge: no ring means no bridge.
        mxlStatus reachFailure(char const* function, Error const& error)
        {
            return refuse(function, error.message, error.status == MXL_ERR_NOT_FOUND ? MXL_ERR_NO_FABRIC : error.status);
        }
    }
}

using namespace mxl;
using namespace mxl::fabric::api;

extern "C" MXL_EXPORT mxlStatus mxlAcquireRemoteFlow(mxlInstance instance, char const* uri, uint32_t timeoutMs, mxlRemoteFlow* out)
{
    constexpr auto function = "mxlAcquireRemoteFlow";
    return guarded(function, [&] {
        auto* owner = toInstance(instance);
        if (owner == nullptr || uri == nullptr || out == nullptr)
        {
            return refuse(function, "not an mxlInstance, or no URI, or no place for the lease (NULL)");
        }
        auto parsed = fabric::remote::parseRemoteUri(uri);
        if (!parsed)
        {
            return refuse(function, parsed.error().message);
        }
        auto client = fabric::remote::CommandClient::open(owner->domain->path());
        if (!client)
        {
            return reachFailure(function, client.error());
        }
        // The bridge answers Timeout itself at timeoutMs, with its reason; the grace lets that answer arrive.
        auto reply = client->call(fabric::remote::AcquireRequest{parsed->host, parsed->port, parsed->flowId, timeoutMs},
            std::chrono::milliseconds{timeoutMs} + replyGrace);
        if (!reply)
        {
            return refuse(function, reply.error().message, reply.error().status);
        }
        if (reply->status != fabric::remote::ReplyStatus::Ok)
        {
            return refuse(function, fmt::format("the bridge answered: {}", reply->reason), fabric::remote::toStatus(reply->status));
        }
        auto lease = std::make_unique<RemoteFlow>();
        lease->owner = handleValue(instance);
        lease->leaseId = reply->leaseId;
        lease->domain = owner->domain->path();
        auto const handle = remoteFlowTable().insert(lease.get());
        if (handle == 0)
        {
            (void)client->release(lease->leaseId, releaseTimeout);
            return refuse(function, "too many remote flows", MXL_ERR_UNKNOWN);
        }
        lease.release();
        *out = fromValue<mxlRemoteFlow>(handle);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlReleaseRemoteFlow(mxlInstance instance, mxlRemoteFlow remote)
{
    constexpr auto function = "mxlReleaseRemoteFlow";
    return guarded(function, [&] {
        auto* lease = remoteFlowTable().lookup(remote);
        if (toInstance(instance) == nullptr || lease == nullptr)
        {
            return refuse(function, "not an mxlInstance, or not a remote flow (NULL, released or not one)");
        }
        if (lease->owner != handleValue(instance))
        {
            return refuse(function, "the remote flow was acquired through another mxlInstance");
        }
        std::unique_ptr<RemoteFlow> owned{remoteFlowTable().remove(remote)};
        auto client = fabric::remote::CommandClient::open(owned->domain);
        if (!client)
        {
            // No bridge serves the domain now: the lease ended with the bridge that held it.
            return reachFailure(function, client.error());
        }
        auto reply = client->release(owned->leaseId, releaseTimeout);
        if (!reply)
        {
            // The handle is gone either way: the bridge reclaims the lease of a process that is gone,
            // and a lease it never heard the end of lingers until then.
            return refuse(function, reply.error().message, reply.error().status);
        }
        if (reply->status != fabric::remote::ReplyStatus::Ok)
        {
            return refuse(function, fmt::format("the bridge answered: {}", reply->reason), fabric::remote::toStatus(reply->status));
        }
        return MXL_STATUS_OK;
    });
}
