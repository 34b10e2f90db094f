#!/usr/bin/env bash
# Installs the system packages the app and the tests need. Debian/Ubuntu: apt-get (as root or with
# sudo). macOS: nothing beyond Python and the Xcode command line tools. Other systems: a message.
set -euo pipefail

# usage: install_system_deps.sh [app|test]   (default: test, which includes app)
PROFILE="${1:-test}"
PACKAGES=(
  libportaudio2                                   # sounddevice
  libsndfile1                                     # soundfile (the wheel bundles it; kept for safety)
  libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0  # Qt (offscreen and xcb)
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1  # Qt on X11 desktops
)
case "$PROFILE" in
  app) ;;
  test) PACKAGES+=(
    pulseaudio pulseaudio-utils libasound2-plugins  # virtual audio device for the tests
    espeak-ng                                       # speech input for tests
    xvfb xauth                                      # a real X server for window tests
    sox                                             # audio checks in tests
  ) ;;
  *) echo "usage: $0 [app|test]" >&2; exit 2 ;;
esac

case "$(uname -s)" in
  Darwin) exit 0 ;;
  Linux) ;;
  *) echo "install_system_deps: unsupported system $(uname -s); install PortAudio and Qt yourself" >&2; exit 0 ;;
esac

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_deps: no apt-get; install the equivalents of: ${PACKAGES[*]}" >&2
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install_system_deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
