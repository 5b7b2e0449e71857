"""Offset tracking core: known shifts and fields on synthetic speckle (core.synthetic_sar)."""

import numpy as np
import pytest

from displacement_toolkit.core import offset_tracking as ot
from displacement_toolkit.core import synthetic_sar as s
from displacement_toolkit.core.progress import Monitor, OperationCancelled
from displacement_toolkit.core.raster_io import pixel_to_map

FINE = ot.TrackingParameters(coarse_search=False)


def _errors(res, tx, ty):
    return res.dx - tx, res.dy - ty


def test_integer_shift_complex():
    ref, sec = s.speckle_pair((256, 256), 3.0, -2.0, coherence=1.0, seed=1)
    res = ot.track_offsets(ref, sec, FINE)
    assert res.dx.shape == (6, 6)
    np.testing.assert_allclose(res.dx, 3.0, atol=0.002)
    np.testing.assert_allclose(res.dy, -2.0, atol=0.002)
    assert np.all(res.peak > 0.99)


@pytest.mark.parametrize("frac", [0.1, 0.25, 0.5])
def test_subpixel_shift_complex_coherence_095(frac):
    ref, sec = s.speckle_pair((320, 320), 1.0 + frac, -frac, coherence=0.95, seed=7)
    res = ot.track_offsets(ref, sec, FINE)
    ex, ey = _errors(res, 1.0 + frac, -frac)
    assert np.all(np.isfinite(ex))
    assert abs(np.mean(ex)) < 0.003 and abs(np.mean(ey)) < 0.003      # no pixel locking
    assert np.sqrt(np.mean(ex ** 2)) < 0.008 and np.sqrt(np.mean(ey ** 2)) < 0.008


def test_sigma_agrees_with_measured_error_within_factor_1_5():
    ref, sec = s.speckle_pair((448, 448), 0.37, 0.21, coherence=0.9, seed=11)
    res = ot.track_offsets(ref, sec, FINE)
    ex, ey = _errors(res, 0.37, 0.21)
    for err, sig in ((ex, res.sigma_x), (ey, res.sigma_y)):
        ratio = np.sqrt(np.mean(err ** 2)) / np.sqrt(np.mean(sig ** 2))
        assert 1 / 1.5 < ratio < 1.5, ratio


def test_tops_like_azimuth_ramp_is_removed():
    ref, sec = s.speckle_pair((256, 256), 0.3, 0.45, coherence=0.95, azimuth_ramp_cycles=0.35,
                              azimuth_ramp_rate=0.0005, seed=3)
    res = ot.track_offsets(ref, sec, FINE)
    ex, ey = _errors(res, 0.3, 0.45)
    assert np.sqrt(np.mean(ex ** 2)) < 0.01 and np.sqrt(np.mean(ey ** 2)) < 0.01


def test_sentinel1_tops_centroid_drift_is_followed():
    # Sentinel-1 IW bursts: the azimuth Doppler centroid drifts by about 0.007 cycles per line
    # (1.7 kHz/s at 486 Hz), half the spectrum across one 64-line window: a constant deramp per
    # window leaves the spectrum wrapped (0.06 px azimuth error); the per-row demodulation
    # follows it
    ref, sec = s.speckle_pair((320, 320), 1.3, -2.3, coherence=0.95, azimuth_ramp_cycles=0.3,
                              azimuth_ramp_rate=0.007, seed=11)
    res = ot.track_offsets(ref, sec, FINE)
    ex, ey = _errors(res, 1.3, -2.3)
    assert np.all(np.isfinite(ey))
    assert np.sqrt(np.mean(ex ** 2)) < 0.008 and np.sqrt(np.mean(ey ** 2)) < 0.008


