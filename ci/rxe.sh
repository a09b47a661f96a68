#!/usr/bin/env bash
# Soft-RoCE: runs the two-host bridge tests again over the verbs provider, on rxe devices that the
# test harness puts on each namespace's veth, where the kernel can make them (rdma_rxe). Where it
# cannot, says why and succeeds: ctest already ran the same tests over tcp.
# Usage: ./ci/rxe.sh [BUILD_DIR]   (default build/ci; built with the tests, as ci/test.sh does)
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/packages.sh
mxl_install_packages rdma-core ibverbs-providers iproute2 kmod

build=${1:-build/ci}
tests='^TwoHostBridge\.'

# Can this kernel make an rxe device on a veth inside a network namespace, as the tests will?
probe() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "this user is not root"
        return
    fi
    if ! command -v rdma >/dev/null 2>&1; then
        echo "the rdma tool is missing"
        return
    fi
    if ! modprobe rdma_rxe >/dev/null 2>&1 && [ ! -d /sys/module/rdma_rxe ]; then
        echo "the rdma_rxe module is neither loaded nor loadable"
        return
    fi
    local ns=mxlrxe$$ out
    if ! out=$(ip netns add "${ns}a" 2>&1 && ip netns add "${ns}b" 2>&1 &&
        ip link add name "mxrxe$$a" netns "${ns}a" type veth peer name "mxrxe$$b" netns "${ns}b" 2>&1 &&
        ip -n "${ns}a" link set "mxrxe$$a" up 2>&1); then
        echo "no scratch namespace pair: ${out//$'\n'/ }"
        return
    fi
    if ! out=$(ip netns exec "${ns}a" rdma link add mxlrxe0 type rxe netdev "mxrxe$$a" 2>&1); then
        echo "rdma link add mxlrxe0 type rxe netdev mxrxe$$a: ${out//$'\n'/ }"
    fi
}

cleanupProbe() {
    local ns=mxlrxe$$
    if [ -d "/run/netns/${ns}a" ]; then
        ip netns exec "${ns}a" rdma link delete mxlrxe0 >/dev/null 2>&1 || true
    fi
    ip netns del "${ns}a" >/dev/null 2>&1 || true
    ip netns del "${ns}b" >/dev/null 2>&1 || true
}
trap cleanupProbe EXIT

reason=$(probe)
cleanupProbe
if [ -n "$reason" ]; then
    echo "rxe: Soft-RoCE is not available on this kernel ($reason); the two-host bridge tests ran on the tcp provider only"
    exit 0
fi

echo "== rxe: the two-host bridge tests over the verbs provider on Soft-RoCE"
MXL_TEST_BRIDGE_PROVIDER=verbs ctest --test-dir "$build" --output-on-failure --timeout 300 -R "$tests"
