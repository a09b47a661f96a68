// SPDX-License-Identifier: Apache-2.0
#include "mxl-info/Views.hpp"

#include <algorithm>
#include <ctime>
#include <sstream>

#include <fmt/format.h>

#include <mxl/time.h>
#include "toolkit/Cli.hpp"
#include "mxl-info/Table.hpp"

namespace mxl::info
{
    namespace
    {
        constexpr char noValue[] = "-";

        std::string shortMediaType(std::string const& mediaType)
        {
            auto const slash = mediaType.find('/');
            return slash == std::string::npos ? mediaType : mediaType.substr(slash + 1);
        }

        std::string latencyText(FlowStatus const& f, bool compact)
        {
            if (!f.latency)
            {
                return noValue;
            }
            auto const unit = f.discrete ? (compact ? "gr" : "grains") : (compact ? "smp" : "samples");
            return fmt::format("{} {}", *f.latency, unit);
        }

        std::string latencyMsText(FlowStatus const& f)
        {
            auto const ms = f.latencyMs();
            return ms ? fmt::format("{:.1f}", *ms) : std::string{noValue};
        }

        std::string headText(FlowStatus const& f)
        {
            return f.runtime.lastWriteTime == 0 ? std::string{noValue} : std::to_string(f.runtime.headIndex);
        }

        std::string replicationText(FlowStatus const& f)
        {
            return f.replication ? f.replication->summary : std::string{noValue};
        }

        std::string shortReplicationText(FlowStatus const& f)
        {
            return f.replication ? f.replication->shortSummary : std::string{noValue};
        }

        std::string groupTitle(FlowStatus const& f)
        {
            return f.group.empty() ? std::string{"(no group hint)"} : f.group;
        }

        template<typename RowFn>
        void groupedRows(std::vector<FlowStatus> const& flows, std::vector<std::string>& out, std::vector<std::string> const& header,
            std::vector<std::size_t> const& maxWidths, RowFn row)
        {
            // A header per group, then the group's flows: rows are laid out per group so that
            // columns stay aligned within a group.
            std::size_t i = 0;
            while (i < flows.size())
            {
                auto const& group = flows[i].group;
                out.push_back(fmt::format("[{}]", groupTitle(flows[i])));
                Table table{header};
                for (; i < flows.size() && flows[i].group == group; ++i)
                {
                    table.add(row(flows[i]));
                }
                table.render(out, "  ", maxWidths);
            }
        }

        nlohmann::json rationalJson(mxlRational const& r)
        {
            return {{"numerator", r.numerator}, {"denominator", r.denominator}};
        }

        nlohmann::json optionalTime(std::uint64_t ts)
        {
            return ts == 0 ? nlohmann::json(nullptr) : nlohmann::json(ts);
        }
    }

    std::string formatAge(std::uint64_t now, std::uint64_t then)
    {
        if (then == 0)
        {
            return "never";
        }
        if (then > now)
        {
            return "0 s";
        }
        auto const s = static_cast<double>(now - then) / 1e9;
        if (s < 10)
        {
            return fmt::format("{:.2f} s", s);
        }
        if (s < 120)
        {
            return fmt::format("{:.0f} s", s);
        }
        if (s < 7200)
        {
            return fmt::format("{:.0f} min", s / 60);
        }
        if (s < 2 * 86400)
        {
            return fmt::format("{:.0f} h", s / 3600);
        }
        return fmt::format("{:.0f} d", s / 86400);
    }