def test_amplitude_not_aliased_and_complex_beats_detected_amplitude():
    ref, sec = s.amplitude_pair((256, 256), 0.4, -0.3, kind="smooth", seed=5)
    res = ot.track_offsets(ref, sec, FINE)
    ex, ey = _errors(res, 0.4, -0.3)
    assert np.max(np.abs(ex)) < 0.005 and np.max(np.abs(ey)) < 0.005
    # detecting an aliased SLC first loses the sub-pixel information; the complex path keeps it
    cref, csec = s.speckle_pair((256, 256), 0.4, -0.3, seed=5)
    amp = ot.track_offsets(np.abs(cref), np.abs(csec), FINE)
    cpx = ot.track_offsets(cref, csec, FINE)
    rmse_amp = np.sqrt(np.mean((amp.dx - 0.4) ** 2))
    rmse_cpx = np.sqrt(np.mean((cpx.dx - 0.4) ** 2))
    assert rmse_amp > 0.03 and rmse_cpx < 0.003


def test_smooth_field_and_fault():
    shape = (384, 384)
    dx, dy = s.smooth_field(shape, amplitude=1.5, wavelength=768)
    ref, sec = s.speckle_pair(shape, dx, dy, coherence=0.98, seed=2)
    res = ot.track_offsets(ref, sec, FINE)
    c, r = np.meshgrid(res.centre_cols - 0.5, res.centre_rows - 0.5)   # pixel-index coordinates
    tdx, tdy = s.smooth_field(shape, 1.5, 768)
    # truth at the window centre, evaluated in the reference frame (field is tiny-gradient)
    truth_x = ot.ndimage.map_coordinates(tdx, [r.ravel(), c.ravel()], order=1).reshape(c.shape)
    truth_y = ot.ndimage.map_coordinates(tdy, [r.ravel(), c.ravel()], order=1).reshape(c.shape)
    assert np.sqrt(np.mean((res.dx - truth_x) ** 2)) < 0.02
    assert np.sqrt(np.mean((res.dy - truth_y) ** 2)) < 0.02
    # fault: dy = -1 west of column 191.5 and +1 east of it
    fx, fy = s.fault_field(shape, slip=2.0)
    ref, sec = s.speckle_pair(shape, fx, fy, coherence=0.98, seed=4)
    res = ot.track_offsets(ref, sec, FINE)
    west = res.centre_cols + 32 <= 192          # the whole window lies west of the fault
    east = res.centre_cols - 32 >= 192
    np.testing.assert_allclose(res.dy[:, west], -1.0, atol=0.02)
    np.testing.assert_allclose(res.dy[:, east], 1.0, atol=0.02)
    np.testing.assert_allclose(res.dx[:, west | east], 0.0, atol=0.02)


def test_strain_correction_moves_offsets_to_the_window_centre():
    # a linear offset field measured at known off-centre points comes back at the centres;
    # a step (fault) between windows is left alone (minmod slope 0 next to it)
    rows, cols = np.mgrid[0:6, 0:7].astype(float)
    step_x, step_y = 32.0, 16.0
    field_x = lambda c, r: 0.3 + 0.010 * c + 0.004 * r            # noqa: E731  (per pixel)
    field_y = lambda c, r: -0.2 - 0.006 * c + 0.012 * r           # noqa: E731
    centre_c, centre_r = cols * step_x, rows * step_y
    cen = np.random.default_rng(3).uniform(-0.8, 0.8, (4,) + rows.shape)
    mx = field_x(centre_c + cen[0], centre_r + cen[1])
    my = field_y(centre_c + cen[2], centre_r + cen[3])
    cx, cy = ot.correct_strain(mx, my, cen, step_x, step_y)
    inner = (slice(1, -1), slice(1, -1))
    for got, measured, truth in ((cx, mx, field_x(centre_c, centre_r)),
                                 (cy, my, field_y(centre_c, centre_r))):
        before = np.max(np.abs(measured - truth)[inner])          # about 0.01 px
        # first order: the slopes come from the off-centre values themselves
        assert np.max(np.abs(got - truth)[inner]) < 0.1 * before
    # corners: a neighbour missing along both axes, no slope, no correction
    for k in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        assert cx[k] == mx[k] and cy[k] == my[k]
    step = np.where(cols < 3, -1.0, 1.0)
    sx, sy = ot.correct_strain(np.zeros_like(step), step, cen, step_x, step_y)
    np.testing.assert_array_equal(sy, step)
    np.testing.assert_array_equal(sx, 0.0)


