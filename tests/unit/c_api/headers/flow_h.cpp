// SPDX-License-Identifier: Apache-2.0
// flow_h.c compiled as C++.
#include "flow_h.c"
