// SPDX-License-Identifier: Apache-2.0
// rational_h.c compiled as C++.
#include "rational_h.c"
