#!/usr/bin/env bash
# Run qgis_process with the Displacement Toolkit loaded straight from this checkout.
#
#   scripts/qgis_process.sh list
#   scripts/qgis_process.sh run displacement:los_to_vertical -- INPUT=los.tif ...
#
# It points QGIS_PLUGINPATH at .build/plugins (which holds a symlink named
# displacement_toolkit to the checkout), uses a throwaway profile
# (QGIS_CUSTOM_CONFIG_PATH, default .build/qgis-profile) in which the plugin is
# enabled, and calls qgis_process.bin (Debian's /usr/bin/qgis_process wrapper
# passes --noversioncheck, which QGIS 3.22 rejects).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$here/.build/plugins"
ln -sfn ../.. "$here/.build/plugins/displacement_toolkit"

export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export QGIS_PLUGINPATH="$here/.build/plugins${QGIS_PLUGINPATH:+:$QGIS_PLUGINPATH}"
export QGIS_CUSTOM_CONFIG_PATH="${QGIS_CUSTOM_CONFIG_PATH:-$here/.build/qgis-profile}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

bin="$(command -v qgis_process.bin || command -v qgis_process)"
ini="$QGIS_CUSTOM_CONFIG_PATH/profiles/default/QGIS/QGIS3.ini"
if ! grep -qs "^displacement_toolkit=true" "$ini"; then
  "$bin" plugins enable displacement_toolkit >/dev/null 2>&1 || true
fi
# qgis_process prints a harmless PyQt deprecation warning on stderr; keep the rest.
exec "$bin" "$@" 2> >(grep -v -e "setapi() is deprecated" -e "XDG_RUNTIME_DIR" >&2)
