# shellcheck shell=bash
# Debian 12 packages the project needs, and a function that installs the missing ones.
# Sourced by ci/test.sh and ci/demo.sh.

MXL_PACKAGES=(
    build-essential cmake pkg-config git
    libfabric-dev libfabric-bin
    nlohmann-json3-dev libspdlog-dev libfmt-dev
    libboost-program-options-dev libcpp-httplib-dev
    libgtest-dev libgmock-dev
    libssl-dev libpng-dev
    iproute2 nftables
    python3
)

mxl_install_packages() {
    local missing=()
    local pkg
    for pkg in "${MXL_PACKAGES[@]}" "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    echo "== installing Debian packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "error: packages ${missing[*]} are missing and this user is not root (and has no sudo)" >&2
            return 1
        fi
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
