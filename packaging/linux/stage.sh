#!/usr/bin/env bash
# Lay out the files of portwatch's Linux packages (.deb and .rpm) under ROOT.
#
#     packaging/linux/stage.sh BUNDLE_DIR ICONS_DIR ROOT
#
# /usr/lib/portwatch (the bundle; /opt is left to the system), /usr/bin/portwatch (a
# relative link), the desktop entry, hicolor icons, AppStream metadata, the man page
# generated from the argparse definitions, and /usr/share/doc/portwatch with the
# DEP-5 copyright (every bundled component's licence text) and a changelog.
# Every file's time is SOURCE_DATE_EPOCH's. PYTHON: the interpreter that built the bundle.
set -euo pipefail
[ "$#" -eq 3 ] || { echo "usage: $0 BUNDLE_DIR ICONS_DIR ROOT" >&2; exit 2; }
bundle=$(realpath "$1")
icons=$(realpath "$2")
root=$(realpath -m "$3")
repo=$(realpath "$(dirname "$0")/../..")
python=${PYTHON:-python3}
app_id=io.github.portwatch.Portwatch
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch

[ -x "$bundle/portwatch" ] || { echo "$0: no executable $bundle/portwatch" >&2; exit 1; }
[ -f "$icons/hicolor/48x48/apps/$app_id.png" ] || { echo "$0: no icons in $icons" >&2; exit 1; }
version=$("$bundle/portwatch" --version | awk '{print $2}')

doc="$root/usr/share/doc/portwatch"
mkdir -p "$root/usr/lib" "$root/usr/bin" "$root/usr/share/applications" \
    "$root/usr/share/metainfo" "$root/usr/share/icons" "$root/usr/share/man/man1" "$doc"
cp -a "$bundle" "$root/usr/lib/portwatch"
ln -s ../lib/portwatch/portwatch "$root/usr/bin/portwatch"
install -m 0644 "$repo/resources/linux/$app_id.desktop" "$root/usr/share/applications/"
install -m 0644 "$repo/resources/linux/$app_id.metainfo.xml" "$root/usr/share/metainfo/"
cp -r "$icons/hicolor" "$root/usr/share/icons/hicolor"

"$python" "$repo/packaging/linux/licences.py" "$bundle" usr/lib/portwatch "$doc/copyright"
"$python" "$repo/packaging/linux/manpage.py" "$root/usr/share/man/man1/portwatch.1"
gzip -9n "$root/usr/share/man/man1/portwatch.1"
{
    echo "portwatch ($version) unstable; urgency=medium"
    echo
    echo "  * Release $version: https://github.com/portwatch/portwatch/releases/tag/v$version"
    echo
    echo " -- portwatch developers <portwatch@users.noreply.github.com>  $(LC_ALL=C date -u -R -d "@$epoch")"
} > "$doc/changelog"
gzip -9n "$doc/changelog"

# Packages want 0755 folders and no group/other write anywhere; times fixed.
find "$root" -type d -exec chmod 0755 {} +
chmod -R go-w "$root"
find "$root" -exec touch -h -d "@$epoch" {} +
echo "$version"
