// SPDX-License-Identifier: Apache-2.0
// mxl-fabric-bridge on one host, without root: its command line, exit codes, clean stop, config
// file and metrics, and replication between two bridges (one domain each) over loopback, also of a
// flow that appears later and through a stalling sink bridge.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "BridgeMedia.hpp"
#include "BridgeProcess.hpp"
#include "ToolTestSupport.hpp"
#include "base/Fd.hpp"
#include "replication/FabricHints.hpp"
#include "support/TestDomain.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        using namespace std::chrono_literals;
        namespace fs = std::filesystem;

        constexpr char loopbackAny[] = "127.0.0.1:0";

        bool contains(std::string const& text, std::string const& part)
        {
            return text.find(part) != std::string::npos;
        }

        std::string lower(std::string text)
        {
            for (auto& c : text)
            {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            return text;
        }

        /// A loopback port that was free a moment ago (for --metrics, whose port the status does not tell).
        std::uint16_t freePort()
        {
            Fd socket{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t length = sizeof address;
            if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
                ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
            {
                return 0;
            }
            return ntohs(address.sin_port);
        }

        /// GET path from 127.0.0.1:port over a plain socket: the whole response, or nothing.
        std::optional<std::string> httpGet(std::uint16_t port, std::string const& path)
        {
            Fd socket{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_port = htons(port);
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
            {
                return std::nullopt;
            }
            auto const request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            if (::send(socket.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
            {
                return std::nullopt;
            }
            std::string response;
            auto const deadline = Clock::now() + 5s;
            while (Clock::now() < deadline)
            {
                pollfd readable{socket.get(), POLLIN, 0};
                if (::poll(&readable, 1, 100) != 1)
                {
                    continue;
                }
                char buffer[4096];
                auto const n = ::recv(socket.get(), buffer, sizeof buffer, 0);
                if (n <= 0)
                {
                    return response;
                }
                response.append(buffer, static_cast<std::size_t>(n));
            }
            return std::nullopt;
        }
        /// A TCP connection from sourceIp (any 127.x address) to 127.0.0.1:port, or an invalid Fd.
        Fd connectFrom(char const* sourceIp, std::uint16_t port)
        {
            Fd socket{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
            sockaddr_in source{};
            source.sin_family = AF_INET;
            ::inet_pton(AF_INET, sourceIp, &source.sin_addr);
            sockaddr_in target{};
            target.sin_family = AF_INET;
            target.sin_port = htons(port);
            target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&source), sizeof source) != 0 ||
                ::connect(socket.get(), reinterpret_cast<sockaddr*>(&target), sizeof target) != 0)
            {
                return Fd{};
            }
            return socket;
        }

        /// Whether the other end closed the connection within timeout (whatever it sent first).
        bool closedWithin(int fd, std::chrono::milliseconds timeout)
        {
            auto const deadline = Clock::now() + timeout;
            while (Clock::now() < deadline)
            {
                pollfd readable{fd, POLLIN, 0};
                if (::poll(&readable, 1, 20) == 1)
                {
                    char buffer[4096];
                    if (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) <= 0)
                    {
                        return true;
                    }
                }
            }
            return false;
        }
        /// Whether this process (and the bridges it starts) may open count files, raising the soft limit
        /// to the hard one if needed.
        bool mayOpenFiles(rlim_t count)
        {
            rlimit files{};
            if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_max < count)
            {
                return false;
            }
            files.rlim_cur = std::max(files.rlim_cur, count);
            return ::setrlimit(RLIMIT_NOFILE, &files) == 0;
        }

        /// Resident memory of a process in KiB (VmRSS), or 0.
        std::uint64_t residentKiB(pid_t pid)
        {
            std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
            std::string line;
            while (std::getline(status, line))
            {
                if (line.rfind("VmRSS:", 0) == 0)
                {
                    return std::stoull(line.substr(6));
                }
            }
            return 0;
        }
    }

    TEST(BridgeCli, NoArgumentsPrintsUsageAndExitsTwo)
    {
        auto const result = mxl::test::runTool(bridgeTool, {});
        EXPECT_EQ(result.exitCode, 2) << result.err;
        EXPECT_TRUE(contains(lower(result.err), "usage")) << "stderr: " << result.err;
    }

    /// One bridge per domain on loopback; logs printed when a test fails.
    class LoopbackBridge : public ::testing::Test
    {
    protected:
        void TearDown() override
        {
            if (HasFailure())
            {
                for (auto const& bridge : bridges)
                {
                    std::cout << "---- " << bridge->logFile().filename().string() << "\n" << tail(bridge->log()) << "\n";
                }
            }
        }

        /// A bridge on domain, listening on a loopback port of its choice, with the test's key.
        RunningBridge& start(mxl::test::TestDomain const& domain, std::vector<std::string> const& extra = {}, std::string const& provider = testProvider())
        {
            std::vector<std::string> args{"--domain", domain.str(), "--listen", loopbackAny, "--psk-file", key.string(), "--provider", provider,
                "--log-level", "debug"};
            args.insert(args.end(), extra.begin(), extra.end());
            return startWith(args);
        }

        RunningBridge& startWith(std::vector<std::string> const& args)
        {
            auto const log = scratch.path() / ("bridge" + std::to_string(bridges.size()) + ".log");
            bridges.push_back(std::make_unique<RunningBridge>(log, args));
            return *bridges.back();
        }

        /// The address a bridge on domain listens on, once it published its status.
        std::string listenAddress(mxl::test::TestDomain const& domain)
        {
            auto const status = waitForStatus(domain.path(), [](BridgeStatus const& s) { return portOf(s.listen).has_value(); }, 10s);
            return status ? status->listen : std::string{};
        }

        /// The exporting bridge on A with its control address ("127.0.0.1:PORT", empty if it published none) and port.
        struct Exporter
        {
            RunningBridge& bridge;
            std::string address;
            std::uint16_t port;
        };

        Exporter startExporter()
        {
            auto& bridge = start(domainA);
            auto address = listenAddress(domainA);
            EXPECT_FALSE(address.empty()) << "A did not publish its address";
            auto const port = address.empty() ? 0 : std::stoi(address.substr(address.rfind(':') + 1));
            return Exporter{bridge, std::move(address), static_cast<std::uint16_t>(port)};
        }

        /// A writer on A of an ANC flow whose ring holds historyNs of grains (the domain's history option
        /// while it is created), committing each grain at once.
        std::unique_ptr<LiveWriter> longRingWriter(TestFlow const& flow, std::uint64_t historyNs)
        {
            auto const options = domainA.path() / "options.json";
            std::ofstream{options} << R"({"urn:x-mxl:option:history_duration/v1.0": )" << historyNs << "}";
            auto writer = std::make_unique<LiveWriter>(domainA.str(), flow, 1);
            std::filesystem::remove(options);
            return writer;
        }

        /// A bridge on A and one on B importing flow from A; returns B's once the import is active.
        RunningBridge& importOnB(TestFlow const& flow)
        {
            start(domainA);
            auto const addressA = listenAddress(domainA);
            EXPECT_FALSE(addressA.empty()) << "A did not publish its address";
            auto& b = start(domainB, {"--import", addressA + "/" + flow.id});
            EXPECT_TRUE(waitForActive(domainB.path(), flow.id, "import", 15s)) << "flow " << flow.id << " is not active on B";
            return b;
        }

        /// Stops pid three times for 300 ms, 700 ms apart, on a thread of its own (a starved host).
        static std::thread stallThreeTimes(pid_t pid)
        {
            return std::thread{[pid] {
                for (int i = 0; i < 3; ++i)
                {
                    std::this_thread::sleep_for(700ms);
                    ::kill(pid, SIGSTOP);
                    std::this_thread::sleep_for(300ms);
                    ::kill(pid, SIGCONT);
                }
            }};
        }

        /// Exits with the runTool result of a bridge that must not start.
        mxl::test::ToolResult refused(std::vector<std::string> const& args)
        {
            return mxl::test::runTool(bridgeTool, args, 10s);
        }

        mxl::test::TestDomain scratch; ///< Keys, logs, config files.
        mxl::test::TestDomain domainA;
        mxl::test::TestDomain domainB;
        fs::path key{writeKey(scratch.path() / "bridge.key")};
        std::vector<std::unique_ptr<RunningBridge>> bridges;
    };

    TEST_F(LoopbackBridge, UnknownOptionExitsTwo)
    {
        auto const result = refused({"--domain", domainA.str(), "--insecure", "--no-such-option"});
        EXPECT_EQ(result.exitCode, 2) << result.err;
        EXPECT_TRUE(contains(result.err, "no-such-option")) << "stderr: " << result.err;
    }

    TEST_F(LoopbackBridge, BadMirrorSizeExitsTwoNamingTheOption)
    {
        for (auto const* size : {"lots", "12X", "0", "-5M", "99999999999999999G", ""})
        {
            auto const result = refused({"--domain", domainA.str(), "--insecure", "--max-mirror-size", size});
            EXPECT_EQ(result.exitCode, 2) << size << ": " << result.err;
            EXPECT_TRUE(contains(result.err, "--max-mirror-size")) << size << ": " << result.err;
        }
        auto const total = refused({"--domain", domainA.str(), "--insecure", "--max-mirrors-size", "8Q"});
        EXPECT_EQ(total.exitCode, 2) << total.err;
        EXPECT_TRUE(contains(total.err, "--max-mirrors-size")) << total.err;
    }

    TEST_F(LoopbackBridge, NeitherPskFileNorInsecureExitsTwo)
    {
        auto const result = refused({"--domain", domainA.str(), "--listen", loopbackAny});
        EXPECT_EQ(result.exitCode, 2) << result.err;
        EXPECT_TRUE(contains(result.err, "--psk-file")) << "stderr: " << result.err;
        EXPECT_FALSE(fs::exists(domainA.path() / statusFileName));
    }

    TEST_F(LoopbackBridge, KeyFileReadableByOthersExitsTwoNamingTheFile)
    {
        auto const open = writeKey(scratch.path() / "open.key", 32,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
        auto const result = refused({"--domain", domainA.str(), "--listen", loopbackAny, "--psk-file", open.string()});
        EXPECT_EQ(result.exitCode, 2) << result.err;
        EXPECT_TRUE(contains(result.err, open.string())) << "stderr must name the key file: " << result.err;
    }

    TEST_F(LoopbackBridge, KeyFileShorterThanSixteenBytesExitsTwo)
    {
        auto const shortKey = writeKey(scratch.path() / "short.key", 15);
        auto const result = refused({"--domain", domainA.str(), "--listen", loopbackAny, "--psk-file", shortKey.string()});
        EXPECT_EQ(result.exitCode, 2) << result.err;
        EXPECT_TRUE(contains(result.err, shortKey.string())) << "stderr must name the key file: " << result.err;
    }

    TEST_F(LoopbackBridge, ReadOnlyKeyFileIsAccepted)
    {
        auto const readOnly = writeKey(scratch.path() / "read-only.key", 16, fs::perms::owner_read);
        auto& bridge = startWith({"--domain", domainA.str(), "--listen", loopbackAny, "--psk-file", readOnly.string()});
        EXPECT_FALSE(listenAddress(domainA).empty()) << "a 16-byte key of mode 0400 must do";
        EXPECT_EQ(bridge.stop(SIGTERM), 0);
    }

    TEST_F(LoopbackBridge, MissingDomainExitsOne)
    {
        auto const result = refused({"--domain", (domainA.path() / "missing").string(), "--listen", loopbackAny, "--insecure"});
        EXPECT_EQ(result.exitCode, 1) << result.err;
    }

    TEST_F(LoopbackBridge, EfaProviderWithoutADeviceExitsThreeNamingIt)
    {
        // efa is accepted (reliable-datagram endpoints); without a device libfabric has no efa here.
        if (mxl::fabric::replicationEndpointType("efa"))
        {
            GTEST_SKIP() << "this machine has an efa device";
        }
        auto const result = refused({"--domain", domainA.str(), "--listen", loopbackAny, "--insecure", "--provider", "efa"});
        EXPECT_EQ(result.exitCode, 3) << result.err;
        EXPECT_TRUE(contains(result.err, "provider efa is not available on this host")) << "stderr: " << result.err;
    }

    TEST_F(LoopbackBridge, UnknownProviderNameIsAUsageError)
    {
        auto const result = refused({"--domain", domainA.str(), "--listen", loopbackAny, "--insecure", "--provider", "psm3"});
        EXPECT_EQ(result.exitCode, 2) << result.err;
        EXPECT_TRUE(contains(result.err, "tcp;ofi_rxm")) << "the accepted names are listed: " << result.err;
    }

    TEST_F(LoopbackBridge, SecondBridgeOnTheSameDomainExitsOne)
    {
        auto& first = start(domainA);
        ASSERT_FALSE(listenAddress(domainA).empty()) << "the first bridge published no status";
        auto const second = refused({"--domain", domainA.str(), "--listen", loopbackAny, "--psk-file", key.string()});
        EXPECT_EQ(second.exitCode, 1) << second.err;
        EXPECT_TRUE(first.running()) << "the second bridge must leave the first alone";
        auto status = readStatus(domainA.path());
        ASSERT_TRUE(status && status->has_value());
        EXPECT_EQ((*status)->pid, static_cast<std::uint32_t>(first.pid()));
        EXPECT_EQ(first.stop(SIGTERM), 0);
    }

    TEST_F(LoopbackBridge, SigtermStopsCleanlyRemovingStatusAndMirrors)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto& a = start(domainA);
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        auto& b = start(domainB, {"--import", addressA + "/" + video.id});
        ASSERT_TRUE(waitForActive(domainB.path(), video.id, "import", 15s)) << "flow " << video.id << " is not active on B";
        ASSERT_TRUE(mxl::test::flowExists(domainB.path(), video.id));

        EXPECT_EQ(b.stop(SIGTERM), 0);
        EXPECT_FALSE(fs::exists(domainB.path() / statusFileName)) << "B left its status file";
        EXPECT_FALSE(mxl::test::flowExists(domainB.path(), video.id)) << "B left its mirror";
        EXPECT_EQ(a.stop(SIGINT), 0);
        EXPECT_FALSE(fs::exists(domainA.path() / statusFileName)) << "A left its status file";
        EXPECT_TRUE(mxl::test::flowExists(domainA.path(), video.id)) << "the exporting bridge must leave the source flow alone";
    }

    TEST_F(LoopbackBridge, HostileFlowFilesAreSkippedAndOtherFlowsKeepReplicating)
    {
        // What a local user who may write the domain can plant: a FIFO where `data` should be (opening it
        // used to block the bridge's only thread), a link to /dev/zero, a directory, a huge sparse
        // flow_def.json, and a real flow whose definition has a number as its label (that used to throw
        // out of the event loop as soon as a peer asked for the catalogue).
        auto const plant = [&](std::string const& id, auto&& make) {
            auto const dir = domainA.path() / (id + ".mxl-flow");
            fs::create_directories(dir / "grains");
            std::ofstream{dir / "flow_def.json"} << mxl::test::flowDef(id, "v210", 64, 8, 50, 1);
            std::ofstream{dir / "access"};
            make(dir);
        };
        auto const fifoId = mxl::test::newFlowId();
        plant(fifoId, [](fs::path const& dir) { ASSERT_EQ(::mkfifo((dir / "data").c_str(), 0644), 0); });
        auto const zeroId = mxl::test::newFlowId();
        plant(zeroId, [](fs::path const& dir) { fs::create_symlink("/dev/zero", dir / "data"); });
        auto const directoryId = mxl::test::newFlowId();
        plant(directoryId, [](fs::path const& dir) { fs::create_directory(dir / "data"); });
        auto const hugeId = mxl::test::newFlowId();
        plant(hugeId, [](fs::path const& dir) {
            std::ofstream{dir / "data"};
            fs::resize_file(dir / "flow_def.json", std::uintmax_t{4} << 30); // sparse: costs nothing on tmpfs
        });
        auto const defFifoId = mxl::test::newFlowId();
        plant(defFifoId, [](fs::path const& dir) {
            fs::remove(dir / "flow_def.json");
            ASSERT_EQ(::mkfifo((dir / "flow_def.json").c_str(), 0644), 0);
        });
        auto mistyped = videoFlow(1280, 720, {50, 1});
        LiveWriter mistypedWriter{domainA.str(), mistyped};
        ASSERT_EQ(mistypedWriter.problem(), "");
        {
            auto def = nlohmann::json::parse(mistyped.definition);
            def["label"] = 1;
            std::ofstream{domainA.path() / (mistyped.id + ".mxl-flow") / "flow_def.json", std::ios::trunc} << def.dump();
        }

        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto& a = start(domainA);
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        std::vector<std::string> imports;
        for (auto const& id : {video.id, fifoId, zeroId, directoryId, hugeId, defFifoId, mistyped.id})
        {
            imports.push_back("--import");
            imports.push_back(addressA + "/" + id);
        }
        auto& b = start(domainB, imports);
        MirrorVerifier mirror{domainB.str(), video};
        ASSERT_TRUE(waitForActive(domainB.path(), video.id, "import", 15s)) << "flow " << video.id << " is not active on B";
        EXPECT_TRUE(mirror.waitForCount(50, 20s)) << mirror.report();
        EXPECT_TRUE(a.waitForLog("flow " + mistyped.id + ": not exported", 10s)) << "A did not say why it left the mistyped flow out";
        EXPECT_TRUE(a.running()) << "the exporting bridge died";
        EXPECT_TRUE(b.running()) << "the importing bridge died";

        // mxl-info lists the domain (the real flows at least) and returns.
        auto const listing = mxl::test::runTool(mxl::test::mxlInfo, {"--domain", domainA.str()}, 20s);
        EXPECT_EQ(listing.exitCode, 0) << listing.err;
        EXPECT_TRUE(contains(listing.out, video.id)) << listing.out;

        mirror.stop();
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_EQ(report.firstProblem, "") << report;
        // SIGTERM is still handled: the event loop was never blocked.
        EXPECT_EQ(a.stop(SIGTERM, 5s), 0);
        EXPECT_EQ(b.stop(SIGTERM, 5s), 0);
    }

    TEST_F(LoopbackBridge, UnauthenticatedConnectionsAreCappedPerAddressWhileOthersAreServed)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto const [a, addressA, port] = startExporter();
        ASSERT_FALSE(addressA.empty());

        // Eight silent connections from one address fill its share; more from there are closed at once.
        std::vector<Fd> silent;
        for (int i = 0; i < 8; ++i)
        {
            silent.push_back(connectFrom("127.0.0.2", port));
            ASSERT_TRUE(silent.back().valid()) << std::strerror(errno);
        }
        std::this_thread::sleep_for(200ms); // accepted by now
        auto extra = connectFrom("127.0.0.2", port);
        ASSERT_TRUE(extra.valid());
        EXPECT_TRUE(closedWithin(extra.get(), 2s)) << "a ninth unauthenticated connection from one address was kept";
        EXPECT_TRUE(a.waitForLog("wait for authentication", 2s));

        // Another address is served meanwhile: a real importer authenticates and replicates.
        start(domainB, {"--import", addressA + "/" + video.id});
        MirrorVerifier mirror{domainB.str(), video};
        EXPECT_TRUE(waitForActive(domainB.path(), video.id, "import", 15s)) << "flow " << video.id << " is not active on B";
        EXPECT_TRUE(mirror.waitForCount(20, 10s)) << mirror.report();
        // The silent ones are closed by the handshake deadline, freeing the address's share.
        for (auto const& s : silent)
        {
            EXPECT_TRUE(closedWithin(s.get(), 10s)) << "a silent connection outlived the handshake deadline";
        }
        auto later = connectFrom("127.0.0.2", port);
        ASSERT_TRUE(later.valid());
        EXPECT_FALSE(closedWithin(later.get(), 500ms)) << "the address's share was not given back";
        EXPECT_EQ(a.stop(SIGTERM, 5s), 0);
    }

    TEST_F(LoopbackBridge, ProtocolOneBridgeIsRefusedByNameAndToldWhy)
    {
        // What a bridge of control protocol 1 sends first: its Hello, in clear text.
        auto const [a, addressA, port] = startExporter();
        ASSERT_FALSE(addressA.empty());
        std::vector<std::byte> hello(12 + 60);
        std::memcpy(hello.data(), "MXLC", 4);
        hello[4] = std::byte{1}; // version 1
        hello[6] = std::byte{1}; // Hello
        std::uint32_t const bodySize = 60;
        std::memcpy(hello.data() + 8, &bodySize, sizeof bodySize);
        auto old = connectFrom("127.0.0.4", port);
        ASSERT_TRUE(old.valid());
        ASSERT_EQ(::send(old.get(), hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));
        // The answer is a protocol-1 Error frame (magic, version 1, type 14), which such a bridge logs.
        std::string reply;
        char buffer[4096];
        pollfd readable{old.get(), POLLIN, 0};
        while (::poll(&readable, 1, 2000) == 1)
        {
            auto const n = ::recv(old.get(), buffer, sizeof buffer, 0);
            if (n <= 0)
            {
                break;
            }
            reply.append(buffer, static_cast<std::size_t>(n));
        }
        ASSERT_GE(reply.size(), 12U);
        EXPECT_EQ(reply.substr(0, 4), "MXLC");
        EXPECT_EQ(reply[4], 1);
        EXPECT_EQ(reply[6], 14);
        EXPECT_NE(reply.find("refuses protocol 1: upgrade this bridge"), std::string::npos) << reply;
        EXPECT_TRUE(a.waitForLog("the peer speaks control protocol 1", 2s));
        EXPECT_EQ(a.stop(SIGTERM, 5s), 0);
    }

    TEST_F(LoopbackBridge, MirrorsBeyondTheImportersSizeLimitsAreRefused)
    {
        // 1280x720 v210 at 50/1 with the default 200 ms history: 10 grains of 2 MiB, about 20 MiB a mirror.
        auto const small = videoFlow(1280, 720, {50, 1});
        auto const second = videoFlow(1280, 720, {50, 1});
        LiveWriter smallWriter{domainA.str(), small};
        LiveWriter secondWriter{domainA.str(), second};
        ASSERT_EQ(smallWriter.problem(), "");
        ASSERT_EQ(secondWriter.problem(), "");
        start(domainA);
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());

        // Per flow: nothing above 1 MiB.
        auto& tight = start(domainB, {"--import", addressA + "/" + small.id, "--max-mirror-size", "1M"});
        auto const refused = waitForStatus(
            domainB.path(),
            [&](BridgeStatus const& s) {
                auto const* f = findFlow(s, small.id, "import");
                return f != nullptr && f->lastError.find("--max-mirror-size") != std::string::npos;
            },
            15s);
        EXPECT_TRUE(refused) << describeStatus(domainB.path());
        EXPECT_FALSE(mxl::test::flowExists(domainB.path(), small.id)) << "a mirror was made beyond --max-mirror-size";
        EXPECT_EQ(tight.stop(SIGTERM, 5s), 0);

        // In all: room for one of the two.
        start(domainB, {"--import", addressA + "/" + small.id, "--import", addressA + "/" + second.id, "--max-mirrors-size", "30M"});
        auto const oneOfTwo = waitForStatus(
            domainB.path(),
            [&](BridgeStatus const& s) {
                std::size_t active = 0;
                std::size_t overTotal = 0;
                for (auto const* id : {&small.id, &second.id})
                {
                    auto const* f = findFlow(s, *id, "import");
                    active += f != nullptr && f->state == FlowState::Active ? 1 : 0;
                    overTotal += f != nullptr && f->lastError.find("--max-mirrors-size") != std::string::npos ? 1 : 0;
                }
                return active == 1 && overTotal == 1;
            },
            15s);
        EXPECT_TRUE(oneOfTwo) << describeStatus(domainB.path());
    }

    TEST_F(LoopbackBridge, OnePeerCannotHoldMoreThanItsShareOfSubscriptions)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto& a = start(domainA);
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        // A real flow first, then 256 that do not exist (yet): one more than a peer's share of 256.
        std::vector<std::string> imports{"--import", addressA + "/" + video.id};
        for (int i = 0; i < 256; ++i)
        {
            imports.push_back("--import");
            imports.push_back(addressA + "/" + mxl::test::newFlowId());
        }
        auto& b = start(domainB, imports);
        EXPECT_TRUE(a.waitForLog("the most one peer may", 20s)) << "A took a 257th subscription from one peer";
        EXPECT_TRUE(waitForActive(domainB.path(), video.id, "import", 15s)) << "the session did not survive the refusal";
        EXPECT_TRUE(a.running());
        EXPECT_TRUE(b.running());
    }

    TEST_F(LoopbackBridge, PeerStreamingPreAuthenticationFramesDoesNotDisturbOtherSessions)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto const [a, addressA, port] = startExporter();
        ASSERT_FALSE(addressA.empty());
        start(domainB, {"--import", addressA + "/" + video.id});
        MirrorVerifier mirror{domainB.str(), video};
        ASSERT_TRUE(waitForActive(domainB.path(), video.id, "import", 15s)) << "flow " << video.id << " is not active on B";
        ASSERT_TRUE(mirror.waitForCount(20, 10s)) << mirror.report();
        auto const rssBefore = residentKiB(a.pid());
        auto const verifiedBefore = mirror.report().verified;

        // For 10 s, as fast as it can from one address: connect, send protocol-1 Hello frames or a TLS
        // record of junk, reconnect when closed.
        std::vector<std::byte> hello(12 + 64); // header: magic u32 | version u16 | type u16 (Hello: 1) | body length u32
        std::memcpy(hello.data(), "MXLC", 4);
        hello[4] = std::byte{1};
        hello[6] = std::byte{1};
        std::uint32_t const helloBody = 64;
        std::memcpy(hello.data() + 8, &helloBody, sizeof helloBody);
        std::vector<std::byte> tlsJunk(5 + 1024, std::byte{0xA5});
        tlsJunk[0] = std::byte{0x16};
        tlsJunk[1] = std::byte{0x03};
        tlsJunk[2] = std::byte{0x01};
        tlsJunk[3] = std::byte{0x40};
        tlsJunk[4] = std::byte{0x00};
        std::size_t connections = 0;
        std::size_t bytes = 0;
        auto const until = Clock::now() + 10s;
        while (Clock::now() < until)
        {
            auto attacker = connectFrom("127.0.0.3", port);
            if (!attacker.valid())
            {
                continue;
            }
            ++connections;
            // Every other connection opens with a TLS handshake record announcing 16 KiB, then junk.
            auto const& opening = connections % 2 == 0 ? hello : tlsJunk;
            for (int i = 0; i < 64; ++i)
            {
                auto const n = ::send(attacker.get(), opening.data(), opening.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n <= 0)
                {
                    break;
                }
                bytes += static_cast<std::size_t>(n);
            }
        }
        std::cout << connections << " connections and " << bytes << " bytes of pre-authentication frames in 10 s\n";
        EXPECT_GT(connections, 10U);

        // The real session went on (and every grain the mirror lacks is one the exporter counted).
        EXPECT_TRUE(mirror.waitForCount(verifiedBefore + 50, 20s)) << mirror.report();
        auto const rssAfter = residentKiB(a.pid());
        std::cout << "bridge A resident memory " << rssBefore << " KiB before, " << rssAfter << " KiB after\n";
        EXPECT_LT(rssAfter, rssBefore + 50 * 1024) << "bridge A grew by more than 50 MiB";
        mirror.stop();
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        auto const status = waitForStatus(domainA.path(), [](BridgeStatus const&) { return true; }, 1s);
        ASSERT_TRUE(status);
        auto const* exported = findFlow(*status, video.id, "export");
        ASSERT_NE(exported, nullptr);
        EXPECT_EQ(exported->state, FlowState::Active) << "the real session lost its export";
        EXPECT_LE(report.missed, exported->skippedGrains + writer.skipped()) << report;
        EXPECT_EQ(a.stop(SIGTERM, 5s), 0) << "SIGTERM was not handled";
    }

    TEST_F(LoopbackBridge, ConfigFileGivesTheSameOptions)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        start(domainA);
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        auto const config = scratch.path() / "bridge.conf";
        {
            std::ofstream out{config};
            out << "# mxl-fabric-bridge options, one per line, as on the command line without the dashes\n"
                << "domain = " << domainB.str() << "\n"
                << "listen = " << loopbackAny << "\n"
                << "provider = tcp\n"
                << "psk-file = " << key.string() << "\n"
                << "import = " << addressA << "/" << video.id << "\n"
                << "log-level = debug\n";
        }
        auto& b = startWith({"--config", config.string()});
        MirrorVerifier mirror{domainB.str(), video};
        ASSERT_TRUE(waitForActive(domainB.path(), video.id, "import", 15s)) << "the bridge configured by file imports nothing";
        EXPECT_TRUE(mirror.waitForCount(10, 5s)) << mirror.report();
        mirror.stop();
        EXPECT_EQ(mirror.report().corrupt, 0U) << mirror.report();
        EXPECT_EQ(b.stop(SIGTERM), 0);
    }

    TEST_F(LoopbackBridge, MetricsServesBridgeMetricsOverHttp)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto const port = freePort();
        ASSERT_NE(port, 0);
        auto& a = start(domainA, {"--metrics", "127.0.0.1:" + std::to_string(port)});
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        start(domainB, {"--import", addressA + "/" + video.id});
        ASSERT_TRUE(waitForActive(domainA.path(), video.id, "export", 15s)) << "flow " << video.id << " is not exported";

        std::optional<std::string> response;
        ASSERT_TRUE(mxl::test::eventually(
            [&] {
                response = httpGet(port, "/metrics");
                return response && contains(*response, video.id);
            },
            5s))
            << "GET /metrics: " << response.value_or("(no answer)");
        EXPECT_EQ(response->rfind("HTTP/1.1 200", 0), 0U) << *response;
        EXPECT_TRUE(contains(lower(*response), "content-type: text/plain")) << *response;
        EXPECT_TRUE(contains(*response, "\nmxl_bridge_")) << *response;
        EXPECT_TRUE(contains(*response, "# TYPE mxl_bridge_")) << *response;
        auto const missing = httpGet(port, "/nothing-here");
        ASSERT_TRUE(missing);
        EXPECT_EQ(missing->rfind("HTTP/1.1 404", 0), 0U) << *missing;
        EXPECT_EQ(a.stop(SIGTERM), 0);
    }

    TEST_F(LoopbackBridge, LoopbackImportReplicatesAFlow)
    {
        auto const video = videoFlow();
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        start(domainA);
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        start(domainB, {"--import", addressA + "/" + video.id});
        MirrorVerifier mirror{domainB.str(), video};
        auto const imported = waitForActive(domainB.path(), video.id, "import", 15s);
        ASSERT_TRUE(imported) << "flow " << video.id << " is not active on B";
        EXPECT_TRUE(mirror.waitForCount(60, 10s)) << mirror.report();
        auto const exported = waitForActive(domainA.path(), video.id, "export", 1s);
        ASSERT_TRUE(exported) << "flow " << video.id << " is not active on A";
        EXPECT_EQ(imported->epoch, exported->epoch) << "both ends use the same grant";
        EXPECT_EQ(imported->provider, testProvider());
        EXPECT_EQ(exported->endpoint, testEndpointType()) << "the data endpoint type " << exported->provider << " runs over";
        EXPECT_EQ(exported->peer.empty(), false);
        mirror.stop();
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_EQ(report.firstProblem, "");
        // Under load the exporter may give grains up; each one a reader misses must be counted by it.
        auto const status = waitForStatus(domainA.path(), [](BridgeStatus const&) { return true; }, 1s);
        ASSERT_TRUE(status);
        auto const* flow = findFlow(*status, video.id, "export");
        ASSERT_NE(flow, nullptr);
        EXPECT_LE(report.missed, flow->skippedGrains + writer.skipped()) << report;
    }

    TEST_F(LoopbackBridge, AutoPicksShmBetweenTwoBridgesOnOneHost)
    {
        if (!mxl::fabric::replicationEndpointType("shm"))
        {
            GTEST_SKIP() << "libfabric offers no shm here";
        }
        auto const video = videoFlow(640, 360);
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        start(domainA, {}, "auto");
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        start(domainB, {"--import", addressA + "/" + video.id}, "auto");
        MirrorVerifier mirror{domainB.str(), video};
        auto const imported = waitForActive(domainB.path(), video.id, "import", 15s);
        ASSERT_TRUE(imported) << "flow " << video.id << " is not active on B";
        EXPECT_EQ(imported->provider, "shm") << "two bridges on one host";
        EXPECT_EQ(imported->endpoint, "rdm");
        EXPECT_TRUE(mirror.waitForCount(30, 10s)) << mirror.report();
        mirror.stop();
        EXPECT_EQ(mirror.report().corrupt, 0U) << mirror.report();
    }

    TEST_F(LoopbackBridge, SourceBridgeKilledAndRestartedOnTheSameHostResumesTheMirror)
    {
        // The same host: over shm (LoopbackBridgeOverShm) the two bridges share no connection, only
        // datagram endpoints, so the sink learns of the new source from its Hello under a new epoch.
        auto const video = videoFlow(640, 360);
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto& first = start(domainA);
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        start(domainB, {"--import", addressA + "/" + video.id});
        MirrorVerifier mirror{domainB.str(), video};
        auto const before = waitForActive(domainB.path(), video.id, "import", 15s);
        ASSERT_TRUE(before) << "flow " << video.id << " is not active on B";
        EXPECT_EQ(before->provider, testProvider());
        EXPECT_EQ(before->endpoint, testEndpointType());
        ASSERT_TRUE(mirror.waitForCount(30, 10s)) << mirror.report();

        EXPECT_EQ(first.stop(SIGKILL), std::nullopt);
        std::this_thread::sleep_for(500ms);
        auto const restartIndex = currentIndex(video);
        // Again on the address B imports from.
        startWith({"--domain", domainA.str(), "--listen", addressA, "--psk-file", key.string(), "--provider", testProvider(), "--log-level", "debug"});
        ASSERT_TRUE(mirror.waitForVerified(restartIndex, 20s)) << "no grain written after the restart arrived on B: " << mirror.report();
        EXPECT_TRUE(waitForStatus(domainB.path(), [&](BridgeStatus const& s) {
            auto const* flow = findFlow(s, video.id, "import");
            return flow != nullptr && flow->state == FlowState::Active && flow->epoch != before->epoch;
        }, 5s)) << "B's import still runs under epoch " << before->epoch;
        EXPECT_TRUE(mirror.waitForCount(mirror.report().verified + 30, 20s)) << mirror.report();
        mirror.stop();
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_EQ(report.firstProblem, "") << report;
        EXPECT_EQ(writer.problem(), "");
    }

    TEST_F(LoopbackBridge, LongRingIsGrantedInPartsAndReplicates)
    {
        // 6,000 grain slots (100 s at 60 Hz): their region descriptors (about 150 KB) take three Grant
        // parts of at most 64 KiB. Rings of up to 100,000 slots take up to 37 parts; they need as many
        // open files (RLIMIT_NOFILE) and mappings (vm.max_map_count) as slots in every process that opens
        // them, one per grain file as the format has it, which this machine's 20,000 files do not allow.
        if (!mayOpenFiles(13000))
        {
            GTEST_SKIP() << "needs 13,000 open files (RLIMIT_NOFILE hard limit): one per grain file, twice";
        }
        auto const anc = ancFlow();
        auto const writer = longRingWriter(anc, 100'000'000'000);
        ASSERT_EQ(writer->problem(), "");
        auto const [a, addressA, port] = startExporter();
        ASSERT_FALSE(addressA.empty());
        auto& b = start(domainB, {"--import", addressA + "/" + anc.id});
        MirrorVerifier mirror{domainB.str(), anc};
        auto const imported = waitForActive(domainB.path(), anc.id, "import", 60s);
        ASSERT_TRUE(imported) << "flow " << anc.id << " is not active on B";
        EXPECT_TRUE(mirror.waitForCount(60, 20s)) << mirror.report();

        mxl::test::Instance instance{domainB.str()};
        mxlFlowReader reader = nullptr;
        ASSERT_EQ(mxlCreateFlowReader(instance.get(), anc.id.c_str(), nullptr, &reader), MXL_STATUS_OK);
        mxlFlowConfigInfo config{};
        ASSERT_EQ(mxlFlowReaderGetConfigInfo(reader, &config), MXL_STATUS_OK);
        EXPECT_EQ(config.discrete.grainCount, 6000U) << "the mirror's ring is the source's";
        mxlReleaseFlowReader(instance.get(), reader);
        EXPECT_TRUE(b.waitForLog("in 3 parts", 1s)) << "the grant was not split";
        mirror.stop();
        auto const report = mirror.report();
        EXPECT_EQ(report.corrupt, 0U) << report;
        EXPECT_EQ(report.firstProblem, "");
        EXPECT_EQ(a.stop(SIGTERM, 5s), 0);
    }

    TEST_F(LoopbackBridge, OtherImportsGoOnWhileALongRingsMirrorIsCreated)
    {
        // The mirror of a 15,000-slot ring takes B a while to create (15,000 grain files, mapped and
        // registered). It is created off the event loop: B publishes its status meanwhile (the state
        // "creating" can only be seen if the loop runs while the mirror is made), and the other
        // import's session and grains go on.
        if (!mayOpenFiles(16000))
        {
            GTEST_SKIP() << "needs 16,000 open files (RLIMIT_NOFILE hard limit): one per grain file of the ring";
        }
        auto const video = videoFlow(1280, 720, {50, 1});
        LiveWriter videoWriter{domainA.str(), video};
        ASSERT_EQ(videoWriter.problem(), "");
        auto const anc = ancFlow();
        auto const ancWriter = longRingWriter(anc, 250'000'000'000);
        ASSERT_EQ(ancWriter->problem(), "");
        auto const [a, addressA, port] = startExporter();
        ASSERT_FALSE(addressA.empty());
        auto& b = start(domainB, {"--import", addressA + "/" + video.id, "--import", addressA + "/" + anc.id});
        MirrorVerifier mirror{domainB.str(), video};

        std::set<std::uint64_t> publishedWhileCreating;
        std::uint64_t videoGrainsWhileCreating = 0;
        auto const deadline = Clock::now() + 60s;
        while (Clock::now() < deadline)
        {
            auto read = readStatus(domainB.path());
            auto const status = read ? std::move(read).value() : std::nullopt;
            auto const* long_ = status ? findFlow(*status, anc.id, "import") : nullptr;
            auto const* other = status ? findFlow(*status, video.id, "import") : nullptr;
            if (long_ != nullptr && long_->state == FlowState::Creating)
            {
                publishedWhileCreating.insert(status->updatedTai);
                if (other != nullptr && other->state == FlowState::Active)
                {
                    videoGrainsWhileCreating = std::max(videoGrainsWhileCreating, other->grains);
                }
            }
            if (long_ != nullptr && long_->state == FlowState::Active)
            {
                break;
            }
            std::this_thread::sleep_for(10ms);
        }
        EXPECT_TRUE(waitForActive(domainB.path(), anc.id, "import", 1s)) << "the long ring's import is not active on B";
        // The state is set on the event loop right before the creation starts: one snapshot showing it
        // proves the loop published while the mirror was being made.
        EXPECT_GE(publishedWhileCreating.size(), 1U) << "B's event loop did not publish while the mirror was created";
        EXPECT_TRUE(mirror.waitForCount(20, 10s)) << mirror.report();
        EXPECT_FALSE(b.log().find("session closed") != std::string::npos) << "a session of B closed meanwhile";
        std::cout << "B published " << publishedWhileCreating.size() << " snapshots while the mirror was created; the other import had moved "
                  << videoGrainsWhileCreating << " grains by then\n";
        mirror.stop();
        EXPECT_EQ(mirror.report().corrupt, 0U) << mirror.report();
        EXPECT_EQ(a.stop(SIGTERM, 5s), 0);
    }

    TEST_F(LoopbackBridge, ImportOfAFlowThatDoesNotExistYetStartsWhenItAppears)
    {
        auto const video = videoFlow(1280, 720, {50, 1});
        start(domainA);
        auto const addressA = listenAddress(domainA);
        ASSERT_FALSE(addressA.empty());
        start(domainB, {"--import", addressA + "/" + video.id});
        auto const waiting = waitForStatus(domainB.path(), [&](BridgeStatus const& s) { return findFlow(s, video.id, "import") != nullptr; }, 10s);
        ASSERT_TRUE(waiting) << "B does not show the import of a flow A does not have yet";
        std::this_thread::sleep_for(500ms);
        EXPECT_FALSE(mxl::test::flowExists(domainB.path(), video.id)) << "a mirror of a flow that does not exist";

        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        MirrorVerifier mirror{domainB.str(), video};
        EXPECT_TRUE(waitForActive(domainB.path(), video.id, "import", 10s)) << "the import did not start when the flow appeared";
        EXPECT_TRUE(mirror.waitForCount(10, 5s)) << mirror.report();
        mirror.stop();
        EXPECT_EQ(mirror.report().corrupt, 0U) << mirror.report();
    }

    // A reader may take any grain the mirror hands out and read it in place: it stays valid until
    // the writer reuses the slot, and a reader that checks the slot's header after reading knows
    // whether that happened. On a mirror the writer is the
    // remote source: its bytes must not land in a slot whose header still shows the older grain, even
    // when the sink bridge stalls (a starved host) and then catches up with a backlog.
    TEST_F(LoopbackBridge, StalledSinkBridgeNeverHandsReadersAnotherGrainsBytes)
    {
        // The sink's thread is stopped three times for 300 ms (far beyond its send window): the source
        // must wait for credit rather than write into slots readers may still take for older grains.
        auto const video = videoFlow();
        LiveWriter writer{domainA.str(), video};
        ASSERT_EQ(writer.problem(), "");
        auto& b = importOnB(video);
        ASSERT_FALSE(HasFailure());
        MirrorVerifier mirror{domainB.str(), video};
        ASSERT_TRUE(mirror.waitForCount(10, 5s)) << mirror.report();

        mxl::test::Instance instance{domainB.str()};
        mxlFlowReader reader = nullptr;
        ASSERT_EQ(mxlCreateFlowReader(instance.get(), video.id.c_str(), nullptr, &reader), MXL_STATUS_OK);
        mxlFlowConfigInfo config;
        ASSERT_EQ(mxlFlowReaderGetConfigInfo(reader, &config), MXL_STATUS_OK);
        auto const grainCount = config.discrete.grainCount;

        auto stalls = stallThreeTimes(b.pid());
        std::set<std::uint64_t> checked;
        std::set<std::uint64_t> overwritten;
        std::string first;
        auto const until = Clock::now() + 3500ms;
        while (Clock::now() < until)
        {
            std::this_thread::sleep_for(1ms);
            mxlFlowRuntimeInfo runtime;
            if (mxlFlowReaderGetRuntimeInfo(reader, &runtime) != MXL_STATUS_OK || runtime.headIndex < grainCount)
            {
                continue;
            }
            // The oldest grain the mirror still hands out: the one whose slot the source writes next
            // (a mirror may answer TOO_LATE for older grains of its ring, never another grain's bytes).
            mxlGrainInfo info;
            std::uint8_t* payload = nullptr;
            auto oldest = runtime.headIndex + 1 - grainCount;
            while (oldest <= runtime.headIndex && mxlFlowReaderGetGrainNonBlocking(reader, oldest, &info, &payload) == MXL_ERR_OUT_OF_RANGE_TOO_LATE)
            {
                ++oldest;
            }
            if (oldest > runtime.headIndex || mxlFlowReaderGetGrainNonBlocking(reader, oldest, &info, &payload) != MXL_STATUS_OK ||
                (info.flags & MXL_GRAIN_FLAG_INVALID) != 0)
            {
                continue;
            }
            auto const wrong = firstWrongByte(payload, info.grainSize, video, oldest);
            mxlGrainInfo again;
            if (mxlFlowReaderGetGrainNonBlocking(reader, oldest, &again, &payload) != MXL_STATUS_OK)
            {
                continue; // Reused while being read, and the header says so: what a reader must be told.
            }
            checked.insert(oldest);
            if (wrong && overwritten.insert(oldest).second && first.empty())
            {
                first = "grain " + std::to_string(oldest) + ", byte " + std::to_string(*wrong) + whoseBytes(payload, info.grainSize, *wrong, video, oldest);
            }
        }
        stalls.join();
        mxlReleaseFlowReader(instance.get(), reader);
        mirror.stop();
        EXPECT_GT(checked.size(), 20U);
        EXPECT_TRUE(overwritten.empty()) << overwritten.size() << " of " << checked.size()
                                         << " grains read as the oldest in the ring held other bytes under their header; first: " << first;
        EXPECT_EQ(mirror.report().corrupt, 0U) << mirror.report();
    }

    TEST_F(LoopbackBridge, StalledSinkBridgeNeverHandsAudioReadersThePreviousLap)
    {
        // As for grains: the sink bridge is stopped three times for 300 ms, three times half its
        // audio ring. The source must wait for credit, and after the stall the mirror's head moves
        // over the samples the source no longer had through silence: a reader of the oldest samples
        // the mirror serves gets the right samples or silence, never samples of an earlier lap.
        auto const audio = audioFlow();
        LiveWriter writer{domainA.str(), audio};
        ASSERT_EQ(writer.problem(), "");
        auto& b = importOnB(audio);
        ASSERT_FALSE(HasFailure());
        MirrorVerifier mirror{domainB.str(), audio};
        ASSERT_TRUE(mirror.waitForCount(10, 5s)) << mirror.report();

        mxl::test::Instance instance{domainB.str()};
        mxlFlowReader reader = nullptr;
        ASSERT_EQ(mxlCreateFlowReader(instance.get(), audio.id.c_str(), nullptr, &reader), MXL_STATUS_OK);
        mxlFlowConfigInfo config;
        ASSERT_EQ(mxlFlowReaderGetConfigInfo(reader, &config), MXL_STATUS_OK);
        auto const half = std::uint64_t{config.continuous.bufferLength / 2};
        std::uint64_t const block = 240;

        auto stalls = stallThreeTimes(b.pid());
        std::uint64_t checked = 0;
        std::uint64_t wrongBlocks = 0;
        std::uint64_t silentBlocks = 0;
        std::string first;
        auto const until = Clock::now() + 3500ms;
        while (Clock::now() < until)
        {
            std::this_thread::sleep_for(1ms);
            mxlFlowRuntimeInfo runtime;
            if (mxlFlowReaderGetRuntimeInfo(reader, &runtime) != MXL_STATUS_OK || runtime.headIndex < half + block)
            {
                continue;
            }
            // The oldest samples the mirror still hands out: the positions the source writes next.
            auto const from = runtime.headIndex - half;
            mxlWrappedMultiBufferSlice slices;
            if (mxlFlowReaderGetSamplesNonBlocking(reader, from + block, block, &slices) != MXL_STATUS_OK)
            {
                continue;
            }
            std::optional<std::string> wrong;
            bool silent = false;
            for (std::uint32_t c = 0; c < slices.count && !wrong; ++c)
            {
                auto n = from;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto const* samples = reinterpret_cast<float const*>(static_cast<std::uint8_t const*>(fragment.pointer) + c * slices.stride);
                    for (std::size_t i = 0; i < fragment.size / sizeof(float) && !wrong; ++i, ++n)
                    {
                        auto const expected = sampleValue(audio, c, n);
                        if (samples[i] == 0.0F && expected != 0.0F)
                        {
                            silent = true;
                        }
                        else if (samples[i] != expected)
                        {
                            wrong = "sample " + std::to_string(n) + " of channel " + std::to_string(c) + " is " + std::to_string(samples[i]) +
                                    ", expected " + std::to_string(expected);
                        }
                    }
                }
            }
            if (mxlFlowReaderGetRuntimeInfo(reader, &runtime) != MXL_STATUS_OK || runtime.headIndex > from + half)
            {
                continue; // Overwritten while being read, and the head says so: what a reader must be told.
            }
            ++checked;
            silentBlocks += silent ? 1 : 0;
            if (wrong)
            {
                ++wrongBlocks;
                if (first.empty())
                {
                    first = *wrong;
                }
            }
        }
        stalls.join();
        mxlReleaseFlowReader(instance.get(), reader);
        mirror.stop();
        EXPECT_GT(checked, 20U);
        EXPECT_EQ(wrongBlocks, 0U) << wrongBlocks << " of " << checked << " oldest blocks held samples of another lap; first: " << first;
        EXPECT_EQ(mirror.report().corrupt, 0U) << mirror.report();
        std::cout << checked << " oldest blocks checked, " << silentBlocks << " held silence for lost samples; " << mirror.report() << "\n";
    }
}
