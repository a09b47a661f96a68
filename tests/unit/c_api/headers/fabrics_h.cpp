// SPDX-License-Identifier: Apache-2.0
// fabrics_h.c compiled as C++.
#include "fabrics_h.c"
