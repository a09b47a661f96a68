#!/usr/bin/env bash
# The layers, checked: include/mxl (public C API) <- src/base <- src (libmxl) <- fabric (libmxl-fabric)
# <- tools. Nothing includes upward: a file in src/ may not include from fabric/ or tools/, a file in
# fabric/ may not include from tools/. src/base and fabric/ofi (the libfabric wrapper) see only
# src/base of libmxl. An include "X" is resolved the way the build's include paths do: next
# to the including file, then in each layer's roots; it is a violation when it resolves only in a
# layer above. Exit 1 listing every violation, else 0.
set -euo pipefail
cd "$(dirname "$0")/.."

violations=0
# resolves DIR... X: whether X exists under one of the directories.
resolves() {
    local x=${!#} dir
    for dir in "${@:1:$#-1}"; do
        [ -e "$dir/$x" ] && return 0
    done
    return 1
}
check() { # LAYER ALLOWED_ROOTS FORBIDDEN_ROOTS
    local layer=$1 file include
    local -a allowed forbidden
    read -r -a allowed <<< "$2"
    read -r -a forbidden <<< "$3"
    while IFS= read -r -d '' file; do
        while IFS= read -r include; do
            if resolves "$(dirname "$file")" "${allowed[@]}" "$include"; then
                continue
            fi
            if resolves "${forbidden[@]}" "$include"; then
                echo "layering: $file includes \"$include\", which is only in a layer above $layer" >&2
                violations=$((violations + 1))
            fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
    done < <(find "$layer" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.c' \) -print0)
}
toolRoots="tools $(find tools -mindepth 1 -maxdepth 1 -type d | tr '\n' ' ')"
# onlyBase LAYER: of src/, the files in LAYER include only src/base ("base/...").
onlyBase() {
    local file include
    while IFS= read -r -d '' file; do
        while IFS= read -r include; do
            if [ -e "src/$include" ] && [ "${include#base/}" = "$include" ] && [ ! -e "$(dirname "$file")/$include" ]; then
                echo "layering: $file includes \"$include\" from libmxl, where only src/base is allowed" >&2
                violations=$((violations + 1))
            fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
    done < <(find "$1" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.c' \) -print0)
}
onlyBase src/base
onlyBase fabric/ofi
check src/base "src include" "fabric $toolRoots"
check src "src include" "fabric $toolRoots"
check fabric "fabric src include" "$toolRoots"
if [ "$violations" -ne 0 ]; then
    echo "layering: $violations include(s) point upward" >&2
    exit 1
fi
echo "layering: src/base, src, fabric/ofi and fabric include nothing from the layers above them"
