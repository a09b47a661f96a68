// SPDX-License-Identifier: Apache-2.0
// The bridge's status area: what a writer publishes is what a reader copies, whole, and a damaged,
// missing or foreign file never crashes a reader.

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "status/BridgeStatus.hpp"
#include "status/BridgeStatusLayout.hpp"
#include "base/Uuid.hpp"
#include "domain/Domain.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::bridge;
using mxl::test::ChildProcess;
using mxl::test::TestDomain;

namespace
{
    std::filesystem::path statusPath(TestDomain const& domain)
    {
        return domain.path() / statusFileName;
    }

    std::unique_ptr<StatusWriter> makeWriter(TestDomain const& domain)
    {
        auto writer = StatusWriter::create(domain.path());
        if (!writer)
        {
            ADD_FAILURE() << writer.error().message;
            return nullptr;
        }
        return std::move(*writer);
    }

    BridgeStatus read(TestDomain const& domain)
    {
        auto status = readStatus(domain.path());
        if (!status)
        {
            ADD_FAILURE() << status.error().message;
            return {};
        }
        if (!*status)
        {
            ADD_FAILURE() << "no status in " << domain.str();
            return {};
        }
        return std::move(**status);
    }

    BridgeStatus sampleStatus()
    {
        BridgeStatus s;
        s.bridgeId = "b1d9e0c2-6f0a-4c39-9b8e-2d6a1f0c9e11";
        s.listen = "0.0.0.0:7400";
        s.startedTai = 1'700'000'000'000'000'001ULL;
        s.updatedTai = 1'700'000'100'000'000'002ULL;
        s.peers.push_back(PeerStatus{"10.0.0.1:7400", PeerDirection::Outgoing, PeerState::Up, "6c0b1f0e-1111-4222-8333-944455556666", "verbs", 3, 1'700'000'050'000'000'000ULL,
            0.125, -1.5, 2, "connection reset by peer"});
        s.peers.push_back(PeerStatus{"10.0.0.2:40123", PeerDirection::Incoming, PeerState::Backoff, "", "", 0, 0, -1, 0, 7, "authentication failed"});
        s.flows.push_back(FlowReplicationStatus{"5fbec3b1-1b0f-417d-9059-8b94a47197ed", FlowRole::Import, "10.0.0.1:7400", FlowState::Active, "verbs", "rma", 42,
            1000, 5'184'000'000ULL, 8000, 3, 1, 4, 5, 123456789, 2.75, "", "rdm"});
        s.flows.push_back(FlowReplicationStatus{"0a7c1b3e-2d4f-4a6b-8c9d-0e1f2a3b4c5d", FlowRole::Export, "10.0.0.2:40123", FlowState::Refused, "tcp", "send-receive", 0,
            0, 0, 0, 0, 0, 0, 9, 0, -1, "grant refused: unknown flow", "msg"});
        s.leases.push_back(LeaseStatus{4242, "5fbec3b1-1b0f-417d-9059-8b94a47197ed", "10.0.0.1:7400", 1'700'000'000'000'000'000ULL, true});
        s.leases.push_back(LeaseStatus{4343, "", "", 1'700'000'001'000'000'000ULL, false});
        return s;
    }

    void expectEqual(PeerStatus const& a, PeerStatus const& b)
    {
        EXPECT_EQ(a.address, b.address);
        EXPECT_EQ(a.direction, b.direction);
        EXPECT_EQ(a.state, b.state);
        EXPECT_EQ(a.bridgeId, b.bridgeId);
        EXPECT_EQ(a.provider, b.provider);
        EXPECT_EQ(a.sessions, b.sessions);
        EXPECT_EQ(a.upSince, b.upSince);
        EXPECT_EQ(a.rttMs, b.rttMs);
        EXPECT_EQ(a.clockOffsetMs, b.clockOffsetMs);
        EXPECT_EQ(a.errors, b.errors);
        EXPECT_EQ(a.lastError, b.lastError);
    }

    void expectEqual(FlowReplicationStatus const& a, FlowReplicationStatus const& b)
    {
        EXPECT_EQ(a.flowId, b.flowId);
        EXPECT_EQ(a.role, b.role);
        EXPECT_EQ(a.peer, b.peer);
        EXPECT_EQ(a.state, b.state);
        EXPECT_EQ(a.provider, b.provider);
        EXPECT_EQ(a.transfer, b.transfer);
        EXPECT_EQ(a.endpoint, b.endpoint);
        EXPECT_EQ(a.epoch, b.epoch);
        EXPECT_EQ(a.grains, b.grains);
        EXPECT_EQ(a.bytes, b.bytes);
        EXPECT_EQ(a.commits, b.commits);
        EXPECT_EQ(a.skippedGrains, b.skippedGrains);
        EXPECT_EQ(a.lagGrains, b.lagGrains);
        EXPECT_EQ(a.refused, b.refused);
        EXPECT_EQ(a.errors, b.errors);
        EXPECT_EQ(a.headIndex, b.headIndex);
        EXPECT_EQ(a.latencyMs, b.latencyMs);
        EXPECT_EQ(a.lastError, b.lastError);
    }

    std::string fileBytes(std::filesystem::path const& path)
    {
        std::ifstream in{path, std::ios::binary};
        return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    }

    void writeBytes(std::filesystem::path const& path, std::string const& bytes)
    {
        std::ofstream out{path, std::ios::binary | std::ios::trunc};
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }

    /// The bytes of a file a bridge published sample() into, left behind as a dead bridge leaves it.
    std::string publishedBytes()
    {
        TestDomain scratch;
        auto writer = makeWriter(scratch);
        writer->publish(sampleStatus());
        return fileBytes(statusPath(scratch));
    }

    layout::StatusArea& areaOf(std::string& bytes)
    {
        return *reinterpret_cast<layout::StatusArea*>(bytes.data());
    }
}

TEST(BridgeStatus, PublishedStatusReadsBackFieldForField)
{
    TestDomain domain;
    auto writer = makeWriter(domain);
    auto const published = sampleStatus();
    writer->publish(published);

    auto const status = read(domain);
    EXPECT_EQ(status.pid, static_cast<std::uint32_t>(::getpid())) << "the writer records its own process";
    EXPECT_EQ(status.bridgeId, published.bridgeId);
    EXPECT_EQ(status.listen, published.listen);
    EXPECT_EQ(status.startedTai, published.startedTai);
    EXPECT_EQ(status.updatedTai, published.updatedTai);
    ASSERT_EQ(status.peers.size(), published.peers.size());
    for (std::size_t i = 0; i < published.peers.size(); ++i)
    {
        expectEqual(status.peers[i], published.peers[i]);
    }
    ASSERT_EQ(status.flows.size(), published.flows.size());
    for (std::size_t i = 0; i < published.flows.size(); ++i)
    {
        expectEqual(status.flows[i], published.flows[i]);
    }
    ASSERT_EQ(status.leases.size(), published.leases.size());
    for (std::size_t i = 0; i < published.leases.size(); ++i)
    {
        EXPECT_EQ(status.leases[i].pid, published.leases[i].pid);
        EXPECT_EQ(status.leases[i].flowId, published.leases[i].flowId);
        EXPECT_EQ(status.leases[i].peer, published.leases[i].peer);
        EXPECT_EQ(status.leases[i].sinceTai, published.leases[i].sinceTai);
        EXPECT_EQ(status.leases[i].granted, published.leases[i].granted);
    }

    // A smaller status replaces the larger one entirely.
    BridgeStatus smaller;
    smaller.bridgeId = "second";
    smaller.startedTai = 5;
    smaller.updatedTai = 6;
    writer->publish(smaller);
    auto const second = read(domain);
    EXPECT_EQ(second.bridgeId, "second");
    EXPECT_TRUE(second.peers.empty());
    EXPECT_TRUE(second.flows.empty());
    EXPECT_TRUE(second.leases.empty());
}

TEST(BridgeStatus, UnsetTimesAreFilledInByTheWriter)
{
    TestDomain domain;
    auto writer = makeWriter(domain);
    auto const created = read(domain);
    EXPECT_NE(created.startedTai, 0U) << "the writer publishes at once, stamped with its creation time";
    EXPECT_GE(created.updatedTai, created.startedTai);

    BridgeStatus unset;
    unset.bridgeId = "x";
    writer->publish(unset);
    auto const status = read(domain);
    EXPECT_EQ(status.startedTai, created.startedTai);
    EXPECT_GE(status.updatedTai, created.updatedTai);
}

TEST(BridgeStatus, TextsLongerThanTheirFieldsAreCutNotOverflowed)
{
    TestDomain domain;
    auto writer = makeWriter(domain);
    BridgeStatus s;
    s.bridgeId = std::string(1000, 'i');
    s.listen = std::string(1000, 'l');
    // 2-byte characters: 255 bytes fit, the cut must not keep half of the 128th character.
    std::string umlauts;
    for (int i = 0; i < 300; ++i)
    {
        umlauts += "\xc3\xbc";
    }
    auto& peer = s.peers.emplace_back();
    peer.address = std::string(500, 'a');
    peer.sessions = 7;
    peer.lastError = umlauts;
    auto& flow = s.flows.emplace_back();
    flow.flowId = std::string(500, 'f');
    flow.peer = std::string(500, 'p');
    flow.epoch = 9;
    writer->publish(s);

    auto const status = read(domain);
    EXPECT_EQ(status.bridgeId, std::string(sizeof layout::StatusHeader::bridgeId - 1, 'i'));
    EXPECT_EQ(status.listen, std::string(sizeof layout::StatusHeader::listen - 1, 'l'));
    ASSERT_EQ(status.peers.size(), 1U);
    EXPECT_EQ(status.peers[0].address, std::string(sizeof layout::PeerRecord::address - 1, 'a'));
    EXPECT_EQ(status.peers[0].sessions, 7U) << "the field after a cut text is intact";
    EXPECT_EQ(status.peers[0].lastError, umlauts.substr(0, 254)) << "cut at a character boundary";
    ASSERT_EQ(status.flows.size(), 1U);
    EXPECT_EQ(status.flows[0].flowId.size(), sizeof layout::FlowRecord::flowId - 1);
    EXPECT_EQ(status.flows[0].epoch, 9U);
}

TEST(BridgeStatus, TablesBeyondTheirCapacityAreCapped)
{
    TestDomain domain;
    auto writer = makeWriter(domain);
    BridgeStatus s;
    for (std::size_t i = 0; i < maxStatusPeers + 10; ++i)
    {
        s.peers.emplace_back().address = "peer " + std::to_string(i);
    }
    for (std::size_t i = 0; i < maxStatusFlows + 10; ++i)
    {
        auto& flow = s.flows.emplace_back();
        flow.flowId = "flow " + std::to_string(i);
        flow.grains = i;
    }
    for (std::size_t i = 0; i < maxStatusLeases + 10; ++i)
    {
        s.leases.emplace_back().pid = static_cast<std::uint32_t>(i);
    }
    writer->publish(s);

    auto const status = read(domain);
    ASSERT_EQ(status.leases.size(), maxStatusLeases);
    EXPECT_EQ(status.leases.back().pid, maxStatusLeases - 1);
    ASSERT_EQ(status.peers.size(), maxStatusPeers);
    ASSERT_EQ(status.flows.size(), maxStatusFlows);
    EXPECT_EQ(status.peers.back().address, "peer " + std::to_string(maxStatusPeers - 1));
    EXPECT_EQ(status.flows.back().flowId, "flow " + std::to_string(maxStatusFlows - 1));
    EXPECT_EQ(status.flows.back().grains, maxStatusFlows - 1);
}

TEST(BridgeStatus, SecondWriterOnADomainGetsConflictNamingThePid)
{
    TestDomain domain;
    auto first = makeWriter(domain);
    auto second = StatusWriter::create(domain.path());
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().status, MXL_ERR_CONFLICT);
    EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos) << second.error().message;
    EXPECT_NE(second.error().message.find(domain.str()), std::string::npos) << second.error().message;

