// SPDX-License-Identifier: Apache-2.0
#include "mxl-info/Snapshot.hpp"

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <png.h>

#include "common/DomainFile.hpp"
#include "toolkit/V210.hpp"
#include "flow/Flow.hpp"
#include "flow/FlowDefinition.hpp"
#include "flow/FlowLayout.hpp"

namespace mxl::info
{
    namespace
    {
        template<typename T>
        T load(T const& field) noexcept
        {
            return std::atomic_ref<T>{const_cast<T&>(field)}.load(std::memory_order_acquire);
        }

        struct Picture
        {
            std::uint64_t index{0};
            std::uint32_t lines{0};
            std::vector<std::uint8_t> fill;
        };

        /// Copies the fill plane of the newest grain that is complete and stays the same grain while
        /// it is copied (the writer may reclaim a slot at any time).
        Expected<Picture> copyLatestComplete(Flow const& flow, std::size_t lineBytes)
        {
            auto const grains = flow.grainCount();
            for (int attempt = 0; attempt < 3; ++attempt)
            {
                auto const head = load(flow.info().runtime.headIndex);
                if (load(flow.info().runtime.lastWriteTime) == 0)
                {
                    break;
                }
                for (std::uint64_t back = 0; back < grains && back <= head; ++back)
                {
                    auto const index = head - back;
                    auto const slot = static_cast<std::uint32_t>(index % grains);
                    auto const* header = flow.grainHeader(slot);
                    auto const total = load(header->totalSlices);
                    if (load(header->index) != index || total == 0 || load(header->validSlices) < total ||
                        (load(header->flags) & MXL_GRAIN_FLAG_INVALID) != 0)
                    {
                        continue;
                    }
                    auto const bytes = lineBytes * total;
                    if (bytes > flow.grainSize())
                    {
                        return fail(MXL_ERR_FLOW_INVALID, fmt::format("grains of {} bytes cannot hold {} lines of {} bytes", flow.grainSize(), total, lineBytes));
                    }
                    Picture p{index, total, std::vector<std::uint8_t>(bytes)};
                    std::memcpy(p.fill.data(), flow.grainPayload(slot), bytes);
                    std::atomic_thread_fence(std::memory_order_acquire);
                    if (load(header->index) == index)
                    {
                        return p;
                    }
                }
            }
            return fail(MXL_ERR_OUT_OF_RANGE_TOO_EARLY, "no complete grain in the flow's ring (nothing written yet, or only partial grains)");
        }

        struct FileCloser
        {
            void operator()(std::FILE* f) const noexcept
            {
                std::fclose(f);
            }
        };

        Expected<void> writePng(std::filesystem::path const& output, std::uint32_t width, std::uint32_t height,
            std::vector<std::uint8_t> const& rgb)
        {
            std::unique_ptr<std::FILE, FileCloser> file{std::fopen(output.c_str(), "wb")};
            if (!file)
            {
                return fail(MXL_ERR_PERMISSION_DENIED, fmt::format("cannot write {}: {}", output.string(), std::strerror(errno)));
            }
            auto* png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
            auto* info = png != nullptr ? png_create_info_struct(png) : nullptr;
            if (info == nullptr)
            {
                png_destroy_write_struct(&png, nullptr);
                return fail(MXL_ERR_UNKNOWN, "libpng: out of memory");
            }
            std::vector<png_const_bytep> rows(height);
            for (std::uint32_t y = 0; y < height; ++y)
            {
                rows[y] = rgb.data() + static_cast<std::size_t>(y) * width * 3;
            }
            // libpng reports errors by longjmp: nothing with a destructor is created below.
            if (setjmp(png_jmpbuf(png)) != 0)
            {
                png_destroy_write_struct(&png, &info);
                return fail(MXL_ERR_UNKNOWN, fmt::format("libpng failed writing {}", output.string()));
            }
            png_init_io(png, file.get());
            png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
            png_set_compression_level(png, 3);
            png_write_info(png, info);
            png_write_rows(png, const_cast<png_bytepp>(rows.data()), height);
            png_write_end(png, nullptr);
            png_destroy_write_struct(&png, &info);
            if (std::fflush(file.get()) != 0)
            {
                return fail(MXL_ERR_UNKNOWN, fmt::format("cannot write {}: {}", output.string(), std::strerror(errno)));
            }
            return {};
        }
    }

    Expected<Snapshot> writeSnapshot(std::filesystem::path const& domain, std::string const& flowId, std::filesystem::path const& output)
    {
        auto const id = parseUuid(flowId);
        if (!id)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("'{}' is not a flow id", flowId));
        }
        // libmxl's Flow, not the C API: mxlCreateInstance would collect the domain's stale flows, and
        // mxlFlowReaderGetGrain marks the flow as read (the access time that becomes the writer's
        // lastReadTime); a snapshot leaves the domain as it was.
        auto const dir = domain / flowDirName(*id);
        auto flow = Flow::open(dir, FlowAccess::ReadOnly);
        if (!flow)
        {
            if (flow.error().status == MXL_ERR_FLOW_NOT_FOUND)
            {
                return fail(MXL_ERR_FLOW_NOT_FOUND, fmt::format("no flow {} in {}", flowId, domain.string()));
            }
            return flow.take_error();
        }
        // Read and checked as the engine does: a planted FIFO or a wrong-typed field is an error, not a hang or a throw.
        auto text = readDomainFile(dir / "flow_def.json", maxFlowDefinitionBytes);
        auto def = text ? parseFlowDefinition(*text) : Expected<FlowDefinition>{Unexpected{text.error()}};
        if (!def)
        {
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("flow {}: {}", flowId, def.error().message));
        }
        auto const& mediaType = def->mediaType;
        if ((*flow)->info().config.common.format != MXL_DATA_FORMAT_VIDEO || (mediaType != "video/v210" && mediaType != "video/v210a"))
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("flow {} is {}, not v210 or v210a video: there is no picture to snapshot", flowId,
                                                 mediaType.empty() ? std::string{"of unknown media type"} : mediaType));
        }
        auto const width = def->width;
        auto const lineBytes = tools::v210LineBytes(width);
        if (width == 0 || (*flow)->info().config.discrete.sliceSizes[0] != lineBytes)
        {
            return fail(MXL_ERR_FLOW_INVALID, fmt::format("flow {}: frame_width {} does not match lines of {} bytes", flowId, width,
                                                  (*flow)->info().config.discrete.sliceSizes[0]));
        }
        auto picture = copyLatestComplete(**flow, lineBytes);
        if (!picture)
        {
            return fail(picture.error().status, fmt::format("flow {}: {}", flowId, picture.error().message));
        }

        std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * picture->lines * 3);
        for (std::uint32_t y = 0; y < picture->lines; ++y)
        {
            auto const* line = picture->fill.data() + y * lineBytes;
            auto* out = rgb.data() + static_cast<std::size_t>(y) * width * 3;
            for (std::uint32_t x = 0; x < width; ++x)
            {
                auto const p = tools::yCbCr10ToRgb8(tools::unpackV210Pixel(line, x));
                out[3 * x] = p.r;
                out[3 * x + 1] = p.g;
                out[3 * x + 2] = p.b;
            }
        }
        if (auto written = writePng(output, width, picture->lines, rgb); !written)
        {
            return written.take_error();
        }
        return Snapshot{picture->index, width, picture->lines};
    }
}
