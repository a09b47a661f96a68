/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file time.h
 * Media time: TAI nanoseconds since the SMPTE ST 2059 epoch, and the grain or sample indices they
 * map to. index = round(t * rate); t = round(index / rate); the round trip is exact.
 * All functions are thread safe and never fail; an invalid rate gives MXL_UNDEFINED_INDEX.
 */
#pragma once

#ifdef __cplusplus
#    include <cstdint>
#else
#    include <stdint.h>
#endif

#include <mxl/platform.h>
#include <mxl/rational.h>

#ifdef __cplusplus
extern "C"
{
#endif

    /** Now, in TAI ns (CLOCK_TAI). A warning is logged once when the kernel's TAI offset is unset
     *  and TAI therefore equals UTC. */
    MXL_EXPORT uint64_t mxlGetTime(void);

    /** Index of the grain or sample that is due now at editRate. */
    MXL_EXPORT uint64_t mxlGetCurrentIndex(mxlRational const* editRate);

    /** Nanoseconds from now until index is due; 0 if it is due already. UINT64_MAX for an
     *  invalid rate. */
    MXL_EXPORT uint64_t mxlGetNsUntilIndex(uint64_t index, mxlRational const* editRate);

    MXL_EXPORT uint64_t mxlTimestampToIndex(mxlRational const* editRate, uint64_t timestamp);

    MXL_EXPORT uint64_t mxlIndexToTimestamp(mxlRational const* editRate, uint64_t index);

    /** Sleeps for ns nanoseconds (restarting after signals). */
    MXL_EXPORT void mxlSleepForNs(uint64_t ns);

    /** Sleeps until TAI time timestamp. */
    MXL_EXPORT void mxlSleepUntil(uint64_t timestamp);

#ifdef __cplusplus
}
#endif
