// SPDX-License-Identifier: Apache-2.0
// Replication on providers other than tcp, where this machine has them. The verbs provider needs an
// RDMA device (RoCE, InfiniBand or Soft-RoCE rxe) and the address of an interface on it:
//   MXL_TEST_VERBS_ADDRESS=192.168.10.1 ctest -R ReplicationOnVerbs
// ci/rxe.sh sets both up where the kernel has rxe.
#include <algorithm>
#include <cstdlib>

#include <gtest/gtest.h>

#include "ReplicationScenarios.hpp"
#include "ofi/Provider.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        bool providerAvailable(ofi::Provider provider)
        {
            auto const available = ofi::availableProviders();
            return available && std::find(available->begin(), available->end(), provider) != available->end();
        }
    }

    TEST(ReplicationOnVerbs, V210GrainsArriveByteExactWhereAVerbsDeviceExists)
    {
        if (!providerAvailable(ofi::Provider::Verbs))
        {
            GTEST_SKIP() << "no verbs provider with an RDMA device on this machine (no RoCE/InfiniBand NIC, no rxe): "
                            "replication over verbs is not exercised here";
        }
        auto const* address = std::getenv("MXL_TEST_VERBS_ADDRESS");
        if (address == nullptr)
        {
            GTEST_SKIP() << "a verbs device exists, but MXL_TEST_VERBS_ADDRESS (an IP address on it) is not set";
        }
        ReplicationOptions options;
        options.provider = "verbs";
        options.node = address;
        replicateAndVerify(options, "v210", 1920, 1080, 20);
    }
}
