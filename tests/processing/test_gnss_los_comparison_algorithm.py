"""displacement:gnss_los_comparison through processing.run: synthetic truth, file and layer inputs,
styled output, HTML report, and clear errors that leave nothing behind."""

from pathlib import Path

import numpy as np
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    NULL,
    QgsVectorLayer,
)

from displacement_toolkit.processing_provider.fields import make_fields

from ..conftest import run_algorithm
from ..unit.test_gnss_comparison import Scene

ALG = "displacement:gnss_los_comparison"
GAGE = Path(__file__).resolve().parents[1] / "data" / "gage_gnss_velocity" / "cwu.final_nam14.vel"


def _csv(scene, path, scale=1000.0):
    g = scene.gnss
    rows = ["site,lon,lat,ve,vn,vu,sig_e,sig_n,sig_u"]
    for i, s in enumerate(g.station):
        values = [g.east[i], g.north[i], g.up[i], g.sig_east[i], g.sig_north[i], g.sig_up[i]]
        rows.append(f"{s},{g.lon[i]:.10f},{g.lat[i]:.10f}," + ",".join(f"{v * scale:.9f}" for v in values))
    Path(path).write_text("\n".join(rows) + "\n")
    return str(path)


def _features(path):
    layer = QgsVectorLayer(str(path), "out", "ogr")
    assert layer.isValid()
    return {f["station"]: f for f in layer.getFeatures()}


@pytest.fixture
def scene(tmp_path):
    return Scene(tmp_path, lambda x, y: 0.005 + 1e-6 * (x - 500000) + 0.0 * y)


def test_csv_file_plane_reference_is_exact_and_styled(provider, scene, tmp_path):
    out = tmp_path / "cmp.gpkg"
    report = tmp_path / "cmp.html"
    result = run_algorithm(ALG, {
        "INSAR": scene.path, "GNSS_FILE": _csv(scene, tmp_path / "gnss.csv"), "GNSS_UNITS": 2,
        "LOS_ENU": scene.geom, "SAMPLE_RADIUS": 10.0, "MIN_PIXELS": 1, "REFERENCE": 3,
        "OUTPUT": str(out), "OUTPUT_REPORT": str(report)})
    assert result["N"] == 12
    assert result["RMSE"] < 2e-4  # mm/yr
    assert result["R"] == pytest.approx(1.0, abs=1e-6)
    feats = _features(out)
    assert len(feats) == 12
    for i, name in enumerate(scene.gnss.station):
        f = feats[name]
        assert f["gnss_los"] == pytest.approx(scene.los_true[i] * 1000, abs=1e-5)
        assert f["insar_los"] == pytest.approx(scene.los_true[i] * 1000, abs=2e-4)
        assert f["gnss_e"] == pytest.approx(scene.gnss.east[i] * 1000, abs=1e-6)
        assert f["n_pixels"] == 1 and f["status"] == "ok" and f["units"] == "mm/yr"
        assert f.geometry().asPoint().x() == pytest.approx(scene.lon[i], abs=1e-9)
    qml = (tmp_path / "cmp.qml").read_text()
    assert "graduatedSymbol" in qml and 'attr="residual"' in qml and "mm/yr" in qml
    text = report.read_text()
    assert text.count("data:image/png;base64,") == 2
    assert "RMSE" in text and "Pearson" in text


