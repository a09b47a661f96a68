// SPDX-License-Identifier: Apache-2.0
// remote_h.c compiled as C++.
#include "remote_h.c"
