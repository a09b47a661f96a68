// SPDX-License-Identifier: Apache-2.0
#include "mxl-bench/FabricLinks.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <span>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <mxl/fabrics.h>

#include "base/Uuid.hpp"
#include "replication/Offer.hpp"
#include "replication/Receiver.hpp"
#include "replication/Sender.hpp"

namespace mxl::bench
{
    namespace
    {
        using nlohmann::json;

        void check(mxlStatus status, char const* what)
        {
            if (status != MXL_STATUS_OK)
            {
                throw std::runtime_error{fmt::format("{} failed with status {}", what, static_cast<int>(status))};
            }
        }

        mxlFabricsInterfaceConfig interfaceConfig(FabricOptions const& o, std::string const& node, char const* service)
        {
            mxlFabricsInterfaceConfig config{};
            config.version = MXL_FABRICS_API_VERSION;
            auto provider = MXL_FABRICS_PROVIDER_ANY;
            check(mxlFabricsProviderFromString(o.provider.c_str(), &provider), "--provider for the C API");
            config.provider = provider;
            config.caps.version = MXL_FABRICS_API_VERSION;
            config.address.node = node.c_str();
            config.address.service = service;
            return config;
        }

        /// Our Sender, following the flow by itself.
        class SenderLink final : public SourceLink
        {
        public:
            explicit SenderLink(std::unique_ptr<fabric::Sender> sender)
                : _sender{std::move(sender)}
            {
                _sender->start();
                while (!_sender->following() && !_sender->failed())
                {
                    // Grains committed before the sender's first look would not count as sent.
                    std::this_thread::sleep_for(std::chrono::microseconds{200});
                }
            }

            void committed(std::uint64_t, std::uint16_t, std::uint16_t) override
            {}

            void paceBefore(std::uint64_t index, std::uint64_t first, std::uint32_t grainCount) override
            {
                // A Sender following a flow gives up grains more than half a ring behind the head.
                auto const window = std::max<std::uint32_t>(1, grainCount / 2);
                while (index + 1 >= first + window && _sender->publishedGrain() + window <= index + 1 && !_sender->failed())
                {
                    std::this_thread::sleep_for(std::chrono::microseconds{200});
                }
            }

            json stop() override
            {
                _sender->stop();
                auto const counters = _sender->counters();
                return {{"skipped", counters.skippedGrains}, {"errors", counters.errors}};
            }

        private:
            std::unique_ptr<fabric::Sender> _sender;
        };

        /// The fabrics C API's initiator, as an application uses it: each batch transferred as soon
        /// as it is committed, progress asked for without blocking; the writer paces itself on
        /// MakeProgress (the API's only word on what was sent).
        class InitiatorLink final : public SourceLink
        {
        public:
            InitiatorLink(FabricOptions const& o, mxlInstance instance, std::string const& flowId, std::string const& targetInfo)
                : _instance{instance}
                , _address{o.sinkAddress}
            {
                check(mxlCreateFlowReader(instance, flowId.c_str(), nullptr, &_reader), "mxlCreateFlowReader");
                check(mxlFabricsCreateInstance(instance, nullptr, &_fabrics), "mxlFabricsCreateInstance");
                check(mxlFabricsCreateInitiator(_fabrics, &_initiator), "mxlFabricsCreateInitiator");
                mxlFabricsInitiatorConfig config{MXL_FABRICS_API_VERSION, interfaceConfig(o, _address, "0"), _reader};
                check(mxlFabricsInitiatorSetup(_initiator, &config, nullptr), "mxlFabricsInitiatorSetup");
                check(mxlFabricsTargetInfoFromString(targetInfo.c_str(), &_info), "mxlFabricsTargetInfoFromString");
                check(mxlFabricsInitiatorAddTarget(_initiator, _info), "mxlFabricsInitiatorAddTarget");
                waitUntilIdle();
            }

            ~InitiatorLink() override
            {
                mxlFabricsFreeTargetInfo(_info);
                mxlFabricsDestroyInitiator(_fabrics, _initiator);
                mxlFabricsDestroyInstance(_fabrics);
                mxlReleaseFlowReader(_instance, _reader);
            }

