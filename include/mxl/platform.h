/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file platform.h
 * Symbol visibility and language glue shared by every public header.
 */
#pragma once

#if defined(MXL_BUILDING_LIBRARY)
#    define MXL_EXPORT __attribute__((visibility("default")))
#else
#    define MXL_EXPORT
#endif

#ifdef __cplusplus
#    define MXL_NODISCARD [[nodiscard]]
#    define MXL_CONSTEXPR constexpr
#else
#    define MXL_NODISCARD
#    define MXL_CONSTEXPR
#endif
