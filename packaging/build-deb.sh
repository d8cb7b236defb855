#!/bin/sh
# Builds the zoneboot Debian package from release binaries linked with --static-swift-stdlib
# (`make package` builds them first): .build/package/zoneboot_<version>_<arch>.deb.
# Depends: the Debian packages owning each shared library the binaries still load (libc,
# libstdc++, libsqlite3 ...), found with ldd and dpkg -S, never the Swift toolchain.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
OUT=${OUT:-.build/package}
VERSION=${VERSION:-0.1.0}
ARCH=$(dpkg --print-architecture)
root="$OUT/root"

for binary in zonebootd zonectl; do
    [ -x "$BIN/$binary" ] || { echo "build-deb: $BIN/$binary is missing: swift build -c release --static-swift-stdlib" >&2; exit 1; }
    if ldd "$BIN/$binary" | grep -q 'libswiftCore\|libFoundation\|/opt/swift'; then
        echo "build-deb: $BIN/$binary loads the Swift runtime; build it with --static-swift-stdlib" >&2; exit 1
    fi
done

rm -rf "$root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/zoneboot" "$root/etc/default" \
    "$root/usr/share/zoneboot/firmware" "$root/usr/share/doc/zoneboot" "$root/var/lib/zoneboot"
install -m 0755 -s "$BIN/zonebootd" "$BIN/zonectl" "$root/usr/bin/"
install -m 0644 packaging/zonebootd.service "$root/lib/systemd/system/zonebootd.service"
install -m 0644 packaging/debian/default "$root/etc/default/zoneboot"
# The example zone as the starting /etc/zoneboot/zone.yaml, with its templates and hooks beside it.
install -m 0644 zones/ams1.yaml "$root/etc/zoneboot/zone.yaml"
cp -r zones/templates zones/hooks "$root/etc/zoneboot/"
install -m 0644 firmware/manifest.json "$root/usr/share/zoneboot/firmware/manifest.json"
install -m 0755 firmware/fetch.py "$root/usr/share/zoneboot/firmware/fetch.py"
install -m 0644 README.md docs/zone-format.md packaging/grafana/zoneboot.json "$root/usr/share/doc/zoneboot/"
# --help as the documentation of each command (no man page toolchain is needed).
"$BIN/zonebootd" --help > "$root/usr/share/doc/zoneboot/zonebootd.txt"
"$BIN/zonectl" --help > "$root/usr/share/doc/zoneboot/zonectl.txt"

depends=$(for binary in zonebootd zonectl; do ldd "$BIN/$binary"; done |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
    while read -r library; do dpkg -S "$(readlink -f "$library")" 2>/dev/null || dpkg -S "$library"; done |
    cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
size=$(du -sk "$root" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$size/" \
    packaging/debian/control > "$root/DEBIAN/control"
install -m 0755 packaging/debian/postinst packaging/debian/postrm "$root/DEBIAN/"
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) > "$root/DEBIAN/conffiles"
mkdir -p "$OUT"
dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT/zoneboot_${VERSION}_${ARCH}.deb"
