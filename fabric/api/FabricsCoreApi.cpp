// SPDX-License-Identifier: Apache-2.0
// The fabrics C API's setup and data path (mxl/fabrics.h): every call checks its arguments as the
// contract says (NULLs, versions, handles, options, the writer or reader belonging to the
// instance's mxlInstance, call order), then hands the work to the target's or initiator's endpoint
// (Endpoints.hpp: our Receiver and Sender).
#include <chrono>
#include <mxl/fabrics.h>
#include "api/Checks.hpp"
#include "api/Guard.hpp"
#include "api/Handles.hpp"
#include "api/Instance.hpp"
#include "api/Options.hpp"
#include "api/TargetInfo.hpp"
#include "flow/DiscreteFlowWriter.hpp"

using namespace mxl;
using namespace mxl::fabric::api;

namespace
{
    /// The mxlInstance behind an object's fabrics instance, or nullptr (logged) when either is gone.
    mxl::Instance* mxlInstanceOf(char const* function, std::uintptr_t fabricsInstance)
    {
        auto* owner = toFabricsInstance(fromValue<mxlFabricsInstance>(fabricsInstance));
        auto* instance = owner == nullptr ? nullptr : toInstance(fromValue<mxlInstance>(owner->mxlInstance));
        if (instance == nullptr)
        {
            log().error("{}: the mxlInstance of this object's fabrics instance was destroyed before it", function);
        }
        return instance;
    }

    mxlStatus refuse(char const* function, char const* what, mxlStatus status = MXL_ERR_INVALID_ARG)
    {
        log().error("{}: {}", function, what);
        return status;
    }
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsTargetSetup(mxlFabricsTarget in_target, mxlFabricsTargetConfig const* in_config, char const* in_options,
    mxlFabricsTargetInfo* out_info)
{
    constexpr auto function = "mxlFabricsTargetSetup";
    return guarded(function, [&] {
        auto* target = toTarget(in_target);
        if (target == nullptr)
        {
            return refuse(function, "not a target (NULL, destroyed or not one)");
        }
        if (in_config == nullptr || out_info == nullptr)
        {
            return refuse(function, "no configuration, or no place for the TargetInfo (NULL)");
        }
        if (in_config->version != MXL_FABRICS_API_VERSION)
        {
            return refuse(function, "target config version is not MXL_FABRICS_API_VERSION");
        }
        if (auto checked = checkInterfaceConfig(in_config->interface); !checked)
        {
            return report(function, checked.error());
        }
        auto options = parseTargetOptions(in_options);
        if (!options)
        {
            return report(function, options.error());
        }
        auto* instance = mxlInstanceOf(function, target->owner);
        if (instance == nullptr)
        {
            return MXL_ERR_INVALID_STATE;
        }
        if (toWriter(in_config->writer) == nullptr)
        {
            return refuse(function, "not a flow writer (NULL, released or not one)", MXL_ERR_INVALID_FLOW_WRITER);
        }
        {
            std::lock_guard lock{instance->mutex};
            if (!instance->writers.contains(handleValue(in_config->writer)))
            {
                return refuse(function, "the flow writer belongs to another mxlInstance than the target", MXL_ERR_INVALID_FLOW_WRITER);
            }
        }
        if (target->endpoint)
        {
            return refuse(function, "the target is set up already", MXL_ERR_INVALID_STATE);
        }
        auto endpoint = TargetEndpoint::create(instance->domain->path(), toWriter(in_config->writer)->flow().id(), in_config->interface, *options);
        if (!endpoint)
        {
            return report(function, endpoint.error());
        }
        auto info = makeTargetInfo((*endpoint)->grant());
        if (!info)
        {
            return report(function, info.error());
        }
        if (auto const status = handOutTargetInfo(function, std::move(*info), out_info); status != MXL_STATUS_OK)
        {
            return status;
        }
        target->endpoint = std::move(*endpoint);
        if (auto* writer = toWriter(in_config->writer); writer->discrete())
        {
            static_cast<DiscreteFlowWriter*>(writer)->openArrivedGrainsAsTheyAre();
        }
        return MXL_STATUS_OK;
    });
}

namespace
{
    /// A target's read calls: a target that is set up, for the kind of flow it receives, and places
    /// for every answer.
    template<typename Deliver, typename... Outputs>
    mxlStatus targetRead(char const* function, mxlFabricsTarget in_target, bool samples, std::chrono::milliseconds timeout, Deliver deliver,
        Outputs*... outputs)
    {
        return guarded(function, [&] {
            auto* target = toTarget(in_target);
            if (target == nullptr)
            {
                return refuse(function, "not a target (NULL, destroyed or not one)");
            }
            if (((outputs == nullptr) || ...))
            {
                return refuse(function, "no place for the answer (NULL)");
            }
            if (!target->endpoint)
            {
                return refuse(function, "the target is not set up (mxlFabricsTargetSetup)", MXL_ERR_INVALID_STATE);
            }
            if (target->endpoint->continuous() != samples)
            {
                return refuse(function,
                    samples ? "the target receives a discrete flow: read grains" : "the target receives a continuous flow: read samples",
                    MXL_ERR_INVALID_STATE);
            }
            auto const arrival = target->endpoint->read(timeout);
            if (!arrival)
            {
                return timeout.count() == 0 ? MXL_ERR_NOT_READY : MXL_ERR_TIMEOUT;
            }
            deliver(*arrival);
            return MXL_STATUS_OK;
        });
    }

