/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file dataformat.h
 * The kinds of media a flow carries, and whether they come as grains or as samples.
 */
#pragma once

#ifdef __cplusplus
#    include <cstdint>
#else
#    include <stdbool.h>
#    include <stdint.h>
#endif

#include <mxl/platform.h>

/** Grain size of a data (ancillary) flow in bytes; each byte is one slice. */
#define MXL_DATA_FORMAT_GRAIN_SIZE 4096

#ifdef __cplusplus
extern "C"
{
#endif

    typedef enum mxlDataFormat_t
    {
        MXL_DATA_FORMAT_UNSPECIFIED = 0,
        MXL_DATA_FORMAT_VIDEO = 1, /**< urn:x-nmos:format:video, discrete grains. */
        MXL_DATA_FORMAT_AUDIO = 2, /**< urn:x-nmos:format:audio, continuous samples. */
        MXL_DATA_FORMAT_DATA = 3,  /**< urn:x-nmos:format:data, discrete grains. */
    } mxlDataFormat;

    /** True for a value of mxlDataFormat that names a format (including UNSPECIFIED). */
    static inline MXL_CONSTEXPR bool mxlIsValidDataFormat(uint32_t format)
    {
        return format <= (uint32_t)MXL_DATA_FORMAT_DATA;
    }

    /** True for formats this library can carry (VIDEO, AUDIO, DATA). */
    static inline MXL_CONSTEXPR bool mxlIsSupportedDataFormat(uint32_t format)
    {
        return format == (uint32_t)MXL_DATA_FORMAT_VIDEO || format == (uint32_t)MXL_DATA_FORMAT_AUDIO ||
               format == (uint32_t)MXL_DATA_FORMAT_DATA;
    }

    /** True for formats stored as a ring of grains (VIDEO, DATA). */
    static inline MXL_CONSTEXPR bool mxlIsDiscreteDataFormat(uint32_t format)
    {
        return format == (uint32_t)MXL_DATA_FORMAT_VIDEO || format == (uint32_t)MXL_DATA_FORMAT_DATA;
    }

    /** True for formats stored as per-channel sample rings (AUDIO). */
    static inline MXL_CONSTEXPR bool mxlIsContinuousDataFormat(uint32_t format)
    {
        return format == (uint32_t)MXL_DATA_FORMAT_AUDIO;
    }

#ifdef __cplusplus
}
#endif
