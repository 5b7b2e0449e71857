"""The Displacement Inspector on a point layer (persistent scatterers): a click near a point
plots its series (several overlaid), shows its velocity with units and fits a velocity over
a chosen date range."""

import datetime as dt

import numpy as np
import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRectangle, QgsVectorLayer

from displacement_toolkit.core import points as P
from displacement_toolkit.core.raster_io import crs_from_epsg

from .test_inspector_dock import click

pytestmark = pytest.mark.gui

DAYS = [dt.date(2020, 1, 5) + dt.timedelta(days=12 * k) for k in range(20)]
T = np.array([(d - DAYS[0]).days / 365.25 for d in DAYS])
XY = [(500100.0, 3999900.0), (500700.0, 3999300.0), (500400.0, 3999700.0)]
RATES = [-12.0, 5.0, 0.0]                      # mm/yr


@pytest.fixture
def point_dock(qgis_canvas, qgis_new_project, tmp_path):
    from displacement_toolkit.ui.inspector_dock import InspectorDock

    series = [r * T + 2.0 * np.sin(2 * np.pi * T) for r in RATES]
    series[2][5] = np.nan
    fields = [("pid", "text"), ("velocity", "real"), ("velocity_std", "real")] + \
        [(P.date_field(d), "real") for d in DAYS]
    with P.PointWriter(str(tmp_path / "ps.gpkg"), crs_from_epsg(32633), fields, "points",
                       {"units": "mm", "velocity_units": "mm/yr",
                        "reference_date": DAYS[0].isoformat(),
                        "quantity": "los_displacement"}) as w:
        w.write(np.array([p[0] for p in XY]), np.array([p[1] for p in XY]),
                {"pid": ["A", "B", "C"], "velocity": np.array(RATES), "velocity_std": [0.2] * 3,
                 **{P.date_field(d): np.array([s[k] for s in series]) for k, d in enumerate(DAYS)}})
        path = w.commit()
    layer = QgsVectorLayer(path, "ps", "ogr")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    qgis_canvas.resize(600, 500)
    qgis_canvas.setExtent(QgsRectangle(500000.0, 3999000.0, 501000.0, 4000000.0))
    widget = InspectorDock(qgis_canvas)
    yield widget, series
    widget.set_tool_active(False)
    widget.disconnect_project()
    widget.deleteLater()


def test_click_near_a_point_plots_its_series_and_velocity(point_dock, qgis_canvas):
    dock, series = point_dock
    units_per_px = qgis_canvas.mapUnitsPerPixel()
    click(qgis_canvas, dock.map_tool, XY[0][0] + 3 * units_per_px, XY[0][1] - 2 * units_per_px)
    assert [s.label for s in dock.plot.series] == ["ps point A"]
    s = dock.plot.series[0]
    assert s.dates == DAYS and s.units == "mm" and s.reference_date == DAYS[0]
    np.testing.assert_allclose(s.values, series[0])
    row = {r["layer"]: r for r in dock.last_values}["ps"]
    assert row["band"] == "point A velocity" and row["text"] == "-12 ± 0.2 mm/yr"
    assert row["quantity"] == "los_velocity"
    # a second point overlaid; the fit follows the last one, over a chosen range
    click(qgis_canvas, dock.map_tool, *XY[2])
    assert [s.label for s in dock.plot.series] == ["ps point A", "ps point C"]
    assert np.isnan(dock.plot.series[1].values[5])
    dock.set_fit_range(DAYS[2], DAYS[15])
    fit = dock.last_fit
    keep = [k for k in range(2, 16) if k != 5]
    slope = np.polyfit(T[keep], series[2][keep], 1)[0]
    assert fit.count == len(keep) and fit.velocity == pytest.approx(slope, abs=1e-9)
    assert "mm/yr" in dock.velocity_label.text()
    # far from every point: no point row, nothing added
    click(qgis_canvas, dock.map_tool, XY[1][0] + 30 * units_per_px, XY[1][1] - 30 * units_per_px)
    assert "ps" not in {r["layer"] for r in dock.last_values}
    assert len(dock.plot.series) == 2
