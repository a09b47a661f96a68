// SPDX-License-Identifier: Apache-2.0
// time_h.c compiled as C++.
#include "time_h.c"