    std::string formatTai(std::uint64_t ts)
    {
        if (ts == 0)
        {
            return "never";
        }
        auto const seconds = static_cast<std::time_t>(ts / 1'000'000'000ULL);
        std::tm tm{};
        ::gmtime_r(&seconds, &tm);
        char text[32];
        std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
        return fmt::format("{}.{:03} TAI", text, ts / 1'000'000 % 1000);
    }

    std::vector<std::string> domainTable(std::string const& domain, std::vector<FlowStatus> const& flows)
    {
        std::vector<std::string> out;
        auto const now = flows.empty() ? 0 : flows.front().now;
        out.push_back(fmt::format("domain {}: {} flow{}", domain, flows.size(), flows.size() == 1 ? "" : "s"));
        groupedRows(flows, out, {"ID", "LABEL", "TYPE", "RATE", "GEOMETRY", "HEAD", "LATENCY", "LAT MS", "WRITER", "LAST READ", "REPL"}, {},
            [&](FlowStatus const& f) -> std::vector<std::string> {
                if (!f.error.empty())
                {
                    return {f.id, f.label, f.mediaType, noValue, noValue, noValue, noValue, noValue, noValue, noValue, "unreadable: " + f.error};
                }
                return {f.id, f.label, f.mediaType, tools::formatRate(f.rate()), f.geometry(), headText(f), latencyText(f, false),
                    latencyMsText(f), f.writerActive ? "active" : "none", formatAge(now, f.runtime.lastReadTime), replicationText(f)};
            });
        return out;
    }

    std::vector<std::string> compactDomainTable(std::string const& domain, std::vector<FlowStatus> const& flows, std::size_t columns)
    {
        std::vector<std::string> out;
        auto const now = flows.empty() ? 0 : flows.front().now;
        out.push_back(fmt::format("{} flow{} in {}", flows.size(), flows.size() == 1 ? "" : "s", domain));
        // ID LABEL TYPE GEOMETRY RATE LATENCY MS W READ REPL: 2 + 65 + 9 separators + 4 = 80 columns.
        std::vector<std::size_t> widths{8, 11, 8, 9, 6, 8, 6, 3, 6, 4};
        if (columns < 80)
        {
            widths[1] = std::max<std::size_t>(4, widths[1] - std::min<std::size_t>(7, 80 - columns));
        }
        groupedRows(flows, out, {"ID", "LABEL", "TYPE", "GEOMETRY", "RATE", "LATENCY", "MS", "W", "READ", "REPL"}, widths,
            [&](FlowStatus const& f) -> std::vector<std::string> {
                if (!f.error.empty())
                {
                    return {f.id.substr(0, 8), f.label, shortMediaType(f.mediaType), noValue, noValue, noValue, noValue, noValue, noValue, "bad"};
                }
                return {f.id.substr(0, 8), f.label, shortMediaType(f.mediaType), f.geometry(), tools::formatRate(f.rate()), latencyText(f, true),
                    latencyMsText(f), f.writerActive ? "yes" : "no", formatAge(now, f.runtime.lastReadTime), shortReplicationText(f)};
            });
        return out;
    }

    std::vector<std::string> flowDetails(FlowStatus const& f)
    {
        std::vector<std::string> out;
        auto const& c = f.config.common;
        out.push_back(fmt::format("flow {}", f.id));
        out.push_back(fmt::format("  label          {}", f.label.empty() ? noValue : f.label));
        out.push_back(fmt::format("  group hint     {}:{}", f.group, f.role));
        out.push_back(fmt::format("  media type     {} ({})", f.mediaType, f.formatName()));
        if (!f.error.empty())
        {
            out.push_back(fmt::format("  unreadable     {}", f.error));
        }
        else
        {
            auto const rateUnit = f.discrete ? "grains/s" : "samples/s";
            out.push_back(fmt::format("  rate           {}/{} ({} {})", c.grainRate.numerator, c.grainRate.denominator, tools::formatRate(c.grainRate),
                rateUnit));
            out.push_back(fmt::format("  geometry       {}{}", f.geometry(), f.interlaceMode.empty() ? "" : " " + f.interlaceMode));
            out.push_back(fmt::format("  writer         {}", f.writerActive ? "active" : "none (stale: --gc removes it)"));
            out.push_back(fmt::format("  replication    {}", replicationText(f)));
            out.push_back("config");
            if (f.discrete)
            {
                auto const& d = f.config.discrete;
                out.push_back(fmt::format("  grain count    {}", d.grainCount));
                out.push_back(fmt::format("  slice sizes    {} {} {} {}", d.sliceSizes[0], d.sliceSizes[1], d.sliceSizes[2], d.sliceSizes[3]));
                out.push_back(fmt::format("  grain size     {} bytes", f.grainSize));
            }
            else
            {
                auto const& d = f.config.continuous;
                out.push_back(fmt::format("  channels       {}", d.channelCount));
                out.push_back(fmt::format("  buffer length  {} samples of {} bytes", d.bufferLength, f.sampleWordSize));
            }
            out.push_back(fmt::format("  commit batch   {} (maxCommitBatchSizeHint)", c.maxCommitBatchSizeHint));
            out.push_back(fmt::format("  sync batch     {} (maxSyncBatchSizeHint)", c.maxSyncBatchSizeHint));
            out.push_back(fmt::format("  payload        {} (device {})", c.payloadLocation == MXL_PAYLOAD_LOCATION_HOST_MEMORY ? "host" : "device",
                c.deviceIndex));
            out.push_back(fmt::format("runtime (now {})", formatTai(f.now)));
            out.push_back(fmt::format("  head index     {}", headText(f)));
            out.push_back(fmt::format("  latency        {} ({} ms)", latencyText(f, false), latencyMsText(f)));
            out.push_back(fmt::format("  last write     {} ({} ago)", formatTai(f.runtime.lastWriteTime), formatAge(f.now, f.runtime.lastWriteTime)));
            out.push_back(fmt::format("  last read      {} ({} ago)", formatTai(f.runtime.lastReadTime), formatAge(f.now, f.runtime.lastReadTime)));
            if (f.discrete)
            {
                out.push_back("grains");
                Table table{{"SLOT", "INDEX", "VALID/TOTAL", "FLAGS"}};
                for (auto const& g : f.grains)
                {
                    auto const flags = g.flags == 0 ? std::string{noValue}
                                                    : fmt::format("{:#x}{}", g.flags, (g.flags & MXL_GRAIN_FLAG_INVALID) != 0 ? " invalid" : "");
                    table.add({std::to_string(g.slot), std::to_string(g.index), fmt::format("{}/{}", g.validSlices, g.totalSlices), flags});
                }
                table.render(out, "  ");
            }
        }
        out.push_back("flow_def.json");
        std::istringstream def{f.flowDef.is_null() ? std::string{"(unreadable)"} : f.flowDef.dump(2)};
        for (std::string line; std::getline(def, line);)
        {
            out.push_back("  " + line);
        }
        return out;
    }

    nlohmann::json flowJson(FlowStatus const& f, bool details)
    {
        auto const& c = f.config.common;
        nlohmann::json j{
            {"id", f.id},
            {"label", f.label},
            {"group", f.group},
            {"role", f.role},
            {"media_type", f.mediaType},
        };
        if (!f.error.empty())
        {
            j["error"] = f.error;
            if (details)
            {
                j["flow_def"] = f.flowDef;
            }
            return j;
        }
        j["format"] = f.formatName();
        j["rate"] = rationalJson(c.grainRate);
        if (f.formatName() == "audio")
        {
            j["channels"] = f.config.continuous.channelCount;
        }
        else if (f.width != 0)
        {
            j["width"] = f.width;
            j["height"] = f.height;
        }
        j["head_index"] = f.runtime.lastWriteTime == 0 ? nlohmann::json(nullptr) : nlohmann::json(f.runtime.headIndex);
        if (f.latency)
        {
            j["latency"] = {{f.discrete ? "grains" : "samples", *f.latency}, {"ms", *f.latencyMs()}};
        }
        else
        {
            j["latency"] = nullptr;
        }
        j["writer_active"] = f.writerActive;
        j["last_write_time"] = optionalTime(f.runtime.lastWriteTime);
        j["last_read_time"] = optionalTime(f.runtime.lastReadTime);
        j["now"] = f.now;
        j["replication"] = f.replication ? f.replication->detail : nlohmann::json(nullptr);
        if (!details)
        {
            return j;
        }
        nlohmann::json config{
            {"max_commit_batch_size_hint", c.maxCommitBatchSizeHint},
            {"max_sync_batch_size_hint", c.maxSyncBatchSizeHint},
            {"payload_location", c.payloadLocation == MXL_PAYLOAD_LOCATION_HOST_MEMORY ? "host" : "device"},
            {"device_index", c.deviceIndex},
        };
        if (f.discrete)
        {
            config["grain_count"] = f.config.discrete.grainCount;
            config["slice_sizes"] = f.config.discrete.sliceSizes;
            config["grain_size"] = f.grainSize;
            auto& grains = j["grains"] = nlohmann::json::array();
            for (auto const& g : f.grains)
            {
                grains.push_back({{"slot", g.slot}, {"index", g.index}, {"valid_slices", g.validSlices}, {"total_slices", g.totalSlices},
                    {"flags", g.flags}});
            }
        }
        else
        {
            config["channel_count"] = f.config.continuous.channelCount;
            config["buffer_length"] = f.config.continuous.bufferLength;
            config["sample_word_size"] = f.sampleWordSize;
        }
        j["config"] = std::move(config);
        j["runtime"] = {{"head_index", f.runtime.headIndex}, {"last_write_time", f.runtime.lastWriteTime}, {"last_read_time", f.runtime.lastReadTime}};
        j["flow_def"] = f.flowDef;
        return j;
    }

    nlohmann::json domainJson(std::string const& domain, std::vector<FlowStatus> const& flows)
    {
        auto list = nlohmann::json::array();
        for (auto const& f : flows)
        {
            list.push_back(flowJson(f, false));
        }
        return {{"domain", domain}, {"now", mxlGetTime()}, {"flows", std::move(list)}};
    }
}