    /// The calls that need a set-up initiator: checks the handle, then the call's own arguments
    /// (check: an error status, or OK), then that it is set up, then runs work on its endpoint.
    template<typename Check, typename Work>
    mxlStatus initiatorCall(char const* function, mxlFabricsInitiator in_initiator, Check check, Work work)
    {
        return guarded(function, [&] {
            auto* initiator = toInitiator(in_initiator);
            if (initiator == nullptr)
            {
                return refuse(function, "not an initiator (NULL, destroyed or not one)");
            }
            if (auto const status = check(); status != MXL_STATUS_OK)
            {
                return status;
            }
            InitiatorEndpoint* endpoint = nullptr;
            {
                // Set once, kept until the initiator is destroyed: the work runs without this lock.
                std::lock_guard lock{initiator->mutex};
                endpoint = initiator->endpoint.get();
            }
            if (endpoint == nullptr)
            {
                return refuse(function, "the initiator is not set up (mxlFabricsInitiatorSetup)", MXL_ERR_INVALID_STATE);
            }
            return work(*endpoint);
        });
    }

    constexpr auto nothingToCheck = [] { return MXL_STATUS_OK; };

    template<typename Work>
    mxlStatus initiatorTargetCall(char const* function, mxlFabricsInitiator in_initiator, mxlFabricsTargetInfo in_targetInfo, Work work)
    {
        auto const* info = toTargetInfo(in_targetInfo);
        auto const check = [&] { return info == nullptr ? refuse(function, "not a TargetInfo (NULL, freed or not one)") : MXL_STATUS_OK; };
        return initiatorCall(function, in_initiator, check, [&](InitiatorEndpoint& endpoint) {
            if (auto done = work(endpoint, info->grant); !done)
            {
                return report(function, done.error());
            }
            return MXL_STATUS_OK;
        });
    }
}

namespace
{
    auto grainTo(uint64_t* out)
    {
        return [out](fabric::Arrival const& arrival) { *out = arrival.index; };
    }

    auto samplesTo(uint64_t* outHead, size_t* outCount)
    {
        return [outHead, outCount](fabric::Arrival const& arrival) {
            *outHead = arrival.index;
            *outCount = static_cast<size_t>(arrival.count);
        };
    }