    first.reset();
    auto third = StatusWriter::create(domain.path());
    EXPECT_TRUE(third) << "the domain is free again once the first writer is gone";
}

TEST(BridgeStatus, ABridgeThatDiedLeavesItsStatusAndTheNextBridgeTakesOver)
{
    TestDomain domain;
    ChildProcess bridge{[&] {
        auto writer = StatusWriter::create(domain.path());
        if (!writer)
        {
            return 1;
        }
        (*writer)->publish(sampleStatus());
        ::raise(SIGKILL);
        return 0;
    }};
    EXPECT_FALSE(bridge.wait().has_value());
    ASSERT_EQ(bridge.termSignal(), SIGKILL);

    auto const left = read(domain);
    EXPECT_EQ(left.pid, static_cast<std::uint32_t>(bridge.pid()));
    EXPECT_EQ(left.flows.size(), 2U);

    auto next = makeWriter(domain);
    ASSERT_NE(next, nullptr) << "a dead bridge's lock is gone";
    auto const taken = read(domain);
    EXPECT_EQ(taken.pid, static_cast<std::uint32_t>(::getpid()));
    EXPECT_TRUE(taken.flows.empty()) << "nothing of the dead bridge's status remains";
}

TEST(BridgeStatus, ReaderNeverSeesATornSnapshotWhileAWriterPublishes)
{
    TestDomain domain;
    auto writer = makeWriter(domain);
    // Every publish is consistent in itself: each number is the iteration, each text its decimal.
    // (A jthread: stopped and joined however the test ends.)
    std::jthread publisher{[&](std::stop_token stop) {
        for (std::uint64_t i = 1; !stop.stop_requested(); ++i)
        {
            auto const text = std::to_string(i);
            BridgeStatus s{0, text, text, i, i, {}, {}, {}};
            for (std::uint64_t p = 0; p < i % 4; ++p)
            {
                s.peers.push_back(PeerStatus{text, static_cast<PeerDirection>(i % 2), static_cast<PeerState>(i % 5), text, text, i, i, static_cast<double>(i), static_cast<double>(i), i, text});
            }
            for (std::uint64_t f = 0; f < i % 8 + 1; ++f)
            {
                s.flows.push_back(FlowReplicationStatus{text, static_cast<FlowRole>(i % 2), text, allFlowStates[i % allFlowStates.size()], text, text, i, i, i, i, i, i, i, i, i, static_cast<double>(i), text, text});
            }
            writer->publish(s);
        }
    }};

    constexpr int reads = 100'000;
    std::uint64_t previous = 0;
    int changes = 0;
    int torn = 0;
    for (int r = 0; r < reads && torn == 0; ++r)
    {
        auto got = readStatus(domain.path());
        ASSERT_TRUE(got) << got.error().message;
        ASSERT_TRUE(got->has_value());
        auto const& s = **got;
        auto const i = s.updatedTai;
        auto const text = std::to_string(i);
        auto consistent = s.startedTai == i && s.bridgeId == text && s.listen == text && s.peers.size() == i % 4 && s.flows.size() == i % 8 + 1;
        for (auto const& p : s.peers)
        {
            consistent = consistent && p.address == text && p.direction == static_cast<PeerDirection>(i % 2) &&
                         p.state == static_cast<PeerState>(i % 5) && p.bridgeId == text && p.provider == text &&
                         p.sessions == i && p.upSince == i && p.rttMs == static_cast<double>(i) && p.clockOffsetMs == static_cast<double>(i) &&
                         p.errors == i && p.lastError == text;
        }
        for (auto const& f : s.flows)
        {
            consistent = consistent && f.flowId == text && f.role == static_cast<FlowRole>(i % 2) && f.peer == text &&
                         f.state == allFlowStates[i % allFlowStates.size()] && f.provider == text &&
                         f.transfer == text && f.epoch == i && f.grains == i && f.bytes == i && f.commits == i && f.skippedGrains == i &&
                         f.lagGrains == i && f.refused == i && f.errors == i && f.headIndex == i && f.latencyMs == static_cast<double>(i) &&
                         f.lastError == text;
        }
        if (s.bridgeId.empty())
        {
            continue; // the writer's initial status, before the first publish of the thread
        }
        torn += consistent ? 0 : 1;
        EXPECT_TRUE(consistent) << "torn snapshot at iteration " << i << " (read " << r << ")";
        EXPECT_GE(i, previous) << "a later read went back in time";
        changes += i != previous ? 1 : 0;
        previous = i;
    }
    publisher.request_stop();
    publisher.join();
    EXPECT_GT(changes, 100) << "the reads raced with the publishes (else this test proves nothing)";
}

