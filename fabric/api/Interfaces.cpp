// SPDX-License-Identifier: Apache-2.0
#include "api/Interfaces.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Info.hpp"
#include "ofi/Provider.hpp"

namespace mxl::fabric::api
{
    namespace
    {
        /// The providers listed, fastest first (as ofi::kAllProviders), with their C API values.
        constexpr std::array<std::pair<mxlFabricsProvider, ofi::Provider>, 4> providers{{
            {MXL_FABRICS_PROVIDER_VERBS, ofi::Provider::Verbs},
            {MXL_FABRICS_PROVIDER_EFA,   ofi::Provider::Efa  },
            {MXL_FABRICS_PROVIDER_TCP,   ofi::Provider::Tcp  },
            {MXL_FABRICS_PROVIDER_SHM,   ofi::Provider::Shm  },
        }};

        std::string hostName()
        {
            std::array<char, 256> name{};
            if (::gethostname(name.data(), name.size() - 1) != 0)
            {
                return "localhost";
            }
            return name.data();
        }

        /// The numeric form of an IP address (so that "::0001" matches "::1"); other text unchanged.
        std::string canonicalNode(std::string const& node)
        {
            std::array<char, INET6_ADDRSTRLEN> text{};
            in_addr v4{};
            if (::inet_pton(AF_INET, node.c_str(), &v4) == 1 && ::inet_ntop(AF_INET, &v4, text.data(), text.size()) != nullptr)
            {
                return text.data();
            }
            in6_addr v6{};
            if (::inet_pton(AF_INET6, node.c_str(), &v6) == 1 && ::inet_ntop(AF_INET6, &v6, text.data(), text.size()) != nullptr)
            {
                return text.data();
            }
            return node;
        }

        /// Node and service of an entry's source address: the IP address and port (none when 0) for
        /// socket addresses; the host name for providers whose addresses are not IP (shm: a name
        /// local to the host; efa: a device address).
        std::pair<std::string, std::string> addressOf(fi_info const& info)
        {
            std::array<char, INET6_ADDRSTRLEN> text{};
            auto const* address = info.src_addr;
            auto const format = info.addr_format;
            auto const socketFormat = format == FI_SOCKADDR || format == FI_SOCKADDR_IN || format == FI_SOCKADDR_IN6;
            if (socketFormat && address != nullptr && info.src_addrlen >= sizeof(sockaddr_in))
            {
                auto family = sa_family_t{};
                std::memcpy(&family, address, sizeof family);
                if (family == AF_INET)
                {
                    sockaddr_in in{};
                    std::memcpy(&in, address, sizeof in);
                    if (::inet_ntop(AF_INET, &in.sin_addr, text.data(), text.size()) != nullptr)
                    {
                        auto const port = ntohs(in.sin_port);
                        return {text.data(), port == 0 ? std::string{} : std::to_string(port)};
                    }
                }
                if (family == AF_INET6 && info.src_addrlen >= sizeof(sockaddr_in6))
                {
                    sockaddr_in6 in6{};
                    std::memcpy(&in6, address, sizeof in6);
                    if (::inet_ntop(AF_INET6, &in6.sin6_addr, text.data(), text.size()) != nullptr)
                    {
                        auto const port = ntohs(in6.sin6_port);
                        return {text.data(), port == 0 ? std::string{} : std::to_string(port)};
                    }
                }
            }
            return {hostName(), {}};
        }

        /// REMOTE_WRITE: RMA writes both ways (FI_RMA alone implies every direction) and the 4 bytes of
        /// remote CQ data a commit record's sequence travels in (docs/fabric.md). SEND_RECEIVE: messages
        /// both ways.
        std::uint64_t transferFlags(fi_info const& info)
        {
            auto const caps = info.caps;
            auto const directions = caps & (FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE);
            auto const writes = std::uint64_t{FI_WRITE | FI_REMOTE_WRITE};
            auto const rmaWrites = (caps & FI_RMA) != 0 && (directions == 0 || (directions & writes) == writes);
            auto flags = std::uint64_t{0};
            if (rmaWrites && info.domain_attr != nullptr && info.domain_attr->cq_data_size >= 4)
            {
                flags |= MXL_FABRICS_IFACE_CAP_REMOTE_WRITE;
            }
            auto const messages = caps & (FI_SEND | FI_RECV);
            if ((caps & FI_MSG) != 0 && (messages == 0 || messages == (FI_SEND | FI_RECV)))
            {
                flags |= MXL_FABRICS_IFACE_CAP_SEND_RECEIVE;
            }
            return flags;
        }

        /// BLOCKING_OPERATIONS: the blocking calls sleep on a completion queue's wait fd (never
        /// fi_cq_sread, see ofi/Wait.hpp), so the flag says that this provider opened one here. It is
        /// a property of the provider, asked once per process.
        bool opensWaitableQueues(ofi::Provider provider, ofi::Info const& info)
        {
            static std::mutex mutex;
            static std::map<ofi::Provider, bool> known;
            std::lock_guard lock{mutex};
            if (auto const it = known.find(provider); it != known.end())
            {
                return it->second;
            }
            auto opened = [&] {
                auto fabric = ofi::Fabric::open(info);
                if (!fabric)
                {
                    return false;
                }
                auto domain = ofi::Domain::open(*fabric, info);
                if (!domain)
                {
                    return false;
                }
                return ofi::CompletionQueue::open(*domain, 16).has_value();
            }();
            known.emplace(provider, opened);
            return opened;
        }

        char const* endpointTypeName(fi_ep_type type) noexcept
        {
            switch (type)
            {
                case FI_EP_MSG:   return "msg";
                case FI_EP_RDM:   return "rdm";
                case FI_EP_DGRAM: return "dgram";
                default:          return "other";
            }
        }

