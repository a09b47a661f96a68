/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file rational.h
 * Exact rates: grain rates (frames or fields per second) and audio sample rates.
 */
#pragma once

#ifdef __cplusplus
#    include <cstdint>
extern "C"
{
#else
#    include <stdint.h>
#endif

/** Index that no grain or sample has: the answer to an invalid rate (here, as in MXL, so that
 *  mxl/time.h brings it). */
#define MXL_UNDEFINED_INDEX UINT64_MAX

    /** A rate as numerator / denominator, e.g. {30000, 1001} for 29.97 Hz. A rate with a zero
     *  numerator or denominator is invalid. */
    typedef struct mxlRational_t
    {
        int64_t numerator;
        int64_t denominator;
    } mxlRational;

#ifdef __cplusplus
}
#endif
