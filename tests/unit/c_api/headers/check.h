/* SPDX-License-Identifier: Apache-2.0 */
/* Included after the one public header a file tests (it needs nothing from it): names each file's
 * check function so that the same file compiles as C (suffix _c) and as C++ (suffix _cxx). */
#pragma once
#ifdef __cplusplus
#    define HEADER_CHECK(name) extern "C" int name##_cxx(void)
#else
#    define HEADER_CHECK(name) int name##_c(void)
#endif
