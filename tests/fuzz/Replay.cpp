// SPDX-License-Identifier: Apache-2.0
// Runs a fuzz target over every file of the directories given: the corpus as a regression test
// in builds without libFuzzer.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size);

int main(int argc, char** argv)
{
    std::size_t count = 0;
    for (int i = 1; i < argc; ++i)
    {
        for (auto const& entry : std::filesystem::recursive_directory_iterator{argv[i]})
        {
            if (!entry.is_regular_file())
            {
                continue;
            }
            std::ifstream in{entry.path(), std::ios::binary};
            std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
            LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
            ++count;
        }
    }
    std::printf("replayed %zu inputs\n", count);
    return count > 0 ? 0 : 1;
}
