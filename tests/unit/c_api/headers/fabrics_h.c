/* SPDX-License-Identifier: Apache-2.0 */
/* What MXL declares in mxl/fabrics.h (API version 0), through that header alone: every function
 * with its exact signature, the enum values, and the fields of each struct in MXL's order. One call
 * into libmxl-fabric shows that it links. */
#include <mxl/fabrics.h>

#include <stddef.h>

#include "check.h"

HEADER_CHECK(fabricsHeader)
{
    mxlStatus (*createInstance)(mxlInstance, char const*, mxlFabricsInstance*) = &mxlFabricsCreateInstance;
    mxlStatus (*destroyInstance)(mxlFabricsInstance) = &mxlFabricsDestroyInstance;
    mxlStatus (*getInterfaces)(mxlFabricsInstance, mxlFabricsInterfaceConfig const*, mxlFabricsInterfaceList**) = &mxlFabricsGetInterfaces;
    mxlStatus (*freeInterfaces)(mxlFabricsInterfaceList*) = &mxlFabricsFreeInterfaceList;
    mxlStatus (*createTarget)(mxlFabricsInstance, mxlFabricsTarget*) = &mxlFabricsCreateTarget;
    mxlStatus (*destroyTarget)(mxlFabricsInstance, mxlFabricsTarget) = &mxlFabricsDestroyTarget;
    mxlStatus (*targetSetup)(mxlFabricsTarget, mxlFabricsTargetConfig const*, char const*, mxlFabricsTargetInfo*) = &mxlFabricsTargetSetup;
    mxlStatus (*readGrainNow)(mxlFabricsTarget, uint64_t*) = &mxlFabricsTargetReadGrainNonBlocking;
    mxlStatus (*readGrain)(mxlFabricsTarget, uint16_t, uint64_t*) = &mxlFabricsTargetReadGrain;
    mxlStatus (*readSamplesNow)(mxlFabricsTarget, uint64_t*, size_t*) = &mxlFabricsTargetReadSamplesNonBlocking;
    mxlStatus (*readSamples)(mxlFabricsTarget, uint16_t, uint64_t*, size_t*) = &mxlFabricsTargetReadSamples;
    mxlStatus (*createInitiator)(mxlFabricsInstance, mxlFabricsInitiator*) = &mxlFabricsCreateInitiator;
    mxlStatus (*destroyInitiator)(mxlFabricsInstance, mxlFabricsInitiator) = &mxlFabricsDestroyInitiator;
    mxlStatus (*initiatorSetup)(mxlFabricsInitiator, mxlFabricsInitiatorConfig const*, char const*) = &mxlFabricsInitiatorSetup;
    mxlStatus (*addTarget)(mxlFabricsInitiator, mxlFabricsTargetInfo) = &mxlFabricsInitiatorAddTarget;
    mxlStatus (*removeTarget)(mxlFabricsInitiator, mxlFabricsTargetInfo) = &mxlFabricsInitiatorRemoveTarget;
    mxlStatus (*transferGrain)(mxlFabricsInitiator, uint64_t, uint16_t, uint16_t) = &mxlFabricsInitiatorTransferGrain;
    mxlStatus (*transferSamples)(mxlFabricsInitiator, uint64_t, size_t) = &mxlFabricsInitiatorTransferSamples;
    mxlStatus (*progressNow)(mxlFabricsInitiator) = &mxlFabricsInitiatorMakeProgressNonBlocking;
    mxlStatus (*progress)(mxlFabricsInitiator, uint16_t) = &mxlFabricsInitiatorMakeProgressBlocking;
    mxlStatus (*providerFromString)(char const*, mxlFabricsProvider*) = &mxlFabricsProviderFromString;
    mxlStatus (*providerToString)(mxlFabricsProvider, char*, size_t*) = &mxlFabricsProviderToString;
    mxlStatus (*infoToString)(mxlFabricsTargetInfo, char*, size_t*) = &mxlFabricsTargetInfoToString;
    mxlStatus (*infoFromString)(char const*, mxlFabricsTargetInfo*) = &mxlFabricsTargetInfoFromString;
    mxlStatus (*freeInfo)(mxlFabricsTargetInfo) = &mxlFabricsFreeTargetInfo;
    void const* const all[] = {(void const*)&createInstance, (void const*)&destroyInstance, (void const*)&getInterfaces,
        (void const*)&freeInterfaces, (void const*)&createTarget, (void const*)&destroyTarget, (void const*)&targetSetup,
        (void const*)&readGrainNow, (void const*)&readGrain, (void const*)&readSamplesNow, (void const*)&readSamples,
        (void const*)&createInitiator, (void const*)&destroyInitiator, (void const*)&initiatorSetup, (void const*)&addTarget,
        (void const*)&removeTarget, (void const*)&transferGrain, (void const*)&transferSamples, (void const*)&progressNow,
        (void const*)&progress, (void const*)&providerFromString, (void const*)&providerToString, (void const*)&infoToString,
        (void const*)&infoFromString, (void const*)&freeInfo};
    volatile unsigned count = sizeof all / sizeof all[0];

    mxlFabricsInterfaceConfig config;
    mxlFabricsInterfaceList entry;
    mxlFabricsTargetConfig target;
    mxlFabricsInitiatorConfig initiator;
    config.version = MXL_FABRICS_API_VERSION;
    config.provider = MXL_FABRICS_PROVIDER_TCP;
    config.caps.version = MXL_FABRICS_API_VERSION;
    config.caps.flags = MXL_FABRICS_IFACE_CAP_REMOTE_WRITE;
    config.caps.maxMessageSize = 1;
    config.address.node = "127.0.0.1";
    config.address.service = "0";
    config.attr = NULL;
    entry.next = NULL;
    entry.interface = config;
    target.version = MXL_FABRICS_API_VERSION;
    target.interface = entry.interface;
    target.writer = NULL;
    initiator.version = MXL_FABRICS_API_VERSION;
    initiator.interface = target.interface;
    initiator.reader = NULL;

    /* Field order as MXL declares it. */
    int const ordered = offsetof(mxlFabricsEndpointAddress, node) < offsetof(mxlFabricsEndpointAddress, service) &&
                        offsetof(mxlFabricsInterfaceCaps, version) < offsetof(mxlFabricsInterfaceCaps, flags) &&
                        offsetof(mxlFabricsInterfaceCaps, flags) < offsetof(mxlFabricsInterfaceCaps, maxMessageSize) &&
                        offsetof(mxlFabricsInterfaceConfig, version) < offsetof(mxlFabricsInterfaceConfig, provider) &&
                        offsetof(mxlFabricsInterfaceConfig, provider) < offsetof(mxlFabricsInterfaceConfig, caps) &&
                        offsetof(mxlFabricsInterfaceConfig, caps) < offsetof(mxlFabricsInterfaceConfig, address) &&
                        offsetof(mxlFabricsInterfaceConfig, address) < offsetof(mxlFabricsInterfaceConfig, attr) &&
                        offsetof(mxlFabricsInterfaceList, next) < offsetof(mxlFabricsInterfaceList, interface) &&
                        offsetof(mxlFabricsTargetConfig, version) < offsetof(mxlFabricsTargetConfig, interface) &&
                        offsetof(mxlFabricsTargetConfig, interface) < offsetof(mxlFabricsTargetConfig, writer) &&
                        offsetof(mxlFabricsInitiatorConfig, version) < offsetof(mxlFabricsInitiatorConfig, interface) &&
                        offsetof(mxlFabricsInitiatorConfig, interface) < offsetof(mxlFabricsInitiatorConfig, reader);
    int const values = MXL_FABRICS_API_VERSION == 0 && MXL_FABRICS_PROVIDER_ANY == 0 && MXL_FABRICS_PROVIDER_TCP == 1 &&
                       MXL_FABRICS_PROVIDER_VERBS == 2 && MXL_FABRICS_PROVIDER_EFA == 3 && MXL_FABRICS_PROVIDER_SHM == 4 &&
                       MXL_FABRICS_FLAG(3) == 8 && MXL_FABRICS_IFACE_CAP_BLOCKING_OPERATIONS == 1 &&
                       MXL_FABRICS_IFACE_CAP_REMOTE_WRITE == 2 && MXL_FABRICS_IFACE_CAP_SEND_RECEIVE == 4;

    size_t size = 0;
    mxlFabricsProvider provider = MXL_FABRICS_PROVIDER_ANY;
    int const linked = mxlFabricsProviderToString(MXL_FABRICS_PROVIDER_VERBS, NULL, &size) == MXL_STATUS_OK && size == 6 &&
                       mxlFabricsProviderFromString("shm", &provider) == MXL_STATUS_OK && provider == MXL_FABRICS_PROVIDER_SHM;

    return count == 25 && ordered && values && linked && initiator.interface.caps.flags == 2 && initiator.interface.address.service[0] == '0'
               ? 0
               : 1;
}
