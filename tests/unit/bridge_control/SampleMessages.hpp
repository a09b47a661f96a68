// SPDX-License-Identifier: Apache-2.0
#pragma once

// One message of every control type, every field set to a value other than its default (so that a
// field written or read out of order shows), fixed so that the fuzzer's seeds can be compared with
// what the encoder writes today.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "control/Protocol.hpp"

namespace mxl::bridge::test
{
    inline Uuid sampleUuid(std::uint8_t seed)
    {
        Uuid id{};
        for (std::size_t i = 0; i < id.size(); ++i)
        {
            id[i] = static_cast<std::uint8_t>(seed + 17 * i);
        }
        return id;
    }

    template<std::size_t N>
    std::array<std::byte, N> sampleBytes(std::uint8_t seed)
    {
        std::array<std::byte, N> bytes{};
        for (std::size_t i = 0; i < N; ++i)
        {
            bytes[i] = static_cast<std::byte>(seed + 31 * i);
        }
        return bytes;
    }

    inline std::vector<std::byte> sampleBlob(std::size_t size, std::uint8_t seed)
    {
        std::vector<std::byte> blob(size);
        for (std::size_t i = 0; i < size; ++i)
        {
            blob[i] = static_cast<std::byte>(seed ^ (i * 7));
        }
        return blob;
    }

    /// Type 2's placeholder: never encoded by a bridge, refused when received.
    inline bool retired(ControlMessage const& message) noexcept
    {
        return std::holds_alternative<RetiredAuth>(message);
    }

    /// In ControlType order: sampleMessages()[t - 1] has type t.
    inline std::vector<ControlMessage> sampleMessages()
    {
        return {
            Hello{.minVersion = 1, .maxVersion = 3, .bridgeId = sampleUuid(1), .flags = helloInsecure,
                .software = "mxl-fabric-bridge 0.1"},
            RetiredAuth{}, // never sent: a placeholder for type 2 (protocol 1's Auth)
            Capabilities{.providers = {"verbs", "tcp"}, .cqDataSize = 4, .maxMessageSize = 65536, .transfers = transferRma | transferSendReceive},
            CatalogueRequest{},
            Catalogue{.page = 1, .pages = 3, .flows = {{.flowId = sampleUuid(5), .label = "Camera 1", .format = "video", .active = true},
                          {.flowId = sampleUuid(6), .label = "Mic \xc3\xa9", .format = "audio", .active = false}}},
            Subscribe{.flowId = sampleUuid(7)},
            Unsubscribe{.flowId = sampleUuid(8)},
            Offer{.flowId = sampleUuid(9), .offerEpoch = 0x0102030405060708ULL, .flowOffer = sampleBlob(300, 9)},
            Grant{.flowId = sampleUuid(10), .offerEpoch = 0x1112131415161718ULL, .part = 2, .parts = 5, .regionGrant = sampleBlob(200, 10)},
            Started{.flowId = sampleUuid(11), .offerEpoch = 0x2122232425262728ULL},
            FlowGone{.flowId = sampleUuid(12), .offerEpoch = 0x3132333435363738ULL, .reason = "source flow recreated"},
            Heartbeat{.sequence = 42, .sendTime = 0x4142434445464748ULL},
            HeartbeatReply{.sequence = 42, .echoTime = 0x4142434445464748ULL, .receiveTime = 0x5152535455565758ULL, .sendTime = 0x6162636465666768ULL},
            ControlError{.code = MXL_ERR_CONFLICT, .flowId = sampleUuid(14), .reason = "flow exists with another definition"},
            Goodbye{.reason = "shutting down"},
        };
    }
}
