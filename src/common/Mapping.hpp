// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include <sys/mman.h>

namespace mxl
{
    /// Owns a shared memory mapping of a whole file.
    class Mapping
    {
    public:
        Mapping() = default;

        Mapping(void* base, std::size_t size) noexcept
            : _base{base}
            , _size{size}
        {}

        Mapping(Mapping&& other) noexcept
            : _base{std::exchange(other._base, nullptr)}
            , _size{std::exchange(other._size, 0)}
        {}

        Mapping& operator=(Mapping&& other) noexcept
        {
            if (this != &other)
            {
                release();
                _base = std::exchange(other._base, nullptr);
                _size = std::exchange(other._size, 0);
            }
            return *this;
        }

        Mapping(Mapping const&) = delete;
        Mapping& operator=(Mapping const&) = delete;

        ~Mapping()
        {
            release();
        }

        [[nodiscard]] std::uint8_t* data() const noexcept
        {
            return static_cast<std::uint8_t*>(_base);
        }

        [[nodiscard]] std::size_t size() const noexcept
        {
            return _size;
        }

        template<typename T>
        [[nodiscard]] T* as(std::size_t offset = 0) const noexcept
        {
            return reinterpret_cast<T*>(data() + offset);
        }

    private:
        void release() noexcept
        {
            if (_base != nullptr)
            {
                ::munmap(_base, _size);
            }
        }

        void* _base{nullptr};
        std::size_t _size{0};
    };
}
