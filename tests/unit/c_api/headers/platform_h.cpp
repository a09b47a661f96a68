// SPDX-License-Identifier: Apache-2.0
// platform_h.c compiled as C++.
#include "platform_h.c"
