/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file fabrics.h
 * Moving flows between hosts: the fabrics C API (source compatible with MXL's mxl/fabrics.h,
 * API version 0). Part of libmxl-fabric (pkg-config libmxl-fabric, CMake target mxl::mxl-fabric).
 *
 * A *target* wraps a flow writer on the receiving host. Setting it up makes the flow's memory
 * writable from the fabric and yields an mxlFabricsTargetInfo: what an initiator needs to write
 * there. The application carries that, as a string (mxlFabricsTargetInfoToString), to the sending
 * host. An *initiator* wraps a flow reader on the sending host and writes grains or samples into
 * one or more targets.
 *
 * Implementation state: see docs/fabrics-api.md. Providers not supported yet (efa, shm) are
 * answered MXL_ERR_UNSUPPORTED_OPERATION by the setup calls.
 *
 * Every struct with a `version` field must have it set to MXL_FABRICS_API_VERSION by the caller;
 * any other value is refused with MXL_ERR_INVALID_ARG. Handles are checked: NULL, destroyed or
 * made-up handles are refused (MXL_ERR_INVALID_ARG), never dereferenced. A handle may be used from
 * any thread, but not concurrently with the call that destroys it.
 */
#pragma once

#ifdef __cplusplus
#    include <cstddef>
#    include <cstdint>
#else
#    include <stddef.h>
#    include <stdint.h>
#endif

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/platform.h>

/** The version of this API; the value of every `version` field. */
#define MXL_FABRICS_API_VERSION 0

/** Bit n of a flag set. */
#define MXL_FABRICS_FLAG(n) (1 << (n))

