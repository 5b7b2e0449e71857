#!/usr/bin/env bash
# Run this checkout's test suite on the QGIS of another Debian suite, in a chroot.
#
#   scripts/test_qgis_chroot.sh SUITE [PYTEST ARGS...]     (make test-qgis SUITE=trixie)
#
# The first run builds the chroot with debootstrap from the same Debian mirror as this
# machine's apt sources and installs QGIS there with scripts/setup_system.sh (the same
# package list as `make setup`); later runs reuse it (CHROOT_CACHE, default
# /var/cache/displacement-toolkit/chroot-SUITE; REBUILD=1 builds it anew). Test tools from
# PyPI (requirements-dev.txt) are downloaded on this machine with `pip download` for the
# chroot's Python and installed inside from those files only (no index). The checkout
# (tracked and untracked files, not .venv/.build) is copied to /src in the chroot, made a git
# repository there, and the suite runs in it as `make test` does. Needs root (debootstrap,
# chroot, mount).
# BUILD_ONLY=1 only builds the chroot.
set -euo pipefail

SUITE=${1:?usage: $0 SUITE [pytest args]   e.g. trixie or sid}
shift
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CHROOT_CACHE:-/var/cache/displacement-toolkit}
ROOT=$CACHE/chroot-$SUITE
WHEELS=$CACHE/wheels-$SUITE
LOG=$CACHE/$SUITE.log

if [ "$(id -u)" -ne 0 ]; then
  echo "test-qgis: needs root (debootstrap, chroot and mount); run it as root or with sudo" >&2
  exit 1
fi
for tool in debootstrap chroot; do
  command -v "$tool" >/dev/null || { echo "test-qgis: install $tool (apt-get install debootstrap)" >&2; exit 1; }
done
if [ ! -e "/usr/share/debootstrap/scripts/$SUITE" ]; then
  echo "test-qgis: debootstrap does not know the suite '$SUITE'; use e.g. trixie or sid" >&2
  exit 1
fi

# The mirror this machine's apt uses (deb822 URIs: or one-line deb entries), so the chroot
# comes from the same place.
mirror_of_host() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
        | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
          | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
          | grep -E '/debian/?$' | head -n1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${MIRROR:-$(mirror_of_host)}

MOUNTS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
mount_in() {  # mount_in TARGET MOUNT-ARGS...
  local target=$ROOT$1
  shift
  mkdir -p "$target"
  mountpoint -q "$target" || mount "$@" "$target"
  MOUNTS+=("$target")
}
mount_all() {
  mount_in /proc -t proc proc
  mount_in /sys -t sysfs sysfs
  mount_in /dev --bind /dev
  mount_in /dev/pts --bind /dev/pts
  mount_in /dev/shm -t tmpfs tmpfs
}
in_chroot() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

mkdir -p "$CACHE"
if [ "${REBUILD:-0}" = 1 ] || [ ! -e "$ROOT/.debootstrap-done" ]; then
  start=$(date +%s)
  rm -rf "$ROOT"
  echo "test-qgis: building the $SUITE chroot in $ROOT from $MIRROR (once; log: $LOG)"
  debootstrap --variant=minbase --include=ca-certificates,make "$SUITE" "$ROOT" "$MIRROR" >"$LOG" 2>&1 \
    || { tail -n 20 "$LOG"; echo "test-qgis: debootstrap failed (log: $LOG)" >&2; exit 1; }
  touch "$ROOT/.debootstrap-done"
  echo "test-qgis: debootstrap took $(( $(date +%s) - start )) s"
fi

# The host's apt settings for its mirror (e.g. a mirror snapshot older than the clock needs
# Acquire::Check-Valid-Until "false"), then the project's Debian packages: the same
# scripts/setup_system.sh as `make setup`, which installs only what is missing.
apt-config dump | grep -E '^Acquire::Check-(Valid-Until|Date) ' >"$ROOT/etc/apt/apt.conf.d/99host-mirror" || true
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp "$REPO/scripts/setup_system.sh" "$ROOT/tmp/setup_system.sh"
mount_all
start=$(date +%s)
in_chroot bash /tmp/setup_system.sh >>"$LOG" 2>&1 \
  || { tail -n 20 "$LOG"; echo "test-qgis: installing the packages in the chroot failed (log: $LOG)" >&2; exit 1; }
in_chroot apt-get clean
[ $(( $(date +%s) - start )) -gt 5 ] && echo "test-qgis: packages installed in $(( $(date +%s) - start )) s"
[ "${BUILD_ONLY:-0}" = 1 ] && exit 0

# Test tools: downloaded here for the chroot's Python, installed there without an index.
PYVER=$(in_chroot python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
stamp=$WHEELS/.for-$PYVER-$(sha256sum "$REPO/requirements-dev.txt" | cut -c1-16)
if [ ! -e "$stamp" ]; then
  rm -rf "$WHEELS"
  mkdir -p "$WHEELS"
  HOST_PIP=("$REPO/.venv/bin/python" -m pip)
  [ -x "$REPO/.venv/bin/python" ] || HOST_PIP=(python3 -m pip)
  "${HOST_PIP[@]}" download --quiet --disable-pip-version-check --dest "$WHEELS" \
    --only-binary=:all: --python-version "$PYVER" --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    -r "$REPO/requirements-dev.txt" >>"$LOG" 2>&1 \
    || { tail -n 20 "$LOG"; echo "test-qgis: pip download failed (log: $LOG)" >&2; exit 1; }
  touch "$stamp"
fi

# The checkout: tracked and untracked (not ignored) files, as a fresh git repository.
rm -rf "$ROOT/src" "$ROOT/wheels"
mkdir -p "$ROOT/src"
cp -a "$WHEELS" "$ROOT/wheels"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
  | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$ROOT/src"
in_chroot sh -c 'cd /src && git init -q && git add -A'

versions='from qgis.core import Qgis; from qgis.PyQt.QtCore import QT_VERSION_STR; \
from osgeo import gdal; import sys, numpy; \
print(f"QGIS {Qgis.version()}, Qt {QT_VERSION_STR}, Python {sys.version.split()[0]}, \
GDAL {gdal.__version__}, numpy {numpy.__version__}")'
echo "test-qgis: $SUITE: $(in_chroot env QT_QPA_PLATFORM=offscreen python3 -c "$versions" 2>/dev/null)"
start=$(date +%s)
set +e
in_chroot env PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels QT_QPA_PLATFORM=offscreen \
  sh -c 'cd /src && make setup >/dev/null && .venv/bin/python -m pytest "$@"' pytest "$@"
status=$?
set -e
echo "test-qgis: $SUITE: pytest exit $status after $(( $(date +%s) - start )) s"
exit $status
