#!/usr/bin/env bash
# Linux release build: the PyInstaller bundle, then the .deb.
#
#     packaging/build_linux.sh [OUT_DIR]      (default: packaging/out)
#
# Leaves OUT_DIR/dist/portwatch (the bundle), OUT_DIR/build/portwatch/icons and
# OUT_DIR/portwatch_<version>_<arch>.deb; prints the .deb's path last.
# PYTHON picks the interpreter that has portwatch's dependencies and PyInstaller.
set -euo pipefail

repo=$(realpath "$(dirname "$0")/..")
out=$(realpath -m "${1:-$repo/packaging/out}")
python=${PYTHON:-python3}

"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$out/dist" --workpath "$out/build" "$repo/packaging/portwatch.spec"
"$repo/packaging/linux/build_deb.sh" "$out/dist/portwatch" "$out/build/portwatch/icons" "$out"
