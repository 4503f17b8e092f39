#!/usr/bin/env bash
# Make a PyInstaller Linux bundle fit to ship, in place:
#   - no RUNPATH/RPATH entry that names a folder of the build machine (a self-built
#     Python's libpython carries e.g. /root/.pyenv/.../lib); $ORIGIN entries stay;
#   - no dangling symbolic links (links to Qt libraries the spec left out).
#
#     packaging/linux/clean_bundle.sh BUNDLE_DIR
set -euo pipefail
[ "$#" -eq 1 ] || { echo "usage: $0 BUNDLE_DIR" >&2; exit 2; }
bundle=$(realpath "$1")
command -v patchelf >/dev/null || { echo "$0: patchelf is missing (apt-get install patchelf)" >&2; exit 1; }

find "$bundle" -type f \( -name '*.so*' -o -perm -u+x \) -print0 | sort -z |
    while IFS= read -r -d '' elf; do
        [ "$(head -c 4 "$elf")" = $'\x7fELF' ] || continue
        runpath=$(patchelf --print-rpath "$elf" 2>/dev/null) || continue
        [ -n "$runpath" ] || continue
        kept=$(tr ':' '\n' <<<"$runpath" | grep '^\$ORIGIN' | paste -sd: || true)
        [ "$kept" = "$runpath" ] && continue
        if [ -n "$kept" ]; then
            patchelf --set-rpath "$kept" "$elf"
        else
            patchelf --remove-rpath "$elf"
        fi
    done
find "$bundle" -xtype l -delete