def test_strain_correction_reduces_the_error_of_a_smooth_field():
    shape = (384, 384)
    dx, dy = s.smooth_field(shape, amplitude=1.5, wavelength=768)
    ref, sec = s.speckle_pair(shape, dx, dy, coherence=1.0, seed=8)
    # truth: the offset of each reference pixel (the field is given on the secondary grid:
    # x = p + d(x), fixed-point iteration), averaged over the window, at the window centre
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    px, py = xx.copy(), yy.copy()
    for _ in range(8):
        tx = ot.ndimage.map_coordinates(dx, [py, px], order=1, mode="nearest")
        ty = ot.ndimage.map_coordinates(dy, [py, px], order=1, mode="nearest")
        px, py = xx + tx, yy + ty
    errors = {}
    for corrected in (False, True):
        res = ot.track_offsets(ref, sec, ot.TrackingParameters(coarse_search=False,
                                                               strain_correction=corrected))
        c, r = np.meshgrid(res.centre_cols, res.centre_rows)   # window centre = index + 0.5
        err = []
        for est, field in ((res.dx, tx), (res.dy, ty)):
            box = ot.ndimage.uniform_filter(field, size=64, mode="nearest")
            err.append(est - ot.ndimage.map_coordinates(box, [r.ravel(), c.ravel()],
                                                        order=1).reshape(c.shape))
        errors[corrected] = float(np.sqrt(np.mean(np.square(err))))
    assert errors[True] < 0.8 * errors[False], errors          # measured 0.0064 -> 0.0042


def test_nodata_zeros_and_nan_give_nan_windows():
    ref, sec = s.speckle_pair((256, 256), 0.5, 0.5, seed=6)
    sec = sec.copy()
    sec[:, :70] = 0                              # swath border of zeros
    ref = ref.copy()
    ref[200, 200] = np.nan
    res = ot.track_offsets(ref, sec, FINE)
    left = res.centre_cols - 32 - 8 < 70          # search area touches the zeros
    assert np.all(np.isnan(res.dx[:, left])) and np.all(np.isnan(res.snr[:, left]))
    hit = (np.abs(res.centre_rows[:, None] - 200.5) < 32) & (np.abs(res.centre_cols - 200.5) < 32)
    assert np.all(np.isnan(res.dx[hit]))
    ok = ~left[None, :] & ~hit
    np.testing.assert_allclose(res.dx[ok], 0.5, atol=0.003)


def test_low_coherence_is_flagged_by_snr():
    good = ot.track_offsets(*s.speckle_pair((256, 256), 0.2, 0.2, coherence=0.95, seed=8), FINE)
    bad = ot.track_offsets(*s.speckle_pair((256, 256), 0.2, 0.2, coherence=0.1, seed=8), FINE)
    assert np.min(good.snr) > 20 and np.nanmedian(bad.snr) < 6
    p = ot.TrackingParameters(coarse_search=False, snr_threshold=8.0)
    masked = ot.track_offsets(*s.speckle_pair((256, 256), 0.2, 0.2, coherence=0.1, seed=8), p)
    assert np.mean(np.isnan(masked.dx)) > 0.8
    assert np.all(np.isnan(masked.dx) == np.isnan(masked.snr))


def test_coarse_search_recovers_large_shift_with_defaults():
    ref, sec = s.speckle_pair((448, 448), 23.4, -11.6, coherence=0.95, seed=9)
    res = ot.track_offsets(ref, sec, ot.TrackingParameters())
    assert res.coarse_offset[0] == pytest.approx(23.4, abs=2) and \
        res.coarse_offset[1] == pytest.approx(-11.6, abs=2)
    ok = np.isfinite(res.dx)
    assert ok.sum() >= 25
    np.testing.assert_allclose(res.dx[ok], 23.4, atol=0.02)
    np.testing.assert_allclose(res.dy[ok], -11.6, atol=0.02)
    # without the coarse pass the ±8 search cannot see it: nothing trustworthy
    p = ot.TrackingParameters(coarse_search=False, gross_x=23, gross_y=-12)
    res2 = ot.track_offsets(ref, sec, p)
    np.testing.assert_allclose(res2.dx[np.isfinite(res2.dx)], 23.4, atol=0.02)


