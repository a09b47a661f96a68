/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file flow.h
 * Flow writers and readers: grains (video, data) and samples (audio), in place, without copies.
 *
 * Thread safety: one writer or reader handle must not be used by two threads at once. Distinct
 * handles, even on the same flow, may be used concurrently. Handles belong to the instance that
 * created them and are released with it.
 *
 * Timeouts are in nanoseconds. A blocking read that times out returns TOO_EARLY (the data did not
 * arrive in time), never TIMEOUT, so a caller needs one branch for "not there yet".
 */
#pragma once

#ifdef __cplusplus
#    include <cstddef>
#    include <cstdint>
#else
#    include <stdbool.h>
#    include <stddef.h>
#    include <stdint.h>
#endif

#include <mxl/flowinfo.h>
#include <mxl/mxl.h>
#include <mxl/platform.h>

#ifdef __cplusplus
extern "C"
{
#endif

    /** Bytes in memory. */
    typedef struct mxlBufferSlice_t
    {
        void const* pointer;
        size_t size;
    } mxlBufferSlice;

    typedef struct mxlMutableBufferSlice_t
    {
        void* pointer;
        size_t size;
    } mxlMutableBufferSlice;

    /** A range of a ring buffer: the second fragment is non-empty when the range wraps. */
    typedef struct mxlWrappedBufferSlice_t
    {
        mxlBufferSlice fragments[2];
    } mxlWrappedBufferSlice;

    typedef struct mxlMutableWrappedBufferSlice_t
    {
        mxlMutableBufferSlice fragments[2];
    } mxlMutableWrappedBufferSlice;

    /** The same range in count rings laid out stride bytes apart (channel c at base + c*stride). */
    typedef struct mxlWrappedMultiBufferSlice_t
    {
        mxlWrappedBufferSlice base;
        size_t stride;
        size_t count;
    } mxlWrappedMultiBufferSlice;

    typedef struct mxlMutableWrappedMultiBufferSlice_t
    {
        mxlMutableWrappedBufferSlice base;
        size_t stride;
        size_t count;
    } mxlMutableWrappedMultiBufferSlice;

    typedef struct mxlFlowReader_t* mxlFlowReader;
    typedef struct mxlFlowWriter_t* mxlFlowWriter;
    typedef struct mxlFlowSynchronizationGroup_t* mxlFlowSynchronizationGroup;

    /* ---------------------------------------------------------------- writers and readers */

    /**
     * Creates a flow from an NMOS IS-04 flow definition and a writer for it, or opens the flow if
     * it already exists with the same definition (several writers may share a flow).
     *
     * @param in_flowDef NMOS flow JSON (docs/engine.md, "Flows", lists the fields used); stored verbatim.
     * @param in_options JSON object or NULL: "maxCommitBatchSizeHint", "maxSyncBatchSizeHint".
     * @param out_writer The writer.
     * @param out_configInfo Optional: the flow's configuration.
     * @param out_created Optional: true when this call created the flow.
     * Errors: INVALID_ARG (NULL arguments), UNKNOWN (malformed definition or options; the log
     * names the field), CONFLICT (the flow exists with another geometry), PERMISSION_DENIED
     * (domain not writable).
     */
    MXL_EXPORT mxlStatus mxlCreateFlowWriter(mxlInstance instance, char const* in_flowDef, char const* in_options, mxlFlowWriter* out_writer,
        mxlFlowConfigInfo* out_configInfo, bool* out_created);

    /** Releases a writer. The last writer of a flow removes it. Errors: INVALID_ARG,
     *  INVALID_FLOW_WRITER. */
    MXL_EXPORT mxlStatus mxlReleaseFlowWriter(mxlInstance instance, mxlFlowWriter in_writer);

    /**
     * Opens a reader on an existing flow. Readers map the flow read-only and take no locks.
     * @param in_flowId Canonical UUID string.
     * @param in_options Reserved; NULL or a JSON object.
     * Errors: INVALID_ARG, FLOW_NOT_FOUND, FLOW_INVALID (corrupt or unsupported flow files; the
     * log says which), PERMISSION_DENIED.
     */
    MXL_EXPORT mxlStatus mxlCreateFlowReader(mxlInstance instance, char const* in_flowId, char const* in_options, mxlFlowReader* out_reader);

    /** Releases a reader. Errors: INVALID_ARG, INVALID_FLOW_READER. */
    MXL_EXPORT mxlStatus mxlReleaseFlowReader(mxlInstance instance, mxlFlowReader in_reader);

    /** Tells whether a writer holds the flow. Errors: INVALID_ARG, FLOW_NOT_FOUND. */
    MXL_EXPORT mxlStatus mxlIsFlowActive(mxlInstance instance, char const* in_flowId, bool* out_isActive);

    /**
     * Copies the flow definition (NUL terminated) into buffer.
     * @param io_bufferSize In: capacity of buffer. Out: bytes needed, including the NUL.
     * Errors: INVALID_ARG (NULL, or buffer too small: *io_bufferSize tells the size needed),
     * FLOW_NOT_FOUND.
     */
    MXL_EXPORT mxlStatus mxlGetFlowDef(mxlInstance instance, char const* in_flowId, char* buffer, size_t* io_bufferSize);

    /** Copy of the whole flow header. Errors: INVALID_FLOW_READER, INVALID_ARG, FLOW_INVALID. */
    MXL_EXPORT mxlStatus mxlFlowReaderGetInfo(mxlFlowReader reader, mxlFlowInfo* out_info);

    /** Copy of the flow configuration. Errors: INVALID_FLOW_READER, INVALID_ARG. */
    MXL_EXPORT mxlStatus mxlFlowReaderGetConfigInfo(mxlFlowReader reader, mxlFlowConfigInfo* out_info);

    /** Copy of the writer's runtime state. Errors: INVALID_FLOW_READER, INVALID_ARG, FLOW_INVALID. */
    MXL_EXPORT mxlStatus mxlFlowReaderGetRuntimeInfo(mxlFlowReader reader, mxlFlowRuntimeInfo* out_info);

    /* ---------------------------------------------------------------- grains (video, data) */

    /**
     * Waits until grain in_index is complete (all slices or flagged INVALID) and returns its header
     * and a read-only pointer to its payload in place.
     * Returns OK; TOO_LATE (overwritten); TOO_EARLY (not complete within the timeout);
     * FLOW_INVALID (the flow was deleted or recreated); INVALID_FLOW_READER; INVALID_ARG.
     * The payload stays valid until the writer reuses the slot (grainCount grains later).
     */
    MXL_EXPORT mxlStatus mxlFlowReaderGetGrain(mxlFlowReader reader, uint64_t in_index, uint64_t in_timeoutNs, mxlGrainInfo* out_grain,
        uint8_t** out_payload);

    /** As mxlFlowReaderGetGrain, returning as soon as min(in_minValidSlices, totalSlices) slices
     *  are committed. MXL_GRAIN_VALID_SLICES_ANY accepts a grain with no slice yet. */
    MXL_EXPORT mxlStatus mxlFlowReaderGetGrainSlice(mxlFlowReader reader, uint64_t in_index, uint16_t in_minValidSlices, uint64_t in_timeoutNs,
        mxlGrainInfo* out_grain, uint8_t** out_payload);

    /** mxlFlowReaderGetGrain without waiting. */
    MXL_EXPORT mxlStatus mxlFlowReaderGetGrainNonBlocking(mxlFlowReader reader, uint64_t in_index, mxlGrainInfo* out_grain, uint8_t** out_payload);

    /** mxlFlowReaderGetGrainSlice without waiting. */
    MXL_EXPORT mxlStatus mxlFlowReaderGetGrainSliceNonBlocking(mxlFlowReader reader, uint64_t in_index, uint16_t in_minValidSlices,
        mxlGrainInfo* out_grain, uint8_t** out_payload);

    /** Header of the slot that grain in_index maps to, as it is now (for writers that inspect
     *  before opening). Errors: INVALID_FLOW_WRITER, INVALID_ARG. */
    MXL_EXPORT mxlStatus mxlFlowWriterGetGrainInfo(mxlFlowWriter writer, uint64_t in_index, mxlGrainInfo* out_grain);

    /**
     * Opens grain in_index for writing and returns a writable pointer to its slot. The slot is
     * claimed at once (index set, validSlices reset to 0), so readers never take the old content
     * for the new grain. A writer has at most one grain open: opening another cancels the first.
     * Errors: INVALID_FLOW_WRITER, INVALID_ARG, TOO_LATE (older than the ring).
     */
    MXL_EXPORT mxlStatus mxlFlowWriterOpenGrain(mxlFlowWriter writer, uint64_t in_index, mxlGrainInfo* out_grain, uint8_t** out_payload);

    /** Abandons the open grain; its slot keeps validSlices = 0. Errors: INVALID_FLOW_WRITER,
     *  INVALID_STATE (nothing open). */
    MXL_EXPORT mxlStatus mxlFlowWriterCancelGrain(mxlFlowWriter writer);

    /**
     * Publishes the open grain: in_grain->validSlices (<= totalSlices) and in_grain->flags are
     * stored, the head advances to the grain's index if it is newer, and readers are woken.
     * Committing fewer than totalSlices keeps the grain open so that further slices can follow;
     * committing all of them (or INVALID) closes it.
     * Errors: INVALID_FLOW_WRITER, INVALID_ARG (NULL, slices beyond totalSlices or going
     * backwards, index that is not the open grain's), INVALID_STATE (nothing open).
     */
    MXL_EXPORT mxlStatus mxlFlowWriterCommitGrain(mxlFlowWriter writer, mxlGrainInfo const* in_grain);

    /* ---------------------------------------------------------------- samples (audio) */

    /** Largest count a reader may ask for (bufferLength / 2). */
    MXL_EXPORT mxlStatus mxlFlowReaderGetMaxReadLengthSamples(mxlFlowReader reader, size_t* out_count);

    /**
     * Waits until the in_count samples ending before in_index (index-count .. index-1) are
     * committed, then returns where they are in every channel, in place.
     * Returns OK, TOO_LATE, TOO_EARLY (timeout), FLOW_INVALID, INVALID_ARG (count 0 or larger than
     * the maximum read length), INVALID_FLOW_READER.
     */
    MXL_EXPORT mxlStatus mxlFlowReaderGetSamples(mxlFlowReader reader, uint64_t in_index, size_t in_count, uint64_t in_timeoutNs,
        mxlWrappedMultiBufferSlice* out_slices);

    /** mxlFlowReaderGetSamples without waiting. */
    MXL_EXPORT mxlStatus mxlFlowReaderGetSamplesNonBlocking(mxlFlowReader reader, uint64_t in_index, size_t in_count,
        mxlWrappedMultiBufferSlice* out_slices);

    /** Largest count a writer may open at once (bufferLength / 2). */
    MXL_EXPORT mxlStatus mxlFlowWriterGetMaxWriteLengthSamples(mxlFlowWriter writer, size_t* out_count);

    /** Opens the in_count samples ending before in_index for writing, in every channel.
     *  Errors: INVALID_FLOW_WRITER, INVALID_ARG (count 0, too large, or index < count). */
    MXL_EXPORT mxlStatus mxlFlowWriterOpenSamples(mxlFlowWriter writer, uint64_t in_index, size_t in_count,
        mxlMutableWrappedMultiBufferSlice* out_slices);

    /** Abandons the open sample range. Errors: INVALID_FLOW_WRITER, INVALID_STATE. */
    MXL_EXPORT mxlStatus mxlFlowWriterCancelSamples(mxlFlowWriter writer);

    /** Publishes the open sample range: head = its index; readers are woken when a sync batch
     *  boundary is crossed. Errors: INVALID_FLOW_WRITER, INVALID_STATE. */
    MXL_EXPORT mxlStatus mxlFlowWriterCommitSamples(mxlFlowWriter writer);

    /* ---------------------------------------------------------------- synchronization groups */

    /** A set of readers to wait on together, e.g. the video and audio of one source. */
    MXL_EXPORT mxlStatus mxlCreateFlowSynchronizationGroup(mxlInstance instance, mxlFlowSynchronizationGroup* out_group);

    MXL_EXPORT mxlStatus mxlReleaseFlowSynchronizationGroup(mxlInstance instance, mxlFlowSynchronizationGroup group);

    /** Adds a reader that counts as ready when the whole grain (or the samples) for the time asked
     *  are there. Adding a reader twice updates it. Errors: INVALID_ARG, INVALID_FLOW_READER. */
    MXL_EXPORT mxlStatus mxlFlowSynchronizationGroupAddReader(mxlFlowSynchronizationGroup group, mxlFlowReader reader);

    /** Adds a discrete reader that counts as ready once in_minValidSlices slices are there. */
    MXL_EXPORT mxlStatus mxlFlowSynchronizationGroupAddPartialGrainReader(mxlFlowSynchronizationGroup group, mxlFlowReader reader,
        uint16_t in_minValidSlices);

    MXL_EXPORT mxlStatus mxlFlowSynchronizationGroupRemoveReader(mxlFlowSynchronizationGroup group, mxlFlowReader reader);

    /**
     * Waits until every reader of the group has its data for TAI time in_timestamp: the grain
     * whose index is that time on its grain rate, or the samples up to that time on its sample
     * rate. Returns OK, TOO_LATE (some flow already overwrote it), TIMEOUT, FLOW_INVALID,
     * INVALID_ARG (NULL or empty group).
     */
    MXL_EXPORT mxlStatus mxlFlowSynchronizationGroupWaitForDataAt(mxlFlowSynchronizationGroup group, uint64_t in_timestamp, uint64_t in_timeoutNs);

#ifdef __cplusplus
}
#endif
