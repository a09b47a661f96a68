// SPDX-License-Identifier: Apache-2.0
#include "ofi/Address.hpp"

#include <array>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_errno.h>
#include <sys/socket.h>

#include "ofi/Error.hpp"

namespace mxl::ofi
{
    Expected<std::vector<std::byte>> addressOf(fid_t endpoint, std::string_view provider)
    {
        auto address = std::vector<std::byte>(sizeof(sockaddr_storage));
        auto length = address.size();
        auto rc = fi_getname(endpoint, address.data(), &length);
        if (rc == -FI_ETOOSMALL)
        {
            address.resize(length);
            rc = fi_getname(endpoint, address.data(), &length);
        }
        if (rc != 0)
        {
            return fiFail("fi_getname", provider, rc);
        }
        address.resize(length);
        return address;
    }

    Expected<std::uint16_t> portOf(std::span<std::byte const> address)
    {
        auto family = sa_family_t{};
        if (address.size() < sizeof(family))
        {
            return fail(MXL_ERR_INVALID_ARG, "address too short to be a socket address");
        }
        std::memcpy(&family, address.data(), sizeof(family));
        if (family == AF_INET && address.size() >= sizeof(sockaddr_in))
        {
            auto in = sockaddr_in{};
            std::memcpy(&in, address.data(), sizeof(in));
            return ntohs(in.sin_port);
        }
        if (family == AF_INET6 && address.size() >= sizeof(sockaddr_in6))
        {
            auto in6 = sockaddr_in6{};
            std::memcpy(&in6, address.data(), sizeof(in6));
            return ntohs(in6.sin6_port);
        }
        return fail(MXL_ERR_UNSUPPORTED_OPERATION, "address is not an IPv4 or IPv6 socket address");
    }

    std::string describeAddress(std::span<std::byte const> address)
    {
        auto family = sa_family_t{};
        std::array<char, INET6_ADDRSTRLEN> text{};
        if (address.size() >= sizeof(family))
        {
            std::memcpy(&family, address.data(), sizeof(family));
        }
        if (family == AF_INET && address.size() >= sizeof(sockaddr_in))
        {
            auto in = sockaddr_in{};
            std::memcpy(&in, address.data(), sizeof(in));
            if (::inet_ntop(AF_INET, &in.sin_addr, text.data(), text.size()) != nullptr)
            {
                return std::string{text.data()} + ":" + std::to_string(ntohs(in.sin_port));
            }
        }
        if (family == AF_INET6 && address.size() >= sizeof(sockaddr_in6))
        {
            auto in6 = sockaddr_in6{};
            std::memcpy(&in6, address.data(), sizeof(in6));
            if (::inet_ntop(AF_INET6, &in6.sin6_addr, text.data(), text.size()) != nullptr)
            {
                return "[" + std::string{text.data()} + "]:" + std::to_string(ntohs(in6.sin6_port));
            }
        }
        return "an address of " + std::to_string(address.size()) + " bytes";
    }
}