TEST(BridgeStatus, DamagedFilesAreErrorsNotCrashes)
{
    auto const good = publishedBytes();
    ASSERT_EQ(good.size(), sizeof(layout::StatusArea));

    struct Case
    {
        std::string name;
        std::string bytes;
        std::string mentions;
    };
    std::vector<Case> cases;
    cases.push_back({"truncated", good.substr(0, 100), "bytes"});
    cases.push_back({"one byte short", good.substr(0, good.size() - 1), "bytes"});
    cases.push_back({"longer", good + std::string(4096, '\0'), "bytes"});
    auto wrongMagic = good;
    areaOf(wrongMagic).header.magic ^= 1;
    cases.push_back({"wrong magic", wrongMagic, "magic"});
    auto wrongVersion = good;
    areaOf(wrongVersion).header.version = layout::statusVersion + 1;
    cases.push_back({"wrong version", wrongVersion, "version"});
    auto wrongSize = good;
    areaOf(wrongSize).header.layoutSize = 64;
    cases.push_back({"wrong layout size", wrongSize, "layout size"});
    auto hugePeers = good;
    areaOf(hugePeers).header.peerCount = 0xFFFFFFFFU;
    cases.push_back({"huge peer count", hugePeers, "peers"});
    auto hugeFlows = good;
    areaOf(hugeFlows).header.flowCount = maxStatusFlows + 1;
    cases.push_back({"huge flow count", hugeFlows, "flows"});
    auto hugeLeases = good;
    areaOf(hugeLeases).header.leaseCount = maxStatusLeases + 1;
    cases.push_back({"huge lease count", hugeLeases, "leases"});
    auto badGranted = good;
    areaOf(badGranted).leases[0].granted = 7;
    cases.push_back({"lease granted neither 0 nor 1", badGranted, "leases[0]: granted is 7"});
    // Names that are none of this version's: refused, naming the record and the field.
    auto unknownPeerState = good;
    std::strcpy(areaOf(unknownPeerState).peers[1].state, "sleeping");
    cases.push_back({"unknown peer state", unknownPeerState, "peers[1]: state 'sleeping'"});
    auto unknownDirection = good;
    std::strcpy(areaOf(unknownDirection).peers[0].direction, "sideways");
    cases.push_back({"unknown direction", unknownDirection, "peers[0]: direction 'sideways'"});
    auto unknownRole = good;
    std::strcpy(areaOf(unknownRole).flows[1].role, "relay");
    cases.push_back({"unknown role", unknownRole, "flows[1]: role 'relay'"});
    auto unknownFlowState = good;
    std::strcpy(areaOf(unknownFlowState).flows[0].state, "resyncing");
    cases.push_back({"unknown flow state", unknownFlowState, "flows[0]: state 'resyncing'"});
    auto halfWritten = good;
    areaOf(halfWritten).header.sequence |= 1U;
    cases.push_back({"left half written", halfWritten, "consistent"});

    for (auto const& c : cases)
    {
        TestDomain domain;
        writeBytes(statusPath(domain), c.bytes);
        auto const status = readStatus(domain.path());
        ASSERT_FALSE(status) << c.name;
        EXPECT_EQ(status.error().status, c.name == "left half written" ? MXL_ERR_TIMEOUT : MXL_ERR_INVALID_ARG) << c.name;
        EXPECT_NE(status.error().message.find(c.mentions), std::string::npos) << c.name << ": " << status.error().message;
        EXPECT_NE(status.error().message.find(statusFileName), std::string::npos) << c.name << ": " << status.error().message;
    }

    TestDomain domain;
    std::filesystem::create_directory(statusPath(domain));
    auto const directory = readStatus(domain.path());
    ASSERT_FALSE(directory);
    EXPECT_EQ(directory.error().status, MXL_ERR_INVALID_ARG);
}

