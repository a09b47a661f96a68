/* SPDX-License-Identifier: Apache-2.0 */
/* What MXL declares in mxl/flow.h (and brings with mxl/flowinfo.h and mxl/mxl.h), through that
 * header alone: every function with its exact signature. */
#include <mxl/flow.h>

#include "check.h"

HEADER_CHECK(flowHeader)
{
    mxlStatus (*createWriter)(mxlInstance, char const*, char const*, mxlFlowWriter*, mxlFlowConfigInfo*, bool*) = &mxlCreateFlowWriter;
    mxlStatus (*releaseWriter)(mxlInstance, mxlFlowWriter) = &mxlReleaseFlowWriter;
    mxlStatus (*createReader)(mxlInstance, char const*, char const*, mxlFlowReader*) = &mxlCreateFlowReader;
    mxlStatus (*releaseReader)(mxlInstance, mxlFlowReader) = &mxlReleaseFlowReader;
    mxlStatus (*isActive)(mxlInstance, char const*, bool*) = &mxlIsFlowActive;
    mxlStatus (*getDef)(mxlInstance, char const*, char*, size_t*) = &mxlGetFlowDef;
    mxlStatus (*getInfo)(mxlFlowReader, mxlFlowInfo*) = &mxlFlowReaderGetInfo;
    mxlStatus (*getConfig)(mxlFlowReader, mxlFlowConfigInfo*) = &mxlFlowReaderGetConfigInfo;
    mxlStatus (*getRuntime)(mxlFlowReader, mxlFlowRuntimeInfo*) = &mxlFlowReaderGetRuntimeInfo;
    mxlStatus (*getGrain)(mxlFlowReader, uint64_t, uint64_t, mxlGrainInfo*, uint8_t**) = &mxlFlowReaderGetGrain;
    mxlStatus (*getSlice)(mxlFlowReader, uint64_t, uint16_t, uint64_t, mxlGrainInfo*, uint8_t**) = &mxlFlowReaderGetGrainSlice;
    mxlStatus (*getGrainNow)(mxlFlowReader, uint64_t, mxlGrainInfo*, uint8_t**) = &mxlFlowReaderGetGrainNonBlocking;
    mxlStatus (*getSliceNow)(mxlFlowReader, uint64_t, uint16_t, mxlGrainInfo*, uint8_t**) = &mxlFlowReaderGetGrainSliceNonBlocking;
    mxlStatus (*grainInfo)(mxlFlowWriter, uint64_t, mxlGrainInfo*) = &mxlFlowWriterGetGrainInfo;
    mxlStatus (*openGrain)(mxlFlowWriter, uint64_t, mxlGrainInfo*, uint8_t**) = &mxlFlowWriterOpenGrain;
    mxlStatus (*cancelGrain)(mxlFlowWriter) = &mxlFlowWriterCancelGrain;
    mxlStatus (*commitGrain)(mxlFlowWriter, mxlGrainInfo const*) = &mxlFlowWriterCommitGrain;
    mxlStatus (*getSamples)(mxlFlowReader, uint64_t, size_t, uint64_t, mxlWrappedMultiBufferSlice*) = &mxlFlowReaderGetSamples;
    mxlStatus (*getSamplesNow)(mxlFlowReader, uint64_t, size_t, mxlWrappedMultiBufferSlice*) = &mxlFlowReaderGetSamplesNonBlocking;
    mxlStatus (*openSamples)(mxlFlowWriter, uint64_t, size_t, mxlMutableWrappedMultiBufferSlice*) = &mxlFlowWriterOpenSamples;
    mxlStatus (*cancelSamples)(mxlFlowWriter) = &mxlFlowWriterCancelSamples;
    mxlStatus (*commitSamples)(mxlFlowWriter) = &mxlFlowWriterCommitSamples;
    mxlStatus (*createGroup)(mxlInstance, mxlFlowSynchronizationGroup*) = &mxlCreateFlowSynchronizationGroup;
    mxlStatus (*releaseGroup)(mxlInstance, mxlFlowSynchronizationGroup) = &mxlReleaseFlowSynchronizationGroup;
    mxlStatus (*addReader)(mxlFlowSynchronizationGroup, mxlFlowReader) = &mxlFlowSynchronizationGroupAddReader;
    mxlStatus (*addPartial)(mxlFlowSynchronizationGroup, mxlFlowReader, uint16_t) = &mxlFlowSynchronizationGroupAddPartialGrainReader;
    mxlStatus (*removeReader)(mxlFlowSynchronizationGroup, mxlFlowReader) = &mxlFlowSynchronizationGroupRemoveReader;
    mxlStatus (*waitForData)(mxlFlowSynchronizationGroup, uint64_t, uint64_t) = &mxlFlowSynchronizationGroupWaitForDataAt;
    void const* const all[] = {(void const*)&createWriter, (void const*)&releaseWriter, (void const*)&createReader, (void const*)&releaseReader,
        (void const*)&isActive, (void const*)&getDef, (void const*)&getInfo, (void const*)&getConfig, (void const*)&getRuntime,
        (void const*)&getGrain, (void const*)&getSlice, (void const*)&getGrainNow, (void const*)&getSliceNow, (void const*)&grainInfo,
        (void const*)&openGrain, (void const*)&cancelGrain, (void const*)&commitGrain, (void const*)&getSamples, (void const*)&getSamplesNow,
        (void const*)&openSamples, (void const*)&cancelSamples, (void const*)&commitSamples, (void const*)&createGroup,
        (void const*)&releaseGroup, (void const*)&addReader, (void const*)&addPartial, (void const*)&removeReader, (void const*)&waitForData};
    mxlGrainInfo grain;
    mxlBufferSlice slice;
    mxlMutableBufferSlice mutableSlice;
    mxlWrappedBufferSlice wrapped;
    mxlMutableWrappedBufferSlice mutableWrapped;
    grain.flags = MXL_GRAIN_FLAG_INVALID;
    grain.validSlices = MXL_GRAIN_VALID_SLICES_ALL;
    slice.size = 1;
    mutableSlice.size = 2;
    wrapped.fragments[1].size = 3;
    mutableWrapped.fragments[0].size = 4;
    /* A write through the stack copy of each pointer makes the compiler keep them all. */
    volatile unsigned count = sizeof all / sizeof all[0];
    return count == 28 && grain.flags == 1 && grain.validSlices == 0xFFFF && MXL_GRAIN_VALID_SLICES_ANY == 0 &&
                   slice.size + mutableSlice.size + wrapped.fragments[1].size + mutableWrapped.fragments[0].size == 10
               ? 0
               : 1;
}
