// SPDX-License-Identifier: Apache-2.0
// dataformat_h.c compiled as C++.
#include "dataformat_h.c"
