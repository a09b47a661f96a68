// SPDX-License-Identifier: Apache-2.0
// What anyone who may write a domain directory can plant where the engine expects flow files: named
// pipes (opening one for reading waits for a writer forever), links to devices or to other
// directories, directories, huge files. The engine refuses each with a status and a message naming
// what it found, and never blocks: every call runs in a child process that must return in time.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

using mxl::test::ChildProcess;
using mxl::test::flowDef;
using mxl::test::newFlowId;
using mxl::test::ScopedInstance;
using mxl::test::TestDomain;
namespace fs = std::filesystem;

namespace
{
    /// The status call returns in a child process; nothing if it did not return within 10 s.
    std::optional<mxlStatus> statusInChild(std::function<mxlStatus()> const& call)
    {
        ChildProcess child{[&] {
            auto const status = static_cast<int>(call());
            return status >= 1024 ? 100 + (status - 1024) : status;
        }};
        auto const code = child.wait(std::chrono::seconds{10});
        if (!code)
        {
            return std::nullopt;
        }
        return static_cast<mxlStatus>(*code >= 100 ? 1024 + (*code - 100) : *code);
    }

    /// A flow directory made by hand: a definition, an `access` file, and whatever make() puts there.
    std::string plantFlow(TestDomain const& domain, std::function<void(fs::path const&)> const& make)
    {
        auto const id = newFlowId();
        auto const dir = domain.path() / (id + ".mxl-flow");
        fs::create_directories(dir / "grains");
        std::ofstream{dir / "flow_def.json"} << flowDef(id, "v210", 64, 8, 50, 1);
        std::ofstream{dir / "access"};
        make(dir);
        return id;
    }

    // The instance is made before anything is planted: a new instance collects garbage, and would
    // remove the planted directories (they have no live writer) before the call under test sees them.
    mxlStatus openReader(ScopedInstance const& instance, std::string const& id)
    {
        mxlFlowReader reader = nullptr;
        return mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader);
    }

    mxlStatus readDefinition(ScopedInstance const& instance, std::string const& id)
    {
        std::string buffer(64 * 1024, '\0');
        auto size = buffer.size();
        return mxlGetFlowDef(instance.get(), id.c_str(), buffer.data(), &size);
    }
}

TEST(HostileDomain, FifoWhereAFlowFileShouldBeIsRefusedWithoutBlocking)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    auto const fifoData = plantFlow(domain, [](fs::path const& dir) { ASSERT_EQ(::mkfifo((dir / "data").c_str(), 0644), 0); });
    EXPECT_EQ(statusInChild([&] { return openReader(instance, fifoData); }), MXL_ERR_FLOW_INVALID) << "a FIFO as data";
    EXPECT_EQ(statusInChild([&] {
        bool active = true;
        auto const status = mxlIsFlowActive(instance.get(), fifoData.c_str(), &active);
        return status == MXL_STATUS_OK && !active ? MXL_STATUS_OK : MXL_ERR_UNKNOWN;
    }),
        MXL_STATUS_OK)
        << "mxlIsFlowActive blocked or called a FIFO a live flow";

    // A real flow whose grain file and definition are replaced by FIFOs under its writer.
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 64, 8, 50, 1).c_str(), nullptr, &writer, nullptr, nullptr), MXL_STATUS_OK);
    auto const dir = domain.path() / (id + ".mxl-flow");
    fs::remove(dir / "grains" / "data.0");
    ASSERT_EQ(::mkfifo((dir / "grains" / "data.0").c_str(), 0644), 0);
    EXPECT_EQ(statusInChild([&] { return openReader(instance, id); }), MXL_ERR_FLOW_INVALID) << "a FIFO as a grain file";
    fs::remove(dir / "flow_def.json");
    ASSERT_EQ(::mkfifo((dir / "flow_def.json").c_str(), 0644), 0);
    EXPECT_EQ(statusInChild([&] { return readDefinition(instance, id); }), MXL_ERR_FLOW_INVALID) << "a FIFO as flow_def.json";
    EXPECT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
}

