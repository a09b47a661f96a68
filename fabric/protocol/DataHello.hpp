// SPDX-License-Identifier: Apache-2.0
#pragma once

// What a source sends a sink's reliable-datagram (FI_EP_RDM) data endpoint in place of a connection
// request: there are no connections, so the source announces itself with a message that carries its
// own endpoint address (the sink inserts it into its address vector to send credit back) and the
// same proof of the grant's connect key a connected source sends with fi_connect. A Bye, with a
// fresh proof, ends the session. The sink answers a Hello it admits with a welcome (a CreditRecord
// of magic welcomeMagic, CommitRecord.hpp).
//   magic "MXLH" (u32) | kind (u8: 1 Hello, 2 Bye) | proof (49 bytes) | address length (u16) | address
// little-endian, through the one wire codec; every field is checked (fuzz_connectproof).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/Expected.hpp"
#include "protocol/ConnectProof.hpp"

namespace mxl::fabric
{
    inline constexpr std::uint32_t dataHelloMagic = 0x484C584DU; // "MXLH" little-endian
    /// The largest endpoint address a Hello carries (fi_getname: efa 32 bytes, shm a name).
    inline constexpr std::size_t maxHelloAddressSize = 256;
    /// The most bytes a Hello takes: the sink's receive buffer for it is that large.
    inline constexpr std::size_t maxDataHelloSize = 4 + 1 + connectProofSize + 2 + maxHelloAddressSize;

    enum class DataHelloKind : std::uint8_t
    {
        Hello = 1, ///< Start a session: the address is where credit goes.
        Bye = 2,   ///< End it (the address is empty).
    };

    struct DataHello
    {
        DataHelloKind kind{DataHelloKind::Hello};
        ConnectProof proof{};
        std::vector<std::byte> address;
    };

    [[nodiscard]] std::vector<std::byte> encode(DataHello const& hello);

    /// MXL_ERR_INVALID_ARG naming the field for anything but a well-formed Hello or Bye (the proof is
    /// only carried: verify it with ConnectProofChecker).
    [[nodiscard]] Expected<DataHello> decodeDataHello(std::span<std::byte const> message);
}
