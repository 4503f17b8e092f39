#!/usr/bin/env bash
# Build portwatch-<version>-1.<arch>.rpm from the same bundle and layout as the .deb.
#
#     packaging/linux/build_rpm.sh BUNDLE_DIR ICONS_DIR OUT_DIR
#
# rpmbuild (the Debian/Fedora package `rpm`) packs the files stage.sh lays out; its
# automatic dependency finder turns the libraries the bundle links to into versioned
# Requires (libc.so.6(GLIBC_2.34)(64bit) and the like). The bundle's own libraries are
# left out of Provides, so the package never stands in for a system library.
set -euo pipefail
[ "$#" -eq 3 ] || { echo "usage: $0 BUNDLE_DIR ICONS_DIR OUT_DIR" >&2; exit 2; }
bundle=$(realpath "$1")
icons=$(realpath "$2")
out=$(realpath -m "$3")
repo=$(realpath "$(dirname "$0")/../..")
command -v rpmbuild >/dev/null || { echo "$0: rpmbuild is missing (apt-get install rpm)" >&2; exit 1; }
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
root="$top/root"
version=$("$repo/packaging/linux/stage.sh" "$bundle" "$icons" "$root" | tail -n1)
arch=$(uname -m)

cat > "$top/portwatch.spec" <<SPEC
Name: portwatch
Version: $version
Release: 1
Summary: Calm system-tray port monitor
License: MIT AND LGPL-3.0-only AND PSF-2.0 AND BSD-3-Clause
URL: https://github.com/portwatch/portwatch
AutoReqProv: yes
# The bundle's private copies of libraries are no capability of this package.
%global __provides_exclude_from ^/usr/lib/portwatch/.*\$
%global __requires_exclude ^(libQt6|libpyside6|libshiboken6|libpython3|libicu).*\$
%global _build_id_links none
%global __os_install_post %{nil}
%global debug_package %{nil}

%description
portwatch shows which programs listen on which ports, since when, and how
exposed each one is (this machine only, the local network, or the internet).

%install
cp -a "$root"/. %{buildroot}/

%files
/usr/lib/portwatch
/usr/bin/portwatch
/usr/share/applications/io.github.portwatch.Portwatch.desktop
/usr/share/metainfo/io.github.portwatch.Portwatch.metainfo.xml
/usr/share/icons/hicolor/*/apps/io.github.portwatch.Portwatch.*
%doc /usr/share/doc/portwatch/changelog.gz
%license /usr/share/doc/portwatch/copyright
/usr/share/man/man1/portwatch.1.gz
SPEC

mkdir -p "$out"
rpmbuild -bb --quiet --define "_topdir $top/rpm" --define "_rpmdir $out" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    --define "_buildhost reproducible" \
    "$top/portwatch.spec" >&2
echo "$out/portwatch-$version-1.$arch.rpm"
