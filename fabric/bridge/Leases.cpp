// SPDX-License-Identifier: Apache-2.0
#include "bridge/Leases.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace mxl::bridge
{
    Leases::Leases(LeaseLimits limits, std::uint64_t firstId)
        : _limits{limits}
        , _nextId{std::max<std::uint64_t>(firstId, 1)}
    {}

    Expected<std::uint64_t> Leases::open(fabric::remote::ProcessIdentity const& client, std::uint64_t sinceTai)
    {
        if (_leases.size() >= _limits.maxLeases)
        {
            return fail(MXL_ERR_NOT_READY, fmt::format("the bridge holds {} leases, the most it takes", _leases.size()));
        }
        auto const mine = static_cast<std::size_t>(std::count_if(_leases.begin(), _leases.end(), [&](auto const& l) { return l.second.client == client; }));
        if (mine >= _limits.maxLeasesPerClient)
        {
            return fail(MXL_ERR_NOT_READY, fmt::format("pid {} holds {} leases, the most one process may", client.pid, mine));
        }
        auto id = _nextId++;
        if (id == 0)
        {
            id = _nextId++;
        }
        _leases.emplace(id, Lease{id, client, std::nullopt, sinceTai, false});
        return id;
    }

    void Leases::attach(std::uint64_t id, LeasedFlow const& flow)
    {
        if (auto it = _leases.find(id); it != _leases.end())
        {
            it->second.flow = flow;
            _lingering.erase(flow);
        }
    }

    void Leases::grant(std::uint64_t id)
    {
        if (auto it = _leases.find(id); it != _leases.end())
        {
            it->second.granted = true;
        }
    }

    void Leases::close(std::uint64_t id, std::uint64_t now)
    {
        auto it = _leases.find(id);
        if (it == _leases.end())
        {
            return;
        }
        auto const flow = it->second.flow;
        _leases.erase(it);
        if (flow && count(*flow) == 0 && !pinned(*flow))
        {
            _lingering[*flow] = now + _limits.lingerNs;
        }
    }

    Lease const* Leases::find(std::uint64_t id) const
    {
        auto it = _leases.find(id);
        return it == _leases.end() ? nullptr : &it->second;
    }

    std::vector<std::uint64_t> Leases::leasesOfDeadClients() const
    {
        std::vector<std::uint64_t> dead;
        std::optional<fabric::remote::ProcessIdentity> checked;
        auto liveness = fabric::remote::Liveness::Alive;
        for (auto const& [id, lease] : _leases)
        {
            // Leases of one client are mostly next to each other (ids in order of asking): one check each.
            if (!checked || !(*checked == lease.client))
            {
                checked = lease.client;
                liveness = fabric::remote::check(lease.client);
            }
            if (liveness == fabric::remote::Liveness::Gone || liveness == fabric::remote::Liveness::Mismatch)
            {
                dead.push_back(id);
            }
        }
        return dead;
    }

    void Leases::pin(LeasedFlow const& flow)
    {
        _pinned.insert(flow);
        _lingering.erase(flow);
    }

    bool Leases::pinned(LeasedFlow const& flow) const
    {
        return _pinned.contains(flow);
    }

    std::size_t Leases::count(LeasedFlow const& flow) const
    {
        return static_cast<std::size_t>(std::count_if(_leases.begin(), _leases.end(), [&](auto const& l) { return l.second.flow == flow; }));
    }

    void Leases::endLingerNow(LeasedFlow const& flow, std::uint64_t now)
    {
        if (auto it = _lingering.find(flow); it != _lingering.end())
        {
            it->second = std::min(it->second, now);
        }
    }

    std::vector<LeasedFlow> Leases::expired(std::uint64_t now)
    {
        std::vector<LeasedFlow> flows;
        for (auto it = _lingering.begin(); it != _lingering.end();)
        {
            if (now >= it->second)
            {
                flows.push_back(it->first);
                it = _lingering.erase(it);
            }
            else
            {
                ++it;
            }
        }
        return flows;
    }
}