TEST(BridgeStatus, TextsWithoutTerminatorOrWithControlBytesAreCutAndReplaced)
{
    auto bytes = publishedBytes();
    auto& area = areaOf(bytes);
    std::memset(area.header.bridgeId, 'x', sizeof area.header.bridgeId);
    std::memset(area.flows[0].lastError, 'e', sizeof area.flows[0].lastError);
    constexpr char hostile[] = "bad \x1b[2J \xff\xfe end";
    std::memcpy(area.peers[0].lastError, hostile, sizeof hostile);

    TestDomain domain;
    writeBytes(statusPath(domain), bytes);
    auto const status = read(domain);
    EXPECT_EQ(status.bridgeId, std::string(sizeof area.header.bridgeId, 'x'));
    EXPECT_EQ(status.listen, "0.0.0.0:7400") << "the next field is read from its own place";
    EXPECT_EQ(status.flows[0].lastError, std::string(sizeof area.flows[0].lastError, 'e'));
    EXPECT_EQ(status.peers[0].lastError, "bad ?[2J ?? end");
}

TEST(BridgeStatus, MissingFileMeansNoBridge)
{
    TestDomain domain;
    auto const status = readStatus(domain.path());
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_FALSE(status->has_value());

    auto const nowhere = readStatus(domain.path() / "nowhere");
    ASSERT_TRUE(nowhere) << nowhere.error().message;
    EXPECT_FALSE(nowhere->has_value());

    // A bridge between creating its file and publishing into it.
    writeBytes(statusPath(domain), "");
    auto const empty = readStatus(domain.path());
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_FALSE(empty->has_value());
    writeBytes(statusPath(domain), std::string(sizeof(layout::StatusArea), '\0'));
    auto const zeroes = readStatus(domain.path());
    ASSERT_TRUE(zeroes) << zeroes.error().message;
    EXPECT_FALSE(zeroes->has_value());
}