            void committed(std::uint64_t index, std::uint16_t from, std::uint16_t to) override
            {
                check(mxlFabricsInitiatorTransferGrain(_initiator, index, from, to), "mxlFabricsInitiatorTransferGrain");
                if (progress(mxlFabricsInitiatorMakeProgressNonBlocking(_initiator)) == MXL_STATUS_OK)
                {
                    _sentBefore = index; // Everything transferred so far was sent.
                }
            }

            void paceBefore(std::uint64_t index, std::uint64_t first, std::uint32_t grainCount) override
            {
                // Grains from _sentBefore on may still be waiting. The writer keeps within half a
                // ring of them (as the raw baseline keeps half a ring in flight); "everything was
                // sent" is all the API says, so at that limit it waits for that.
                if (index >= std::max(_sentBefore, first) + std::max<std::uint32_t>(1, grainCount / 2))
                {
                    waitUntilIdle();
                    _sentBefore = index;
                }
            }

            json stop() override
            {
                waitUntilIdle();
                return {{"skipped", 0}, {"errors", _errors}};
            }

        private:
            mxlStatus progress(mxlStatus status)
            {
                if (status != MXL_STATUS_OK && status != MXL_ERR_NOT_READY)
                {
                    ++_errors;
                    throw std::runtime_error{fmt::format("mxlFabricsInitiatorMakeProgress failed with status {}", static_cast<int>(status))};
                }
                return status;
            }

            void waitUntilIdle()
            {
                while (progress(mxlFabricsInitiatorMakeProgressBlocking(_initiator, 1000)) == MXL_ERR_NOT_READY)
                {
                }
            }

            mxlInstance _instance;
            std::string _address;
            mxlFlowReader _reader{nullptr};
            mxlFabricsInstance _fabrics{nullptr};
            mxlFabricsInitiator _initiator{nullptr};
            mxlFabricsTargetInfo _info{nullptr};
            std::uint64_t _sentBefore{0};
            std::uint64_t _errors{0};
        };

        class ReceiverLink final : public SinkLink
        {
        public:
            explicit ReceiverLink(std::unique_ptr<fabric::Receiver> receiver)
                : _receiver{std::move(receiver)}
            {
                _receiver->start();
            }

            json stop() override
            {
                _receiver->stop();
                auto const c = _receiver->counters();
                return {{"receiver_grains", c.grains},
                    {"refused", c.refusedEpoch + c.refusedRange + c.refusedSequence + c.refusedOperation + c.refusedConnections},
                    {"reordered_records", c.reorderedRecords}, {"errors", c.errors}};
            }

        private:
            std::unique_ptr<fabric::Receiver> _receiver;
        };

        /// The fabrics C API's target, as an application uses it: a thread that reads each grain
        /// that arrives and opens and commits it with the flow's writer.
        class TargetLink final : public SinkLink
        {
        public:
            TargetLink(FabricOptions const& o, mxlInstance instance, std::string const& flowDef, Channels& ch)
                : _instance{instance}
                , _address{o.sinkAddress}
            {
                check(mxlCreateFlowWriter(instance, flowDef.c_str(), nullptr, &_writer, nullptr, nullptr), "mxlCreateFlowWriter");
                check(mxlFabricsCreateInstance(instance, nullptr, &_fabrics), "mxlFabricsCreateInstance");
                check(mxlFabricsCreateTarget(_fabrics, &_target), "mxlFabricsCreateTarget");
                mxlFabricsTargetConfig config{MXL_FABRICS_API_VERSION, interfaceConfig(o, _address, "0"), _writer};
                mxlFabricsTargetInfo info = nullptr;
                check(mxlFabricsTargetSetup(_target, &config, nullptr, &info), "mxlFabricsTargetSetup");
                std::size_t size = 0;
                check(mxlFabricsTargetInfoToString(info, nullptr, &size), "mxlFabricsTargetInfoToString");
                std::string text(size, '\0');
                check(mxlFabricsTargetInfoToString(info, text.data(), &size), "mxlFabricsTargetInfoToString");
                mxlFabricsFreeTargetInfo(info);
                text.resize(size - 1);
                ch.toSource.send(text);
                _thread = std::thread{[this] { run(); }};
            }