#ifdef __cplusplus
extern "C"
{
#endif

    /** Holds what the targets and initiators of one mxlInstance share. */
    typedef struct mxlFabricsInstance_t* mxlFabricsInstance;

    /** The receiving side: remote initiators write into the flow of its writer. */
    typedef struct mxlFabricsTarget_t* mxlFabricsTarget;

    /** Where and how to write into one target: its address, the flow, memory keys and the key a
     *  connection must prove. A secret: whoever holds it may write into the target's flow. */
    typedef struct mxlFabricsTargetInfo_t* mxlFabricsTargetInfo;

    /** The sending side: writes the grains or samples of its reader's flow into its targets. */
    typedef struct mxlFabricsInitiator_t* mxlFabricsInitiator;

    /** libfabric providers. The values are part of the API. */
    typedef enum mxlFabricsProvider_t
    {
        MXL_FABRICS_PROVIDER_ANY = 0,   /**< Any provider (a query matches all of them). */
        MXL_FABRICS_PROVIDER_TCP = 1,   /**< Sockets ("tcp"): any IP network. */
        MXL_FABRICS_PROVIDER_VERBS = 2, /**< RDMA devices through libibverbs and rdma_cm ("verbs"): InfiniBand, RoCE. */
        MXL_FABRICS_PROVIDER_EFA = 3,   /**< AWS Elastic Fabric Adapter ("efa"). */
        MXL_FABRICS_PROVIDER_SHM = 4,   /**< Shared memory between processes of one host ("shm"). */
    } mxlFabricsProvider;

    /** An endpoint's address: for tcp and verbs an IP address (or host name) and a port; other
     *  providers give their own meaning. Setup calls copy the strings. */
    typedef struct mxlFabricsEndpointAddress_t
    {
        char const* node;
        char const* service;
    } mxlFabricsEndpointAddress;

    /** What an interface can do (mxlFabricsInterfaceCaps.flags). */
    typedef enum mxlFabricsInterfaceCapFlags_t
    {
        MXL_FABRICS_IFACE_CAP_BLOCKING_OPERATIONS = MXL_FABRICS_FLAG(0), /**< Completions can be waited for (no busy polling). */
        MXL_FABRICS_IFACE_CAP_REMOTE_WRITE = MXL_FABRICS_FLAG(1),        /**< RMA writes with at least 4 bytes of remote CQ data. */
        MXL_FABRICS_IFACE_CAP_SEND_RECEIVE = MXL_FABRICS_FLAG(2),        /**< Messages (send and receive). */
    } mxlFabricsInterfaceCapFlags;

    typedef struct mxlFabricsInterfaceCaps_t
    {
        int version;             /**< MXL_FABRICS_API_VERSION. */
        uint64_t flags;          /**< mxlFabricsInterfaceCapFlags bits. */
        uint64_t maxMessageSize; /**< The largest single transfer the interface takes, in bytes. */
    } mxlFabricsInterfaceCaps;

    /** One interface: a provider on one local address. */
    typedef struct mxlFabricsInterfaceConfig_t
    {
        int version;                       /**< MXL_FABRICS_API_VERSION. */
        mxlFabricsProvider provider;
        mxlFabricsInterfaceCaps caps;
        mxlFabricsEndpointAddress address;
        /** A JSON object describing the interface (device, endpoint type, ...), best effort, from
         *  mxlFabricsGetInterfaces only; NULL when there is nothing to say. Ignored as input. */
        char const* attr;
    } mxlFabricsInterfaceConfig;

    /** A singly linked list of interfaces, owned by libmxl-fabric until
     *  mxlFabricsFreeInterfaceList; the strings it points to belong to it. */
    typedef struct mxlFabricsInterfaceList_t mxlFabricsInterfaceList;
    struct mxlFabricsInterfaceList_t
    {
        mxlFabricsInterfaceList* next;
        mxlFabricsInterfaceConfig interface;
    };

    typedef struct mxlFabricsTargetConfig_t
    {
        int version;                         /**< MXL_FABRICS_API_VERSION. */
        mxlFabricsInterfaceConfig interface; /**< Provider and local address to listen on. */
        mxlFlowWriter writer;                /**< A writer of the instance's mxlInstance: the flow remote initiators write. */
    } mxlFabricsTargetConfig;

    typedef struct mxlFabricsInitiatorConfig_t
    {
        int version;                         /**< MXL_FABRICS_API_VERSION. */
        mxlFabricsInterfaceConfig interface; /**< Provider and local address to send from. */
        mxlFlowReader reader;                /**< A reader of the instance's mxlInstance: the flow to send. */
    } mxlFabricsInitiatorConfig;

    /**
     * Creates a fabrics instance on an mxlInstance, which must outlive it.
     * @param options NULL, "" or a JSON object; no key is recognised yet, so any key is refused.
     * Errors: INVALID_ARG (NULL, unknown or destroyed mxlInstance, malformed or unknown options).
     */
    MXL_EXPORT mxlStatus mxlFabricsCreateInstance(mxlInstance in_instance, char const* options, mxlFabricsInstance* out_fabricsInstance);

    /** Destroys an instance and every target and initiator it still has. Errors: INVALID_ARG. */
    MXL_EXPORT mxlStatus mxlFabricsDestroyInstance(mxlFabricsInstance in_instance);

    /**
     * Lists this host's interfaces: one entry per provider and local address (the same device may
     * appear under several). Only providers with an mxlFabricsProvider value are listed.
     * @param query NULL for all; otherwise its provider (ANY for all) and, when set, its
     *        address.node (an address of the entry) filter the list.
     * @param out_list The list, NULL when nothing matches; free it with mxlFabricsFreeInterfaceList.
     * Errors: INVALID_ARG (NULL, bad handle or version, provider out of range); when libfabric
     * itself fails, the status of that failure. A provider absent from the host is no error.
     */
    MXL_EXPORT mxlStatus mxlFabricsGetInterfaces(mxlFabricsInstance in_instance, mxlFabricsInterfaceConfig const* query,
        mxlFabricsInterfaceList** out_list);

    /** Frees a list from mxlFabricsGetInterfaces (NULL: nothing to do). Errors: INVALID_ARG for a
     *  list this library did not hand out, or one already freed. */
    MXL_EXPORT mxlStatus mxlFabricsFreeInterfaceList(mxlFabricsInterfaceList* in_list);

    /** Creates a target (not set up yet). Errors: INVALID_ARG. */
    MXL_EXPORT mxlStatus mxlFabricsCreateTarget(mxlFabricsInstance in_fabricsInstance, mxlFabricsTarget* out_target);

    /** Destroys a target of that instance. Errors: INVALID_ARG (bad handle, or a target of another instance). */
    MXL_EXPORT mxlStatus mxlFabricsDestroyTarget(mxlFabricsInstance in_fabricsInstance, mxlFabricsTarget in_target);

    /**
     * Sets a target up on its writer's flow: registers the flow's memory, listens on the
     * configured address, and returns the TargetInfo to hand to initiators (free it with
     * mxlFabricsFreeTargetInfo).
     * @param in_options NULL, "" or a JSON object; recognised key: "cqDepth" (a number >= 1).
     * Errors: INVALID_ARG, INVALID_FLOW_WRITER (not a writer of this instance's mxlInstance).
     */
    MXL_EXPORT mxlStatus mxlFabricsTargetSetup(mxlFabricsTarget in_target, mxlFabricsTargetConfig const* in_config, char const* in_options,
        mxlFabricsTargetInfo* out_info);

    /** The index of a grain that has arrived, now visible to local readers. NOT_READY: none yet. */
    MXL_EXPORT mxlStatus mxlFabricsTargetReadGrainNonBlocking(mxlFabricsTarget in_target, uint64_t* out_grainIndex);

    /** As above, waiting at most in_timeoutMs. NOT_READY or TIMEOUT: nothing arrived. */
    MXL_EXPORT mxlStatus mxlFabricsTargetReadGrain(mxlFabricsTarget in_target, uint16_t in_timeoutMs, uint64_t* out_grainIndex);

    /** The head index and count (per channel) of samples that have arrived. NOT_READY: none yet. */
    MXL_EXPORT mxlStatus mxlFabricsTargetReadSamplesNonBlocking(mxlFabricsTarget in_target, uint64_t* out_headIndex, size_t* out_count);

    /** As above, waiting at most in_timeoutMs. NOT_READY or TIMEOUT: nothing arrived. */
    MXL_EXPORT mxlStatus mxlFabricsTargetReadSamples(mxlFabricsTarget in_target, uint16_t in_timeoutMs, uint64_t* out_headIndex,
        size_t* out_count);

    /** Creates an initiator (not set up yet). Errors: INVALID_ARG. */
    MXL_EXPORT mxlStatus mxlFabricsCreateInitiator(mxlFabricsInstance in_fabricsInstance, mxlFabricsInitiator* out_initiator);

    /** Destroys an initiator of that instance. Errors: INVALID_ARG (bad handle, or an initiator of another instance). */
    MXL_EXPORT mxlStatus mxlFabricsDestroyInitiator(mxlFabricsInstance in_fabricsInstance, mxlFabricsInitiator in_initiator);

    /**
     * Sets an initiator up on its reader's flow.
     * @param in_options NULL, "" or a JSON object; no key is recognised yet.
     * Errors: INVALID_ARG, INVALID_FLOW_READER (not a reader of this instance's mxlInstance).
     */
    MXL_EXPORT mxlStatus mxlFabricsInitiatorSetup(mxlFabricsInitiator in_initiator, mxlFabricsInitiatorConfig const* in_config,
        char const* in_options);

    /** Adds a target; returns at once, the connection is made by MakeProgress. The TargetInfo may
     *  be freed afterwards. */
    MXL_EXPORT mxlStatus mxlFabricsInitiatorAddTarget(mxlFabricsInitiator in_initiator, mxlFabricsTargetInfo in_targetInfo);

    /** Removes a target; returns at once, MakeProgress completes the shutdown. No transfer queued
     *  after this call goes to it. */
    MXL_EXPORT mxlStatus mxlFabricsInitiatorRemoveTarget(mxlFabricsInitiator in_initiator, mxlFabricsTargetInfo in_targetInfo);

    /** Queues slices [in_startSlice, in_endSlice) of a grain for every target and returns at once
     *  (an empty range: the grain's header only). Errors: INVALID_ARG (start after end). */
    MXL_EXPORT mxlStatus mxlFabricsInitiatorTransferGrain(mxlFabricsInitiator in_initiator, uint64_t in_grainIndex, uint16_t in_startSlice,
        uint16_t in_endSlice);

    /** Queues in_count samples per channel ending at in_headIndex for every target; returns at once. */
    MXL_EXPORT mxlStatus mxlFabricsInitiatorTransferSamples(mxlFabricsInitiator in_initiator, uint64_t in_headIndex, size_t in_count);

    /** Drives connections, transfers and removals. NOT_READY while anything is still pending. */
    MXL_EXPORT mxlStatus mxlFabricsInitiatorMakeProgressNonBlocking(mxlFabricsInitiator in_initiator);

    /** As above, waiting at most in_timeoutMs for progress. */
    MXL_EXPORT mxlStatus mxlFabricsInitiatorMakeProgressBlocking(mxlFabricsInitiator in_initiator, uint16_t in_timeoutMs);

    /** "any", "tcp", "verbs", "efa" or "shm" (any case) to the enum. Errors: INVALID_ARG. */
    MXL_EXPORT mxlStatus mxlFabricsProviderFromString(char const* in_string, mxlFabricsProvider* out_provider);

    /**
     * The provider's name, NUL terminated.
     * @param out_string NULL to ask the size: *inout_stringSize becomes the size needed (with the NUL).
     * @param inout_stringSize In: the buffer's size. Out: the size needed, also when it is too small
     *        (MXL_ERR_STRLEN). Errors: INVALID_ARG (NULL size, provider out of range).
     */
    MXL_EXPORT mxlStatus mxlFabricsProviderToString(mxlFabricsProvider in_provider, char* out_string, size_t* inout_stringSize);

    /** A TargetInfo as a string (ASCII, NUL terminated), with the size convention of
     *  mxlFabricsProviderToString. The string is as secret as the TargetInfo. */
    MXL_EXPORT mxlStatus mxlFabricsTargetInfoToString(mxlFabricsTargetInfo in_targetInfo, char* out_string, size_t* inout_stringSize);

    /** Parses a string from mxlFabricsTargetInfoToString; free the result with
     *  mxlFabricsFreeTargetInfo. Errors: INVALID_ARG (malformed, naming what is wrong), UNSUPPORTED_OPERATION
     *  (another format or protocol version). */
    MXL_EXPORT mxlStatus mxlFabricsTargetInfoFromString(char const* in_string, mxlFabricsTargetInfo* out_targetInfo);

    /** Frees a TargetInfo from mxlFabricsTargetSetup or mxlFabricsTargetInfoFromString. Errors: INVALID_ARG. */
    MXL_EXPORT mxlStatus mxlFabricsFreeTargetInfo(mxlFabricsTargetInfo in_info);

#ifdef __cplusplus
}
#endif
