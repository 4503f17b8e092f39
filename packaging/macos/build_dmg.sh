#!/usr/bin/env bash
# macOS release build: portwatch.app (PyInstaller) in a compressed .dmg (hdiutil).
#
#     packaging/macos/build_dmg.sh [OUT_DIR]      (default: packaging/out)
#
# Signing and notarisation run only when their secrets are in the environment:
#   MACOS_CERTIFICATE_P12_BASE64, MACOS_CERTIFICATE_PASSWORD   a Developer ID
#       Application certificate, imported into a temporary keychain;
#   MACOS_SIGN_IDENTITY   e.g. "Developer ID Application: Name (TEAMID)";
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   for notarytool.
# Without them the app keeps PyInstaller's ad-hoc signature (enough to run on the
# machine that built it; Gatekeeper asks elsewhere).
# Prints the .dmg's path last.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/packaging/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}

"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$out/dist" --workpath "$out/build" "$repo/packaging/portwatch.spec"
app="$out/dist/portwatch.app"
version=$(/usr/libexec/PlistBuddy -c "Print :CFBundleShortVersionString" "$app/Contents/Info.plist")
arch=$(uname -m)
dmg="$out/portwatch-$version-macos-$arch.dmg"

keychain=""
cleanup() {
    if [ -n "$keychain" ]; then security delete-keychain "$keychain" || true; fi
}
trap cleanup EXIT

if [ -n "${MACOS_CERTIFICATE_P12_BASE64:-}" ] && [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    keychain="$out/build/signing.keychain-db"
    keychain_password=$(uuidgen)
    security create-keychain -p "$keychain_password" "$keychain"
    security set-keychain-settings -lut 3600 "$keychain"
    security unlock-keychain -p "$keychain_password" "$keychain"
    echo "$MACOS_CERTIFICATE_P12_BASE64" | base64 --decode > "$out/build/certificate.p12"
    security import "$out/build/certificate.p12" -k "$keychain" \
        -P "${MACOS_CERTIFICATE_PASSWORD:-}" -T /usr/bin/codesign
    rm -f "$out/build/certificate.p12"
    security set-key-partition-list -S apple-tool:,apple: -s -k "$keychain_password" "$keychain"
    security list-keychains -d user -s "$keychain" $(security list-keychains -d user | tr -d '"')

    sign() {
        codesign --force --timestamp --options runtime \
            --entitlements "$repo/packaging/macos/entitlements.plist" \
            --keychain "$keychain" --sign "$MACOS_SIGN_IDENTITY" "$@"
    }
    # Inside out: every library and executable first, the bundle last (no --deep).
    find "$app/Contents" -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) -print0 |
        while IFS= read -r -d '' file; do
            if file "$file" | grep -q 'Mach-O'; then sign "$file"; fi
        done
    sign "$app"
    codesign --verify --strict --deep --verbose=2 "$app"
fi

# The window Finder shows: the app and a link to drag it onto.
stage="$out/build/dmg"
rm -rf "$stage"
mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
hdiutil create -volname "portwatch $version" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg" >/dev/null

if [ -n "$keychain" ]; then
    codesign --timestamp --keychain "$keychain" --sign "$MACOS_SIGN_IDENTITY" "$dmg"
    if [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
        xcrun notarytool submit "$dmg" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
            --password "$APPLE_APP_PASSWORD" --wait
        xcrun stapler staple "$dmg"
    fi
fi
echo "$dmg"