        /// What else libfabric says about the entry, for people choosing an interface.
        std::string attributesOf(fi_info const& info)
        {
            auto attr = nlohmann::json::object();
            auto set = [&](char const* key, char const* value) {
                if (value != nullptr && *value != '\0')
                {
                    attr[key] = value;
                }
            };
            if (info.fabric_attr != nullptr)
            {
                set("fabric", info.fabric_attr->name);
            }
            if (info.domain_attr != nullptr)
            {
                set("domain", info.domain_attr->name);
            }
            if (info.ep_attr != nullptr)
            {
                attr["endpointType"] = endpointTypeName(info.ep_attr->type);
            }
            if (info.nic != nullptr && info.nic->device_attr != nullptr)
            {
                set("device", info.nic->device_attr->name);
                set("driver", info.nic->device_attr->driver);
            }
            if (info.nic != nullptr && info.nic->link_attr != nullptr && info.nic->link_attr->speed != 0)
            {
                attr["linkSpeed"] = info.nic->link_attr->speed;
            }
            // Names from the system may be in any encoding: replace what is not UTF-8 rather than throw.
            return attr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }

        struct ListStorage
        {
            std::vector<InterfaceDescription> descriptions; ///< Never changed once nodes point into it.
            std::vector<mxlFabricsInterfaceList> nodes;
        };

        std::mutex& registryMutex()
        {
            static std::mutex mutex;
            return mutex;
        }

        std::unordered_map<mxlFabricsInterfaceList const*, std::unique_ptr<ListStorage>>& registry()
        {
            static std::unordered_map<mxlFabricsInterfaceList const*, std::unique_ptr<ListStorage>> lists;
            return lists;
        }
    }

    Expected<std::vector<InterfaceDescription>> probeInterfaces(InterfaceQuery const& query)
    {
        auto const wantedNode = query.node.empty() ? std::string{} : canonicalNode(query.node);
        std::vector<InterfaceDescription> found;
        for (auto const& [provider, ofiProvider] : providers)
        {
            if (query.provider && *query.provider != MXL_FABRICS_PROVIDER_ANY && *query.provider != provider)
            {
                continue;
            }
            // No capabilities asked for: every entry of the provider, whatever it offers (the flags
            // say what). The modes and registration modes are still the ones fabric/ofi implements.
            ofi::Hints hints;
            hints.provider(ofiProvider).capabilities(0).cqDataSize(0);
            auto info = ofi::Info::query(hints);
            if (!info)
            {
                if (info.error().status == MXL_ERR_NO_FABRIC)
                {
                    continue; // Not on this host.
                }
                return info.take_error();
            }
            auto const blocking = opensWaitableQueues(ofiProvider, *info);
            for (auto const* entry = info->raw(); entry != nullptr; entry = entry->next)
            {
                // Layered providers ("tcp;ofi_rxm") come along; only the native one is this interface.
                if (entry->fabric_attr == nullptr || entry->fabric_attr->prov_name == nullptr ||
                    std::string_view{entry->fabric_attr->prov_name} != ofi::providerName(ofiProvider))
                {
                    continue;
                }
                auto [node, service] = addressOf(*entry);
                if (!wantedNode.empty() && node != wantedNode)
                {
                    continue;
                }
                auto const flags = transferFlags(*entry) | (blocking ? std::uint64_t{MXL_FABRICS_IFACE_CAP_BLOCKING_OPERATIONS} : 0);
                auto const maxMessage = entry->ep_attr != nullptr ? std::uint64_t{entry->ep_attr->max_msg_size} : 0;
                // libfabric lists one address several times (protocols, registration modes): one entry
                // per provider and address, with what any of them offers.
                auto const same = std::ranges::find_if(found, [&](InterfaceDescription const& d) {
                    return d.provider == provider && d.node == node && d.service == service;
                });
                if (same != found.end())
                {
                    same->flags |= flags;
                    same->maxMessageSize = std::max(same->maxMessageSize, maxMessage);
                    continue;
                }
                found.push_back(InterfaceDescription{provider, std::move(node), std::move(service), flags, maxMessage, attributesOf(*entry)});
            }
        }
        return found;
    }

    mxlFabricsInterfaceList* makeInterfaceList(std::vector<InterfaceDescription> descriptions)
    {
        if (descriptions.empty())
        {
            return nullptr;
        }
        auto storage = std::make_unique<ListStorage>();
        storage->descriptions = std::move(descriptions);
        storage->nodes.resize(storage->descriptions.size());
        for (std::size_t i = 0; i < storage->nodes.size(); ++i)
        {
            auto const& d = storage->descriptions[i];
            auto& node = storage->nodes[i];
            node.next = i + 1 < storage->nodes.size() ? &storage->nodes[i + 1] : nullptr;
            node.interface.version = MXL_FABRICS_API_VERSION;
            node.interface.provider = d.provider;
            node.interface.caps.version = MXL_FABRICS_API_VERSION;
            node.interface.caps.flags = d.flags;
            node.interface.caps.maxMessageSize = d.maxMessageSize;
            node.interface.address.node = d.node.c_str();
            node.interface.address.service = d.service.c_str();
            node.interface.attr = d.attr.empty() ? nullptr : d.attr.c_str();
        }
        auto* head = storage->nodes.data();
        std::lock_guard lock{registryMutex()};
        registry().emplace(head, std::move(storage));
        return head;
    }

    bool freeInterfaceList(mxlFabricsInterfaceList* list) noexcept
    {
        std::unique_ptr<ListStorage> storage;
        {
            std::lock_guard lock{registryMutex()};
            auto const it = registry().find(list);
            if (it == registry().end())
            {
                return false;
            }
            storage = std::move(it->second);
            registry().erase(it);
        }
        return true;
    }
}
