// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the tool tests share: where the built tools are, an instance that destroys itself, flow
// definitions with chosen labels and group hints, and waiting for a condition.

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "base/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace mxl::test
{
    inline std::string const mxlInfo = MXL_INFO_PATH;
    inline std::string const mxlGen = MXL_GEN_PATH;

    inline std::string newFlowId()
    {
        return formatUuid(randomUuid().value());
    }

    class Instance
    {
    public:
        explicit Instance(std::string const& domain)
            : _instance{::mxlCreateInstance(domain.c_str(), nullptr)}
        {}

        ~Instance()
        {
            if (_instance != nullptr)
            {
                ::mxlDestroyInstance(_instance);
            }
        }

        Instance(Instance const&) = delete;
        Instance& operator=(Instance const&) = delete;

        [[nodiscard]] mxlInstance get() const noexcept
        {
            return _instance;
        }

    private:
        mxlInstance _instance;
    };

    /// flowDef() with the label and group hint replaced.
    inline std::string labelledFlowDef(std::string const& id, std::string const& media, std::string const& label, std::string const& groupHint,
        int width = 1920, int height = 1080, int rateNum = 60000, int rateDen = 1001, int channels = 2)
    {
        auto def = nlohmann::json::parse(flowDef(id, media, width, height, rateNum, rateDen, channels));
        def["label"] = label;
        def["tags"]["urn:x-nmos:tag:grouphint/v1.0"] = nlohmann::json::array({groupHint});
        return def.dump();
    }

    /// Polls `condition` every 5 ms until it holds or the timeout passes.
    inline bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds timeout = std::chrono::seconds{3})
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (!condition())
        {
            if (std::chrono::steady_clock::now() >= deadline)
            {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{5});
        }
        return true;
    }

    /// Flow directories left in a domain.
    inline std::vector<std::string> flowDirectories(std::filesystem::path const& domain)
    {
        std::vector<std::string> names;
        for (auto const& entry : std::filesystem::directory_iterator{domain})
        {
            if (entry.path().extension() == ".mxl-flow")
            {
                names.push_back(entry.path().filename().string());
            }
        }
        return names;
    }

    inline bool flowExists(std::filesystem::path const& domain, std::string const& id)
    {
        return std::filesystem::exists(domain / (id + ".mxl-flow"));
    }
}
