/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The receiving half of a pair that moves a live flow between two hosts with the fabrics C API
 * (mxl/fabrics.h), written as an application for MXL's SDK would be (fabrics_initiator.c is the
 * sending half).
 *
 * It creates the flow in its domain from a flow definition, sets a target up on the flow's writer
 * at ADDRESS:PORT (PORT 0: any free port), writes the TargetInfo string to INFO_FILE ("-": standard
 * output), then hands every grain that arrives to local readers: ReadGrain, OpenGrain, CommitGrain.
 * It runs until SIGINT or SIGTERM and then prints how many grains it received.
 *
 * The TargetInfo string carries the keys that let its holder write into this flow: INFO_FILE is
 * created readable by its owner only. Move it to the sending host as you would move a key.
 *
 * usage: fabrics_target DOMAIN FLOW_DEF_FILE ADDRESS PORT INFO_FILE
 */
#define _POSIX_C_SOURCE 200809L

#include <mxl/fabrics.h>
#include <mxl/flow.h>
#include <mxl/mxl.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stopping = 0;

static void onSignal(int signal)
{
    (void)signal;
    stopping = 1;
}

/* The whole of a small file, NUL terminated; NULL (with a message) when it cannot be read. */
static char* readFile(char const* path)
{
    FILE* file = fopen(path, "rb");
    if (file == NULL)
    {
        fprintf(stderr, "fabrics_target: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t capacity = 4096;
    size_t size = 0;
    char* text = malloc(capacity);
    while (text != NULL)
    {
        size += fread(text + size, 1, capacity - size - 1, file);
        if (size < capacity - 1)
        {
            break;
        }
        capacity *= 2;
        char* grown = realloc(text, capacity);
        if (grown == NULL)
        {
            free(text);
        }
        text = grown;
    }
    fclose(file);
    if (text != NULL)
    {
        text[size] = '\0';
    }
    return text;
}

/* Writes text to path, readable by its owner only, under a temporary name renamed into place so
 * that a reader never sees half of it. */
static int writeSecret(char const* path, char const* text)
{
    if (strcmp(path, "-") == 0)
    {
        return printf("%s\n", text) < 0 || fflush(stdout) != 0 ? -1 : 0;
    }
    size_t const length = strlen(path) + sizeof ".partial";
    char* partial = malloc(length);
    if (partial == NULL)
    {
        return -1;
    }
    snprintf(partial, length, "%s.partial", path);
    int const fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0;
    if (ok)
    {
        size_t const size = strlen(text);
        ok = write(fd, text, size) == (ssize_t)size && write(fd, "\n", 1) == 1;
        ok = close(fd) == 0 && ok;
        ok = ok && rename(partial, path) == 0;
    }
    if (!ok)
    {
        fprintf(stderr, "fabrics_target: cannot write %s: %s\n", path, strerror(errno));
        unlink(partial);
    }
    free(partial);
    return ok ? 0 : -1;
}

int main(int argc, char** argv)
{
    if (argc != 6)
    {
        fprintf(stderr, "usage: fabrics_target DOMAIN FLOW_DEF_FILE ADDRESS PORT INFO_FILE\n");
        return 2;
    }
    char const* const domain = argv[1];
    char const* const address = argv[3];
    char const* const port = argv[4];
    char const* const infoFile = argv[5];

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = onSignal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    char* flowDef = readFile(argv[2]);
    if (flowDef == NULL)
    {
        return 1;
    }
    int result = 1;
    mxlFlowWriter writer = NULL;
    mxlFabricsInstance fabrics = NULL;
    mxlFabricsTarget target = NULL;
    mxlFabricsTargetInfo info = NULL;
    char* infoText = NULL;
    mxlStatus status = MXL_STATUS_OK;

    mxlInstance instance = mxlCreateInstance(domain, NULL);
    if (instance == NULL)
    {
        fprintf(stderr, "fabrics_target: cannot open domain %s\n", domain);
        goto done;
    }
    if ((status = mxlCreateFlowWriter(instance, flowDef, NULL, &writer, NULL, NULL)) != MXL_STATUS_OK)
    {
        fprintf(stderr, "fabrics_target: cannot create the flow (status %d)\n", (int)status);
        goto done;
    }
    if ((status = mxlFabricsCreateInstance(instance, NULL, &fabrics)) != MXL_STATUS_OK ||
        (status = mxlFabricsCreateTarget(fabrics, &target)) != MXL_STATUS_OK)
    {
        fprintf(stderr, "fabrics_target: cannot create the target (status %d)\n", (int)status);
        goto done;
    }

    mxlFabricsTargetConfig config;
    memset(&config, 0, sizeof config);
    config.version = MXL_FABRICS_API_VERSION;
    config.interface.version = MXL_FABRICS_API_VERSION;
    config.interface.provider = MXL_FABRICS_PROVIDER_TCP;
    config.interface.caps.version = MXL_FABRICS_API_VERSION;
    config.interface.address.node = address;
    config.interface.address.service = port;
    config.writer = writer;
    if ((status = mxlFabricsTargetSetup(target, &config, NULL, &info)) != MXL_STATUS_OK)
    {
        fprintf(stderr, "fabrics_target: setting the target up failed (status %d)\n", (int)status);
        goto done;
    }

    size_t size = 0;
    if ((status = mxlFabricsTargetInfoToString(info, NULL, &size)) != MXL_STATUS_OK || (infoText = malloc(size)) == NULL ||
        (status = mxlFabricsTargetInfoToString(info, infoText, &size)) != MXL_STATUS_OK || writeSecret(infoFile, infoText) != 0)
    {
        fprintf(stderr, "fabrics_target: cannot hand the TargetInfo out (status %d)\n", (int)status);
        goto done;
    }
    memset(infoText, 0, size);

    uint64_t grains = 0;
    while (!stopping)
    {
        uint64_t index = 0;
        status = mxlFabricsTargetReadGrain(target, 200, &index);
        if (status == MXL_ERR_TIMEOUT || status == MXL_ERR_NOT_READY)
        {
            continue;
        }
        if (status != MXL_STATUS_OK)
        {
            fprintf(stderr, "fabrics_target: reading a grain failed (status %d)\n", (int)status);
            goto done;
        }
        /* What an SDK application does with a grain that arrived. With this library the grain is
         * readable already; opening and committing it as it is changes nothing. */
        mxlGrainInfo grain;
        uint8_t* payload = NULL;
        status = mxlFlowWriterOpenGrain(writer, index, &grain, &payload);
        if (status == MXL_ERR_OUT_OF_RANGE_TOO_LATE)
        {
            continue; /* this application was a whole ring behind: a newer grain took its place */
        }
        if (status != MXL_STATUS_OK || (status = mxlFlowWriterCommitGrain(writer, &grain)) != MXL_STATUS_OK)
        {
            fprintf(stderr, "fabrics_target: committing grain %llu failed (status %d)\n", (unsigned long long)index, (int)status);
            goto done;
        }
        ++grains;
    }
    printf("grains: %llu\n", (unsigned long long)grains);
    result = 0;

done:
    free(infoText);
    if (info != NULL)
    {
        mxlFabricsFreeTargetInfo(info);
    }
    if (target != NULL)
    {
        mxlFabricsDestroyTarget(fabrics, target);
    }
    if (fabrics != NULL)
    {
        mxlFabricsDestroyInstance(fabrics);
    }
    if (writer != NULL)
    {
        mxlReleaseFlowWriter(instance, writer);
    }
    if (instance != NULL)
    {
        mxlDestroyInstance(instance);
    }
    free(flowDef);
    return result;
}
