/* SPDX-License-Identifier: Apache-2.0 */
/* A C program using the fabrics API of an installed libmxl-fabric: names a provider and lists this
 * host's tcp interfaces (libfabric's tcp provider is on every Linux host); and mxl/remote.h: with no
 * bridge serving its domain, asking for a remote flow is MXL_ERR_NO_FABRIC. */
/* mkdtemp and rmdir are POSIX, not C17. */
#define _POSIX_C_SOURCE 200809L

#include <mxl/fabrics.h>
#include <mxl/mxl.h>
#include <mxl/remote.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    mxlFabricsProvider provider = MXL_FABRICS_PROVIDER_ANY;
    if (mxlFabricsProviderFromString("tcp", &provider) != MXL_STATUS_OK || provider != MXL_FABRICS_PROVIDER_TCP)
    {
        fprintf(stderr, "mxlFabricsProviderFromString failed\n");
        return 1;
    }
    char domain[] = "/tmp/mxl-fabrics-consumer-XXXXXX";
    if (mkdtemp(domain) == NULL)
    {
        perror("mkdtemp");
        return 1;
    }
    int failed = 1;
    mxlInstance instance = mxlCreateInstance(domain, NULL);
    mxlFabricsInstance fabrics = NULL;
    if (instance != NULL && mxlFabricsCreateInstance(instance, NULL, &fabrics) == MXL_STATUS_OK)
    {
        mxlFabricsInterfaceConfig query = {MXL_FABRICS_API_VERSION, provider, {MXL_FABRICS_API_VERSION, 0, 0}, {NULL, NULL}, NULL};
        mxlFabricsInterfaceList* list = NULL;
        if (mxlFabricsGetInterfaces(fabrics, &query, &list) == MXL_STATUS_OK && list != NULL)
        {
            for (mxlFabricsInterfaceList const* entry = list; entry != NULL; entry = entry->next)
            {
                printf("tcp interface %s\n", entry->interface.address.node);
            }
            failed = mxlFabricsFreeInterfaceList(list) != MXL_STATUS_OK;
        }
        failed |= mxlFabricsDestroyInstance(fabrics) != MXL_STATUS_OK;
        mxlRemoteFlow remote = NULL;
        failed |= mxlAcquireRemoteFlow(instance, "mxl://10.0.0.1/5f0c1b2a-3d4e-4f60-8a9b-0c1d2e3f4a5b", 10, &remote) != MXL_ERR_NO_FABRIC;
    }
    if (instance != NULL)
    {
        mxlDestroyInstance(instance);
    }
    rmdir(domain);
    if (failed)
    {
        fprintf(stderr, "listing the tcp interfaces failed\n");
    }
    return failed;
}
