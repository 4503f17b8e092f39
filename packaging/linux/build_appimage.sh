#!/usr/bin/env bash
# Build portwatch-<version>-x86_64.AppImage from the PyInstaller bundle.
#
#     packaging/linux/build_appimage.sh BUNDLE_DIR ICONS_DIR OUT_DIR
#
# For hosted CI: appimagetool is downloaded (it fetches its runtime too), which
# an offline machine cannot do. APPIMAGETOOL may point at a copy already there;
# APPIMAGETOOL=none stops after the AppDir (tests run its AppRun) and prints its path.
# Prints the AppImage's path last.
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
arch=$(uname -m)
version=$("$bundle/portwatch" --version | awk '{print $2}')

appdir="$out/build/AppDir"
rm -rf "$appdir"
mkdir -p "$appdir/usr/lib" "$appdir/usr/share/applications" "$appdir/usr/share/metainfo" \
    "$appdir/usr/share/icons"
cp -a "$bundle" "$appdir/usr/lib/portwatch"
cp -r "$icons/hicolor" "$appdir/usr/share/icons/hicolor"
install -m 0644 "$repo/resources/linux/$app_id.desktop" "$appdir/usr/share/applications/"
# appimagetool looks for <desktop id>.appdata.xml.
install -m 0644 "$repo/resources/linux/$app_id.metainfo.xml" \
    "$appdir/usr/share/metainfo/$app_id.appdata.xml"
# The AppDir's top level: desktop entry, icon and the entry point.
cp "$repo/resources/linux/$app_id.desktop" "$appdir/"
cp "$icons/hicolor/256x256/apps/$app_id.png" "$appdir/$app_id.png"
ln -s "$app_id.png" "$appdir/.DirIcon"
cat > "$appdir/AppRun" <<'APPRUN'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec "$here/usr/lib/portwatch/portwatch" "$@"
APPRUN
chmod 0755 "$appdir/AppRun"

tool=${APPIMAGETOOL:-}
if [ "$tool" = none ]; then
    echo "$appdir"
    exit 0
fi
if [ -z "$tool" ]; then
    tool="$out/build/appimagetool-$arch.AppImage"
    if [ ! -x "$tool" ]; then
        curl -fsSL -o "$tool" \
            "https://github.com/AppImage/appimagetool/releases/download/continuous/appimagetool-$arch.AppImage"
        chmod +x "$tool"
    fi
fi
image="$out/portwatch-$version-$arch.AppImage"
# Hosted runners have no FUSE: the tool unpacks itself instead of mounting.
# The metadata is validated offline by the test suite; the tool's check wants the network.
APPIMAGE_EXTRACT_AND_RUN=1 ARCH=$arch "$tool" --no-appstream "$appdir" "$image" >&2
echo "$image"