def test_point_layer_with_field_mapping_and_named_station(provider, scene, tmp_path):
    layer = QgsVectorLayer("Point?crs=EPSG:4326", "gnss", "memory")
    pr = layer.dataProvider()
    pr.addAttributes(make_fields([("code", str), ("VE", float), ("VN", float), ("VU", float)]).toList())
    layer.updateFields()
    g = scene.gnss
    feats = []
    for i, s in enumerate(g.station):
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(g.lon[i]), float(g.lat[i]))))
        f.setAttributes([s, float(g.east[i]), float(g.north[i]), float(g.up[i])])
        feats.append(f)
    assert pr.addFeatures(feats)[0] and layer.featureCount() == 12
    out = tmp_path / "layer.gpkg"
    result = run_algorithm(ALG, {
        "INSAR": scene.path, "GNSS_LAYER": layer, "STATION_FIELD": "code", "EAST_FIELD": "VE",
        "NORTH_FIELD": "VN", "UP_FIELD": "VU", "GNSS_UNITS": 0, "LOS_ENU": scene.geom,
        "SAMPLE_RADIUS": 10.0, "MIN_PIXELS": 1, "REFERENCE": 3, "OUTPUT": str(out)})
    assert result["N"] == 12 and result["RMSE"] < 2e-4
    got = _features(out)
    assert got["S05"]["gnss_los_sigma"] == NULL  # no sigma fields mapped: no sigma, not 0
    # a named station: residual 0 there, the constant ramp-free part elsewhere differs
    result = run_algorithm(ALG, {
        "INSAR": scene.path, "GNSS_LAYER": layer, "STATION_FIELD": "code", "EAST_FIELD": "VE",
        "NORTH_FIELD": "VN", "UP_FIELD": "VU", "GNSS_UNITS": 0, "LOS_ENU": scene.geom,
        "SAMPLE_RADIUS": 10.0, "MIN_PIXELS": 1, "REFERENCE": 1, "REFERENCE_STATION": "S04",
        "OUTPUT": str(tmp_path / "named.gpkg")})
    named = _features(tmp_path / "named.gpkg")
    assert named["S04"]["residual"] == pytest.approx(0.0, abs=1e-6)
    # the InSAR ramp (1e-6 /m = 1 mm/yr per km) remains: residual = ramp difference to S04
    x = scene.gt[0] + (scene.cols + 0.5) * 50
    expected = (x - x[4]) * 1e-6 * 1000
    for i, name in enumerate(scene.gnss.station):
        assert named[name]["residual"] == pytest.approx(expected[i], abs=2e-4)
    missing = {"INSAR": scene.path, "GNSS_LAYER": layer, "STATION_FIELD": "code", "EAST_FIELD": "VE",
               "NORTH_FIELD": "VN", "LOS_ENU": scene.geom, "OUTPUT": str(tmp_path / "m.gpkg")}
    with pytest.raises(QgsProcessingException, match="UP_FIELD.*needs the up field"):
        run_algorithm(ALG, missing)


def test_gage_table_over_a_raster_far_away_says_all_outside(provider, tmp_path, make_raster):
    # a velocity raster in the middle of the Atlantic: none of the 2194 stations is inside
    path = make_raster(np.zeros((20, 20), np.float32), "atlantic.tif",
                       geotransform=(500000.0, 100.0, 0.0, 3000000.0, 0.0, -100.0),
                       band_metadata=[{"units": "mm/yr"}])
    from osgeo import gdal
    ds = gdal.Open(path, gdal.GA_Update)
    from displacement_toolkit.core.raster_io import crs_from_epsg
    ds.SetProjection(crs_from_epsg(32626))
    ds = None
    out = tmp_path / "none.gpkg"
    report = tmp_path / "none.html"
    with pytest.raises(QgsProcessingException, match="all 2194 GNSS stations lie outside"):
        run_algorithm(ALG, {"INSAR": path, "GNSS_FILE": str(GAGE), "INCIDENCE_ANGLE": 35,
                            "HEADING_ANGLE": -12, "OUTPUT": str(out), "OUTPUT_REPORT": str(report)})
    assert not report.exists()


