// SPDX-License-Identifier: Apache-2.0
#pragma once

// Plain-text tables for mxl-info's views.

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace mxl::info
{
    /// Text cut to width, its last character replaced by '~' when cut.
    inline std::string fit(std::string text, std::size_t width)
    {
        if (text.size() > width)
        {
            text.resize(width);
            if (width > 0)
            {
                text.back() = '~';
            }
        }
        return text;
    }

    /// Rows of cells laid out in columns as wide as their widest cell (capped), left aligned.
    class Table
    {
    public:
        explicit Table(std::vector<std::string> header)
            : _header{std::move(header)}
        {}

        void add(std::vector<std::string> row)
        {
            _rows.push_back(std::move(row));
        }

        void render(std::vector<std::string>& out, std::string const& indent, std::vector<std::size_t> const& maxWidths = {}) const
        {
            std::vector<std::size_t> widths(_header.size());
            for (std::size_t c = 0; c < _header.size(); ++c)
            {
                widths[c] = _header[c].size();
                for (auto const& r : _rows)
                {
                    widths[c] = std::max(widths[c], r[c].size());
                }
                if (c < maxWidths.size() && maxWidths[c] != 0)
                {
                    widths[c] = std::min(widths[c], maxWidths[c]);
                }
            }
            auto line = [&](std::vector<std::string> const& cells) {
                std::string text = indent;
                for (std::size_t c = 0; c < cells.size(); ++c)
                {
                    auto const cell = fit(cells[c], widths[c]);
                    text += c + 1 < cells.size() ? fmt::format("{:<{}} ", cell, widths[c]) : cell;
                }
                return text;
            };
            out.push_back(line(_header));
            for (auto const& r : _rows)
            {
                out.push_back(line(r));
            }
        }

    private:
        std::vector<std::string> _header;
        std::vector<std::vector<std::string>> _rows;
    };
}
