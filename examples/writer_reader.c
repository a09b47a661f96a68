/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A media function pair in plain C against the MXL 1.x API: a writer process produces 1080p v210
 * video paced by TAI time, committing each frame in slice batches; a reader process follows it
 * live, checks every frame and reports how late it saw each one.
 *
 * usage: writer_reader DOMAIN [SECONDS]
 */
#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char const* const flowId = "8c1c9b3e-0c5a-4b5e-9d1e-6a3f2b7c1d40";

static char const* const flowDef =
    "{\"id\":\"8c1c9b3e-0c5a-4b5e-9d1e-6a3f2b7c1d40\",\"format\":\"urn:x-nmos:format:video\",\"label\":\"demo camera\","
    "\"media_type\":\"video/v210\",\"tags\":{\"urn:x-nmos:tag:grouphint/v1.0\":[\"demo:video\"]},"
    "\"grain_rate\":{\"numerator\":60,\"denominator\":1},\"frame_width\":1920,\"frame_height\":1080,"
    "\"interlace_mode\":\"progressive\",\"colorspace\":\"BT709\"}";

enum
{
    Batches = 8
};

/* Every byte of grain `index` is derivable from the index (one value per 5120-byte line), so the
 * reader can check it. */
static uint8_t patternByte(uint64_t index, size_t offset)
{
    return (uint8_t)(index * 31u + offset / 5120u);
}

static int runReader(char const* domain, uint64_t first, uint64_t count)
{
    mxlInstance instance = mxlCreateInstance(domain, NULL);
    mxlFlowReader reader;
    if (instance == NULL || mxlCreateFlowReader(instance, flowId, NULL, &reader) != MXL_STATUS_OK)
    {
        fprintf(stderr, "reader: cannot open flow %s\n", flowId);
        return 1;
    }
    mxlFlowConfigInfo config;
    mxlFlowReaderGetConfigInfo(reader, &config);

    uint64_t good = 0, bad = 0, missed = 0, worstLateNs = 0, totalLateNs = 0;
    for (uint64_t index = first; index < first + count; ++index)
    {
        mxlGrainInfo info;
        uint8_t* payload;
        mxlStatus status = mxlFlowReaderGetGrain(reader, index, 1000000000ULL, &info, &payload);
        uint64_t const seenAt = mxlGetTime();
        if (status != MXL_STATUS_OK)
        {
            ++missed;
            continue;
        }
        int ok = info.index == index && info.validSlices == info.totalSlices;
        for (size_t offset = 0; ok && offset < info.grainSize; offset += 4093)
        {
            ok = payload[offset] == patternByte(index, offset);
        }
        ok ? ++good : ++bad;
        /* How long after the frame's own time it was readable: production plus transport. */
        uint64_t const due = mxlIndexToTimestamp(&config.common.grainRate, index + 1);
        uint64_t const late = seenAt > due ? seenAt - due : 0;
        totalLateNs += late;
        worstLateNs = late > worstLateNs ? late : worstLateNs;
    }
    printf("reader: %llu grains verified byte for byte, %llu corrupt, %llu missed; readable %.3f ms after the end of the frame on average "
           "(worst %.3f ms)\n",
        (unsigned long long)good, (unsigned long long)bad, (unsigned long long)missed, good ? (double)totalLateNs / (double)good / 1e6 : 0.0,
        (double)worstLateNs / 1e6);
    fflush(stdout);
    mxlReleaseFlowReader(instance, reader);
    mxlDestroyInstance(instance);
    return bad == 0 && missed == 0 ? 0 : 1;
}

int main(int argc, char** argv)
{
    if (argc < 2)
    {
        fprintf(stderr, "usage: %s DOMAIN [SECONDS]\n", argv[0]);
        return 2;
    }
    char const* domain = argv[1];
    double const seconds = argc > 2 ? atof(argv[2]) : 3.0;

    mxlInstance instance = mxlCreateInstance(domain, NULL);
    if (instance == NULL)
    {
        fprintf(stderr, "writer: cannot open domain %s\n", domain);
        return 1;
    }
    mxlFlowWriter writer;
    mxlFlowConfigInfo config;
    bool created;
    if (mxlCreateFlowWriter(instance, flowDef, NULL, &writer, &config, &created) != MXL_STATUS_OK)
    {
        fprintf(stderr, "writer: cannot create flow\n");
        return 1;
    }
    mxlRational const rate = config.common.grainRate;
    uint64_t const count = (uint64_t)(seconds * (double)rate.numerator / (double)rate.denominator);
    uint64_t const first = mxlGetCurrentIndex(&rate) + 2;
    printf("writer: flow %s (%s), %u grains in the ring, writing %llu grains of 1920x1080 v210 at %lld/%lld from index %llu\n", flowId,
        created ? "created" : "adopted", config.discrete.grainCount, (unsigned long long)count, (long long)rate.numerator,
        (long long)rate.denominator, (unsigned long long)first);
    fflush(stdout);

    pid_t const child = fork();
    if (child == 0)
    {
        _exit(runReader(domain, first, count));
    }

    for (uint64_t index = first; index < first + count; ++index)
    {
        mxlGrainInfo info;
        uint8_t* payload;
        if (mxlFlowWriterOpenGrain(writer, index, &info, &payload) != MXL_STATUS_OK)
        {
            fprintf(stderr, "writer: cannot open grain %llu\n", (unsigned long long)index);
            break;
        }
        /* A camera delivers a frame over its period: commit it in batches of lines as they come. */
        uint64_t const start = mxlIndexToTimestamp(&rate, index);
        uint64_t const end = mxlIndexToTimestamp(&rate, index + 1);
        size_t const line = config.discrete.sliceSizes[0];
        for (unsigned batch = 0; batch < Batches; ++batch)
        {
            mxlSleepUntil(start + (end - start) * (batch + 1) / Batches);
            uint16_t const firstSlice = (uint16_t)(info.totalSlices * batch / Batches);
            uint16_t const lastSlice = (uint16_t)(info.totalSlices * (batch + 1) / Batches);
            for (size_t slice = firstSlice; slice < lastSlice; ++slice)
            {
                memset(payload + slice * line, patternByte(index, slice * line), line);
            }
            info.validSlices = lastSlice;
            mxlFlowWriterCommitGrain(writer, &info);
        }
    }

    int status = 0;
    waitpid(child, &status, 0);
    mxlReleaseFlowWriter(instance, writer);
    mxlDestroyInstance(instance);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
