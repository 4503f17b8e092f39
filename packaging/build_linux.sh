#!/usr/bin/env bash
# Linux release build: the PyInstaller bundle, cleaned, then the .deb and the .rpm.
#
#     packaging/build_linux.sh [OUT_DIR]      (default: packaging/out)
#
# Leaves OUT_DIR/dist/portwatch (the bundle), OUT_DIR/build/portwatch/icons,
# OUT_DIR/portwatch_<version>_<arch>.deb and, where rpmbuild is installed (NO_RPM=1
# skips it), OUT_DIR/portwatch-<version>-1.<arch>.rpm; prints the .deb's path last.
# PYTHON picks the interpreter that has portwatch's dependencies and PyInstaller.
#
# Reproducible by default: two builds of one commit on one machine give the same
# .deb, byte for byte. SOURCE_DATE_EPOCH (default: the last commit's time) fixes every
# timestamp, PYTHONHASHSEED (default 0) the order of what PyInstaller writes.
set -euo pipefail

repo=$(realpath "$(dirname "$0")/..")
out=$(realpath -m "${1:-$repo/packaging/out}")
python=${PYTHON:-python3}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null ||
        stat -c %Y "$repo/pyproject.toml")
fi
export SOURCE_DATE_EPOCH
export PYTHONHASHSEED=${PYTHONHASHSEED:-0}

"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$out/dist" --workpath "$out/build" "$repo/packaging/portwatch.spec"
"$repo/packaging/linux/clean_bundle.sh" "$out/dist/portwatch"
if [ -z "${NO_RPM:-}" ] && command -v rpmbuild >/dev/null; then
    PYTHON=$python "$repo/packaging/linux/build_rpm.sh" "$out/dist/portwatch" \
        "$out/build/portwatch/icons" "$out" >&2
fi
PYTHON=$python "$repo/packaging/linux/build_deb.sh" "$out/dist/portwatch" \
    "$out/build/portwatch/icons" "$out"
