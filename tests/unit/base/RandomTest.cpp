// SPDX-License-Identifier: Apache-2.0
// The one random source: what it gives, and that it fails closed (an error naming the use, never a
// clock or a weaker generator) when the kernel refuses getrandom(2), forced here with seccomp.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/Random.hpp"
#include "base/Uuid.hpp"

namespace
{
    /// In this process only: getrandom(2) fails with ENOSYS from now on.
    bool refuseGetrandom()
    {
        sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
        return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
    }

    /// Runs body in a child process and returns its exit code (the parent's test keeps its kernel).
    template<typename Body>
    int inChild(Body body)
    {
        auto const pid = ::fork();
        if (pid == 0)
        {
            ::_exit(body());
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
    }
}

TEST(Random, FillsLargeBuffersCompletely)
{
    // Beyond 256 bytes getrandom may return short reads: every byte must still be written.
    std::vector<std::byte> buffer(1 << 20, std::byte{0});
    ASSERT_TRUE(mxl::fillRandom(buffer, "a test buffer"));
    // A run of 64 zero bytes has probability 2^-512: seeing one means bytes were left unwritten.
    auto const zeros = std::array<std::byte, 64>{};
    EXPECT_EQ(std::search(buffer.begin(), buffer.end(), zeros.begin(), zeros.end()), buffer.end());
}

TEST(Random, EpochsAreNonZeroAndDistinct)
{
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 1000; ++i)
    {
        auto epoch = mxl::randomEpoch("a test epoch");
        ASSERT_TRUE(epoch) << epoch.error().message;
        EXPECT_NE(*epoch, 0U);
        seen.insert(*epoch);
    }
    EXPECT_EQ(seen.size(), 1000U);
}

TEST(Random, UuidsAreVersion4WithTheRfcVariant)
{
    auto id = mxl::randomUuid();
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ((*id)[6] >> 4, 4);
    EXPECT_EQ((*id)[8] & 0xC0, 0x80);
    auto const text = mxl::formatUuid(*id);
    EXPECT_EQ(text[14], '4');
    EXPECT_EQ(mxl::parseUuid(text), *id);
}

TEST(Random, WithoutGetrandomEveryUseFailsClosedNamingWhatItWasFor)
{
    auto const code = inChild([] {
        if (!refuseGetrandom())
        {
            return 10;
        }
        auto epoch = mxl::randomEpoch("a test epoch");
        if (epoch || epoch.error().status != MXL_ERR_INTERNAL || epoch.error().message.find("a test epoch") == std::string::npos ||
            epoch.error().message.find("getrandom") == std::string::npos)
        {
            return 11;
        }
        auto id = mxl::randomUuid();
        if (id || id.error().status != MXL_ERR_INTERNAL || id.error().message.find("UUID") == std::string::npos)
        {
            return 12;
        }
        std::array<std::byte, 16> bytes{};
        if (mxl::fillRandom(bytes) || errno != ENOSYS)
        {
            return 13;
        }
        return 0;
    });
    ASSERT_NE(code, 10) << "this kernel refused a seccomp filter";
    EXPECT_EQ(code, 0) << "11: epoch, 12: UUID, 13: raw fill did not fail closed";
}