def test_units_mismatch_and_missing_geometry(provider, scene, tmp_path):
    csv = _csv(scene, tmp_path / "gnss.csv")
    base = {"INSAR": scene.path, "GNSS_FILE": csv, "GNSS_UNITS": 2, "OUTPUT": str(tmp_path / "o.gpkg")}
    with pytest.raises(QgsProcessingException, match="INSAR_UNITS = 'm': units mismatch"):
        run_algorithm(ALG, {**base, "INSAR_UNITS": 1, "LOS_ENU": scene.geom})
    with pytest.raises(QgsProcessingException, match="no LOS geometry"):
        run_algorithm(ALG, base)
    with pytest.raises(QgsProcessingException, match="REFERENCE_STATION.*no station was given"):
        run_algorithm(ALG, {**base, "LOS_ENU": scene.geom, "REFERENCE": 1})
    bad = tmp_path / "bad.csv"
    bad.write_text("site,lon,lat,ve,vn\nA,1,2,3,4\n")
    with pytest.raises(QgsProcessingException, match="GNSS_FILE.*missing column\\(s\\) up"):
        run_algorithm(ALG, {**base, "GNSS_FILE": str(bad), "LOS_ENU": scene.geom})


def test_csv_columns_named_with_the_field_parameters_and_midas(provider, scene, tmp_path):
    g = scene.gnss
    csv = tmp_path / "renamed.csv"
    rows = ["code;longitude;latitude;VEL_E;VEL_N;VEL_U"]
    rows += [f"{s};{g.lon[i]:.10f};{g.lat[i]:.10f};{g.east[i]:.10f};{g.north[i]:.10f};{g.up[i]:.10f}"
             for i, s in enumerate(g.station)]
    csv.write_text("\n".join(rows) + "\n")
    base = {"INSAR": scene.path, "LOS_ENU": scene.geom, "SAMPLE_RADIUS": 10.0, "MIN_PIXELS": 1,
            "REFERENCE": 3}
    result = run_algorithm(ALG, {**base, "GNSS_FILE": str(csv), "GNSS_FORMAT": 3, "GNSS_UNITS": 0,
                                 "STATION_FIELD": "code", "EAST_FIELD": "VEL_E", "NORTH_FIELD": "VEL_N",
                                 "UP_FIELD": "VEL_U", "OUTPUT": str(tmp_path / "renamed.gpkg")})
    assert result["N"] == 12 and result["RMSE"] < 2e-4
    # the same stations as a MIDAS table (m/yr, lon 0-360)
    midas = tmp_path / "midas.IGS14.txt"
    lines = [f"{s} MIDAS5 2008.0 2024.0 16.0 5800 5790 5000 {g.east[i]:.10f} {g.north[i]:.10f} "
             f"{g.up[i]:.10f} 0.0003 0.0002 0.0009 0.1 0.2 0.3 0.05 0.04 0.06 0.002 0.002 0.004 1 "
             f"{g.lat[i]:.10f} {g.lon[i] % 360:.10f} 100.0" for i, s in enumerate(g.station)]
    midas.write_text("\n".join(lines) + "\n")
    result = run_algorithm(ALG, {**base, "GNSS_FILE": str(midas), "OUTPUT": str(tmp_path / "midas.gpkg")})
    assert result["N"] == 12 and result["RMSE"] < 2e-4
    feats = _features(tmp_path / "midas.gpkg")
    # sigma: sqrt(sum (u_i sigma_i)^2) with the unit vector at the station
    ve, vn, vu = (c[0] for c in scene.station_vec)
    expected = np.sqrt((ve * 0.3) ** 2 + (vn * 0.2) ** 2 + (vu * 0.9) ** 2)  # mm/yr, no correlations
    assert feats["S00"]["gnss_los_sigma"] == pytest.approx(expected, rel=1e-5)


def test_report_is_an_html_output_for_the_results_viewer(provider):
    for alg_id in (ALG, "displacement:gnss_timeseries_comparison"):
        alg = provider.algorithm(alg_id.split(":")[1])
        kinds = {o.name(): o.type() for o in alg.outputDefinitions()}
        assert kinds["OUTPUT_REPORT"] == "outputHtml"
        assert kinds["RMSE"] == "outputNumber"


