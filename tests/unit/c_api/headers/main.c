/* SPDX-License-Identifier: Apache-2.0 */
/* One translation unit per public header, each including only that header and using what MXL 1.x
 * declares there, compiled as C17 and as C++: a program written for MXL that includes only, say,
 * <mxl/time.h> finds everything it needs (MXL_UNDEFINED_INDEX included). Building this is most of
 * the test; running it checks the values. */
#include <stdio.h>

#define HEADERS(X) X(platformHeader) X(rationalHeader) X(timeHeader) X(dataformatHeader) X(flowinfoHeader) X(mxlHeader) X(flowHeader) X(fabricsHeader) X(remoteHeader)

#define DECLARE(name) int name##_c(void); int name##_cxx(void);
HEADERS(DECLARE)

int main(void)
{
    int failed = 0;
#define RUN(name)                                                                     \
    if (name##_c() != 0 || name##_cxx() != 0)                                         \
    {                                                                                 \
        fprintf(stderr, "%s: C %d, C++ %d\n", #name, name##_c(), name##_cxx());       \
        failed = 1;                                                                   \
    }
    HEADERS(RUN)
    return failed;
}
