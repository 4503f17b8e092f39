#!/usr/bin/env bash
# Build portwatch_<version>_<arch>.deb from a PyInstaller bundle, with dpkg-deb only.
#
#     packaging/linux/build_deb.sh BUNDLE_DIR ICONS_DIR OUT_DIR
#
# BUNDLE_DIR: dist/portwatch from packaging/portwatch.spec; ICONS_DIR: the output of
# resources/render_icons.py (the spec leaves it in <workpath>/icons).
# Installs the bundle to /opt/portwatch, /usr/bin/portwatch, the desktop entry,
# hicolor icons and AppStream metadata. No maintainer scripts: the icon cache and
# the desktop database are refreshed by the dpkg triggers of hicolor-icon-theme
# and desktop-file-utils.
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 BUNDLE_DIR ICONS_DIR OUT_DIR" >&2
    exit 2
fi
bundle=$(realpath "$1")
icons=$(realpath "$2")
out=$(realpath -m "$3")
repo=$(realpath "$(dirname "$0")/../..")
app_id=io.github.portwatch.Portwatch

[ -x "$bundle/portwatch" ] || { echo "$0: no executable $bundle/portwatch" >&2; exit 1; }
[ -f "$icons/hicolor/48x48/apps/$app_id.png" ] || { echo "$0: no icons in $icons" >&2; exit 1; }

# The bundle says its own version ("portwatch 0.1.0").
version=$("$bundle/portwatch" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
    "$root/usr/share/metainfo" "$root/usr/share/icons" "$root/usr/share/doc/portwatch"

cp -a "$bundle" "$root/opt/portwatch"
ln -s /opt/portwatch/portwatch "$root/usr/bin/portwatch"
install -m 0644 "$repo/resources/linux/$app_id.desktop" "$root/usr/share/applications/"
install -m 0644 "$repo/resources/linux/$app_id.metainfo.xml" "$root/usr/share/metainfo/"
cp -r "$icons/hicolor" "$root/usr/share/icons/hicolor"
cat > "$root/usr/share/doc/portwatch/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: portwatch
Source: https://github.com/portwatch/portwatch

Files: *
License: MIT

Files: opt/portwatch/_internal/PySide6/* opt/portwatch/_internal/shiboken6/*
Copyright: The Qt Company Ltd.
License: LGPL-3.0-only
COPYRIGHT

# System libraries the bundle loads from the machine rather than carrying them
# (ldd over every ELF file, resolved outside the bundle), mapped to their packages.
lib_path="$root/opt/portwatch/_internal:$root/opt/portwatch/_internal/PySide6/Qt/lib"
system_libs=$(
    find "$root/opt/portwatch" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
        xargs -0 file --no-pad --separator '|' | awk -F'|' '/ELF/ {print $1}' |
        while read -r elf; do LD_LIBRARY_PATH="$lib_path" ldd "$elf" 2>/dev/null || true; done |
        awk '$2 == "=>" && $3 ~ /^\// {print $3}' | grep -v "^$root/" | sort -u
)
found_packages=$(
    for lib in $system_libs; do
        # /lib is a link to /usr/lib on merged-/usr systems; dpkg knows one of the two.
        dpkg-query -S "$lib" 2>/dev/null || dpkg-query -S "$(realpath "$lib")" 2>/dev/null ||
            dpkg-query -S "${lib#/usr}" 2>/dev/null || true
    done | cut -d: -f1 | sort -u
)
# Always needed, whether or not this build machine's PyInstaller copied them in:
# OpenGL/EGL (never bundled), fontconfig (its config files and, through
# fontconfig-config, a font), xkbcommon and xcb-cursor for the xcb platform plugin.
base_packages="libgl1 libegl1 libfontconfig1 libfreetype6 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libdbus-1-3"
depends=$(printf '%s\n' $base_packages $found_packages | sort -u | paste -sd, | sed 's/,/, /g')

installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
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

# dpkg wants 0755 folders and no group/other write anywhere.
find "$root" -type d -exec chmod 0755 {} +
chmod -R go-w "$root"

mkdir -p "$out"
deb="$out/portwatch_${version}_${arch}.deb"
# xz reads everywhere (zstd needs dpkg >= 1.21.18); DEB_COMPRESSION can trade size for time.
# shellcheck disable=SC2086
dpkg-deb --root-owner-group ${DEB_COMPRESSION:--Zxz -z6} --build "$root" "$deb" >/dev/null
echo "$deb"
