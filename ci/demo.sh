#!/usr/bin/env bash
# The demo: installs what is missing (Debian 12), builds, and replicates a live 1080p60 v210 flow
# with stereo audio from host A to host B. Two network namespaces joined by a veth pair stand in for
# the hosts; each has its own domain and its own mxl-fabric-bridge, sharing a random pre-shared key.
# B's readers see the flows under the same ids, with the same grain indices. Runs as root (it makes
# network namespaces); everything it makes is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "error: the demo makes network namespaces (ip netns) and must run as root: sudo ./ci/demo.sh" >&2
    exit 1
fi
source ci/packages.sh
source ci/hosts.sh
mxl_install_packages

build=build/demo
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXL_BUILD_TESTS=OFF > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target mxl-fabric-bridge mxl-gen mxl-info
bridge=$build/tools/mxl-fabric-bridge/mxl-fabric-bridge
gen=$build/tools/mxl-gen/mxl-gen
info=$build/tools/mxl-info/mxl-info

nsA=mxldemo$$a
nsB=mxldemo$$b
addressA=10.201.0.1
addressB=10.201.0.2
port=7400
work=$(mktemp -d /tmp/mxl-demo-XXXXXX)
domainA=$(mktemp -d /dev/shm/mxl-demo-a-XXXXXX)
domainB=$(mktemp -d /dev/shm/mxl-demo-b-XXXXXX)
key=$work/bridge.key
pids=()

cleanup() {
    local status=$?
    set +e
    # The source first, then the bridges.
    mxl_clean_up "$status" "$work" "$nsA" "$nsB" "${pids[@]}"
    rm -rf "$domainA" "$domainB" "$work"
}
trap cleanup EXIT

echo
echo "== Two hosts: network namespaces $nsA ($addressA) and $nsB ($addressB), joined by a veth pair"
mxl_make_two_hosts "$nsA" "$nsB" "mxd$$a" "mxd$$b" "$addressA" "$addressB"

(umask 077 && head -c 32 /dev/urandom > "$key")
video=$(cat /proc/sys/kernel/random/uuid)
audio=$(cat /proc/sys/kernel/random/uuid)
echo "   domains: A $domainA, B $domainB; pre-shared key $key (32 random bytes, mode 0600)"
echo "   flows: video $video (1920x1080 v210, 60 Hz), audio $audio (2 channels, float32, 48 kHz)"

echo
echo "== Bridge A exports its flows; bridge B imports the video and the audio from A"
ip netns exec "$nsA" "$bridge" --domain "$domainA" --listen "$addressA:$port" --psk-file "$key" 2> "$work/bridge-a.log" &
pids+=($!)
ip netns exec "$nsB" "$bridge" --domain "$domainB" --listen "$addressB:$port" --psk-file "$key" \
    --import "$addressA:$port/$video" --import "$addressA:$port/$audio" 2> "$work/bridge-b.log" &
pids+=($!)

echo "== mxl-gen on A: colour bars with a moving timecode, and a tone"
ip netns exec "$nsA" "$gen" --domain "$domainA" --video 1920x1080 --rate 60 --audio 2 --flow-id "$video" --audio-flow-id "$audio" \
    > "$work/mxl-gen.log" 2>&1 &
pids=("$!" "${pids[@]}")

bridgeView=false
if "$info" --help | grep -q -- --bridge; then
    bridgeView=true
fi
mirrorsActive() {
    local id status
    for id in "$video" "$audio"; do
        [ -d "$domainB/$id.mxl-flow" ] || return 1
    done
    if $bridgeView; then
        status=$("$info" --domain "$domainB" --bridge --json) || return 1
        [ "$(grep -oE '"state": ?"active"' <<< "$status" | wc -l)" -ge 2 ] || return 1
    fi
}
if ! mxl_wait_for 30 mirrorsActive; then
    echo "error: B's mirrors did not become active within 30 s" >&2
    "$info" --domain "$domainB" || true
    exit 1
fi
sleep 2

echo
echo "== mxl-info on B: the mirrors, their replication latency and lag"
"$info" --domain "$domainB"
# Said once is enough (e.g. the kernel's TAI offset not being set).
export MXL_LOG_LEVEL=error
if $bridgeView; then
    echo
    echo "== mxl-info --bridge on B: peers and replicated flows"
    "$info" --domain "$domainB" --bridge
fi

snapshot=$(realpath "$build")/demo-snapshot.png
"$info" --domain "$domainB" --snapshot "$video" --output "$snapshot"
echo
echo "== The newest complete frame received on B: $snapshot"