TEST(HostileDomain, SymbolicLinksInADomainAreNotFollowed)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    auto const zeroData = plantFlow(domain, [](fs::path const& dir) { fs::create_symlink("/dev/zero", dir / "data"); });
    EXPECT_EQ(statusInChild([&] { return openReader(instance, zeroData); }), MXL_ERR_FLOW_INVALID) << "data linked to /dev/zero";

    // A flow directory that is a link to a real flow's directory is not a flow.
    auto const real = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(real, "v210", 64, 8, 50, 1).c_str(), nullptr, &writer, nullptr, nullptr), MXL_STATUS_OK);
    auto const alias = newFlowId();
    fs::create_directory_symlink(domain.path() / (real + ".mxl-flow"), domain.path() / (alias + ".mxl-flow"));
    EXPECT_EQ(statusInChild([&] { return openReader(instance, alias); }), MXL_ERR_FLOW_INVALID) << "a linked flow directory";
    EXPECT_EQ(statusInChild([&] { return openReader(instance, real); }), MXL_STATUS_OK) << "the real flow";

    // A definition linked to a file elsewhere is not read.
    auto const linkedDef = plantFlow(domain, [](fs::path const& dir) {
        std::ofstream{dir / "data"};
        fs::remove(dir / "flow_def.json");
        fs::create_symlink("/etc/hostname", dir / "flow_def.json");
    });
    EXPECT_EQ(statusInChild([&] { return readDefinition(instance, linkedDef); }), MXL_ERR_FLOW_INVALID);
    EXPECT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
}

TEST(HostileDomain, DirectoryOrHugeFileWhereAFlowFileShouldBeIsRefused)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    auto const directoryData = plantFlow(domain, [](fs::path const& dir) { fs::create_directory(dir / "data"); });
    EXPECT_EQ(statusInChild([&] { return openReader(instance, directoryData); }), MXL_ERR_FLOW_INVALID) << "a directory as data";

    // 4 GiB of definition (sparse: nothing is allocated) is refused by its size, before any read.
    auto const hugeDef = plantFlow(domain, [](fs::path const& dir) {
        std::ofstream{dir / "data"};
        fs::resize_file(dir / "flow_def.json", std::uintmax_t{4} << 30);
    });
    EXPECT_EQ(statusInChild([&] { return readDefinition(instance, hugeDef); }), MXL_ERR_FLOW_INVALID);

    // A FIFO as the domain's options.json: the instance is refused, not stuck.
    TestDomain other;
    ASSERT_EQ(::mkfifo((other.path() / "options.json").c_str(), 0644), 0);
    EXPECT_EQ(statusInChild([&] {
        auto* made = mxlCreateInstance(other.str().c_str(), nullptr);
        if (made == nullptr)
        {
            return MXL_ERR_INVALID_ARG;
        }
        mxlDestroyInstance(made);
        return MXL_STATUS_OK;
    }),
        MXL_ERR_INVALID_ARG)
        << "an instance was made over a FIFO options.json";
}

TEST(HostileDomain, GarbageCollectionReturnsAndKeepsLiveFlows)
{
    TestDomain domain;
    plantFlow(domain, [](fs::path const& dir) { ASSERT_EQ(::mkfifo((dir / "data").c_str(), 0644), 0); });
    plantFlow(domain, [](fs::path const& dir) { fs::create_symlink("/dev/zero", dir / "data"); });
    plantFlow(domain, [](fs::path const& dir) { fs::create_directory(dir / "data"); });
    ScopedInstance instance{domain.str()};
    auto const live = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(live, "v210", 64, 8, 50, 1).c_str(), nullptr, &writer, nullptr, nullptr), MXL_STATUS_OK);
    EXPECT_EQ(statusInChild([&] {
        ScopedInstance collector{domain.str()};
        return mxlGarbageCollectFlows(collector.get());
    }),
        MXL_STATUS_OK);
    EXPECT_EQ(statusInChild([&] { return openReader(instance, live); }), MXL_STATUS_OK) << "garbage collection took a live flow";
    EXPECT_EQ(mxlReleaseFlowWriter(instance.get(), writer), MXL_STATUS_OK);
}
