// SPDX-License-Identifier: Apache-2.0
#include "bridge/StatusPublisher.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include <openssl/sha.h>

namespace mxl::bridge
{
    std::uint64_t sessionTag(std::uint64_t epoch) noexcept
    {
        if (epoch == 0)
        {
            return 0;
        }
        std::array<unsigned char, 8 + 24> input{};
        for (int i = 0; i < 8; ++i)
        {
            input[static_cast<std::size_t>(i)] = static_cast<unsigned char>(epoch >> (8 * i));
        }
        static constexpr char context[] = "mxl-fabric status session tag";
        std::memcpy(input.data() + 8, context, std::min(sizeof context, std::size_t{24}));
        unsigned char digest[SHA256_DIGEST_LENGTH];
        ::SHA256(input.data(), input.size(), digest);
        std::uint64_t tag = 0;
        for (int i = 0; i < 8; ++i)
        {
            tag |= std::uint64_t{digest[i]} << (8 * i);
        }
        return tag == 0 ? 1 : tag;
    }

    StatusPublisher::StatusPublisher(std::unique_ptr<StatusWriter> writer) noexcept
        : _writer{std::move(writer)}
    {}

    void StatusPublisher::publish(BridgeStatus status)
    {
        if (_writer)
        {
            _writer->publish(status);
        }
        std::lock_guard lock{_mutex};
        _last = std::move(status);
    }

    BridgeStatus StatusPublisher::last() const
    {
        std::lock_guard lock{_mutex};
        return _last;
    }

    void StatusPublisher::close() noexcept
    {
        _writer.reset();
    }
}
