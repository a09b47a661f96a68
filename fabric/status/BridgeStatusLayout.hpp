// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bytes of the bridge's status file (BridgeStatus.hpp): a header and fixed-capacity tables of
// fixed-size records, every text a NUL-padded char array. Only BridgeStatus.cpp and tests that
// corrupt a file on purpose need this.
//
// The file is exactly sizeof(StatusArea) bytes. The writer stores the header and the records in
// use as 64-bit words (relaxed atomics) while `sequence` is odd; a reader reads them between two
// reads of `sequence` and keeps the copy only if the counter was even and did not move. 0 means
// nothing was published yet. Records beyond the counts are zero or leftovers, never read. Any
// change to a record's size or meaning needs a new statusVersion.

#include <cstddef>
#include <cstdint>

#include "status/BridgeStatus.hpp"

namespace mxl::bridge::layout
{
    inline constexpr std::uint64_t statusMagic = 0x4744'4952'424c'584dULL; // the bytes "MXLBRIDG" (little-endian)
    /// 2: flow records name the data endpoint type (endpoint: "msg" or "rdm"), and the leases table.
    inline constexpr std::uint32_t statusVersion = 2;

    struct PeerRecord
    {
        char address[64];
        char direction[16];
        char state[16];
        char bridgeId[64];
        char provider[32];
        std::uint64_t sessions;
        std::uint64_t upSince;
        double rttMs;
        double clockOffsetMs;
        std::uint64_t errors;
        char lastError[256];
    };

    struct FlowRecord
    {
        char flowId[40];
        char role[8];
        char peer[64];
        char state[16];
        char provider[32];
        char transfer[16];
        char endpoint[8];
        std::uint64_t epoch;
        std::uint64_t grains;
        std::uint64_t bytes;
        std::uint64_t commits;
        std::uint64_t skippedGrains;
        std::uint64_t lagGrains;
        std::uint64_t refused;
        std::uint64_t errors;
        std::uint64_t headIndex;
        double latencyMs;
        char lastError[256];
    };

    struct LeaseRecord
    {
        std::uint32_t pid;
        std::uint32_t granted; ///< 1 once the client was answered Ok, 0 while acquiring.
        std::uint64_t sinceTai;
        char flowId[40];
        char peer[64];
    };

    struct StatusHeader
    {
        std::uint64_t magic;
        std::uint32_t version;
        std::uint32_t layoutSize; ///< sizeof(StatusArea): a reader of another build refuses a file it would misread.
        std::uint64_t sequence;
        std::uint32_t pid;
        std::uint32_t peerCount;
        std::uint32_t flowCount;
        std::uint32_t leaseCount;
        std::uint64_t startedTai;
        std::uint64_t updatedTai;
        char bridgeId[64];
        char listen[64];
    };

    struct StatusArea
    {
        StatusHeader header;
        PeerRecord peers[maxStatusPeers];
        FlowRecord flows[maxStatusFlows];
        LeaseRecord leases[maxStatusLeases];
    };

    inline constexpr std::size_t sequenceWord = offsetof(StatusHeader, sequence) / sizeof(std::uint64_t);

    static_assert(sizeof(PeerRecord) % 8 == 0 && sizeof(FlowRecord) % 8 == 0 && sizeof(LeaseRecord) % 8 == 0 && sizeof(StatusHeader) % 8 == 0);
    static_assert(sizeof(StatusArea) % 8 == 0 && offsetof(StatusHeader, sequence) % 8 == 0);
    static_assert(sizeof(StatusArea) <= UINT32_MAX);
}
