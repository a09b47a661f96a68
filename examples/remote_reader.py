#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reads a flow of another host through this host's mxl-fabric-bridge, from Python.

Nothing compiled: ctypes over libmxl (flows) and libmxl-fabric (remote flows, mxl/remote.h).
The script asks the bridge for the flow named by an mxl:// URI, reads grains from its local
mirror as they arrive, prints one JSON line per grain (index, size, SHA-256 of the payload),
and releases the lease.

    python3 examples/remote_reader.py --domain /dev/shm/mxl \\
        --uri mxl://10.0.0.1:7400/5fbec3b1-1b0f-417d-9059-8b94a47197ed --grains 120

The libraries are found in --lib-dir (or $MXL_LIB_DIR), else by the dynamic loader (installed,
or LD_LIBRARY_PATH).
Exit codes: 0 done, 1 the flow could not be acquired or read, 2 bad arguments,
3 the mirror went away while reading (MXL_ERR_FLOW_INVALID: the bridge stopped or restarted).
"""

import argparse
import ctypes
import hashlib
import json
import os
import sys
import time

# mxlStatus values (mxl/mxl.h).
STATUS_NAMES = {
    0: "MXL_STATUS_OK",
    1: "MXL_ERR_UNKNOWN",
    2: "MXL_ERR_FLOW_NOT_FOUND",
    3: "MXL_ERR_OUT_OF_RANGE_TOO_LATE",
    4: "MXL_ERR_OUT_OF_RANGE_TOO_EARLY",
    7: "MXL_ERR_TIMEOUT",
    8: "MXL_ERR_INVALID_ARG",
    10: "MXL_ERR_PERMISSION_DENIED",
    11: "MXL_ERR_FLOW_INVALID",
    1026: "MXL_ERR_NO_FABRIC",
    1027: "MXL_ERR_INVALID_STATE",
    1028: "MXL_ERR_INTERNAL",
    1029: "MXL_ERR_NOT_READY",
    1030: "MXL_ERR_NOT_FOUND",
}
OK = 0
TOO_LATE = 3
TOO_EARLY = 4
TIMEOUT = 7
FLOW_INVALID = 11

FORMAT_AUDIO = 2


class Rational(ctypes.Structure):
    _fields_ = [("numerator", ctypes.c_int64), ("denominator", ctypes.c_int64)]


class CommonConfig(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint8 * 16),
        ("format", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("grainRate", Rational),
        ("maxCommitBatchSizeHint", ctypes.c_uint32),
        ("maxSyncBatchSizeHint", ctypes.c_uint32),
        ("payloadLocation", ctypes.c_uint32),
        ("deviceIndex", ctypes.c_int32),
        ("reserved", ctypes.c_uint8 * 72),
    ]


class DiscreteConfig(ctypes.Structure):
    _fields_ = [("sliceSizes", ctypes.c_uint32 * 4), ("grainCount", ctypes.c_uint32), ("reserved", ctypes.c_uint8 * 44)]


class FlowConfigInfo(ctypes.Structure):
    # The union of mxlFlowConfigInfo: this reader only follows discrete flows (video, data).
    _fields_ = [("common", CommonConfig), ("discrete", DiscreteConfig)]


class FlowRuntimeInfo(ctypes.Structure):
    _fields_ = [
        ("headIndex", ctypes.c_uint64),
        ("lastWriteTime", ctypes.c_uint64),
        ("lastReadTime", ctypes.c_uint64),
        ("reserved", ctypes.c_uint8 * 40),
    ]


class GrainInfo(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("index", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("grainSize", ctypes.c_uint32),
        ("totalSlices", ctypes.c_uint16),
        ("validSlices", ctypes.c_uint16),
        ("reserved", ctypes.c_uint8 * 4068),
    ]


# The C layout, checked as the C header checks it: a mismatch here would read garbage.
assert ctypes.sizeof(CommonConfig) == 128 and ctypes.sizeof(DiscreteConfig) == 64
assert ctypes.sizeof(FlowRuntimeInfo) == 64 and ctypes.sizeof(GrainInfo) == 4096

GRAIN_FLAG_INVALID = 0x1


def load(lib_dirs):
    """libmxl, then libmxl-fabric (which needs it), with their signatures."""

    def open_library(name):
        for directory in (lib_dirs or "").split(os.pathsep):
            path = os.path.join(directory, name)
            if directory and os.path.exists(path):
                return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        return ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)

    mxl = open_library("libmxl.so")
    fabric = open_library("libmxl-fabric.so")
    handle = ctypes.c_void_p
    status = ctypes.c_int

    mxl.mxlCreateInstance.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    mxl.mxlCreateInstance.restype = handle
    mxl.mxlDestroyInstance.argtypes = [handle]
    mxl.mxlDestroyInstance.restype = status
    mxl.mxlCreateFlowReader.argtypes = [handle, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(handle)]
    mxl.mxlCreateFlowReader.restype = status
    mxl.mxlReleaseFlowReader.argtypes = [handle, handle]
    mxl.mxlReleaseFlowReader.restype = status
    mxl.mxlFlowReaderGetConfigInfo.argtypes = [handle, ctypes.POINTER(FlowConfigInfo)]
    mxl.mxlFlowReaderGetConfigInfo.restype = status
    mxl.mxlFlowReaderGetRuntimeInfo.argtypes = [handle, ctypes.POINTER(FlowRuntimeInfo)]
    mxl.mxlFlowReaderGetRuntimeInfo.restype = status
    mxl.mxlFlowReaderGetGrain.argtypes = [
        handle, ctypes.c_uint64, ctypes.c_uint64, ctypes.POINTER(GrainInfo), ctypes.POINTER(ctypes.POINTER(ctypes.c_uint8))]
    mxl.mxlFlowReaderGetGrain.restype = status

    fabric.mxlAcquireRemoteFlow.argtypes = [handle, ctypes.c_char_p, ctypes.c_uint32, ctypes.POINTER(handle)]
    fabric.mxlAcquireRemoteFlow.restype = status
    fabric.mxlReleaseRemoteFlow.argtypes = [handle, handle]
    fabric.mxlReleaseRemoteFlow.restype = status
    return mxl, fabric


def name(status):
    return STATUS_NAMES.get(status, f"status {status}")


def emit(record):
    print(json.dumps(record), flush=True)


def follow(mxl, reader, grains, timeout_s):
    """Reads `grains` complete grains from the head on; returns the exit code."""
    config = FlowConfigInfo()
    status = mxl.mxlFlowReaderGetConfigInfo(reader, ctypes.byref(config))
    if status != OK:
        print(f"remote_reader: the mirror's configuration: {name(status)}", file=sys.stderr)
        return 1
    if config.common.format == FORMAT_AUDIO:
        print("remote_reader: this example reads discrete flows (video, data), not audio", file=sys.stderr)
        return 2

    runtime = FlowRuntimeInfo()
    deadline = time.monotonic() + timeout_s
    # The mirror exists before its first grain lands: wait for a head.
    while True:
        status = mxl.mxlFlowReaderGetRuntimeInfo(reader, ctypes.byref(runtime))
        if status == FLOW_INVALID:
            return 3
        if status == OK and runtime.headIndex != 0xFFFFFFFFFFFFFFFF and runtime.lastWriteTime != 0:
            break
        if time.monotonic() > deadline:
            print("remote_reader: no grain arrived in the mirror in time", file=sys.stderr)
            return 1
        time.sleep(0.01)

    info = GrainInfo()
    payload = ctypes.POINTER(ctypes.c_uint8)()
    index = runtime.headIndex + 1
    done = 0
    while done < grains:
        status = mxl.mxlFlowReaderGetGrain(reader, index, int(1e9), ctypes.byref(info), ctypes.byref(payload))
        if status == OK:
            data = ctypes.string_at(payload, info.grainSize)
            emit({"index": index, "size": info.grainSize,
                  "invalid": bool(info.flags & GRAIN_FLAG_INVALID), "sha256": hashlib.sha256(data).hexdigest()})
            done += 1
            index += 1
        elif status == TOO_LATE:
            # This reader fell a ring behind (a slow machine): go on from the newest grain.
            mxl.mxlFlowReaderGetRuntimeInfo(reader, ctypes.byref(runtime))
            emit({"skipped_to": runtime.headIndex, "from": index})
            index = runtime.headIndex
        elif status in (TOO_EARLY, TIMEOUT):
            if time.monotonic() > deadline + grains:
                print("remote_reader: grains stopped arriving", file=sys.stderr)
                return 1
        elif status == FLOW_INVALID:
            print("remote_reader: the mirror went away (MXL_ERR_FLOW_INVALID): the bridge stopped or restarted", file=sys.stderr)
            return 3
        else:
            print(f"remote_reader: reading grain {index}: {name(status)}", file=sys.stderr)
            return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description="Reads a remote flow through the local mxl-fabric-bridge (ctypes, no compiled code).")
    parser.add_argument("--domain", required=True, help="this host's MXL domain (served by mxl-fabric-bridge)")
    parser.add_argument("--uri", required=True, help="mxl://HOST[:PORT]/FLOW-ID")
    parser.add_argument("--grains", type=int, default=60, help="grains to read (default 60)")
    parser.add_argument("--timeout-ms", type=int, default=5000, help="how long the bridge may take to mirror it (default 5000)")
    parser.add_argument("--lib-dir", default=os.environ.get("MXL_LIB_DIR"), help="directories (separated by ':') holding libmxl.so and libmxl-fabric.so")
    args = parser.parse_args()

    mxl, fabric = load(args.lib_dir)
    instance = mxl.mxlCreateInstance(args.domain.encode(), b"")
    if not instance:
        print(f"remote_reader: cannot open domain {args.domain}", file=sys.stderr)
        return 1
    remote = ctypes.c_void_p()
    status = fabric.mxlAcquireRemoteFlow(instance, args.uri.encode(), args.timeout_ms, ctypes.byref(remote))
    if status != OK:
        print(f"remote_reader: cannot acquire {args.uri}: {name(status)}", file=sys.stderr)
        mxl.mxlDestroyInstance(instance)
        return 1
    flow_id = args.uri.rstrip("/").rsplit("/", 1)[-1]
    emit({"acquired": args.uri, "flow": flow_id})
    reader = ctypes.c_void_p()
    code = 1
    status = mxl.mxlCreateFlowReader(instance, flow_id.encode(), b"", ctypes.byref(reader))
    if status != OK:
        print(f"remote_reader: cannot read the mirror of {flow_id}: {name(status)}", file=sys.stderr)
    else:
        code = follow(mxl, reader, args.grains, args.timeout_ms / 1000)
        mxl.mxlReleaseFlowReader(instance, reader)
    status = fabric.mxlReleaseRemoteFlow(instance, remote)
    if status != OK and code == 0:
        print(f"remote_reader: releasing the lease: {name(status)}", file=sys.stderr)
        code = 1
    emit({"released": args.uri})
    mxl.mxlDestroyInstance(instance)
    return code


if __name__ == "__main__":
    sys.exit(main())
