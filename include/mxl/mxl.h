/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file mxl.h
 * Status codes, library version and the instance that binds a process to one domain.
 *
 * A domain is a directory (normally on tmpfs, e.g. /dev/shm/mxl) that holds flows. Every other
 * call works through an instance created on that directory. Instances are independent: two
 * instances on one domain in one process behave like two processes.
 */
#pragma once

#ifdef __cplusplus
#    include <cstdint>
#else
#    include <stdbool.h>
#    include <stdint.h>
#endif

#include <mxl/platform.h>

#ifdef __cplusplus
extern "C"
{
#endif

    /** Every call that can fail returns one of these. The order is part of the ABI. */
    typedef enum mxlStatus_t
    {
        MXL_STATUS_OK = 0,
        MXL_ERR_UNKNOWN,                  /**< Unclassified failure; the log says what it was. */
        MXL_ERR_FLOW_NOT_FOUND,           /**< No flow with that id in the domain. */
        MXL_ERR_OUT_OF_RANGE_TOO_LATE,    /**< The grain or samples were already overwritten. */
        MXL_ERR_OUT_OF_RANGE_TOO_EARLY,   /**< Not written yet (or not enough slices yet). */
        MXL_ERR_INVALID_FLOW_READER,      /**< NULL, released or mismatched reader handle. */
        MXL_ERR_INVALID_FLOW_WRITER,      /**< NULL, released or mismatched writer handle. */
        MXL_ERR_TIMEOUT,                  /**< A wait ran out of time. */
        MXL_ERR_INVALID_ARG,              /**< An argument was NULL, out of range or malformed. */
        MXL_ERR_CONFLICT,                 /**< The flow exists with another definition or geometry. */
        MXL_ERR_PERMISSION_DENIED,        /**< The domain or a flow file may not be accessed. */
        MXL_ERR_FLOW_INVALID,             /**< The flow was deleted or recreated under the reader. */

        MXL_ERR_STRLEN = 1024,            /**< A string did not fit the buffer given. */
        MXL_ERR_INTERRUPTED,              /**< A wait was interrupted. */
        MXL_ERR_NO_FABRIC,                /**< No usable fabric provider. */
        MXL_ERR_INVALID_STATE,            /**< The object is not in a state that allows the call. */
        MXL_ERR_INTERNAL,                 /**< A bug or an unexpected failure of the system. */
        MXL_ERR_NOT_READY,                /**< Not yet connected or set up; try again later. */
        MXL_ERR_NOT_FOUND,                /**< The named peer, region or target does not exist. */
        MXL_ERR_EXISTS,                   /**< The object already exists. */
        MXL_ERR_UNSUPPORTED_OPERATION,    /**< Not supported by this build, provider or flow. */
    } mxlStatus;

    typedef struct mxlVersionType_t
    {
        uint16_t major;
        uint16_t minor;
        uint16_t bugfix;
        uint16_t build;
        char const* full; /**< Static string, e.g. "0.1.0"; never freed by the caller. */
    } mxlVersionType;

    typedef struct mxlInstance_t* mxlInstance;

    /** Fills in the library version. Errors: INVALID_ARG for NULL. Thread safe. */
    MXL_EXPORT mxlStatus mxlGetVersion(mxlVersionType* out_version);

    /**
     * Opens a domain.
     *
     * @param in_mxlDomain Path of the domain directory. It must exist. A domain that can only be
     *        read (read-only mount or permissions) gives an instance that can only read flows.
     * @param in_options JSON object or NULL. Recognised key:
     *        "urn:x-mxl:option:history_duration/v1.0" (nanoseconds of history a new flow keeps,
     *        default 200 ms). Options given here override the domain's options.json.
     * @return The instance, or NULL when the domain does not exist or the options are malformed
     *         (the reason is logged).
     * Thread safety: safe to call concurrently.
     */
    MXL_EXPORT mxlInstance mxlCreateInstance(char const* in_mxlDomain, char const* in_options);

    /**
     * Releases an instance and every reader, writer and synchronization group it still owns.
     * Errors: INVALID_ARG for NULL. Not thread safe with other calls on the same instance.
     */
    MXL_EXPORT mxlStatus mxlDestroyInstance(mxlInstance in_instance);

    /**
     * Removes every flow of the domain that no live writer holds (stale flows left by crashed
     * writers). Flows with a live writer, and anything that is not a flow, are left alone.
     * Errors: INVALID_ARG, PERMISSION_DENIED (read-only domain).
     */
    MXL_EXPORT mxlStatus mxlGarbageCollectFlows(mxlInstance in_instance);

    /** Tells whether path is on a tmpfs file system. Errors: INVALID_ARG, FLOW_NOT_FOUND (no
     *  such path). */
    MXL_EXPORT mxlStatus mxlIsTmpFs(char const* in_path, bool* out_isTmpFs);

#ifdef __cplusplus
}
#endif
