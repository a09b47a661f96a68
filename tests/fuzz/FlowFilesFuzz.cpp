// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary `data` and grain file contents (corrupt, truncated, hostile) are
// refused with FLOW_INVALID or opened and read within bounds; never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "flow/ContinuousFlowReader.hpp"
#include "flow/DiscreteFlowReader.hpp"
#include "flow/Flow.hpp"
#include "flow/FlowLayout.hpp"

namespace
{
    /// A flow directory under /dev/shm for the whole run, removed at exit.
    struct ScratchFlow
    {
        ScratchFlow()
        {
            std::string pattern = "/dev/shm/mxl-fuzz-XXXXXX";
            if (::mkdtemp(pattern.data()) == nullptr)
            {
                std::abort();
            }
            root = pattern;
            flow = root / "00000000-0000-0000-0000-000000000000.mxl-flow";
            std::filesystem::create_directories(flow / "grains");
        }

        ~ScratchFlow()
        {
            std::error_code ec;
            std::filesystem::remove_all(root, ec);
        }

        std::filesystem::path root;
        std::filesystem::path flow;
    };

    std::filesystem::path const& scratchFlow()
    {
        static ScratchFlow const scratch;
        return scratch.flow;
    }

    void writeFile(std::filesystem::path const& path, std::uint8_t const* data, std::size_t size)
    {
        std::ofstream out{path, std::ios::binary | std::ios::trunc};
        out.write(reinterpret_cast<char const*>(data), static_cast<std::streamsize>(size));
    }
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const& dir = scratchFlow();
    // The input is the `data` file, then grain file 0 (or `channels`), split at a fixed point so
    // that the fuzzer can learn the header layout.
    auto const dataSize = std::min(size, sizeof(mxl::FlowData));
    writeFile(dir / "data", data, dataSize);
    writeFile(dir / "grains/data.0", data + dataSize, size - dataSize);
    writeFile(dir / "channels", data + dataSize, size - dataSize);

    auto flow = mxl::Flow::open(dir, mxl::FlowAccess::ReadOnly);
    if (!flow)
    {
        auto const status = flow.error().status;
        if (status != MXL_ERR_FLOW_INVALID && status != MXL_ERR_FLOW_NOT_FOUND)
        {
            std::abort();
        }
        return 0;
    }
    auto const index = (*flow)->info().runtime.headIndex;
    if ((*flow)->discrete())
    {
        mxl::DiscreteFlowReader reader{std::move(*flow)};
        mxlGrainInfo info;
        std::uint8_t* payload = nullptr;
        if (reader.getGrain(index, MXL_GRAIN_VALID_SLICES_ANY, 0, &info, &payload) == MXL_STATUS_OK)
        {
            // Touch the first and last payload byte: out of bounds would fault under ASan.
            volatile std::uint8_t sink = payload[0];
            sink = payload[reader.flow().grainSize() - 1];
            (void)sink;
        }
    }
    else
    {
        mxl::ContinuousFlowReader reader{std::move(*flow)};
        mxlWrappedMultiBufferSlice slices;
        auto const count = std::min<std::uint64_t>(reader.maxReadLength(), index);
        if (count > 0 && reader.getSamples(index, count, 0, &slices) == MXL_STATUS_OK)
        {
            auto const* base = static_cast<std::uint8_t const*>(slices.base.fragments[0].pointer);
            volatile std::uint8_t sink = base[slices.stride * (slices.count - 1) + slices.base.fragments[0].size - 1];
            (void)sink;
        }
    }
    return 0;
}
