#!/usr/bin/env bash
# Builds the app with packaging/moshi.spec (PyInstaller), checks what is inside, runs its --self-test;
# on macOS also optionally signs, notarizes and wraps it in a DMG. `make package` runs this.
#
#   macOS:  dist/Moshi.app (+ dist/Moshi-<version>.dmg)     Linux: dist/Moshi/Moshi (one folder)
#
# Environment (all optional):
#   MOSHI_PYTHON             Python with the project and PyInstaller installed (default .venv/bin/python)
#   MOSHI_DIST_DIR           output folder (default dist)
#   MOSHI_WORK_DIR           PyInstaller's work folder (default build/pyinstaller)
#   MOSHI_SKIP_SELF_TEST=1   do not run the built app's --self-test
#   MOSHI_CODESIGN_IDENTITY  "Developer ID Application: Name (TEAMID)": hardened-runtime signature
#                            (unset: PyInstaller's ad-hoc signature, for this Mac only)
#   MOSHI_TEAM_ID            the signature's team must be this one
#   MOSHI_NOTARY_PROFILE     notarytool keychain profile (xcrun notarytool store-credentials): notarize
#   MOSHI_DMG=0              no DMG
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${MOSHI_PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || { echo "build.sh: no Python at $PY (run 'make setup' or set MOSHI_PYTHON)" >&2; exit 1; }
DIST="${MOSHI_DIST_DIR:-dist}"
WORK="${MOSHI_WORK_DIR:-build/pyinstaller}"
VERSION="$("$PY" packaging/bundle_info.py version)"
OS="$(uname -s)"

if [ "$OS" = Darwin ]; then
  [ "$(uname -m)" = arm64 ] || { echo "build.sh: Moshi.app is arm64-only: build it on Apple Silicon" >&2; exit 1; }
  APP="$DIST/Moshi.app"; EXE="$APP/Contents/MacOS/Moshi"
else
  APP="$DIST/Moshi"; EXE="$APP/Moshi"
fi

if [ -n "${MOSHI_NOTARY_PROFILE:-}" ] && [ -z "${MOSHI_CODESIGN_IDENTITY:-}" ]; then
  echo "build.sh: notarization needs a Developer ID signature: set MOSHI_CODESIGN_IDENTITY" >&2; exit 1
fi

echo "== PyInstaller: Moshi $VERSION -> $APP"
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$DIST" --workpath "$WORK" packaging/moshi.spec

echo "== contents"
"$PY" packaging/verify_bundle.py "$APP"

if [ "${MOSHI_SKIP_SELF_TEST:-0}" != 1 ]; then
  echo "== self-test of the frozen app"
  QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" "$EXE" --self-test
fi

if [ "$OS" = Darwin ]; then
  if [ -n "${MOSHI_CODESIGN_IDENTITY:-}" ]; then
    echo "== signature"
    codesign --verify --deep --strict --verbose=2 "$APP"
    if [ -n "${MOSHI_TEAM_ID:-}" ]; then
      codesign -dv "$APP" 2>&1 | grep -q "^TeamIdentifier=$MOSHI_TEAM_ID\$" \
        || { echo "build.sh: $APP is not signed by team $MOSHI_TEAM_ID" >&2; exit 1; }
    fi
    codesign -d --entitlements - "$APP" | grep -q "com.apple.security.device.audio-input" \
      || { echo "build.sh: the signature lacks the audio-input entitlement" >&2; exit 1; }
  fi
  if [ -n "${MOSHI_NOTARY_PROFILE:-}" ]; then
    echo "== notarization (app)"
    ditto -c -k --keepParent "$APP" "$WORK/Moshi.zip"
    xcrun notarytool submit "$WORK/Moshi.zip" --keychain-profile "$MOSHI_NOTARY_PROFILE" --wait
    xcrun stapler staple "$APP"
    spctl --assess --type execute --verbose=2 "$APP"
  fi
  if [ "${MOSHI_DMG:-1}" != 0 ]; then
    DMG="$DIST/Moshi-$VERSION.dmg"
    echo "== disk image $DMG"
    STAGE="$WORK/dmg"
    rm -rf "$STAGE" && mkdir -p "$STAGE"
    ditto "$APP" "$STAGE/Moshi.app"
    ln -s /Applications "$STAGE/Applications"   # drag Moshi onto Applications
    hdiutil create -volname "Moshi" -srcfolder "$STAGE" -ov -format UDZO "$DMG.tmp.dmg" >/dev/null
    mv -f "$DMG.tmp.dmg" "$DMG"
    if [ -n "${MOSHI_CODESIGN_IDENTITY:-}" ]; then
      codesign --sign "$MOSHI_CODESIGN_IDENTITY" --timestamp "$DMG"
    fi
    if [ -n "${MOSHI_NOTARY_PROFILE:-}" ]; then
      echo "== notarization (dmg)"
      xcrun notarytool submit "$DMG" --keychain-profile "$MOSHI_NOTARY_PROFILE" --wait
      xcrun stapler staple "$DMG"
    fi
    du -sh "$DMG"
  fi
fi

echo "== done: $APP ($(du -sh "$APP" | cut -f1))"