def test_kilauea_velocities(provider, tmp_path):
    """Real data: a LOS velocity raster fitted (least squares, test-side) to the 6 Kilauea epochs
    2016-07-11..09-21, against GNSS velocities fitted to the UNR daily series over the same span.
    Measured: N = 7; constant reference RMSE 20.8 mm/yr, r 0.845, slope 1.05; plane 13.4 mm/yr, r 0.93."""
    import datetime as dt
    import glob

    from displacement_toolkit.core.dates import dates_in_name
    from displacement_toolkit.core.gnss import read_tenv3
    from displacement_toolkit.core.raster_io import raster_info, read_block, write_array

    import shutil

    hawaii = tmp_path / "geepers_hawaii"  # a copy: QGIS writes .aux.xml next to loaded rasters
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "geepers_hawaii", hawaii)
    files = sorted(glob.glob(str(hawaii / "hawaii" / "displacement_*.tif")))
    start, end = dt.date(2016, 7, 11), dt.date(2016, 9, 21)
    t = np.array([0.0] + [(dates_in_name(f)[-1] - start).days / 365.25 for f in files])
    stack = np.stack([np.zeros((400, 400))] + [read_block(f, 1) for f in files]).reshape(6, -1)
    design = np.column_stack([np.ones_like(t), t])
    velocity = np.linalg.lstsq(design, stack, rcond=None)[0][1].reshape(400, 400)
    info = raster_info(files[0])
    vel_path = write_array(str(tmp_path / "vel.tif"), velocity, info.geotransform, info.crs_wkt,
                           band_metadata=[{"units": "m/yr"}])
    rows = ["station,lon,lat,east,north,up"]
    for path in sorted(glob.glob(str(hawaii / "unr_tenv3" / "*.tenv3"))):
        s = read_tenv3(path)
        days = s.ordinals()
        sel = (days >= start.toordinal()) & (days <= end.toordinal())
        if sel.sum() < 10:
            continue
        years = (days[sel] - start.toordinal()) / 365.25
        v = [np.polyfit(years, c[sel], 1)[0] for c in (s.east, s.north, s.up)]
        rows.append(f"{s.station},{s.lon},{s.lat},{v[0]},{v[1]},{v[2]}")
    csv = tmp_path / "gnss_vel.csv"
    csv.write_text("\n".join(rows) + "\n")
    base = {"INSAR": vel_path, "GNSS_FILE": str(csv), "GNSS_UNITS": 0,
            "LOS_ENU": str(hawaii / "hawaii" / "hawaii_los_enu.tif")}
    const = run_algorithm(ALG, {**base, "REFERENCE": 2, "OUTPUT": str(tmp_path / "c.gpkg")})
    assert const["N"] == 7
    assert const["RMSE"] == pytest.approx(20.8, abs=1.0)
    assert const["R"] == pytest.approx(0.845, abs=0.03)
    assert const["SLOPE"] == pytest.approx(1.05, abs=0.05)
    plane = run_algorithm(ALG, {**base, "REFERENCE": 3, "OUTPUT": str(tmp_path / "p.gpkg")})
    assert plane["RMSE"] == pytest.approx(13.4, abs=1.0)
    assert plane["R"] == pytest.approx(0.93, abs=0.03)


