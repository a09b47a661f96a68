// SPDX-License-Identifier: Apache-2.0
#include "mxl-info/Watch.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <mxl/time.h>
#include "mxl-info/Views.hpp"

namespace mxl::info
{
    namespace
    {
        volatile std::sig_atomic_t stopRequested = 0;

        extern "C" void onStopSignal(int)
        {
            stopRequested = 1;
        }

        void writeAll(std::string const& text)
        {
            std::size_t done = 0;
            while (done < text.size())
            {
                auto const n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
                if (n < 0)
                {
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    return;
                }
                done += static_cast<std::size_t>(n);
            }
        }

        /// Keys without echo or line buffering, the alternate screen, a hidden cursor; all undone
        /// on destruction. Ctrl-C arrives as a key (0x03), since signals from keys are off.
        class TerminalSession
        {
        public:
            TerminalSession()
            {
                if (::isatty(STDIN_FILENO) != 0 && ::tcgetattr(STDIN_FILENO, &_saved) == 0)
                {
                    auto raw = _saved;
                    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
                    raw.c_cc[VMIN] = 0;
                    raw.c_cc[VTIME] = 0;
                    _restore = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
                }
                writeAll("\x1b[?1049h\x1b[?25l");
            }

            ~TerminalSession()
            {
                writeAll("\x1b[?25h\x1b[?1049l");
                if (_restore)
                {
                    ::tcsetattr(STDIN_FILENO, TCSANOW, &_saved);
                }
            }

            TerminalSession(TerminalSession const&) = delete;
            TerminalSession& operator=(TerminalSession const&) = delete;

        private:
            termios _saved{};
            bool _restore{false};
        };

        struct ScreenSize
        {
            std::size_t columns{80};
            std::size_t rows{24};
        };

        ScreenSize screenSize()
        {
            winsize ws{};
            if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0)
            {
                return {ws.ws_col, ws.ws_row};
            }
            return {};
        }

        std::string frame(std::vector<std::string> lines, ScreenSize const& size)
        {
            if (lines.size() > size.rows)
            {
                auto const hidden = lines.size() - (size.rows - 1);
                lines.resize(size.rows - 1);
                lines.push_back(fmt::format("... {} more line{}", hidden, hidden == 1 ? "" : "s"));
            }
            std::string out = "\x1b[H";
            for (std::size_t i = 0; i < lines.size(); ++i)
            {
                auto& line = lines[i];
                if (line.size() > size.columns)
                {
                    line.resize(size.columns);
                }
                out += line;
                out += "\x1b[K";
                if (i + 1 < lines.size())
                {
                    out += "\r\n";
                }
            }
            out += "\x1b[J";
            return out;
        }

        /// Reads pending keys; true when one of them asks to quit.
        bool quitKeyPressed(bool& inputOpen)
        {
            char keys[64];
            auto const n = ::read(STDIN_FILENO, keys, sizeof keys);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
            {
                return false;
            }
            if (n <= 0)
            {
                inputOpen = false;
                return false;
            }
            for (ssize_t i = 0; i < n; ++i)
            {
                if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == '\x03')
                {
                    return true;
                }
            }
            return false;
        }
    }

    int watch(DomainInspector& inspector, WatchOptions const& options)
    {
        struct sigaction action{};
        action.sa_handler = onStopSignal;
        sigemptyset(&action.sa_mask);
        for (int const s : {SIGINT, SIGTERM, SIGHUP})
        {
            ::sigaction(s, &action, nullptr);
        }

        TerminalSession terminal;
        bool inputOpen = true;
        auto const intervalText = fmt::format("every {} ms", options.interval.count());
        while (stopRequested == 0)
        {
            auto const size = screenSize();
            std::vector<std::string> lines{fmt::format("mxl-info  {}  {}  q: quit", formatTai(mxlGetTime()), intervalText)};
            if (options.flowId)
            {
                if (auto const flow = inspector.inspect(*options.flowId))
                {
                    auto details = flowDetails(*flow);
                    lines.insert(lines.end(), details.begin(), details.end());
                }
                else
                {
                    lines.push_back(fmt::format("flow {} is not in {} (any more)", *options.flowId, inspector.domain().string()));
                }
            }
            else
            {
                auto table = compactDomainTable(inspector.domain().string(), inspector.scan(), size.columns);
                lines.insert(lines.end(), table.begin(), table.end());
            }
            writeAll(frame(std::move(lines), size));

            pollfd input{STDIN_FILENO, POLLIN, 0};
            auto const ready = ::poll(&input, inputOpen ? 1 : 0, static_cast<int>(options.interval.count()));
            if (ready > 0 && (input.revents & (POLLIN | POLLHUP)) != 0 && quitKeyPressed(inputOpen))
            {
                break;
            }
        }
        return 0;
    }
}
