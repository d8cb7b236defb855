#!/usr/bin/env bash
# Builds the libFuzzer targets into .build/fuzz/<target>: `fuzz/build.sh [target...]`
# (all of them when none is named). SwiftPM cannot build a fuzzer, so each target is
# its module's own sources compiled by swiftc together with its entry point from
# fuzz/targets, which sees the module's internals. The zone loader's packages (Yams with
# its C part CYaml, swift-mustache) are compiled from SwiftPM's checkouts the same way,
# instrumented too, so the fuzzer also steers through the YAML parser.
# A target is rebuilt only when a file it is built from is newer than it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.build/fuzz
swiftc=${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}
clang=$(dirname "$(readlink -f "$swiftc")")/clang
checkouts=$root/.build/checkouts
# -O as the server ships; overflow and bounds checks stay on (they are the crashes sought).
# lld: ld.gold warns about every ASan symbol it cannot export.
swift_flags=(-O -g -sanitize=fuzzer,address -parse-as-library -use-ld=lld)
all_targets=(dhcp-message relay-agent-information udp-frame tftp-packet zone-loader)

# up_to_date OUTPUT INPUT...: OUTPUT exists and no INPUT (file or folder) has a newer file.
up_to_date() {
    local output=$1; shift
    [ -e "$output" ] || return 1
    [ -z "$(find "$@" -type f -newer "$output" -print -quit)" ]
}

# swift_module NAME LANGUAGE_MODE SOURCE_FOLDER [extra swiftc flags...]: a static
# library and its .swiftmodule for the zone loader's dependencies.
swift_module() {
    local name=$1 mode=$2 folder=$3; shift 3
    up_to_date "$out/lib/lib$name.a" "$folder" "$0" && return
    echo "fuzz/build.sh: compiling $name"
    "$swiftc" "${swift_flags[@]}" -swift-version "$mode" -module-name "$name" -emit-library -static \
        -emit-module -emit-module-path "$out/modules/$name.swiftmodule" -I "$out/modules" "$@" \
        $(find "$folder" -name '*.swift' | sort) -o "$out/lib/lib$name.a"
}

# fuzzer TARGET MODULE ENTRY SOURCE_FOLDER [extra swiftc flags...]
fuzzer() {
    local target=$1 module=$2 entry=$3 folder=$4; shift 4
    local inputs=("$folder" "$root/fuzz/targets/$entry" "$root/fuzz/targets/FuzzCheck.swift" "$0")
    if up_to_date "$out/$target" "${inputs[@]}" && { [ $# = 0 ] || up_to_date "$out/$target" "$out/lib"; }; then
        return
    fi
    echo "fuzz/build.sh: compiling $target"
    "$swiftc" "${swift_flags[@]}" -swift-version 6 -warnings-as-errors -module-name "$module" "$@" \
        $(find "$folder" -name '*.swift' | sort) "$root/fuzz/targets/FuzzCheck.swift" "$root/fuzz/targets/$entry" \
        -o "$out/$target"
}

zone_loader() {
    local cyaml=$checkouts/Yams/Sources/CYaml
    [ -d "$cyaml" ] && [ -d "$checkouts/swift-mustache" ] || {
        echo "fuzz/build.sh: no Yams/swift-mustache in $checkouts: run 'swift package resolve' first" >&2; exit 1; }
    mkdir -p "$out/lib" "$out/modules" "$out/cyaml"
    if ! up_to_date "$out/lib/libCYaml.a" "$cyaml" "$0"; then
        echo "fuzz/build.sh: compiling CYaml"
        for c in "$cyaml"/src/*.c; do
            "$clang" -c -O2 -g -fsanitize=address,fuzzer-no-link -DYAML_DECLARE_STATIC -I "$cyaml/include" \
                "$c" -o "$out/cyaml/$(basename "$c" .c).o"
        done
        rm -f "$out/lib/libCYaml.a"
        "$(dirname "$clang")/llvm-ar" rcs "$out/lib/libCYaml.a" "$out"/cyaml/*.o
    fi
    # SWIFT_PACKAGE: Yams imports CYaml only when built as a package, as here.
    local cyaml_flags=(-D SWIFT_PACKAGE -Xcc -DYAML_DECLARE_STATIC -I "$cyaml/include")
    swift_module Yams 5 "$checkouts/Yams/Sources/Yams" "${cyaml_flags[@]}"
    swift_module Mustache 5 "$checkouts/swift-mustache/Sources/Mustache"
    swift_module Addressing 6 "$root/Sources/Addressing"
    # Zone takes SHA-256 of secret files from swift-crypto: its modules and objects come from
    # the debug build (`make build` runs first), uninstrumented: the fuzzer steers through the
    # zone loader and the YAML parser, not through hashing. Only Crypto's modules are copied
    # beside Yams and Mustache, not the project's own (Zone is compiled here).
    local debug=$root/.build/debug crypto_sources=$checkouts/swift-crypto/Sources
    [ -e "$debug/Modules/Crypto.swiftmodule" ] || {
        echo "fuzz/build.sh: no Crypto module in $debug: run 'swift build' first" >&2; exit 1; }
    mkdir -p "$out/crypto"
    cp -p "$debug/Modules/Crypto.swiftmodule" "$debug/Modules/CryptoBoringWrapper.swiftmodule" "$out/crypto/"
    local crypto_flags=(-I "$out/crypto")
    for c in CCryptoBoringSSL CCryptoBoringSSLShims CXKCP CXKCPShims; do
        crypto_flags+=(-Xcc "-fmodule-map-file=$crypto_sources/$c/include/module.modulemap" -Xcc -I -Xcc "$crypto_sources/$c/include")
    done
    # Word-split like the source lists above: SwiftPM's object paths have no spaces.
    local crypto_objects=($(find "$debug/Crypto.build" "$debug/CryptoBoringWrapper.build" "$debug/CCryptoBoringSSL.build" \
        "$debug/CCryptoBoringSSLShims.build" "$debug/CXKCP.build" "$debug/CXKCPShims.build" -name '*.o' | sort))
    fuzzer zone-loader Zone ZoneLoaderFuzz.swift "$root/Sources/Zone" "${cyaml_flags[@]}" -I "$out/modules" \
        "${crypto_flags[@]}" -L "$out/lib" -lYams -lMustache -lAddressing -lCYaml "${crypto_objects[@]}"
}

mkdir -p "$out"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
    case $target in
    dhcp-message) fuzzer dhcp-message DHCPv4 DHCPMessageFuzz.swift "$root/Sources/DHCPv4" ;;
    relay-agent-information) fuzzer relay-agent-information DHCPv4 RelayAgentInformationFuzz.swift "$root/Sources/DHCPv4" ;;
    udp-frame) fuzzer udp-frame DHCPv4 UDPFrameFuzz.swift "$root/Sources/DHCPv4" ;;
    tftp-packet) fuzzer tftp-packet TFTP TFTPPacketFuzz.swift "$root/Sources/TFTP" ;;
    zone-loader) zone_loader ;;
    *) echo "fuzz/build.sh: unknown target $target (targets: ${all_targets[*]})" >&2; exit 2 ;;
    esac
done
