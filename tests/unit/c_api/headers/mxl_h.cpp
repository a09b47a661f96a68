// SPDX-License-Identifier: Apache-2.0
// mxl_h.c compiled as C++.
#include "mxl_h.c"
