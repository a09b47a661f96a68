// SPDX-License-Identifier: Apache-2.0
#pragma once

// Runs a Receiver and a Sender in two child processes, as two hosts' bridges would, passing the
// offer and the grant through pipes. The source domain's writer and the sink domain's readers are
// the test's own (in the parent process).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Uuid.hpp"
#include "protocol/Messages.hpp"
#include "replication/Counters.hpp"
#include "support/ChildProcess.hpp"

namespace mxl::fabric::test
{
    /// A pipe carrying length-prefixed messages between processes.
    class MessagePipe
    {
    public:
        MessagePipe();
        ~MessagePipe();
        MessagePipe(MessagePipe const&) = delete;
        MessagePipe& operator=(MessagePipe const&) = delete;

        bool send(std::vector<std::byte> const& message) const;
        bool send(std::string const& text) const;
        /// Waits up to timeoutMs for a message.
        std::optional<std::vector<std::byte>> receive(int timeoutMs = 10000) const;
        std::optional<std::string> receiveText(int timeoutMs = 10000) const;

    private:
        int _fds[2]{-1, -1};
    };

    struct ReplicationOptions
    {
        std::string provider{"tcp"};
        Transfer transfer{Transfer::Rma};
        std::string node{"127.0.0.1"}; ///< Where the receiver listens.
    };

    /// Replicates flowId from sourceDomain to sinkDomain until stopped.
    class Replication
    {
    public:
        Replication(std::string sourceDomain, std::string sinkDomain, Uuid flowId, ReplicationOptions options = {});
        ~Replication();

        /// Starts the receiver (mirror created) and the sender (connected); false with a reason in
        /// error() when either failed.
        bool start();

        /// Stops both sides and collects their counters.
        void stop();

        [[nodiscard]] std::string const& error() const noexcept
        {
            return _error;
        }

        [[nodiscard]] CounterSnapshot const& senderCounters() const noexcept
        {
            return _senderCounters;
        }

        [[nodiscard]] CounterSnapshot const& receiverCounters() const noexcept
        {
            return _receiverCounters;
        }

        /// Waits up to timeoutMs for the sender to give up on its session (Sender::failed());
        /// returns its last error then, nothing while the session holds.
        std::optional<std::string> waitForSenderFailure(int timeoutMs);

        /// Kills the receiver process at once (a sink host that died).
        void killReceiver();

        /// Stops and destroys the receiver as its bridge would (the source stays), collecting its counters.
        void stopReceiver();

        [[nodiscard]] mxl::test::ChildProcess* receiverProcess() noexcept
        {
            return _receiver.get();
        }

    private:
        std::string _sourceDomain;
        std::string _sinkDomain;
        Uuid _flowId;
        ReplicationOptions _options;
        MessagePipe _offer, _grant, _receiverStatus, _senderStatus, _senderFailure, _stopReceiver, _stopSender;
        std::unique_ptr<mxl::test::ChildProcess> _receiver, _sender;
        CounterSnapshot _senderCounters, _receiverCounters;
        std::string _error;
        bool _stopped{false};
    };
}
