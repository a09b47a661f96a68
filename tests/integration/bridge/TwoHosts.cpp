// SPDX-License-Identifier: Apache-2.0
#include "TwoHosts.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "ToolProcess.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        constexpr char cutTable[] = "mxl_link_cut";

        std::atomic<unsigned> pairsMade{0};

        std::string findIp()
        {
            for (char const* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"})
            {
                auto const path = std::filesystem::path{dir} / "ip";
                if (::access(path.c_str(), X_OK) == 0)
                {
                    return path.string();
                }
            }
            return {};
        }

        /// Runs `ip args...`; the error names the command and carries its stderr.
        Expected<void> ip(std::vector<std::string> const& args)
        {
            auto const result = mxl::test::runTool(TwoHosts::ipTool(), args, std::chrono::seconds{10});
            if (result.exitCode != 0)
            {
                std::string command = "ip";
                for (auto const& a : args)
                {
                    command += " " + a;
                }
                return fail(MXL_ERR_UNKNOWN, fmt::format("`{}` failed ({}): {}", command,
                                                 result.exitCode ? fmt::format("exit {}", *result.exitCode) : std::string{"killed"}, result.err));
            }
            return {};
        }

        /// Namespaces of test processes that are gone (killed at a ctest timeout, before their
        /// destructors ran): the bridges still running in them are killed and the namespaces deleted.
        void collectLeftovers()
        {
            static std::regex const ours{R"(mxlt(\d+)-\d+[ab])"};
            std::error_code ec;
            for (auto const& entry : std::filesystem::directory_iterator{"/run/netns", ec})
            {
                std::smatch match;
                auto const name = entry.path().filename().string();
                if (!std::regex_match(name, match, ours))
                {
                    continue;
                }
                auto const owner = static_cast<pid_t>(std::stol(match[1].str()));
                if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH)
                {
                    continue;
                }
                auto const pids = mxl::test::runTool(TwoHosts::ipTool(), {"netns", "pids", name});
                std::istringstream list{pids.out};
                for (pid_t pid; list >> pid;)
                {
                    ::kill(pid, SIGKILL);
                }
                (void)ip({"netns", "del", name});
            }
        }

        Expected<sockaddr_in> socketAddress(std::string const& ip, std::uint16_t port)
        {
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_port = htons(port);
            if (::inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1)
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("'{}' is not an IPv4 address", ip));
            }
            return address;
        }

        Unexpected systemError(std::string const& what)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("{}: {}", what, std::strerror(errno)));
        }
    }

    std::string const& TwoHosts::ipTool()
    {
        static std::string const path = findIp();
        return path;
    }

    bool namespaceExists(std::string const& ns)
    {
        return std::filesystem::exists(std::filesystem::path{"/run/netns"} / ns);
    }

    Expected<std::unique_ptr<TwoHosts>> TwoHosts::create(bool softRoce)
    {
        if (::geteuid() != 0)
        {
            return fail(MXL_ERR_PERMISSION_DENIED, "two-host tests need root to create network namespaces (`ip netns add`); run them as root");
        }
        if (ipTool().empty())
        {
            return fail(MXL_ERR_NOT_FOUND, "two-host tests need the `ip` tool (iproute2), which is not installed");
        }
        auto const n = pairsMade.fetch_add(1);
        collectLeftovers();
        auto const tag = fmt::format("{}-{}", ::getpid(), n);
        std::unique_ptr<TwoHosts> hosts{new TwoHosts};
        // Names are only remembered once made, so that the destructor deletes nothing of anyone else's.
        if (auto made = ip({"netns", "add", "mxlt" + tag + "a"}); !made)
        {
            return fail(MXL_ERR_PERMISSION_DENIED, "two-host tests need network namespaces, and " + made.error().message);
        }
        hosts->_nsA = "mxlt" + tag + "a";
        if (auto made = ip({"netns", "add", "mxlt" + tag + "b"}); !made)
        {
            return made.take_error();
        }
        hosts->_nsB = "mxlt" + tag + "b";
        auto const vethA = "mxv" + tag + "a";
        auto const vethB = "mxv" + tag + "b";
        // Made inside the namespaces at once: the names never appear in the test's own namespace.
        if (auto made = ip({"link", "add", "name", vethA, "netns", hosts->_nsA, "type", "veth", "peer", "name", vethB, "netns", hosts->_nsB}); !made)
        {
            return made.take_error();
        }
        hosts->_vethA = vethA;
        struct End
        {
            std::string const& ns;
            std::string const& veth;
            char const* address;
        };
        for (auto const& end : {End{hosts->_nsA, vethA, addressA}, End{hosts->_nsB, vethB, addressB}})
        {
            for (auto const& args : std::vector<std::vector<std::string>>{{"-n", end.ns, "link", "set", "lo", "up"},
                     {"-n", end.ns, "addr", "add", std::string{end.address} + "/24", "dev", end.veth},
                     {"-n", end.ns, "link", "set", end.veth, "up"}})
            {
                if (auto done = ip(args); !done)
                {
                    return done.take_error();
                }
            }
        }
        // A veth end reports NO-CARRIER for a moment after it is set up; a SYN sent then is lost and
        // only retried a second later.
        for (auto const& end : {End{hosts->_nsA, vethA, addressA}, End{hosts->_nsB, vethB, addressB}})
        {
            auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
            for (;;)
            {
                auto const shown = mxl::test::runTool(ipTool(), {"-n", end.ns, "link", "show", "dev", end.veth});
                if (shown.exitCode == 0 && shown.out.find("state UP") != std::string::npos)
                {
                    break;
                }
                if (std::chrono::steady_clock::now() >= deadline)
                {
                    return fail(MXL_ERR_TIMEOUT, fmt::format("{} in {} did not come up: {}", end.veth, end.ns, shown.out));
                }
                std::this_thread::sleep_for(std::chrono::milliseconds{10});
            }
        }
        if (softRoce)
        {
            for (auto const& end : {End{hosts->_nsA, vethA, addressA}, End{hosts->_nsB, vethB, addressB}})
            {
                auto const device = "mxlrxe" + end.veth.substr(3);
                auto const added = mxl::test::runTool(ipTool(), execIn(end.ns, "rdma", {"link", "add", device, "type", "rxe", "netdev", end.veth}));
                if (added.exitCode != 0)
                {
                    return fail(MXL_ERR_NO_FABRIC, fmt::format("no Soft-RoCE device on {} in {} (`rdma link add {} type rxe netdev {}`): {}", end.veth,
                                                       end.ns, device, end.veth, added.err));
                }
                hosts->_rxeDevices.emplace_back(end.ns, device);
            }
        }
        return hosts;
    }

    TwoHosts::~TwoHosts()
    {
        for (auto const& [ns, device] : _rxeDevices)
        {
            (void)mxl::test::runTool(ipTool(), execIn(ns, "rdma", {"link", "delete", device}));
        }
        for (auto const& ns : {_nsA, _nsB})
        {
            if (!ns.empty())
            {
                (void)ip({"netns", "del", ns});
            }
        }
    }

    Expected<void> TwoHosts::cutLink()
    {
        // One nft run, so that the cut starts whole or not at all.
        auto const rules = fmt::format("add table inet {0}\n"
                                       "add chain inet {0} input {{ type filter hook input priority -300; policy accept; }}\n"
                                       "add chain inet {0} output {{ type filter hook output priority -300; policy accept; }}\n"
                                       "add rule inet {0} input iifname \"{1}\" drop\n"
                                       "add rule inet {0} output oifname \"{1}\" drop\n",
            cutTable, _vethA);
        auto const result = mxl::test::runTool(ipTool(), execIn(_nsA, "nft", {rules}));
        if (result.exitCode != 0)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("nft could not cut the link in {}: {}", _nsA, result.err));
        }
        return {};
    }

    Expected<void> TwoHosts::restoreLink()
    {
        auto const result = mxl::test::runTool(ipTool(), execIn(_nsA, "nft", {fmt::format("delete table inet {}", cutTable)}));
        if (result.exitCode != 0)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("nft could not restore the link in {}: {}", _nsA, result.err));
        }
        return {};
    }

    std::vector<std::string> TwoHosts::execIn(std::string const& ns, std::string const& program, std::vector<std::string> const& args)
    {
        std::vector<std::string> all{"netns", "exec", ns, program};
        all.insert(all.end(), args.begin(), args.end());
        return all;
    }

    Expected<void> TwoHosts::runIn(std::string const& ns, std::function<void()> const& body)
    {
        Expected<void> entered;
        // setns(CLONE_NEWNET) moves only the calling thread; a thread of its own leaves the test's as it was.
        std::thread thread{[&] {
            Fd nsFd{::open((std::filesystem::path{"/run/netns"} / ns).c_str(), O_RDONLY | O_CLOEXEC)};
            if (!nsFd.valid())
            {
                entered = systemError("cannot open network namespace " + ns);
                return;
            }
            if (::setns(nsFd.get(), CLONE_NEWNET) != 0)
            {
                entered = systemError("cannot enter network namespace " + ns);
                return;
            }
            body();
        }};
        thread.join();
        return entered;
    }

    Expected<Fd> TwoHosts::connectFrom(std::string const& ns, std::string const& ip, std::uint16_t port, std::chrono::milliseconds timeout)
    {
        auto address = socketAddress(ip, port);
        if (!address)
        {
            return address.take_error();
        }
        Expected<Fd> connected{fail(MXL_ERR_UNKNOWN, "not run")};
        auto entered = runIn(ns, [&] {
            Fd socket{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
            if (!socket.valid())
            {
                connected = systemError("socket");
                return;
            }
            if (::connect(socket.get(), reinterpret_cast<sockaddr const*>(&*address), sizeof(sockaddr_in)) != 0 && errno != EINPROGRESS)
            {
                connected = systemError(fmt::format("connect to {}:{} from {}", ip, port, ns));
                return;
            }
            pollfd pending{socket.get(), POLLOUT, 0};
            if (::poll(&pending, 1, static_cast<int>(timeout.count())) != 1)
            {
                connected = fail(MXL_ERR_TIMEOUT, fmt::format("no connection to {}:{} from {} within {} ms", ip, port, ns, timeout.count()));
                return;
            }
            int error = 0;
            socklen_t length = sizeof error;
            ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &length);
            if (error != 0)
            {
                errno = error;
                connected = systemError(fmt::format("connect to {}:{} from {}", ip, port, ns));
                return;
            }
            ::fcntl(socket.get(), F_SETFL, ::fcntl(socket.get(), F_GETFL) & ~O_NONBLOCK);
            connected = std::move(socket);
        });
        if (!entered)
        {
            return entered.take_error();
        }
        return connected;
    }

    Expected<std::pair<Fd, std::uint16_t>> TwoHosts::listenIn(std::string const& ns, std::string const& ip)
    {
        auto address = socketAddress(ip, 0);
        if (!address)
        {
            return address.take_error();
        }
        Expected<std::pair<Fd, std::uint16_t>> listening{fail(MXL_ERR_UNKNOWN, "not run")};
        auto entered = runIn(ns, [&] {
            Fd socket{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
            if (!socket.valid() || ::bind(socket.get(), reinterpret_cast<sockaddr const*>(&*address), sizeof(sockaddr_in)) != 0 ||
                ::listen(socket.get(), 16) != 0)
            {
                listening = systemError(fmt::format("cannot listen on {} in {}", ip, ns));
                return;
            }
            sockaddr_in bound{};
            socklen_t length = sizeof bound;
            ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&bound), &length);
            listening = std::pair{std::move(socket), ntohs(bound.sin_port)};
        });
        if (!entered)
        {
            return entered.take_error();
        }
        return listening;
    }
}
