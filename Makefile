# Displacement Toolkit: developer commands.  `make demo` and `make test` set themselves up.
SHELL := /bin/bash
SYSTEM_PYTHON := /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
PLUGIN_LINK := .build/plugins/displacement_toolkit
export QT_QPA_PLATFORM := offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test test-unit test-fast test-qgis demo bench package lint qgis-process clean screenshots

setup: $(VENV)/.setup-done $(PLUGIN_LINK)

$(VENV)/.setup-done: requirements-dev.txt scripts/setup_system.sh
	bash scripts/setup_system.sh
	test -x $(PY) || $(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -c "import numpy, scipy; from osgeo import gdal_array; import qgis.core" \
	  || { echo "setup: the venv cannot import numpy/scipy/GDAL/QGIS from Debian"; exit 1; }
	touch $@

$(PLUGIN_LINK):
	mkdir -p .build/plugins
	ln -sfn ../.. $(PLUGIN_LINK)

# All tests: core unit tests, Processing tests (pytest-qgis), qgis_process CLI tests, GUI tests.
test: setup
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest tests/unit

demo: setup
	$(PY) demo/run_demo.py --output demo_output

# The GUI screenshots the tests render (dock, plot, guided dialogs at their default sizes), into docs/img.
screenshots: setup
	DT_SCREENSHOTS_DIR=docs/img $(PY) -m pytest tests/gui/test_screenshots.py -q

bench: setup
	$(PY) benchmarks/run_all.py

package: setup
	$(PY) scripts/package.py

# ruff, and the QGIS 4 readiness check (no Qt5-only construct: scripts/check_qt6.py)
lint: setup
	$(VENV)/bin/ruff check .
	$(PY) scripts/check_qt6.py

# The same suite on the QGIS of another Debian suite, in a chroot built once (as root):
# make test-qgis SUITE=trixie (QGIS 3.40 LTR) or SUITE=sid (newest); ARGS="tests/unit -x" for a part.
# See docs/compatibility.md.
SUITE ?= trixie
test-qgis:
	scripts/test_qgis_chroot.sh $(SUITE) $(ARGS)

# Run qgis_process with the plugin from this checkout: make qgis-process ARGS="list"
qgis-process: setup
	scripts/qgis_process.sh $(ARGS)

clean:
	rm -rf .build .qgis-settings demo_output dist .pytest_cache
