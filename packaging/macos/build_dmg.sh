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
    # Qt's frameworks as the wheel ships them keep Resources/ (Info.plist) beside
    # Versions/ instead of inside it; codesign --strict wants the standard shape:
    # Versions/A/Resources, with Versions/Current and the top-level names as links.
    find "$app/Contents" -type d -name '*.framework' -print0 |
        while IFS= read -r -d '' framework; do
            versions="$framework/Versions"
            [ -d "$versions" ] || continue
            current=$(ls "$versions" | grep -v '^Current$' | head -n1)
            [ -n "$current" ] || continue
            [ -e "$versions/Current" ] || ln -s "$current" "$versions/Current"
            for item in "$framework"/*; do
                name=$(basename "$item")
                [ "$name" = Versions ] && continue
                if [ -d "$item" ] && [ ! -L "$item" ]; then
                    rm -rf "$versions/$current/$name"
                    mv "$item" "$versions/$current/$name"
                    ln -s "Versions/Current/$name" "$framework/$name"
                fi
            done
        done
    # Inside out: every library and executable first, then each framework as a
    # bundle, the app last (no --deep).
    find "$app/Contents" -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) -print0 |
        while IFS= read -r -d '' file; do
            if file "$file" | grep -q 'Mach-O'; then sign "$file"; fi
        done
    find "$app/Contents" -type d -name '*.framework' -print0 |
        while IFS= read -r -d '' framework; do sign "$framework"; done
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
# hdiutil fails now and then with "Resource busy" while Spotlight or XProtect still
# holds the staged files (https://github.com/actions/runner-images/issues/7522): retry.
for attempt in 1 2 3 4 5; do
    if hdiutil create -volname "portwatch $version" -srcfolder "$stage" -fs HFS+ \
        -format UDZO -ov "$dmg" >/dev/null; then
        break
    fi
    [ "$attempt" -eq 5 ] && { echo "$0: hdiutil create failed 5 times" >&2; exit 1; }
    echo "$0: hdiutil create failed (attempt $attempt); trying again" >&2
    sleep $((attempt * 5))
done

if [ -n "$keychain" ]; then
    codesign --timestamp --keychain "$keychain" --sign "$MACOS_SIGN_IDENTITY" "$dmg"
    if [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
        xcrun notarytool submit "$dmg" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
            --password "$APPLE_APP_PASSWORD" --wait
        xcrun stapler staple "$dmg"
    fi
fi
echo "$dmg"
