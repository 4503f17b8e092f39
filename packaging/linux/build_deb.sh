#!/usr/bin/env bash
# Build portwatch_<version>_<arch>.deb from a PyInstaller bundle, with dpkg-deb.
#
#     packaging/linux/build_deb.sh BUNDLE_DIR ICONS_DIR OUT_DIR
#
# BUNDLE_DIR: dist/portwatch from packaging/portwatch.spec, cleaned by clean_bundle.sh;
# ICONS_DIR: the output of resources/render_icons.py (the spec leaves it in
# <workpath>/icons). The files are laid out by stage.sh. Depends: the versions
# dpkg-shlibdeps finds for the system libraries the bundle links to, plus every
# package of the runtime list (packaging/linux/runtime-packages.txt), which Qt
# loads at run time without linking to it. No maintainer scripts: the icon cache
# and the desktop database are refreshed by dpkg triggers.
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 BUNDLE_DIR ICONS_DIR OUT_DIR" >&2
    exit 2
fi
bundle=$(realpath "$1")
icons=$(realpath "$2")
out=$(realpath -m "$3")
repo=$(realpath "$(dirname "$0")/../..")
arch=$(dpkg --print-architecture)
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
version=$("$repo/packaging/linux/stage.sh" "$bundle" "$icons" "$root" | tail -n1)

# Versioned dependencies of every ELF file; the bundle's own folders are its own
# libraries. dpkg-shlibdeps wants a debian/control beside it.
internal="$root/usr/lib/portwatch/_internal"
mkdir -p "$stage/src/debian"
touch "$stage/src/debian/control"
mapfile -t elfs < <(
    find "$root/usr/lib/portwatch" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
        xargs -0 file --no-pad --separator '|' | awk -F'|' '/ELF/ {print $1}' | sort
)
shlibs=$(
    cd "$stage/src" &&
        dpkg-shlibdeps -O --ignore-missing-info -l"$internal" -l"$internal/PySide6/Qt/lib" \
            -l"$internal/shiboken6" "${elfs[@]}" 2>/dev/null |
        sed -n 's/^shlibs:Depends=//p'
)
[ -n "$shlibs" ] || { echo "$0: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
depends=$(
    {
        tr ',' '\n' <<<"$shlibs" | sed 's/^ *//; s/ *$//'
        grep -hv '^[[:space:]]*\(#\|$\)' "$repo/packaging/linux/runtime-packages.txt" |
            while read -r package; do
                grep -q "^$package\( \|$\)" <<<"$(tr ',' '\n' <<<"$shlibs" | sed 's/^ *//')" ||
                    echo "$package"
            done
    } | sort -u | paste -sd, | sed 's/,/, /g'
)

installed_kb=$(du -sk "$root" | cut -f1)
mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: portwatch
Version: $version
Architecture: $arch
Maintainer: portwatch developers <portwatch@users.noreply.github.com>
Installed-Size: $installed_kb
Depends: $depends
Recommends: hicolor-icon-theme, desktop-file-utils
Section: net
Priority: optional
Homepage: https://github.com/portwatch/portwatch
Description: calm system-tray port monitor
 portwatch shows which programs listen on which ports, since when, and how
 exposed each one is (this machine only, the local network, or the internet).
 It sits in the system tray, notifies when a port is bound or freed, and has a
 command line (portwatch list, who, watch).
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z |
    xargs -0 md5sum | sed 's| \./| |') > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
touch -d "@$SOURCE_DATE_EPOCH" "$root/DEBIAN" "$root/DEBIAN"/*

mkdir -p "$out"
deb="$out/portwatch_${version}_${arch}.deb"
# xz reads everywhere (zstd needs dpkg >= 1.21.18); DEB_COMPRESSION can trade size for time.
# shellcheck disable=SC2086
dpkg-deb --root-owner-group ${DEB_COMPRESSION:--Zxz -z6} --build "$root" "$deb" >/dev/null
echo "$deb"
