// SPDX-License-Identifier: Apache-2.0
// flowinfo_h.c compiled as C++.
#include "flowinfo_h.c"
