#!/usr/bin/env bash
# Set up portwatch from this checkout and start it, or run its tests.
#
#     bash packaging/bootstrap.sh [run] [ARGS...]    install, then start the tray app
#     bash packaging/bootstrap.sh test [ARGS...]     install with the test tools, run pytest
#
# On Debian and Ubuntu it first installs the system libraries Qt needs
# (packaging/linux/runtime-packages.txt, plus .ci/apt-test-packages.txt for `test`)
# with apt-get, through sudo when not run as root, and only when some are missing.
# Elsewhere it says what to install and goes on. Then it makes .venv here with
# Python 3.11 or newer (PYTHON picks the interpreter; default python3) and installs
# portwatch into it. ARGS go to portwatch or to pytest.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
mode=run
if [ "$#" -gt 0 ] && { [ "$1" = run ] || [ "$1" = test ]; }; then
    mode=$1
    shift
fi
python=${PYTHON:-python3}

say() { printf 'portwatch set-up: %s\n' "$*" >&2; }

packages_from() { grep -hv '^[[:space:]]*\(#\|$\)' "$@"; }

missing_packages() {
    # Installed packages and the names they provide (Ubuntu 24.04's t64 libraries
    # provide the plain names), read once.
    local have package
    have=$(dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null |
        awk -F'|' '$1 ~ /^ii/ {
            print $2
            n = split($3, names, ",")
            for (i = 1; i <= n; i++) { sub(/\(.*\)/, "", names[i]); gsub(/ /, "", names[i]); print names[i] }
        }')
    for package in "$@"; do
        grep -qxF "$package" <<<"$have" || printf '%s\n' "$package"
    done
}

install_system_packages() {
    local lists=(packaging/linux/runtime-packages.txt)
    [ "$mode" = test ] && lists+=(.ci/apt-test-packages.txt)
    # shellcheck disable=SC2207
    local wanted=($(packages_from "${lists[@]}") python3 python3-venv)
    # shellcheck disable=SC2207
    local missing=($(missing_packages "${wanted[@]}"))
    [ "${#missing[@]}" -eq 0 ] && return 0
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            say "these system packages are missing and there is no sudo to install them:"
            say "  ${missing[*]}"
            say "install them as root (su -c 'apt-get install ...'), then run this again."
            exit 1
        fi
        as_root=(sudo)
    fi
    say "installing ${#missing[@]} system packages with apt-get: ${missing[*]}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
    install_system_packages
else
    say "not Debian or Ubuntu: install Python 3.11+ and Qt's libraries (OpenGL/EGL,"
    say "fontconfig, xkbcommon, xcb-cursor) with your system's package manager if missing."
fi

if ! command -v "$python" >/dev/null; then
    say "no $python found: install Python 3.11 or newer, or set PYTHON=/path/to/python3.11"
    exit 1
fi
if ! "$python" -c 'import sys; raise SystemExit(sys.version_info < (3, 11))'; then
    say "portwatch needs Python 3.11 or newer; $python is $("$python" -c 'import platform; print(platform.python_version())')."
    say "install a newer Python and run again with PYTHON=/path/to/python3.11 (or newer)."
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    say "making .venv with $("$python" -c 'import sys; print(sys.executable)')"
    "$python" -m venv .venv
fi
extra=""
[ "$mode" = test ] && extra="[test]"
say "installing portwatch$extra into .venv (pip)"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extra"

if [ "$mode" = test ]; then
    exec .venv/bin/python -m pytest "$@"
fi
say "starting portwatch (it lives in the system tray; see the README's Troubleshooting)"
exec .venv/bin/portwatch "$@"
