// SPDX-License-Identifier: Apache-2.0
#include "ReplicationHarness.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "domain/Domain.hpp"
#include "replication/Offer.hpp"
#include "replication/Receiver.hpp"
#include "replication/Sender.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        /// All of size bytes onto fd, through interruptions and partial writes.
        bool writeFully(int fd, void const* data, std::size_t size) noexcept
        {
            auto const* next = static_cast<std::byte const*>(data);
            while (size > 0)
            {
                auto const written = ::write(fd, next, size);
                if (written < 0 && errno == EINTR)
                {
                    continue;
                }
                if (written <= 0)
                {
                    return false;
                }
                next += written;
                size -= static_cast<std::size_t>(written);
            }
            return true;
        }

        /// Exactly size bytes from fd, each part awaited at most timeoutMs (-1: without limit); false
        /// when one does not come in time or the writing end is closed.
        bool readFully(int fd, void* data, std::size_t size, int timeoutMs) noexcept
        {
            auto* next = static_cast<std::byte*>(data);
            while (size > 0)
            {
                pollfd readable{fd, POLLIN, 0};
                auto const ready = ::poll(&readable, 1, timeoutMs);
                if (ready < 0 && errno == EINTR)
                {
                    continue;
                }
                if (ready <= 0)
                {
                    return false;
                }
                auto const got = ::read(fd, next, size);
                if (got < 0 && errno == EINTR)
                {
                    continue;
                }
                if (got <= 0)
                {
                    return false;
                }
                next += got;
                size -= static_cast<std::size_t>(got);
            }
            return true;
        }

        nlohmann::json toJson(CounterSnapshot const& c)
        {
            return {{"grains", c.grains}, {"slices", c.slices}, {"bytes", c.bytes}, {"commits", c.commits}, {"skipped", c.skippedGrains},
                {"refusedEpoch", c.refusedEpoch}, {"refusedSequence", c.refusedSequence}, {"refusedRange", c.refusedRange},
                {"refusedOperation", c.refusedOperation}, {"refusedConnections", c.refusedConnections}, {"errors", c.errors}, {"lastError", c.lastError}};
        }

        CounterSnapshot fromJson(std::string const& text)
        {
            CounterSnapshot c;
            auto const j = nlohmann::json::parse(text, nullptr, false);
            if (j.is_discarded() || !j.is_object())
            {
                c.lastError = "no counters: " + text;
                return c;
            }
            c.grains = j.value("grains", 0ULL);
            c.slices = j.value("slices", 0ULL);
            c.bytes = j.value("bytes", 0ULL);
            c.commits = j.value("commits", 0ULL);
            c.skippedGrains = j.value("skipped", 0ULL);
            c.refusedEpoch = j.value("refusedEpoch", 0ULL);
            c.refusedSequence = j.value("refusedSequence", 0ULL);
            c.refusedRange = j.value("refusedRange", 0ULL);
            c.refusedOperation = j.value("refusedOperation", 0ULL);
            c.refusedConnections = j.value("refusedConnections", 0ULL);
            c.errors = j.value("errors", 0ULL);
            c.lastError = j.value("lastError", std::string{});
            return c;
        }
    }

    MessagePipe::MessagePipe()
    {
        if (::pipe2(_fds, O_CLOEXEC) != 0)
        {
            throw std::runtime_error{"pipe2 failed"};
        }
    }

    MessagePipe::~MessagePipe()
    {
        ::close(_fds[0]);
        ::close(_fds[1]);
    }

    bool MessagePipe::send(std::vector<std::byte> const& message) const
    {
        auto const size = static_cast<std::uint32_t>(message.size());
        return writeFully(_fds[1], &size, sizeof size) && writeFully(_fds[1], message.data(), message.size());
    }

    bool MessagePipe::send(std::string const& text) const
    {
        auto const* p = reinterpret_cast<std::byte const*>(text.data());
        return send(std::vector<std::byte>{p, p + text.size()});
    }

    std::optional<std::vector<std::byte>> MessagePipe::receive(int timeoutMs) const
    {
        std::uint32_t size = 0;
        if (!readFully(_fds[0], &size, sizeof size, timeoutMs))
        {
            return std::nullopt;
        }
        std::vector<std::byte> message(size);
        if (!readFully(_fds[0], message.data(), size, timeoutMs))
        {
            return std::nullopt;
        }
        return message;
    }

    std::optional<std::string> MessagePipe::receiveText(int timeoutMs) const
    {
        auto message = receive(timeoutMs);
        if (!message)
        {
            return std::nullopt;
        }
        return std::string{reinterpret_cast<char const*>(message->data()), message->size()};
    }

    Replication::Replication(std::string sourceDomain, std::string sinkDomain, Uuid flowId, ReplicationOptions options)
        : _sourceDomain{std::move(sourceDomain)}
        , _sinkDomain{std::move(sinkDomain)}
        , _flowId{flowId}
        , _options{std::move(options)}
    {}

    Replication::~Replication()
    {
        stop();
    }

    bool Replication::start()
    {
        _receiver = std::make_unique<mxl::test::ChildProcess>([this] {
            auto domain = Domain::open(_sinkDomain, nullptr);
            auto offerBytes = _offer.receive();
            if (!domain || !offerBytes)
            {
                _receiverStatus.send(std::string{"error: no domain or no offer"});
                return 1;
            }
            auto offer = decodeFlowOffer(*offerBytes);
            if (!offer)
            {
                _receiverStatus.send("error: " + offer.error().message);
                return 1;
            }
            Receiver::Options options;
            options.provider = _options.provider;
            options.transfer = _options.transfer;
            options.node = _options.node;
            auto receiver = Receiver::create(**domain, *offer, options);
            if (!receiver)
            {
                _receiverStatus.send("error: " + receiver.error().message);
                return 1;
            }
            (*receiver)->start();
            _grant.send(encode((*receiver)->grant()));
            _receiverStatus.send(std::string{"ready"});
            (void)_stopReceiver.receive(600'000);
            (*receiver)->stop();
            _receiverStatus.send(toJson((*receiver)->counters()).dump());
            return 0;
        });
        _sender = std::make_unique<mxl::test::ChildProcess>([this] {
            auto domain = Domain::open(_sourceDomain, nullptr);
            if (!domain)
            {
                _senderStatus.send(std::string{"error: no source domain"});
                return 1;
            }
            auto offer = makeFlowOffer(**domain, _flowId);
            if (!offer)
            {
                _senderStatus.send("error: " + offer.error().message);
                return 1;
            }
            _offer.send(encode(*offer));
            auto grantBytes = _grant.receive();
            if (!grantBytes)
            {
                _senderStatus.send(std::string{"error: no grant"});
                return 1;
            }
            auto grant = decodeRegionGrant(*grantBytes);
            if (!grant)
            {
                _senderStatus.send("error: " + grant.error().message);
                return 1;
            }
            auto sender = Sender::create(**domain, _flowId, *grant, {});
            if (!sender)
            {
                _senderStatus.send("error: " + sender.error().message);
                return 1;
            }
            (*sender)->start();
            // Ready once the thread has looked at the flow: the test's grains come after that look.
            for (int waited = 0; !(*sender)->following() && !(*sender)->failed() && waited < 5000; ++waited)
            {
                std::this_thread::sleep_for(std::chrono::milliseconds{1});
            }
            _senderStatus.send(std::string{"ready"});
            // Until told to stop, report a session the sender gave up on as soon as it does.
            auto reported = false;
            while (!_stopSender.receive(20))
            {
                if (!reported && (*sender)->failed())
                {
                    _senderFailure.send((*sender)->counters().lastError);
                    reported = true;
                }
            }
            (*sender)->stop();
            _senderStatus.send(toJson((*sender)->counters()).dump());
            return 0;
        });
        auto const receiverReady = _receiverStatus.receiveText();
        auto const senderReady = _senderStatus.receiveText();
        if (receiverReady != "ready" || senderReady != "ready")
        {
            _error = "receiver: " + receiverReady.value_or("no answer") + "; sender: " + senderReady.value_or("no answer");
            return false;
        }
        return true;
    }

    void Replication::stop()
    {
        if (_stopped || !_sender)
        {
            return;
        }
        _stopped = true;
        _stopSender.send(std::string{"stop"});
        if (auto counters = _senderStatus.receiveText())
        {
            _senderCounters = fromJson(*counters);
        }
        _sender->wait();
        if (_receiver && _receiver->termSignal() == 0)
        {
            _stopReceiver.send(std::string{"stop"});
            if (auto counters = _receiverStatus.receiveText(2000))
            {
                _receiverCounters = fromJson(*counters);
            }
            _receiver->wait();
        }
    }

    std::optional<std::string> Replication::waitForSenderFailure(int timeoutMs)
    {
        return _senderFailure.receiveText(timeoutMs);
    }

    void Replication::stopReceiver()
    {
        if (_receiver && _receiver->termSignal() == 0)
        {
            _stopReceiver.send(std::string{"stop"});
            if (auto counters = _receiverStatus.receiveText(2000))
            {
                _receiverCounters = fromJson(*counters);
            }
            _receiver->wait();
            _receiver.reset();
        }
    }

    void Replication::killReceiver()
    {
        if (_receiver)
        {
            _receiver->kill(SIGKILL);
            _receiver->wait();
        }
    }
}
