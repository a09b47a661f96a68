/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sending half of a pair that moves a live flow between two hosts with the fabrics C API
 * (mxl/fabrics.h), written as an application for MXL's SDK would be (fabrics_target.c is the
 * receiving half).
 *
 * It follows a discrete flow (video, ancillary data) of its domain from its head, and transfers
 * each grain as soon as it is complete: GetGrain, TransferGrain, MakeProgressNonBlocking. Nothing
 * waits for a transfer to finish: many are in flight at once. It runs until SIGINT or SIGTERM and
 * then prints how many grains it transferred.
 *
 * TARGET_INFO is the target's TargetInfo string itself, or the path of a file holding it (as
 * fabrics_target writes it). ADDRESS is the local address to send from.
 *
 * usage: fabrics_initiator DOMAIN FLOW_ID ADDRESS TARGET_INFO
 */
#define _POSIX_C_SOURCE 200809L

#include <mxl/fabrics.h>
#include <mxl/flow.h>
#include <mxl/mxl.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stopping = 0;

static void onSignal(int signal)
{
    (void)signal;
    stopping = 1;
}

/* The TargetInfo string: the argument itself, or the first line of the file it names. */
static char* targetInfoText(char const* argument)
{
    static char const prefix[] = "mxl-target-info/";
    if (strncmp(argument, prefix, sizeof prefix - 1) == 0)
    {
        return strdup(argument);
    }
    FILE* file = fopen(argument, "r");
    if (file == NULL)
    {
        fprintf(stderr, "fabrics_initiator: cannot open %s: %s\n", argument, strerror(errno));
        return NULL;
    }
    char* line = NULL;
    size_t capacity = 0;
    ssize_t const length = getline(&line, &capacity, file);
    fclose(file);
    if (length <= 0)
    {
        fprintf(stderr, "fabrics_initiator: %s holds no TargetInfo\n", argument);
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

int main(int argc, char** argv)
{
    if (argc != 5)
    {
        fprintf(stderr, "usage: fabrics_initiator DOMAIN FLOW_ID ADDRESS TARGET_INFO\n");
        return 2;
    }
    char const* const domain = argv[1];
    char const* const flowId = argv[2];

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = onSignal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    char* infoText = targetInfoText(argv[4]);
    if (infoText == NULL)
    {
        return 1;
    }
    int result = 1;
    mxlFlowReader reader = NULL;
    mxlFabricsInstance fabrics = NULL;
    mxlFabricsInitiator initiator = NULL;
    mxlFabricsTargetInfo info = NULL;
    mxlStatus status = MXL_STATUS_OK;

    mxlInstance instance = mxlCreateInstance(domain, NULL);
    if (instance == NULL)
    {
        fprintf(stderr, "fabrics_initiator: cannot open domain %s\n", domain);
        goto done;
    }
    if ((status = mxlCreateFlowReader(instance, flowId, NULL, &reader)) != MXL_STATUS_OK)
    {
        fprintf(stderr, "fabrics_initiator: cannot read flow %s (status %d)\n", flowId, (int)status);
        goto done;
    }
    mxlFlowConfigInfo flowConfig;
    if ((status = mxlFlowReaderGetConfigInfo(reader, &flowConfig)) != MXL_STATUS_OK || flowConfig.common.format == MXL_DATA_FORMAT_AUDIO)
    {
        fprintf(stderr, "fabrics_initiator: flow %s is not a discrete flow (this example moves video and data)\n", flowId);
        goto done;
    }

    mxlFabricsInitiatorConfig config;
    memset(&config, 0, sizeof config);
    config.version = MXL_FABRICS_API_VERSION;
    config.interface.version = MXL_FABRICS_API_VERSION;
    config.interface.provider = MXL_FABRICS_PROVIDER_TCP;
    config.interface.caps.version = MXL_FABRICS_API_VERSION;
    config.interface.address.node = argv[3];
    config.interface.address.service = "0";
    config.reader = reader;
    if ((status = mxlFabricsCreateInstance(instance, NULL, &fabrics)) != MXL_STATUS_OK ||
        (status = mxlFabricsCreateInitiator(fabrics, &initiator)) != MXL_STATUS_OK ||
        (status = mxlFabricsInitiatorSetup(initiator, &config, NULL)) != MXL_STATUS_OK)
    {
        fprintf(stderr, "fabrics_initiator: cannot set the initiator up (status %d)\n", (int)status);
        goto done;
    }
    status = mxlFabricsTargetInfoFromString(infoText, &info);
    memset(infoText, 0, strlen(infoText));
    if (status != MXL_STATUS_OK || (status = mxlFabricsInitiatorAddTarget(initiator, info)) != MXL_STATUS_OK)
    {
        fprintf(stderr, "fabrics_initiator: the TargetInfo was refused (status %d)\n", (int)status);
        goto done;
    }
    /* Connected before the first transfer, so that nothing waits behind the connection. */
    while (!stopping && (status = mxlFabricsInitiatorMakeProgressBlocking(initiator, 200)) == MXL_ERR_NOT_READY)
    {
    }
    if (status != MXL_STATUS_OK && !stopping)
    {
        fprintf(stderr, "fabrics_initiator: connecting to the target failed (status %d)\n", (int)status);
        goto done;
    }

    mxlFlowRuntimeInfo runtime;
    uint64_t index = MXL_UNDEFINED_INDEX;
    uint64_t grains = 0;
    while (!stopping)
    {
        if (index == MXL_UNDEFINED_INDEX)
        {
            /* Start (or start again, after falling a ring behind) from the newest grain. */
            if ((status = mxlFlowReaderGetRuntimeInfo(reader, &runtime)) != MXL_STATUS_OK)
            {
                fprintf(stderr, "fabrics_initiator: the flow is gone (status %d)\n", (int)status);
                goto done;
            }
            index = runtime.headIndex;
            if (index == MXL_UNDEFINED_INDEX)
            {
                struct timespec const pause = {0, 10 * 1000 * 1000};
                nanosleep(&pause, NULL);
                continue;
            }
        }
        mxlGrainInfo grain;
        uint8_t* payload = NULL;
        status = mxlFlowReaderGetGrain(reader, index, 200 * 1000 * 1000, &grain, &payload);
        if (status == MXL_ERR_TIMEOUT || status == MXL_ERR_OUT_OF_RANGE_TOO_EARLY)
        {
            /* Still not complete after a timeout while newer grains exist: the writer skipped it. */
            if (mxlFlowReaderGetRuntimeInfo(reader, &runtime) == MXL_STATUS_OK && runtime.headIndex != MXL_UNDEFINED_INDEX &&
                runtime.headIndex > index)
            {
                ++index;
            }
            continue;
        }
        if (status == MXL_ERR_OUT_OF_RANGE_TOO_LATE)
        {
            index = MXL_UNDEFINED_INDEX;
            continue;
        }
        if (status != MXL_STATUS_OK)
        {
            fprintf(stderr, "fabrics_initiator: reading grain %llu failed (status %d)\n", (unsigned long long)index, (int)status);
            goto done;
        }
        if ((status = mxlFabricsInitiatorTransferGrain(initiator, index, 0, grain.validSlices)) != MXL_STATUS_OK && status != MXL_ERR_NOT_READY)
        {
            fprintf(stderr, "fabrics_initiator: transferring grain %llu failed (status %d)\n", (unsigned long long)index, (int)status);
            goto done;
        }
        grains += status == MXL_STATUS_OK ? 1 : 0;
        status = mxlFabricsInitiatorMakeProgressNonBlocking(initiator);
        if (status != MXL_STATUS_OK && status != MXL_ERR_NOT_READY)
        {
            fprintf(stderr, "fabrics_initiator: the transfers failed (status %d)\n", (int)status);
            goto done;
        }
        ++index;
    }
    /* Let what is in flight land before leaving. */
    for (int tries = 0; tries < 10 && mxlFabricsInitiatorMakeProgressBlocking(initiator, 100) == MXL_ERR_NOT_READY; ++tries)
    {
    }
    printf("grains: %llu\n", (unsigned long long)grains);
    result = 0;

done:
    free(infoText);
    if (info != NULL)
    {
        mxlFabricsFreeTargetInfo(info);
    }
    if (initiator != NULL)
    {
        mxlFabricsDestroyInitiator(fabrics, initiator);
    }
    if (fabrics != NULL)
    {
        mxlFabricsDestroyInstance(fabrics);
    }
    if (reader != NULL)
    {
        mxlReleaseFlowReader(instance, reader);
    }
    if (instance != NULL)
    {
        mxlDestroyInstance(instance);
    }
    return result;
}
