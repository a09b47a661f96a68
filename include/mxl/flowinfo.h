/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file flowinfo.h
 * Byte layouts shared with every MXL 1.x implementation: the flow header stored in
 * `<domain>/<id>.mxl-flow/data` and the grain header at the start of each grain file.
 * Sizes and offsets are part of the on-disk format and are pinned by the static assertions at
 * the end of this file.
 */
#pragma once

#ifdef __cplusplus
#    include <cstddef>
#    include <cstdint>
#else
#    include <stddef.h>
#    include <stdint.h>
#endif

#include <mxl/dataformat.h>
#include <mxl/rational.h>

/** Planes a grain may have (v210: 1; v210a: fill + key = 2). */
#define MXL_MAX_PLANES_PER_GRAIN 4

/** Grain flag: the writer gave up on this grain; readers get it (status OK) and should conceal. */
#define MXL_GRAIN_FLAG_INVALID 0x00000001

/** minValidSlices values for partial-grain reads. */
#define MXL_GRAIN_VALID_SLICES_ANY 0
#define MXL_GRAIN_VALID_SLICES_ALL 0xFFFF

#ifdef __cplusplus
extern "C"
{
#endif

    typedef enum mxlPayloadLocation_t
    {
        MXL_PAYLOAD_LOCATION_HOST_MEMORY = 0,
        MXL_PAYLOAD_LOCATION_DEVICE_MEMORY = 1,
    } mxlPayloadLocation;

    /** Configuration common to every flow (128 bytes). Immutable once the flow exists. */
    typedef struct mxlCommonFlowConfigInfo_t
    {
        uint8_t id[16];                  /**< Flow UUID, bytes in string order. */
        uint32_t format;                 /**< mxlDataFormat. */
        uint32_t flags;                  /**< No flags are defined; 0. */
        mxlRational grainRate;           /**< Grain rate (video, data) or sample rate (audio). */
        uint32_t maxCommitBatchSizeHint; /**< Slices (discrete) or samples (continuous) per commit. */
        uint32_t maxSyncBatchSizeHint;   /**< Readers are woken at least every this many. */
        uint32_t payloadLocation;        /**< mxlPayloadLocation. */
        int32_t deviceIndex;             /**< -1 for host memory. */
        uint8_t reserved[72];
    } mxlCommonFlowConfigInfo;

    /** Geometry of a discrete flow (video, data): a ring of grainCount grains (64 bytes). */
    typedef struct mxlDiscreteFlowConfigInfo_t
    {
        uint32_t sliceSizes[MXL_MAX_PLANES_PER_GRAIN]; /**< Bytes per slice in each plane; 0 = no plane. */
        uint32_t grainCount;
        uint8_t reserved[44];
    } mxlDiscreteFlowConfigInfo;

    /** Geometry of a continuous flow (audio): per-channel rings of bufferLength samples (64 bytes). */
    typedef struct mxlContinuousFlowConfigInfo_t
    {
        uint32_t channelCount;
        uint32_t bufferLength;
        uint8_t reserved[56];
    } mxlContinuousFlowConfigInfo;

    typedef struct mxlFlowConfigInfo_t
    {
        mxlCommonFlowConfigInfo common;

        union
        {
            mxlDiscreteFlowConfigInfo discrete;     /**< For VIDEO and DATA. */
            mxlContinuousFlowConfigInfo continuous; /**< For AUDIO. */
        };
    } mxlFlowConfigInfo;

    /** What the writer updates as it goes (64 bytes). */
    typedef struct mxlFlowRuntimeInfo_t
    {
        uint64_t headIndex;     /**< Last committed grain index, or sample index one past the last sample. */
        uint64_t lastWriteTime; /**< TAI ns of the last commit. */
        uint64_t lastReadTime;  /**< TAI ns of the last read any reader reported. */
        uint8_t reserved[40];
    } mxlFlowRuntimeInfo;

    /** The flow header: the first 2048 bytes of the `data` file. */
    typedef struct mxlFlowInfo_t
    {
        uint32_t version; /**< 1; readers refuse anything else. */
        uint32_t size;    /**< 2048. */
        mxlFlowConfigInfo config;
        mxlFlowRuntimeInfo runtime;
        uint8_t reserved[1784];
    } mxlFlowInfo;

    /** The grain header: the first 4096 bytes of each grain file; the payload starts at 8192. */
    typedef struct mxlGrainInfo_t
    {
        uint32_t version;     /**< 1. */
        uint32_t size;        /**< 4096. */
        uint64_t index;       /**< Index of the grain this slot holds. */
        uint32_t flags;       /**< MXL_GRAIN_FLAG_*. */
        uint32_t grainSize;   /**< Payload bytes, all planes. */
        uint16_t totalSlices; /**< Slices a complete grain has. */
        uint16_t validSlices; /**< Slices committed so far. */
        uint8_t reserved[4068];
    } mxlGrainInfo;

#ifdef __cplusplus
}
#    define MXL_LAYOUT_ASSERT(cond, what) static_assert(cond, what)
#else
#    define MXL_LAYOUT_ASSERT(cond, what) _Static_assert(cond, what)
#endif

MXL_LAYOUT_ASSERT(sizeof(mxlRational) == 16, "mxlRational is 16 bytes");
MXL_LAYOUT_ASSERT(sizeof(mxlCommonFlowConfigInfo) == 128, "common config is 128 bytes");
MXL_LAYOUT_ASSERT(sizeof(mxlDiscreteFlowConfigInfo) == 64, "discrete config is 64 bytes");
MXL_LAYOUT_ASSERT(sizeof(mxlContinuousFlowConfigInfo) == 64, "continuous config is 64 bytes");
MXL_LAYOUT_ASSERT(sizeof(mxlFlowConfigInfo) == 192, "flow config is 192 bytes");
MXL_LAYOUT_ASSERT(sizeof(mxlFlowRuntimeInfo) == 64, "runtime info is 64 bytes");
MXL_LAYOUT_ASSERT(sizeof(mxlFlowInfo) == 2048, "flow header is 2048 bytes");
MXL_LAYOUT_ASSERT(sizeof(mxlGrainInfo) == 4096, "grain header is 4096 bytes");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, config) == 8, "config at 8");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, config.common.format) == 24, "format at 24");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, config.common.grainRate) == 32, "grainRate at 32");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, config.common.maxCommitBatchSizeHint) == 48, "commit hint at 48");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, config.common.payloadLocation) == 56, "payloadLocation at 56");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, config.discrete.sliceSizes) == 136, "sliceSizes at 136");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, config.discrete.grainCount) == 152, "grainCount at 152");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, config.continuous.bufferLength) == 140, "bufferLength at 140");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, runtime.headIndex) == 200, "headIndex at 200");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, runtime.lastWriteTime) == 208, "lastWriteTime at 208");
MXL_LAYOUT_ASSERT(offsetof(mxlFlowInfo, runtime.lastReadTime) == 216, "lastReadTime at 216");
MXL_LAYOUT_ASSERT(offsetof(mxlGrainInfo, index) == 8, "grain index at 8");
MXL_LAYOUT_ASSERT(offsetof(mxlGrainInfo, flags) == 16, "grain flags at 16");
MXL_LAYOUT_ASSERT(offsetof(mxlGrainInfo, grainSize) == 20, "grainSize at 20");
MXL_LAYOUT_ASSERT(offsetof(mxlGrainInfo, totalSlices) == 24, "totalSlices at 24");
MXL_LAYOUT_ASSERT(offsetof(mxlGrainInfo, validSlices) == 26, "validSlices at 26");

#undef MXL_LAYOUT_ASSERT
