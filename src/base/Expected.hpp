// SPDX-License-Identifier: Apache-2.0
#pragma once

// A small C++20 stand-in for std::expected (C++23), so that setup paths can return a value or an
// error that carries a status and a human-readable reason. Hot paths (per grain, per slice)
// return a bare mxlStatus instead and never build an Error.

#include <cassert>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <mxl/mxl.h>

namespace mxl
{
    /// An error: the status a C caller sees, and a sentence naming what was wrong with what.
    struct Error
    {
        mxlStatus status{MXL_ERR_UNKNOWN};
        std::string message;
    };

    struct Unexpected
    {
        Error error;
    };

    /// Builds the error branch of an Expected: `return fail(MXL_ERR_INVALID_ARG, "...")`.
    [[nodiscard]] inline Unexpected fail(mxlStatus status, std::string message)
    {
        return Unexpected{Error{status, std::move(message)}};
    }

    template<typename T>
    class [[nodiscard]] Expected
    {
    public:
        Expected(T value)
            : _v{std::in_place_index<0>, std::move(value)}
        {}

        Expected(Unexpected u)
            : _v{std::in_place_index<1>, std::move(u.error)}
        {}

        [[nodiscard]] bool has_value() const noexcept
        {
            return _v.index() == 0;
        }

        explicit operator bool() const noexcept
        {
            return has_value();
        }

        T& value() &
        {
            assert(has_value());
            return std::get<0>(_v);
        }

        T const& value() const&
        {
            assert(has_value());
            return std::get<0>(_v);
        }

        T&& value() &&
        {
            assert(has_value());
            return std::get<0>(std::move(_v));
        }

        T* operator->()
        {
            return &value();
        }

        T const* operator->() const
        {
            return &value();
        }

        T& operator*() &
        {
            return value();
        }

        T const& operator*() const&
        {
            return value();
        }

        Error const& error() const&
        {
            assert(!has_value());
            return std::get<1>(_v);
        }

        Error&& error() &&
        {
            assert(!has_value());
            return std::get<1>(std::move(_v));
        }

        /// Moves the error out into a fresh Unexpected, to pass it up to a caller of another type.
        Unexpected take_error()
        {
            return Unexpected{std::move(*this).error()};
        }

    private:
        std::variant<T, Error> _v;
    };

    /// Expected<void>: success carries nothing.
    template<>
    class [[nodiscard]] Expected<void>
    {
    public:
        Expected() = default;

        Expected(Unexpected u)
            : _error{std::move(u.error)}
            , _failed{true}
        {}

        [[nodiscard]] bool has_value() const noexcept
        {
            return !_failed;
        }

        explicit operator bool() const noexcept
        {
            return has_value();
        }

        Error const& error() const&
        {
            assert(_failed);
            return _error;
        }

        Unexpected take_error()
        {
            return Unexpected{std::move(_error)};
        }

    private:
        Error _error{};
        bool _failed{false};
    };

    /// Emplaces the value of result into slot, or passes its error on: for members built step by
    /// step in setup code (`if (auto r = emplace(_fabric, Fabric::open(info)); !r) return r;`).
    template<typename T>
    Expected<void> emplace(std::optional<T>& slot, Expected<T> result)
    {
        if (!result)
        {
            return result.take_error();
        }
        slot.emplace(std::move(result).value());
        return {};
    }
}