def test_output_opens_styled_by_residual(provider, scene, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    from displacement_toolkit.processing_provider.gnss_common import residual_renderer
    from displacement_toolkit.processing_provider.styling import VectorRendererPostProcessor

    out = tmp_path / "styled.gpkg"
    run_algorithm(ALG, {"INSAR": scene.path, "GNSS_FILE": _csv(scene, tmp_path / "g.csv"), "GNSS_UNITS": 2,
                        "LOS_ENU": scene.geom, "SAMPLE_RADIUS": 10.0, "MIN_PIXELS": 1, "REFERENCE": 0,
                        "OUTPUT": str(out)})
    layer = QgsVectorLayer(str(out), "styled", "ogr")  # picks up styled.qml
    renderer = layer.renderer()
    assert renderer.type() == "graduatedSymbol" and renderer.classAttribute() == "residual"
    ranges = renderer.ranges()
    assert len(ranges) == 7
    assert ranges[0].lowerValue() == pytest.approx(-ranges[-1].upperValue())
    # the post-processor used when QGIS loads the result applies the same renderer
    plain = QgsVectorLayer(str(out), "plain", "ogr")
    post = VectorRendererPostProcessor.create(residual_renderer("residual", [-2.0, 1.0], "mm/yr"))
    post.postProcessLayer(plain, QgsProcessingContext(), QgsProcessingFeedback())
    assert plain.renderer().type() == "graduatedSymbol"
    assert plain.renderer().ranges()[-1].upperValue() == pytest.approx(2.0, rel=1e-6)
    assert plain.renderer().ranges()[0].label().endswith("mm/yr")


def test_point_layer_in_a_projected_crs(provider, scene, tmp_path):
    """Stations given in UTM 33N (the layer's CRS) are transformed to lon/lat, then to each raster."""
    layer = QgsVectorLayer("Point?crs=EPSG:32633&field=name:string&field=e:double&field=n:double"
                           "&field=u:double&field=su:double", "utm", "memory")
    g = scene.gnss
    feats = []
    for i, s in enumerate(g.station):
        f = QgsFeature(layer.fields())
        x = scene.gt[0] + (scene.cols[i] + 0.5) * 50
        y = scene.gt[3] - (scene.rows[i] + 0.5) * 50
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(x), float(y))))
        f.setAttributes([s, float(g.east[i]) * 1000, float(g.north[i]) * 1000, float(g.up[i]) * 1000, 2.0])
        feats.append(f)
    assert layer.dataProvider().addFeatures(feats)[0]
    out = tmp_path / "utm.gpkg"
    result = run_algorithm(ALG, {
        "INSAR": scene.path, "GNSS_LAYER": layer, "STATION_FIELD": "name", "EAST_FIELD": "e",
        "NORTH_FIELD": "n", "UP_FIELD": "u", "SIG_UP_FIELD": "su", "GNSS_UNITS": 2,
        "LOS_ENU": scene.geom, "SAMPLE_RADIUS": 10.0, "MIN_PIXELS": 1, "REFERENCE": 3, "OUTPUT": str(out)})
    assert result["N"] == 12 and result["RMSE"] < 2e-4
    got = _features(out)
    assert got["S07"]["lon"] == pytest.approx(scene.lon[7], abs=1e-9)
    assert got["S07"]["lat"] == pytest.approx(scene.lat[7], abs=1e-9)


def test_geometry_recorded_in_the_insar_raster_is_the_default(provider, scene, tmp_path):
    """An InSAR raster carrying its geometry (Load product's geometry_* metadata) needs no
    geometry parameter: the GNSS vectors are projected exactly as with the angles given."""
    from osgeo import gdal

    from ..conftest import recording_feedback

    recorded = str(tmp_path / "vel_geometry.tif")
    gdal.Translate(recorded, scene.path)
    ds = gdal.Open(recorded, gdal.GA_Update)
    ds.SetMetadata({"geometry_incidence": "34", "geometry_heading": "-12",
                    "geometry_look_direction": "right"})
    ds = None
    csv = _csv(scene, tmp_path / "gnss.csv")
    common = {"GNSS_FILE": csv, "GNSS_UNITS": 2, "SAMPLE_RADIUS": 10.0, "MIN_PIXELS": 1}
    given = run_algorithm(ALG, {**common, "INSAR": scene.path, "INCIDENCE_ANGLE": 34.0,
                                "HEADING_ANGLE": -12.0, "OUTPUT": str(tmp_path / "given.gpkg")})
    feedback = recording_feedback()
    auto = run_algorithm(ALG, {**common, "INSAR": recorded, "OUTPUT": str(tmp_path / "auto.gpkg")},
                         feedback=feedback)
    a, b = _features(given["OUTPUT"]), _features(auto["OUTPUT"])
    assert len(a) == 12
    for name in a:
        assert b[name]["gnss_los"] == pytest.approx(a[name]["gnss_los"], abs=1e-9)
    assert auto["RMSE"] == pytest.approx(given["RMSE"], rel=1e-9)
    assert any("LOS geometry from GDAL raster vel_geometry.tif" in x and "incidence 34 deg, "
               "heading -12 deg, right-looking" in x for x in feedback.lines)
