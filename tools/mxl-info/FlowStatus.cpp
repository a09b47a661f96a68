// SPDX-License-Identifier: Apache-2.0
#include "mxl-info/FlowStatus.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include <mxl/rational.h>
#include <mxl/time.h>
#include "flow/FlowLayout.hpp"
#include "common/DomainFile.hpp"

namespace mxl::info
{
    namespace
    {
        constexpr char groupHintTag[] = "urn:x-nmos:tag:grouphint/v1.0";

        nlohmann::json readFlowDef(std::filesystem::path const& dir)
        {
            // Never a hang on a planted FIFO, never a huge read: what is not a small regular file is no definition.
            auto text = readDomainFile(dir / "flow_def.json", maxFlowDefinitionBytes);
            if (!text)
            {
                return nullptr;
            }
            return nlohmann::json::parse(*text, nullptr, false);
        }

        void describe(FlowStatus& s, nlohmann::json const& def)
        {
            s.flowDef = def;
            if (!def.is_object())
            {
                return;
            }
            auto str = [&](char const* key) {
                auto const it = def.find(key);
                return it != def.end() && it->is_string() ? it->get<std::string>() : std::string{};
            };
            auto uint = [&](char const* key) {
                auto const it = def.find(key);
                return it != def.end() && it->is_number_unsigned() ? it->get<std::uint32_t>() : 0U;
            };
            s.label = str("label");
            s.mediaType = str("media_type");
            s.interlaceMode = str("interlace_mode");
            s.width = uint("frame_width");
            s.height = uint("frame_height");
            if (auto const tags = def.find("tags"); tags != def.end() && tags->is_object())
            {
                if (auto const hints = tags->find(groupHintTag); hints != tags->end() && hints->is_array() && !hints->empty() &&
                                                                 hints->front().is_string())
                {
                    auto const hint = hints->front().get<std::string>();
                    auto const colon = hint.find(':');
                    s.group = hint.substr(0, colon);
                    s.role = colon == std::string::npos ? std::string{} : hint.substr(colon + 1);
                }
            }
        }

        template<typename T>
        T load(T const& field) noexcept
        {
            return std::atomic_ref<T>{const_cast<T&>(field)}.load(std::memory_order_acquire);
        }
    }

    std::optional<double> FlowStatus::latencyMs() const
    {
        auto const r = rate();
        if (!latency || r.numerator <= 0 || r.denominator <= 0)
        {
            return std::nullopt;
        }
        return static_cast<double>(*latency) * 1000.0 * static_cast<double>(r.denominator) / static_cast<double>(r.numerator);
    }

    std::string FlowStatus::geometry() const
    {
        if (formatName() == "audio")
        {
            return fmt::format("{} ch", config.continuous.channelCount);
        }
        if (width != 0 && height != 0)
        {
            return fmt::format("{}x{}", width, height);
        }
        return "-";
    }

    std::string FlowStatus::formatName() const
    {
        switch (config.common.format)
        {
            case MXL_DATA_FORMAT_VIDEO: return "video";
            case MXL_DATA_FORMAT_AUDIO: return "audio";
            case MXL_DATA_FORMAT_DATA: return "data";
            default: return "?";
        }
    }

    std::vector<std::string> listFlowIds(std::filesystem::path const& domain)
    {
        std::vector<std::string> ids;
        std::error_code ec;
        for (auto const& entry : std::filesystem::directory_iterator{domain, ec})
        {
            auto const name = entry.path().filename().string();
            if (!name.ends_with(flowDirSuffix))
            {
                continue;
            }
            if (auto const id = parseUuid(std::string_view{name}.substr(0, name.size() - flowDirSuffix.size())))
            {
                ids.push_back(formatUuid(*id));
            }
        }
        std::sort(ids.begin(), ids.end());
        return ids;
    }

    DomainInspector::DomainInspector(std::filesystem::path domain)
        : _domain{std::move(domain)}
        , _replication{_domain}
    {}

    std::vector<FlowStatus> DomainInspector::scan()
    {
        _replication.refresh();
        auto const ids = listFlowIds(_domain);
        std::erase_if(_open, [&](auto const& entry) {
            return !std::binary_search(ids.begin(), ids.end(), entry.first);
        });
        std::vector<FlowStatus> flows;
        flows.reserve(ids.size());
        for (auto const& id : ids)
        {
            flows.push_back(status(id, false));
        }
        std::stable_sort(flows.begin(), flows.end(), [](FlowStatus const& a, FlowStatus const& b) {
            return std::tie(a.group, a.role, a.label) < std::tie(b.group, b.role, b.label);
        });
        return flows;
    }

    std::optional<FlowStatus> DomainInspector::inspect(std::string const& id)
    {
        std::error_code ec;
        auto const parsed = parseUuid(id);
        if (!parsed || !std::filesystem::exists(_domain / flowDirName(*parsed), ec))
        {
            return std::nullopt;
        }
        _replication.refresh();
        return status(formatUuid(*parsed), true);
    }

    FlowStatus DomainInspector::status(std::string const& id, bool withGrains)
    {
        FlowStatus s;
        s.id = id;
        s.now = mxlGetTime();
        s.replication = _replication.lookup(id);
        auto const dir = _domain / (id + std::string{flowDirSuffix});

        auto it = _open.find(id);
        if (it != _open.end() && it->second.flow->removed())
        {
            // Deleted, or replaced by a new flow of the same id.
            _open.erase(it);
            it = _open.end();
        }
        if (it == _open.end())
        {
            auto flow = Flow::open(dir, FlowAccess::ReadOnly);
            if (!flow)
            {
                s.error = flow.error().message;
                describe(s, readFlowDef(dir));
                return s;
            }
            it = _open.emplace(id, Opened{std::move(*flow), readFlowDef(dir)}).first;
        }
        auto const& flow = *it->second.flow;
        describe(s, it->second.flowDef);

        auto const& info = flow.info();
        std::memcpy(&s.config, &info.config, sizeof s.config);
        s.runtime.headIndex = load(info.runtime.headIndex);
        s.runtime.lastWriteTime = load(info.runtime.lastWriteTime);
        s.runtime.lastReadTime = load(info.runtime.lastReadTime);
        s.discrete = flow.discrete();
        s.grainSize = flow.grainSize();
        s.sampleWordSize = flow.sampleWordSize();
        s.writerActive = flow.hasWriter();

        if (s.runtime.lastWriteTime != 0)
        {
            auto const rate = s.rate();
            auto const nowIndex = mxlTimestampToIndex(&rate, s.now);
            if (nowIndex != MXL_UNDEFINED_INDEX)
            {
                s.latency = static_cast<std::int64_t>(nowIndex - s.runtime.headIndex);
            }
        }
        if (withGrains && s.discrete)
        {
            for (std::uint32_t slot = 0; slot < flow.grainCount(); ++slot)
            {
                auto const* h = flow.grainHeader(slot);
                s.grains.push_back({slot, load(h->index), load(h->validSlices), load(h->totalSlices), load(h->flags)});
            }
        }
        return s;
    }
}