TEST(BridgeStatus, WriterRemovesItsFileWhenDestroyed)
{
    TestDomain domain;
    auto writer = makeWriter(domain);
    ASSERT_TRUE(std::filesystem::exists(statusPath(domain)));
    writer.reset();
    EXPECT_FALSE(std::filesystem::exists(statusPath(domain)));
    auto const status = readStatus(domain.path());
    ASSERT_TRUE(status);
    EXPECT_FALSE(status->has_value());
}

TEST(BridgeStatus, ReadingNeverChangesTheFile)
{
    TestDomain domain;
    auto writer = makeWriter(domain);
    writer->publish(sampleStatus());
    struct stat before{};
    ASSERT_EQ(::stat(statusPath(domain).c_str(), &before), 0);
    auto const bytes = fileBytes(statusPath(domain));
    std::this_thread::sleep_for(std::chrono::milliseconds{20});

    for (int i = 0; i < 100; ++i)
    {
        ASSERT_TRUE(readStatus(domain.path()));
    }
    struct stat after{};
    ASSERT_EQ(::stat(statusPath(domain).c_str(), &after), 0);
    EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    EXPECT_EQ(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
    EXPECT_EQ(fileBytes(statusPath(domain)), bytes);
}

TEST(BridgeStatus, StatusFileModeFollowsTheDomainDirectoryWhateverTheUmask)
{
    // Readable by the group and by others as far as the domain directory lets them in; never writable by them.
    for (auto const& [directoryMode, fileMode] : {std::pair{0755U, 0644U}, std::pair{0750U, 0640U}, std::pair{0700U, 0600U}, std::pair{0775U, 0644U}})
    {
        SCOPED_TRACE(::testing::Message() << std::oct << directoryMode);
        TestDomain domain;
        ASSERT_EQ(::chmod(domain.str().c_str(), directoryMode), 0);
        auto const previous = ::umask(077);
        auto writer = makeWriter(domain);
        ::umask(previous);
        struct stat st{};
        ASSERT_EQ(::stat(statusPath(domain).c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, fileMode);
        EXPECT_EQ(static_cast<std::size_t>(st.st_size), sizeof(layout::StatusArea));
    }
}

TEST(BridgeStatus, StatusFileOfAnotherUserIsRefused)
{
    // Another user's file could be truncated under the bridge's mapping (SIGBUS) or read where it should not be.
    TestDomain domain;
    {
        std::ofstream{statusPath(domain)};
    }
    if (::chown(statusPath(domain).c_str(), 65534, 65534) != 0)
    {
        GTEST_SKIP() << "cannot give the file to another user without root";
    }
    auto writer = StatusWriter::create(domain.path());
    ASSERT_FALSE(writer);
    EXPECT_EQ(writer.error().status, MXL_ERR_PERMISSION_DENIED);
    EXPECT_NE(writer.error().message.find("uid 65534"), std::string::npos) << writer.error().message;
}

TEST(BridgeStatus, FifoAsStatusFileIsRefusedWithoutBlocking)
{
    TestDomain domain;
    ASSERT_EQ(::mkfifo(statusPath(domain).c_str(), 0644), 0);
    // In a child: a blocked open would hang it, and the parent would see it not return.
    ChildProcess child{[&] {
        auto writer = StatusWriter::create(domain.path());
        auto read = readStatus(domain.path());
        return !writer && !read ? 0 : 1;
    }};
    EXPECT_EQ(child.wait(std::chrono::seconds{10}), std::optional<int>{0}) << "a writer or reader accepted a FIFO, or blocked on it";
}

TEST(BridgeStatus, DomainEngineNeitherListsNorCollectsTheStatusFile)
{
    TestDomain domain;
    // A dead bridge's status file, and a live flow.
    ChildProcess bridge{[&] {
        auto writer = StatusWriter::create(domain.path());
        if (!writer)
        {
            return 1;
        }
        ::raise(SIGKILL);
        return 0;
    }};
    EXPECT_FALSE(bridge.wait().has_value());
    ASSERT_TRUE(std::filesystem::exists(statusPath(domain)));

    auto engine = mxl::Domain::open(domain.path(), nullptr); // collects garbage on open
    ASSERT_TRUE(engine) << engine.error().message;
    auto const id = mxl::formatUuid(mxl::randomUuid().value());
    auto writer = (*engine)->createWriter(mxl::test::flowDef(id, "v210", 64, 36), nullptr);
    ASSERT_TRUE(writer) << writer.error().message;

    auto const flows = (*engine)->listFlows();
    ASSERT_EQ(flows.size(), 1U);
    EXPECT_EQ(mxl::formatUuid(flows[0]), id);
    auto const removed = (*engine)->collectGarbage();
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_TRUE(removed->empty());
    EXPECT_TRUE(std::filesystem::exists(statusPath(domain)));

    // A live bridge's file, too.
    auto status = makeWriter(domain);
    status->publish(sampleStatus());
    ASSERT_TRUE((*engine)->collectGarbage());
    EXPECT_EQ((*engine)->listFlows().size(), 1U);
    EXPECT_EQ(read(domain).flows.size(), 2U);
    (*engine)->releaseWriter(std::move(writer->writer));
}