    /// A blocking read waits at least a millisecond: 0 would be the non-blocking call.
    std::chrono::milliseconds blockingTimeout(uint16_t timeoutMs)
    {
        return std::chrono::milliseconds{timeoutMs == 0 ? 1 : timeoutMs};
    }
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsTargetReadGrainNonBlocking(mxlFabricsTarget in_target, uint64_t* out_grainIndex)
{
    return targetRead("mxlFabricsTargetReadGrainNonBlocking", in_target, false, std::chrono::milliseconds{0}, grainTo(out_grainIndex),
        out_grainIndex);
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsTargetReadGrain(mxlFabricsTarget in_target, uint16_t in_timeoutMs, uint64_t* out_grainIndex)
{
    return targetRead("mxlFabricsTargetReadGrain", in_target, false, blockingTimeout(in_timeoutMs), grainTo(out_grainIndex), out_grainIndex);
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsTargetReadSamplesNonBlocking(mxlFabricsTarget in_target, uint64_t* out_headIndex, size_t* out_count)
{
    return targetRead("mxlFabricsTargetReadSamplesNonBlocking", in_target, true, std::chrono::milliseconds{0}, samplesTo(out_headIndex, out_count),
        out_headIndex, out_count);
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsTargetReadSamples(mxlFabricsTarget in_target, uint16_t in_timeoutMs, uint64_t* out_headIndex,
    size_t* out_count)
{
    return targetRead("mxlFabricsTargetReadSamples", in_target, true, blockingTimeout(in_timeoutMs), samplesTo(out_headIndex, out_count),
        out_headIndex, out_count);
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsInitiatorSetup(mxlFabricsInitiator in_initiator, mxlFabricsInitiatorConfig const* in_config,
    char const* in_options)
{
    constexpr auto function = "mxlFabricsInitiatorSetup";
    return guarded(function, [&] {
        auto* initiator = toInitiator(in_initiator);
        if (initiator == nullptr)
        {
            return refuse(function, "not an initiator (NULL, destroyed or not one)");
        }
        if (in_config == nullptr)
        {
            return refuse(function, "no configuration (NULL)");
        }
        if (in_config->version != MXL_FABRICS_API_VERSION)
        {
            return refuse(function, "initiator config version is not MXL_FABRICS_API_VERSION");
        }
        if (auto checked = checkInterfaceConfig(in_config->interface); !checked)
        {
            return report(function, checked.error());
        }
        if (auto options = checkInitiatorOptions(in_options); !options)
        {
            return report(function, options.error());
        }
        auto* instance = mxlInstanceOf(function, initiator->owner);
        if (instance == nullptr)
        {
            return MXL_ERR_INVALID_STATE;
        }
        if (toReader(in_config->reader) == nullptr)
        {
            return refuse(function, "not a flow reader (NULL, released or not one)", MXL_ERR_INVALID_FLOW_READER);
        }
        {
            std::lock_guard lock{instance->mutex};
            if (!instance->readers.contains(handleValue(in_config->reader)))
            {
                return refuse(function, "the flow reader belongs to another mxlInstance than the initiator", MXL_ERR_INVALID_FLOW_READER);
            }
        }
        if (auto provider = fabric::api::libfabricProvider(in_config->interface.provider); !provider)
        {
            return report(function, provider.error());
        }
        std::lock_guard lock{initiator->mutex};
        if (initiator->endpoint)
        {
            return refuse(function, "the initiator is set up already", MXL_ERR_INVALID_STATE);
        }
        auto const& flow = toReader(in_config->reader)->flow();
        auto endpoint = InitiatorEndpoint::create(instance->domain->path(), flow.id(), !flow.discrete());
        if (!endpoint)
        {
            return report(function, endpoint.error());
        }
        initiator->endpoint = std::move(*endpoint);
        return MXL_STATUS_OK;
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsInitiatorAddTarget(mxlFabricsInitiator in_initiator, mxlFabricsTargetInfo in_targetInfo)
{
    return initiatorTargetCall("mxlFabricsInitiatorAddTarget", in_initiator, in_targetInfo,
        [](InitiatorEndpoint& endpoint, fabric::RegionGrant const& grant) { return endpoint.add(grant); });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsInitiatorRemoveTarget(mxlFabricsInitiator in_initiator, mxlFabricsTargetInfo in_targetInfo)
{
    return initiatorTargetCall("mxlFabricsInitiatorRemoveTarget", in_initiator, in_targetInfo,
        [](InitiatorEndpoint& endpoint, fabric::RegionGrant const& grant) { return endpoint.remove(grant); });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsInitiatorTransferGrain(mxlFabricsInitiator in_initiator, uint64_t in_grainIndex, uint16_t in_startSlice,
    uint16_t in_endSlice)
{
    constexpr auto function = "mxlFabricsInitiatorTransferGrain";
    auto const check = [&] { return in_startSlice > in_endSlice ? refuse(function, "the slice range starts after its end") : MXL_STATUS_OK; };
    return initiatorCall(function, in_initiator, check, [&](InitiatorEndpoint& endpoint) {
        if (endpoint.continuous())
        {
            return refuse(function, "the initiator sends a continuous flow: transfer samples", MXL_ERR_INVALID_STATE);
        }
        return endpoint.transfer(fabric::TransferRequest{in_grainIndex, 0, in_startSlice, in_endSlice});
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsInitiatorTransferSamples(mxlFabricsInitiator in_initiator, uint64_t in_headIndex, size_t in_count)
{
    constexpr auto function = "mxlFabricsInitiatorTransferSamples";
    auto const check = [&] {
        return in_count == 0 || in_count > in_headIndex ? refuse(function, "no samples, or more samples than end before the head index")
                                                        : MXL_STATUS_OK;
    };
    return initiatorCall(function, in_initiator, check, [&](InitiatorEndpoint& endpoint) {
        if (!endpoint.continuous())
        {
            return refuse(function, "the initiator sends a discrete flow: transfer grains", MXL_ERR_INVALID_STATE);
        }
        return endpoint.transfer(fabric::TransferRequest{in_headIndex, in_count, 0, 0});
    });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsInitiatorMakeProgressNonBlocking(mxlFabricsInitiator in_initiator)
{
    return initiatorCall("mxlFabricsInitiatorMakeProgressNonBlocking", in_initiator, nothingToCheck,
        [](InitiatorEndpoint& endpoint) { return endpoint.progress(std::chrono::milliseconds{0}); });
}

extern "C" MXL_EXPORT mxlStatus mxlFabricsInitiatorMakeProgressBlocking(mxlFabricsInitiator in_initiator, uint16_t in_timeoutMs)
{
    return initiatorCall("mxlFabricsInitiatorMakeProgressBlocking", in_initiator, nothingToCheck,
        [&](InitiatorEndpoint& endpoint) { return endpoint.progress(std::chrono::milliseconds{in_timeoutMs}); });
}