def test_ramp_removal_and_outlier_filter():
    shape = (320, 448)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    ref, sec = s.speckle_pair(shape, 0.2 + 0.002 * x, -0.1 + 0.001 * y, coherence=0.98, seed=1)
    res = ot.track_offsets(ref, sec, ot.TrackingParameters(coarse_search=False, ramp="linear"))
    assert np.sqrt(np.nanmean(res.dx ** 2)) < 0.02 and np.sqrt(np.nanmean(res.dy ** 2)) < 0.02
    assert res.ramp_coefficients["dx"][1] == pytest.approx(0.002, rel=0.1)
    res = ot.track_offsets(ref, sec, ot.TrackingParameters(coarse_search=False, ramp="constant"))
    assert np.nanmean(res.dx) == pytest.approx(0.0, abs=1e-9)
    # outlier filter: one corrupted window is removed, the others stay
    dx = np.zeros((5, 5))
    dy = np.zeros((5, 5))
    dx[2, 2] = 3.0
    flagged = ot.filter_outliers(dx, dy, 1.0)
    assert flagged[2, 2] and flagged.sum() == 1


def test_output_geotransform_centres_first_pixel_on_first_window():
    p = ot.TrackingParameters(window_x=64, window_y=32, search_x=8, search_y=4, step_x=32,
                              step_y=16)
    gt = (500000.0, 2.3, 0.0, 4000000.0, 0.0, -14.0)
    ogt = ot.output_geotransform(gt, p)
    cols, rows = ot.output_grid(1000, 500, p)
    assert cols[0] == 8 + 32 and rows[0] == 4 + 16
    for i, j in ((0, 0), (3, 5)):
        expected = pixel_to_map(gt, cols[j], rows[i])
        got = pixel_to_map(ogt, j + 0.5, i + 0.5)
        assert got == pytest.approx(expected)
    assert ogt[1] == pytest.approx(2.3 * 32) and ogt[5] == pytest.approx(-14.0 * 16)


def test_cancel_and_bad_input():
    ref, sec = s.speckle_pair((256, 256), 0.0, 0.0, seed=1)
    with pytest.raises(OperationCancelled):
        ot.track_offsets(ref, sec, FINE, monitor=Monitor(is_cancelled=lambda: True))
    with pytest.raises(ValueError, match="co-register"):
        ot.track_offsets(ref, sec[:200], FINE)
    with pytest.raises(ValueError, match="WINDOW_X"):
        ot.track_offsets(ref, sec, ot.TrackingParameters(window_x=300))
    with pytest.raises(ValueError, match="STEP_Y"):
        ot.track_offsets(ref, sec, ot.TrackingParameters(step_y=0))
    with pytest.raises(ValueError, match="RAMP"):
        ot.track_offsets(ref, sec, ot.TrackingParameters(ramp="cubic"))


def test_threads_give_the_same_offsets_and_cancel_stops_them(monkeypatch):
    ref, sec = s.speckle_pair((320, 448), 0.7, -1.2, coherence=0.9, seed=21)
    p = ot.TrackingParameters(coarse_search=False, batch=4)      # many batches in flight
    monkeypatch.setattr(ot, "WORKERS", 1)
    one = ot.track_offsets(ref, sec, p)
    monkeypatch.setattr(ot, "WORKERS", 3)
    assert ot.correlation_threads() == 3
    three = ot.track_offsets(ref, sec, p)
    # the same windows, batches and formulas; only the float32 rounding of the matrix
    # products may differ (one BLAS thread per worker)
    for k in ("dx", "dy", "peak"):
        np.testing.assert_allclose(getattr(one, k), getattr(three, k), rtol=0, atol=1e-4)
    np.testing.assert_allclose(one.sigma_x, three.sigma_x, rtol=1e-3)
    assert np.sqrt(np.mean((three.dx - 0.7) ** 2)) < 0.01
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 5
    with pytest.raises(OperationCancelled):
        ot.track_offsets(ref, sec, p, monitor=Monitor(is_cancelled=cancelled))
    # a 20 000 pixel wide pair: the threads are limited so that their tasks hold < 2 GB
    monkeypatch.setattr(ot, "WORKERS", 8)
    wide = ot.TrackingParameters()
    assert 1 <= ot.tracking_threads(20000, wide) < 8
    assert ot.memory_bound(20000, wide) < 2e9
    assert ot.memory_bound(20000, wide, threads=8) > 2e9          # what 8 threads would hold
    assert ot.tracking_threads(2000, wide) == 8                   # narrow: every thread


