#!/usr/bin/env bash
# Install the Debian packages the toolkit needs, only when some are missing.
# Idempotent: a machine that has them all is left untouched.
set -euo pipefail

PACKAGES=(
  qgis python3-qgis qgis-providers
  python3-gdal gdal-bin python3-numpy python3-scipy
  python3-h5py python3-matplotlib python3-threadpoolctl python3-venv libopenblas0-pthread
  python3-dask python3-distributed
  xvfb zip git
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "setup: these Debian packages are missing and I am not root: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
