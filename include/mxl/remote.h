/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file remote.h
 * Remote flows on demand: an application names a flow of another host by URI and this host's
 * mxl-fabric-bridge imports it into the local domain, once however many ask, until the last one
 * releases it. Part of libmxl-fabric (pkg-config libmxl-fabric, CMake target mxl::mxl-fabric).
 * Requests go to the bridge through a ring in the domain's shared memory (docs/remote-flows.md).
 *
 * URI grammar (docs/remote-flows.md):
 *
 *     mxl://HOST[:PORT]/FLOW-ID
 *
 * HOST is an IPv4 address, an IPv6 address in brackets, or a host name; PORT defaults to 7400 (the
 * remote bridge's control port); FLOW-ID is the flow's UUID.
 */
#pragma once

#ifdef __cplusplus
#    include <cstdint>
#else
#    include <stdint.h>
#endif

#include <mxl/mxl.h>
#include <mxl/platform.h>

#ifdef __cplusplus
extern "C"
{
#endif

    /** A lease on a remote flow's local mirror, held until mxlReleaseRemoteFlow. */
    typedef struct mxlRemoteFlow_t* mxlRemoteFlow;

    /**
     * Asks this host's bridge for the flow named by uri and waits until its mirror exists in the
     * instance's domain (then mxlCreateFlowReader with the URI's flow id works), at most timeoutMs
     * (the bridge's own TIMEOUT answer, with its reason, may take 250 ms more to arrive).
     * Errors: INVALID_ARG (NULL, a malformed URI: the log says what is wrong; or a URI naming this
     * host's own bridge: the flow is local), NO_FABRIC (no bridge
     * serves this domain), TIMEOUT (the remote bridge was not reached, or did not offer the flow in
     * time), NOT_FOUND (the remote bridge has no such flow or does not export it, or its host name
     * has no address), PERMISSION_DENIED (authentication between the bridges failed), NOT_READY
     * (this process holds or asks for too many: try later), INTERNAL (this host cannot mirror it,
     * for example beyond the bridge's size limits). The log line names the cause.
     * When the bridge stops or restarts, mirrors go: readers see MXL_ERR_FLOW_INVALID, and the lease
     * is gone with it; acquire again.
     */
    MXL_EXPORT mxlStatus mxlAcquireRemoteFlow(mxlInstance instance, char const* uri, uint32_t timeoutMs, mxlRemoteFlow* out);

    /** Ends the lease. The bridge drops the mirror a linger time after the last lease of it ends.
     *  Errors: INVALID_ARG (NULL, released, or a lease of another instance), NO_FABRIC, TIMEOUT. */
    MXL_EXPORT mxlStatus mxlReleaseRemoteFlow(mxlInstance instance, mxlRemoteFlow remote);

#ifdef __cplusplus
}
#endif
