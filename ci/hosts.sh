# shellcheck shell=bash
# Two "hosts" on one machine for the demo, the bridge benchmark and the soak: network namespaces
# joined by a veth pair, and the helpers their scripts share. Sourced by ci/demo.sh,
# ci/bench-bridge.sh and ci/soak.sh.

# mxl_make_two_hosts NS_A NS_B VETH_A VETH_B ADDRESS_A ADDRESS_B: two namespaces, each with loopback
# up and one end of a veth pair carrying its address (/24).
mxl_make_two_hosts() {
    local nsA=$1 nsB=$2 vethA=$3 vethB=$4 addressA=$5 addressB=$6 ns
    ip netns add "$nsA"
    ip netns add "$nsB"
    ip link add name "$vethA" netns "$nsA" type veth peer name "$vethB" netns "$nsB"
    ip -n "$nsA" addr add "$addressA/24" dev "$vethA"
    ip -n "$nsB" addr add "$addressB/24" dev "$vethB"
    for ns in "$nsA" "$nsB"; do
        ip -n "$ns" link set lo up
    done
    ip -n "$nsA" link set "$vethA" up
    ip -n "$nsB" link set "$vethB" up
}

# mxl_stop_pid PID: SIGTERM, up to 5 s to go, then SIGKILL; reaps it. Never fails.
mxl_stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# mxl_wait_for SECONDS COMMAND...: runs the command (quietly) every 50 ms until it succeeds; fails
# after SECONDS.
mxl_wait_for() {
    local seconds=$1
    shift
    for _ in $(seq $((seconds * 20))); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# mxl_show_logs DIR: the last lines of every log in DIR (after a failure).
mxl_show_logs() {
    local log
    for log in "$1"/*.log; do
        [ -f "$log" ] && { echo "---- $(basename "$log")"; tail -20 "$log"; }
    done
    return 0
}

# mxl_clean_up STATUS WORK NS_A NS_B PID...: stops the processes in the order given (each bridge
# removes its mirrors and status on SIGTERM), prints WORK's logs when STATUS is not 0, and removes the
# two namespaces. The caller removes its own files.
mxl_clean_up() {
    local status=$1 work=$2 nsA=$3 nsB=$4 pid
    shift 4
    for pid in "$@"; do
        mxl_stop_pid "$pid"
    done
    if [ "$status" -ne 0 ]; then
        mxl_show_logs "$work"
    fi
    ip netns del "$nsA" 2>/dev/null
    ip netns del "$nsB" 2>/dev/null
    return 0
}

# mxl_build_tools BUILD TESTS TARGET...: configures BUILD once (RelWithDebInfo, MXL_BUILD_TESTS=TESTS)
# and builds the targets; on failure prints the end of the log and exits 1.
mxl_build_tools() {
    local build=$1 tests=$2
    shift 2
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXL_BUILD_TESTS="$tests" > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
    fi
    cmake --build "$build" -j "$(nproc)" --target "$@" > "$build.build.log" 2>&1 || { tail -40 "$build.build.log"; exit 1; }
}
