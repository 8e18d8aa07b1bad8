#!/usr/bin/env bash
# Installs the Debian packages the tests and screenshot scripts need, only when missing.
# Xvfb + xcb libraries: a real X server for screenshots; dicom3tools: dciodvfy validates SEG/SR;
# strace: the no-network test watches every connect/sendto of a full analyze + export;
# binutils: PyInstaller reads and writes the bundle's binaries with objdump/objcopy (run.py bundle).
set -u
packages=(xvfb x11-apps libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3 dicom3tools strace binutils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing missing system packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "Cannot install ${missing[*]} (not root, no sudo): tests that need them will skip with a reason." >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || echo "apt-get could not install ${missing[*]}: tests that need them will skip with a reason." >&2