            ~TargetLink() override
            {
                stopThread();
                mxlFabricsDestroyTarget(_fabrics, _target);
                mxlFabricsDestroyInstance(_fabrics);
                mxlReleaseFlowWriter(_instance, _writer);
            }

            json stop() override
            {
                stopThread();
                return {{"receiver_grains", _grains.load()}, {"refused", 0}, {"errors", _errors.load()}};
            }

        private:
            void run()
            {
                while (!_stopping.load(std::memory_order_relaxed))
                {
                    std::uint64_t index = 0;
                    auto const status = mxlFabricsTargetReadGrain(_target, 100, &index);
                    if (status != MXL_STATUS_OK)
                    {
                        _errors += status == MXL_ERR_TIMEOUT || status == MXL_ERR_NOT_READY ? 0 : 1;
                        continue;
                    }
                    mxlGrainInfo grain;
                    std::uint8_t* payload = nullptr;
                    if (mxlFlowWriterOpenGrain(_writer, index, &grain, &payload) == MXL_STATUS_OK &&
                        mxlFlowWriterCommitGrain(_writer, &grain) == MXL_STATUS_OK)
                    {
                        _grains += grain.validSlices == grain.totalSlices ? 1 : 0;
                    }
                }
            }

            void stopThread()
            {
                _stopping = true;
                if (_thread.joinable())
                {
                    _thread.join();
                }
            }

            mxlInstance _instance;
            std::string _address;
            mxlFlowWriter _writer{nullptr};
            mxlFabricsInstance _fabrics{nullptr};
            mxlFabricsTarget _target{nullptr};
            std::atomic<bool> _stopping{false};
            std::atomic<std::uint64_t> _grains{0};
            std::atomic<std::uint64_t> _errors{0};
            std::thread _thread;
        };
    }

    std::unique_ptr<SourceLink> connectSource(FabricOptions const& o, Channels& ch, Domain& domain, mxlInstance instance, Uuid const& flowId,
        std::shared_ptr<fabric::StageObserver> stages)
    {
        auto offer = require(fabric::makeFlowOffer(domain, flowId), "flow offer");
        auto const offerBytes = fabric::encode(offer);
        ch.toSink.send(offerBytes.data(), offerBytes.size());
        auto const answer = expect(ch.toSource, o.capi ? "TargetInfo" : "region grant");
        if (o.capi)
        {
            return std::make_unique<InitiatorLink>(o, instance, formatUuid(flowId), answer);
        }
        auto grant = require(fabric::decodeRegionGrant(std::as_bytes(std::span{answer.data(), answer.size()})), "region grant");
        fabric::Sender::Options options;
        options.stages = std::move(stages);
        return std::make_unique<SenderLink>(require(fabric::Sender::create(domain, flowId, grant, options), "sender"));
    }

    std::unique_ptr<SinkLink> acceptSink(FabricOptions const& o, Channels& ch, Domain& domain, mxlInstance instance, fabric::FlowOffer& offer,
        std::shared_ptr<fabric::StageObserver> stages)
    {
        auto const offerText = expect(ch.toSink, "flow offer");
        offer = require(fabric::decodeFlowOffer(std::as_bytes(std::span{offerText.data(), offerText.size()})), "flow offer");
        if (o.capi)
        {
            return std::make_unique<TargetLink>(o, instance, offer.flowDef, ch);
        }
        fabric::Receiver::Options options;
        options.provider = o.provider;
        options.node = o.sinkAddress;
        options.transfer = o.sendReceive ? fabric::Transfer::SendReceive : fabric::Transfer::Rma;
        options.stages = std::move(stages);
        auto receiver = require(fabric::Receiver::create(domain, offer, options), "receiver");
        auto const grantBytes = fabric::encode(receiver->grant());
        auto link = std::make_unique<ReceiverLink>(std::move(receiver));
        ch.toSource.send(grantBytes.data(), grantBytes.size());
        return link;
    }
}