def test_direction_convention():
    assert ot.offset_direction(1.0, 0.0) == pytest.approx(90.0)
    assert ot.offset_direction(0.0, 1.0) == pytest.approx(180.0)
    assert ot.offset_direction(0.0, -1.0) == pytest.approx(0.0)


def test_task_ranges_cover_every_window_row_once_in_balanced_tasks():
    for n_rows in (1, 2, 7, 15, 16, 17, 120, 404, 1000, 5000):
        for step in (8, 32, 64):
            ranges = ot.task_ranges(n_rows, step)
            rows = [r for a, b in ranges for r in range(a, b)]
            assert rows == list(range(n_rows)), (n_rows, step)
            sizes = [b - a for a, b in ranges]
            assert max(sizes) - min(sizes) <= 1
            assert max(sizes) * step <= max(ot.TASK_ROWS, step)
            assert len(ranges) in (1, n_rows) or len(ranges) % 2 == 0   # 2 workers: even
            by_size = -(-n_rows // (ot.TASK_ROWS // step))
            if len(ranges) > by_size + 1:                 # split further for balance only
                assert len(ranges) <= ot.BALANCE_TASKS
                assert min(sizes) * step >= ot.MIN_TASK_ROWS - step
            if n_rows // -(-ot.MIN_TASK_ROWS // step) >= ot.BALANCE_TASKS:
                assert len(ranges) >= ot.BALANCE_TASKS
    # a frame (13 000 rows, step 32 -> 404 window rows): 8 tasks of 50-51 window rows
    assert [b - a for a, b in ot.task_ranges(404, 32)] == [50, 51] * 4
    assert ot.task_ranges(0, 32) == []


def test_many_small_tasks_give_the_same_offsets_on_one_and_two_threads(tmp_path, monkeypatch):
    from displacement_toolkit.core.execution import LocalEngine
    from displacement_toolkit.core.raster_io import write_array

    ref, sec = s.speckle_pair((352, 448), 0.4, -0.3, coherence=0.9, seed=3)
    paths = [str(tmp_path / "ref.tif"), str(tmp_path / "sec.tif")]
    for path, image in zip(paths, (ref, sec)):
        write_array(path, image.astype(np.complex64), (0, 1, 0, 0, 0, -1), "")
    p = ot.TrackingParameters(window_x=32, window_y=32, step_x=16, step_y=16,
                              snr_threshold=5.0)
    monkeypatch.setattr(ot, "TASK_ROWS", 10 ** 6)
    monkeypatch.setattr(ot, "REDUCE_ROWS", 10 ** 6)
    single = ot.track_offsets(*paths, p, engine=LocalEngine(1))   # one task
    monkeypatch.setattr(ot, "TASK_ROWS", 48)        # 3 window rows per task
    monkeypatch.setattr(ot, "REDUCE_ROWS", 12)      # 3 reduced rows per coarse task
    runs = []
    for threads in (1, 2):
        engine = LocalEngine(threads)
        runs.append(ot.track_offsets(*paths, p, engine=engine))
        assert engine.summary().startswith("8 tasks") and len(engine.tasks_by_worker) == threads
    # the same split on every engine: the same offsets bit for bit
    for k in ("dx", "dy", "peak", "snr", "sigma_x", "sigma_y", "centroids"):
        np.testing.assert_array_equal(getattr(runs[1], k), getattr(runs[0], k))
    assert runs[1].removed == runs[0].removed == single.removed
    # another split gives other batches of windows: the float32 rounding only
    for k in ("dx", "dy", "peak"):
        np.testing.assert_allclose(getattr(runs[0], k), getattr(single, k), rtol=0, atol=1e-5)
    assert np.nanmedian(runs[0].dx) == pytest.approx(0.4, abs=0.02)


def test_a_run_on_one_thread_keeps_its_coarse_pass_on_that_thread(monkeypatch):
    """The engine given to track_offsets runs every task, the coarse pass's too: a run capped
    to one thread (a benchmark's baseline, a busy machine) does not start other threads for
    its coarse pass; a two-thread engine runs it on its two threads."""
    import threading

    from displacement_toolkit.core import execution as X

    ref, sec = s.speckle_pair((384, 448), 9.4, -6.6, coherence=0.9, seed=5)
    p = ot.TrackingParameters(window_x=32, window_y=32, step_x=32, step_y=32, search_x=4,
                              search_y=4, coarse_search=True)
    monkeypatch.setattr(ot, "WORKERS", 2)          # the machine's threads: two
    ran_on = []
    traced = X._traced_thread

    def recording(function, task, monitor=None):
        ran_on.append((function.__name__, threading.current_thread().name))
        return traced(function, task, monitor)

    monkeypatch.setattr(X, "_traced_thread", recording)
    results = {}
    for threads in (1, 2):
        ran_on.clear()
        results[threads] = ot.track_offsets(ref, sec, p, engine=X.LocalEngine(threads))
        names = {name for _, name in ran_on}
        assert {f for f, _ in ran_on} == {"_reduce_rows", "_track_tile"}
        if threads == 1:
            assert names == {threading.current_thread().name}
        else:
            assert len(names) == 2 and threading.current_thread().name not in names
    for res in results.values():
        assert res.coarse_offset == (9.0, -7.0)     # whole pixels nearest the shift
        assert np.nanmedian(res.dx) == pytest.approx(9.4, abs=0.02)
        assert np.nanmedian(res.dy) == pytest.approx(-6.6, abs=0.02)


def test_coarse_reduction_in_tasks_is_the_block_mean_of_the_amplitude(monkeypatch):
    from displacement_toolkit.core.execution import LocalEngine

    rng = np.random.default_rng(4)
    image = (rng.normal(size=(50, 37)) + 1j * rng.normal(size=(50, 37))).astype(np.complex64)
    image[13, 5] = 0                     # nodata: the reduced pixel (3, 1) is NaN
    image[41, 30] = np.nan               # (10, 7)
    monkeypatch.setattr(ot, "REDUCE_ROWS", 8)         # 7 tasks, the last one 4 rows
    reduced, = ot.reduced_images([ot.ImageSpec(array=image)], image.shape, 4, LocalEngine(2))
    assert reduced.shape == (12, 9)
    for i in range(12):
        for j in range(9):
            block = np.abs(image[4 * i:4 * i + 4, 4 * j:4 * j + 4].astype(np.complex128))
            if (i, j) in ((3, 1), (10, 7)):
                assert np.isnan(reduced[i, j])
            else:
                assert reduced[i, j] == pytest.approx(block.mean(), rel=1e-6)


def test_raster_reads_leave_nothing_in_gdal_block_cache(tmp_path, monkeypatch):
    from osgeo import gdal

    from displacement_toolkit.core.raster_io import TILE_SIZE, write_array

    path = str(tmp_path / "slc.tif")          # DEFLATE tiles of TILE_SIZE rows
    rng = np.random.default_rng(2)
    image = (rng.normal(size=(600, 200)) + 1j * rng.normal(size=(600, 200))).astype(np.complex64)
    write_array(path, image, (0, 1, 0, 0, 0, -1), "")
    before = gdal.GetCacheUsed()
    source = ot.RasterSource(path)
    assert source.strip_rows == TILE_SIZE == 256
    reads = []
    read = source._read
    monkeypatch.setattr(source, "_read", lambda row, rows: reads.append(row) or read(row, rows))
    for row in range(0, 600, 70):                 # reads across the rows of tiles
        rows = min(70, 600 - row)
        np.testing.assert_array_equal(source.read(row, rows), image[row:row + rows])
    assert reads == [0, 256, 512]                 # every row of tiles read (decompressed) once
    assert gdal.GetCacheUsed() == before
    monkeypatch.setattr(ot, "STRIP_BYTES", 1000)  # rows of tiles too large to keep: as asked
    source = ot.RasterSource(path)
    assert source.strip_rows == 0
    np.testing.assert_array_equal(source.read(250, 20), image[250:270])
    assert gdal.GetCacheUsed() == before
