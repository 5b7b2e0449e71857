"""Decomposition of LOS, range-offset and azimuth-offset observations into east, north, up.

Every pixel has ``n`` observations ``y_k`` (``n`` = 2..4), each the projection
of the ground motion ``d = (east, north, up)`` on a unit vector ``g_k``::

    y_k = g_k · d + noise_k          (noise_k has standard deviation sigma_k)

The kinds of observation and their unit vectors (docs/conventions.md,
:mod:`.geometry`):

``los``
    LOS displacement, **positive toward the satellite**: ``g`` is the
    ground→satellite unit vector ``(−sin θ·sin α, sin θ·cos α, cos θ)``.
``range_offset``
    Range offset in length units, **positive when the range increases**
    (away from the satellite, as offset tracking writes it): ``g`` = −LOS vector.
``azimuth_offset``
    Along-track (azimuth) offset or MAI in length units, **positive along the
    flight direction**: ``g = (sin h, cos h, 0)`` with ``h`` the heading.

The unknowns depend on the component model (``COMPONENT_MODELS``):

``east_up``
    east and up, north assumed zero (Wright et al. 2004; MintPy
    ``asc_desc2horz_vert.py``).  When the true north motion ``N`` is not zero
    it leaks into the solution: the estimate is ``(E, U) + b·N`` with
    ``b = G⁻¹ g_north`` (see :func:`model_response`); for the worked
    Sentinel-1 pair below ``b = (−0.019372, −0.153019)``, i.e. 1 cm of true
    northward motion appears as −0.19 mm east and −1.53 mm up.
``horizontal_up``
    the horizontal motion along a given azimuth φ (clockwise from north,
    degrees, like a heading: 90 = east; MintPy's ``--az`` is anti-clockwise,
    MintPy −90 = ours 90) and up; motion perpendicular to φ is assumed zero.
``east_north_up``
    all three components; needs at least three independent geometries
    (e.g. ascending LOS + descending LOS + an azimuth offset).

Per pixel the weighted least-squares solution is
``x = (GᵀWG)⁻¹ GᵀW y`` with ``W = diag(1/sigma²)`` (``W = I`` when no sigma is
given), its covariance ``(GᵀWG)⁻¹`` (1-sigma = square root of the diagonal, in
the units of the observations; without sigma it is the unit-less noise
amplification, the sigma of each component per unit observation sigma), and,
when ``n > m``, the weighted RMS misfit ``sqrt(Σ w r² / Σ w)`` of the
residuals ``r = y − G x`` (units of the observations).

Conditioning: a pixel is set to NaN when the 2-norm condition number of the
*unweighted* design matrix ``G`` (rows are unit vectors, so it is a property
of the geometry alone) exceeds ``max_condition``
(default :data:`DEFAULT_MAX_CONDITION` = 10).  The condition number bounds
how much observation noise is amplified; an ascending/descending Sentinel-1
pair has about 1.4 for east + up (1.5 for east + north + up with an ascending
azimuth offset), two ascending tracks of 34° and 44° incidence about 11.5;
LOS-only east + north + up is singular.

All of this is vectorised over blocks of pixels: arrays of shape
``(pixels, observations, components)``; there is no per-pixel Python.

Worked Sentinel-1 example (MintPy 1.6.4 numbers): ascending θ = 34°,
h = −12° → g = (−0.546973, −0.116263, 0.829038); descending θ = 39°,
h = −168° → g = (0.615568, −0.130843, 0.777146).  Ground motion
(E, N, U) = (0.010, 0, −0.020) m → LOS −0.022050 m and −0.009387 m; the
east + up solution of those two numbers is (0.010, −0.020) m.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

from . import geometry
from .execution import BandSource, engine_from_environment, task_windows, zip_tasks
from .tiles import TileLayout

#: Observation kinds (see the module docstring for signs).
KINDS = ("los", "range_offset", "azimuth_offset")

#: How the two angle inputs of an observation are given.
#: ``heading``: (incidence θ, heading h) in degrees, heading clockwise from north.
#: ``los_azimuth``: (incidence θ, LOS azimuth α) in degrees, MintPy ``azimuthAngle`` /
#: ISCE2 ``los.rdr`` band 2 (ground→satellite, from north, anti-clockwise).
#: ``hyp3``: (``lv_theta``, ``lv_phi``) in radians (HyP3).
#: ``unit_vector``: (east, north) components of the ground→satellite unit vector
#: (LiCSBAS ``E.geo``/``N.geo``, OPERA ``los_east``/``los_north``); up = sqrt(1 − e² − n²).
ANGLE_CONVENTIONS = ("heading", "los_azimuth", "hyp3", "unit_vector")

#: Component models and the names of their components, in output order.
COMPONENT_MODELS = {
    "east_up": ("east", "up"),
    "horizontal_up": ("horizontal", "up"),
    "east_north_up": ("east", "north", "up"),
}

#: Pixels whose geometry has a larger 2-norm condition number are NaN.
DEFAULT_MAX_CONDITION = 10.0


def _check_choice(value, choices, what):
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}: use one of {', '.join(choices)}")
    return value


def incidence_and_heading(a, b, convention: str = "heading", look_direction: str = "right"):
    """Incidence θ and heading h (degrees) from the two angle inputs of ``convention``.

    See :data:`ANGLE_CONVENTIONS` for what ``a`` and ``b`` are.  Conversions
    are those of :mod:`.geometry`.
    """
    _check_choice(convention, ANGLE_CONVENTIONS, "angle convention")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if convention == "heading":
        return a, b
    if convention == "los_azimuth":
        return a, geometry.los_azimuth_to_heading(b, look_direction)
    if convention == "hyp3":
        inc, az = geometry.hyp3_to_incidence_azimuth(a, b)
    else:
        up = geometry.up_from_horizontal_unit_vector(a, b)
        inc, az = geometry.unit_vector_to_incidence_azimuth(a, b, up)
    return inc, geometry.los_azimuth_to_heading(az, look_direction)


def observation_unit_vector(kind: str, a, b, convention: str = "heading",
                            look_direction: str = "right"):
    """Unit vector (east, north, up) of one observation kind (see :data:`KINDS`).

    ``a``, ``b``: the two angle inputs in ``convention`` (:data:`ANGLE_CONVENTIONS`);
    arrays broadcast.  For ``unit_vector`` and a LOS observation the given
    components are used as they are (up from sqrt(1 − e² − n²)).
    Returns a tuple of three float64 arrays.
    """
    _check_choice(kind, KINDS, "observation kind")
    if convention == "unit_vector" and kind != "azimuth_offset":
        e = np.asarray(a, dtype=np.float64)
        n = np.asarray(b, dtype=np.float64)
        u = geometry.up_from_horizontal_unit_vector(e, n)
        return (e, n, u) if kind == "los" else (-e, -n, -u)
    inc, heading = incidence_and_heading(a, b, convention, look_direction)
    if kind == "los":
        return geometry.los_unit_vector_from_heading(inc, heading, look_direction)
    if kind == "range_offset":
        return geometry.range_unit_vector_from_heading(inc, heading, look_direction)
    return geometry.along_track_unit_vector(heading)


def component_basis(model: str, horizontal_azimuth: Optional[float] = None) -> np.ndarray:
    """Matrix (m, 3): row j is the ENU direction of unknown component j of ``model``.

    ``horizontal_azimuth`` (degrees, clockwise from north, 90 = east) is
    required for ``horizontal_up``.
    """
    _check_choice(model, tuple(COMPONENT_MODELS), "component model")
    if model == "east_up":
        return np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    if model == "east_north_up":
        return np.eye(3)
    if horizontal_azimuth is None or not np.isfinite(horizontal_azimuth):
        raise ValueError("the horizontal + up model needs a horizontal azimuth (degrees from north)")
    phi = np.radians(float(horizontal_azimuth))
    return np.array([[np.sin(phi), np.cos(phi), 0.0], [0.0, 0.0, 1.0]])


def design_matrix(unit_vectors, basis) -> np.ndarray:
    """Design matrix ``G`` (pixels, n_obs, m) from unit vectors (pixels, n_obs, 3)
    and a component basis (m, 3): ``G[p, k, j] = g_k(p) · basis_j``."""
    u = np.asarray(unit_vectors, dtype=np.float64)
    return u @ np.asarray(basis, dtype=np.float64).T


def _sym_inverse_entries(Nd, m):
    """Inverse of symmetric m × m matrices given as entries ``Nd[(i, j)]`` (i ≤ j; arrays
    or scalars that broadcast), by the adjugate (m ≤ 3).  Returns (entries of the
    inverse, determinant)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if m == 1:
            det = Nd[0, 0]
            return {(0, 0): 1.0 / det}, det
        if m == 2:
            a, b, c = Nd[0, 0], Nd[0, 1], Nd[1, 1]
            det = a * c - b * b
            inv_det = 1.0 / det
            return {(0, 0): c * inv_det, (0, 1): -b * inv_det, (1, 1): a * inv_det}, det
        a, b, c = Nd[0, 0], Nd[0, 1], Nd[0, 2]
        d, e, f = Nd[1, 1], Nd[1, 2], Nd[2, 2]
        c00 = d * f - e * e
        c01 = c * e - b * f
        c02 = b * e - c * d
        det = a * c00 + b * c01 + c * c02
        inv_det = 1.0 / det
        return {(0, 0): c00 * inv_det, (0, 1): c01 * inv_det, (0, 2): c02 * inv_det,
                (1, 1): (a * f - c * c) * inv_det, (1, 2): (b * c - a * e) * inv_det,
                (2, 2): (a * d - b * b) * inv_det}, det


def _sym_eigen_extremes_entries(Nd, m):
    """Largest and smallest eigenvalues of symmetric PSD m × m matrices given as entries,
    closed form (m ≤ 3; trigonometric solution for 3 × 3)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if m == 1:
            return Nd[0, 0], Nd[0, 0]
        if m == 2:
            a, b, c = Nd[0, 0], Nd[0, 1], Nd[1, 1]
            mid = 0.5 * (a + c)
            rad = np.sqrt(0.25 * (a - c) ** 2 + b * b)
            return mid + rad, mid - rad
        a, b, c = Nd[0, 0], Nd[0, 1], Nd[0, 2]
        d, e, f = Nd[1, 1], Nd[1, 2], Nd[2, 2]
        q = (a + d + f) / 3.0
        p2 = (a - q) ** 2 + (d - q) ** 2 + (f - q) ** 2 + 2.0 * (b * b + c * c + e * e)
        p = np.sqrt(p2 / 6.0)
        inv_p = np.where(p > 0, 1.0 / np.where(p > 0, p, 1.0), 0.0)
        aa, dd, ff = (a - q) * inv_p, (d - q) * inv_p, (f - q) * inv_p
        bb, cc, ee = b * inv_p, c * inv_p, e * inv_p
        det_b = aa * (dd * ff - ee * ee) - bb * (bb * ff - ee * cc) + cc * (bb * ee - dd * cc)
        phi = np.arccos(np.clip(0.5 * det_b, -1.0, 1.0)) / 3.0
        return q + 2.0 * p * np.cos(phi), q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)


def _entries(N):
    m = N.shape[-1]
    return {(i, j): N[:, i, j] for i in range(m) for j in range(i, m)}


def _inverse_symmetric(N):
    """Inverse and determinant of stacked symmetric matrices (P, m, m), m ≤ 3 by the
    adjugate, ``np.linalg`` otherwise."""
    m = N.shape[-1]
    if m > 3:
        return np.linalg.inv(N), np.linalg.det(N)
    inv_d, det = _sym_inverse_entries(_entries(N), m)
    inv = np.empty_like(N)
    for (i, j), v in inv_d.items():
        inv[:, i, j] = inv[:, j, i] = v
    return inv, det


def _cond_from_entries(Nd, m):
    largest, smallest = _sym_eigen_extremes_entries(Nd, m)
    tiny = largest * 1e-13
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(smallest > tiny, np.sqrt(largest / np.maximum(smallest, tiny)), np.inf)


def _normal_entries(cols, w, m):
    """``GᵀWG`` entries from design-matrix columns ``cols[k][j]`` (observation k, component j)."""
    Nd = {}
    for i in range(m):
        for j in range(i, m):
            acc = 0.0
            for k, row in enumerate(cols):
                term = row[i] * row[j]
                acc = acc + (term if w is None else w[k] * term)
            Nd[i, j] = acc
    return Nd


def condition_number(G) -> np.ndarray:
    """2-norm condition number of each stacked design matrix G (P, n, m):
    ``sqrt(λmax/λmin)`` of ``GᵀG``; ``inf`` for a rank-deficient geometry."""
    G = np.asarray(G, dtype=np.float64)
    m = G.shape[2]
    if m > 3:
        ev = np.linalg.eigvalsh(np.swapaxes(G, 1, 2) @ G)
        with np.errstate(divide="ignore"):
            return np.where(ev[:, 0] > ev[:, -1] * 1e-13, np.sqrt(ev[:, -1] / ev[:, 0]), np.inf)
    cols = [[G[:, k, j] for j in range(m)] for k in range(G.shape[1])]
    return np.asarray(_cond_from_entries(_normal_entries(cols, None, m), m))


@dataclass
class WlsResult:
    """Per-pixel solution of :func:`solve_wls`.

    ``x``, ``sigma``: (P, m) components and their propagated 1-sigma (NaN where
    not solved); ``residual``: (P,) weighted RMS misfit (NaN unless more
    observations than components were used); ``condition``: (P,) condition
    number of the geometry of the observations used; ``missing``: (P,) True
    where too few observations were available (any missing one unless
    ``partial``); ``ill_conditioned``: (P,) True where the geometry exceeded
    ``max_condition``; ``used``: (P,) number of observations used (0 where not
    solved).
    """

    x: np.ndarray
    sigma: np.ndarray
    residual: np.ndarray
    condition: np.ndarray
    missing: np.ndarray
    ill_conditioned: np.ndarray
    used: np.ndarray

    @property
    def solved(self) -> np.ndarray:
        return ~(self.missing | self.ill_conditioned)


def _availability(cols, ys, sigmas) -> list:
    """Per observation, (P,) True where its value, geometry and sigma (when given) are all
    finite (and sigma positive)."""
    avail = []
    for k, row in enumerate(cols):
        a = np.isfinite(ys[k]).copy()
        for v in row:
            if np.ndim(v):
                a &= np.isfinite(v)
            elif not np.isfinite(v):
                a[:] = False
        if sigmas is not None:
            s = np.asarray(sigmas[k], dtype=np.float64)
            with np.errstate(invalid="ignore"):
                ok = (s > 0) & np.isfinite(s)
            if np.ndim(ok):
                a &= ok
            elif not ok:
                a[:] = False
        avail.append(a)
    return avail


def solve_columns(cols, ys, sigmas=None, max_condition: float = DEFAULT_MAX_CONDITION,
                  size: Optional[int] = None, partial: bool = False) -> WlsResult:
    """:func:`solve_wls` on columns: the fast path used block by block.

    ``cols[k][j]``: design-matrix entry (observation k, component j), each a 1-D
    array of the pixels or a scalar (a geometry shared by all pixels);
    ``ys[k]``: 1-D observations; ``sigmas``: list of 1-D arrays or scalars, or
    None.  Every operation is a whole-array numpy operation on 1-D arrays (no
    stacked tiny matrices, no per-pixel Python).

    A pixel where an observation, its geometry or its sigma is missing (NaN) is
    NaN, unless ``partial``: then it is solved with the observations it has when
    they are at least as many as the components and their geometry passes
    ``max_condition`` (e.g. an ascending + descending pair where a third track
    does not reach).
    """
    n, m = len(cols), len(cols[0])
    if n < m:
        raise ValueError(f"{n} observations cannot determine {m} components")
    P = int(size if size is not None else np.size(ys[0]))
    ys = [np.broadcast_to(np.asarray(v, dtype=np.float64).ravel(), (P,)) for v in ys]
    avail = _availability(cols, ys, sigmas)
    count = np.sum(avail, axis=0)
    w = None
    if sigmas is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            w = [1.0 / (np.asarray(s, dtype=np.float64) ** 2) for s in sigmas]
    if partial:
        missing = count < m
        if not (count == n).all():
            # an unavailable observation contributes nothing: zero row, zero weight
            cols = [[np.where(a, v, 0.0) for v in row] for a, row in zip(avail, cols)]
            ys = [np.where(a, y, 0.0) for a, y in zip(avail, ys)]
            w = [np.where(a, 1.0 if w is None else w[k], 0.0) for k, a in enumerate(avail)]
    else:
        missing = count < n
        count = np.where(missing, 0, count)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        cond = np.broadcast_to(_cond_from_entries(_normal_entries(cols, None, m), m), (P,))
        ill = ~missing & ~(cond <= max_condition)
        Nd = _normal_entries(cols, w, m)
        inv, _ = _sym_inverse_entries(Nd, m)
        rhs = []
        for j in range(m):
            acc = 0.0
            for k in range(n):
                term = cols[k][j] * ys[k]
                acc = acc + (term if w is None else w[k] * term)
            rhs.append(acc)

        def inv_ij(i, j):
            return inv[(i, j) if i <= j else (j, i)]

        bad = missing | ill
        x = np.empty((P, m))
        sig = np.empty((P, m))
        xs = []
        for i in range(m):
            acc = 0.0
            for j in range(m):
                acc = acc + inv_ij(i, j) * rhs[j]
            xs.append(acc)
            x[:, i] = acc
            sig[:, i] = np.sqrt(np.maximum(inv_ij(i, i), 0.0))
        x[bad] = np.nan
        sig[bad] = np.nan
        res = np.full(P, np.nan)
        if n > m:
            num, den = 0.0, 0.0
            for k in range(n):
                r = ys[k]
                for j in range(m):
                    r = r - cols[k][j] * xs[j]
                if w is None:
                    num = num + r * r
                    den = den + 1.0
                else:
                    num = num + w[k] * r * r
                    den = den + w[k]
            res = np.broadcast_to(np.sqrt(num / den), (P,)).copy()
            res[bad | (count <= m)] = np.nan
    cond = np.where(missing, np.nan, cond)
    return WlsResult(x, sig, res, cond, missing, ill, np.where(bad, 0, count))


def solve_wls(G, y, sigma=None, max_condition: float = DEFAULT_MAX_CONDITION,
              partial: bool = False) -> WlsResult:
    """Weighted least squares for stacked small systems, one per pixel.

    Parameters
    ----------
    G:
        Design matrices (P, n, m) (or (1, n, m), shared by all pixels).
    y:
        Observations (P, n), any length unit (all the same).
    sigma:
        1-sigma of the observations (P, n) or (n,) in the same unit, or None
        (equal weights).  Non-positive or NaN sigma counts as missing.
    max_condition:
        Pixels whose geometry has a larger condition number are NaN.

    partial:
        Solve a pixel with the observations it has (:func:`solve_columns`).

    A pixel with any NaN observation (or angle) is NaN (``missing``), unless
    ``partial``.
    """
    G = np.asarray(G, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError("observations must have shape (pixels, observations)")
    P, n = y.shape
    if G.ndim != 3 or G.shape[1] != n:
        raise ValueError(f"design matrix of shape {G.shape} does not match {n} observations")
    m = G.shape[2]
    if n < m:
        raise ValueError(f"{n} observations cannot determine {m} components")
    if m > 3:
        raise ValueError("at most three components (east, north, up)")
    G = np.broadcast_to(G, (P, n, m))
    cols = [[G[:, k, j] for j in range(m)] for k in range(n)]
    sig = None
    if sigma is not None:
        s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (P, n))
        sig = [s[:, k] for k in range(n)]
    return solve_columns(cols, [y[:, k] for k in range(n)], sig, max_condition, P, partial)


def model_response(unit_vectors, basis, sigma=None) -> np.ndarray:
    """How a true ENU motion maps into the estimated components (bias of a reduced model).

    ``unit_vectors``: (n, 3); ``basis``: (m, 3) from :func:`component_basis`;
    ``sigma``: (n,) or None.  Returns R (m, 3) with ``estimate = R @ (E, N, U)``
    for noise-free observations.  For the full model R = I; for ``east_up``
    the middle column is the north leakage ``b = G⁻¹ g_north``.
    """
    U = np.asarray(unit_vectors, dtype=np.float64)
    G = U @ np.asarray(basis, dtype=np.float64).T
    w = np.ones(U.shape[0]) if sigma is None else 1.0 / np.asarray(sigma, dtype=np.float64) ** 2
    N = G.T @ (G * w[:, None])
    return np.linalg.solve(N, G.T @ (U * w[:, None]))


def _design_row(vector, basis):
    """Design-matrix row of one observation: ``[g · basis_j for j]`` (arrays or scalars),
    skipping zero basis coefficients so a constant geometry stays a scalar."""
    row = []
    for b in np.asarray(basis, dtype=np.float64):
        acc = 0.0
        for coef, comp in zip(b, vector):
            if coef != 0.0:
                comp = comp if np.ndim(comp) else float(comp)
                acc = acc + (comp if coef == 1.0 else coef * comp)
        row.append(acc)
    return row


def stack_unit_vectors(vectors: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]], size: int):
    """Stack per-observation unit vectors (each a tuple (e, n, u) of arrays or scalars,
    broadcastable to ``size`` pixels) into an array (size, n_obs, 3)."""
    out = np.empty((size, len(vectors), 3))
    for k, (e, n, u) in enumerate(vectors):
        out[:, k, 0] = np.broadcast_to(np.ravel(e), (size,)) if np.ndim(e) else e
        out[:, k, 1] = np.broadcast_to(np.ravel(n), (size,)) if np.ndim(n) else n
        out[:, k, 2] = np.broadcast_to(np.ravel(u), (size,)) if np.ndim(u) else u
    return out


# =========================================================================== rasters

#: Output keys of :func:`decompose` and what they hold.
OUTPUT_KEYS = ("east", "north", "up", "horizontal", "sigma", "residual", "count")

_QUANTITY = {
    "east": ("east_displacement", "positive east"),
    "north": ("north_displacement", "positive north"),
    "up": ("up_displacement", "positive up"),
    "horizontal": ("horizontal_displacement", "positive along the horizontal azimuth"),
}

#: Grid choices of :func:`decompose` (or pass a :class:`~.grid.GridSpec`).
GRID_CHOICES = ("first", "coarsest", "custom")
#: Where to solve: ``all`` = where every observation is valid (grid extent = intersection of
#: the observations), ``any`` = wherever the observations available determine the components
#: (extent = union; :func:`solve_columns` with ``partial``).
COVERAGE_CHOICES = ("all", "any")


@dataclass
class Observation:
    """One observation raster and its geometry for :func:`decompose`.

    ``path``/``band``: the observation (length or velocity unit from its band
    metadata ``units``).  ``kind``: one of :data:`KINDS`.  ``incidence`` and
    ``heading``: the two geometry inputs of the angle convention (see
    :data:`ANGLE_CONVENTIONS`; for ``unit_vector`` they are the east and north
    components), each a raster path or a constant; ``incidence`` may be None
    for an ``azimuth_offset`` in the ``heading`` convention.  ``sigma``: 1-sigma
    raster path or constant in the observation's unit, or None.  ``name``:
    used in messages (e.g. ``OBS_1``).
    """

    path: str
    band: int = 1
    kind: str = "los"
    incidence: object = None
    heading: object = None
    sigma: object = None
    incidence_band: int = 1
    heading_band: int = 1
    sigma_band: int = 1
    name: str = ""


@dataclass
class DecompositionSummary:
    """What :func:`decompose` did: grid, unit, pixel counts, output paths and statistics."""

    grid: object
    units: str
    model: str
    components: Tuple[str, ...]
    pixels: int = 0
    solved: int = 0
    missing: int = 0
    ill_conditioned: int = 0
    #: pixels solved with fewer observations than given (coverage ``any``)
    partial: int = 0
    coverage: str = "all"
    max_condition: float = DEFAULT_MAX_CONDITION
    sigma_units: str = ""
    outputs: dict = None
    stats: dict = None
    notes: list = None


def _band_units(path: str, band: int) -> str:
    """The ``units`` metadata item (or GDAL unit type) of a band, '' when absent."""
    from .raster_io import open_raster

    ds = open_raster(path)  # keep the dataset alive while its band is used
    b = ds.GetRasterBand(int(band))
    unit = (b.GetMetadata() or {}).get("units") or b.GetUnitType() or ""
    b = ds = None
    return unit.strip()


def check_units(observations: Sequence[Observation]) -> Tuple[str, list]:
    """Common unit of the observations (and raster sigmas); ValueError when they differ.

    Returns ``(unit, notes)``; ``unit`` is '' when no raster records one.
    Observations without a recorded unit are assumed to share the others' (noted).
    """
    from . import units as _units

    found = []
    notes = []
    for k, obs in enumerate(observations):
        name = obs.name or f"observation {k + 1}"
        raw = _band_units(obs.path, obs.band)
        if raw:
            try:
                unit = _units.normalize_unit(raw)
            except ValueError:
                raise ValueError(
                    f"{name} ({obs.path}) is in {raw!r}, not a length or velocity: convert it to "
                    "m, cm, mm (or m/yr, cm/yr, mm/yr) first (e.g. phase to LOS with "
                    "displacement:los_to_vertical)") from None
            found.append((name, unit))
        else:
            notes.append(f"{name} records no unit: assumed to be in the same unit as the others")
        if isinstance(obs.sigma, str) and obs.sigma:
            raw_s = _band_units(obs.sigma, obs.sigma_band)
            if raw_s:
                found.append((f"{name} sigma", _units.normalize_unit(raw_s)))
    distinct = sorted({u for _, u in found})
    if len(distinct) > 1:
        listing = ", ".join(f"{n} in {u}" for n, u in found)
        raise ValueError(
            f"the observations do not share one unit ({listing}): convert them to one unit "
            "first (every observation and sigma must be in the same unit)")
    return (distinct[0] if distinct else ""), notes


def plan_decomposition_grid(observations: Sequence[Observation], grid="first",
                            resolution_m: Optional[float] = None, crs_wkt: Optional[str] = None,
                            log=None, extent: str = "intersection"):
    """The common grid of the observations (see :mod:`.grid`).

    ``first``: the first observation's CRS, resolution and pixel alignment;
    ``coarsest``: the coarsest resolution of the observations in the first
    observation's CRS; ``custom``: ``resolution_m`` metres in ``crs_wkt``
    (default the first observation's CRS).  ``extent``: ``intersection`` (area
    covered by every observation) or ``union``.  A :class:`~.grid.GridSpec` is
    used as is.
    """
    from . import grid as _grid

    if isinstance(grid, _grid.GridSpec):
        return grid
    paths = [o.path for o in observations]
    if grid == "first":
        return _grid.plan_grid(paths, extent, "reference", reference=0, log=log)
    if grid == "coarsest":
        return _grid.plan_grid(paths, extent, "coarsest", log=log)
    if grid == "custom":
        if not resolution_m or resolution_m <= 0:
            raise ValueError("a custom grid needs a positive resolution in metres")
        return _grid.plan_grid(paths, extent, float(resolution_m), resolution_in_metres=True,
                               target_crs_wkt=crs_wkt or None, log=log)
    raise ValueError(f"unknown grid {grid!r}: use one of {', '.join(GRID_CHOICES)}")


@dataclass(frozen=True)
class _Input:
    """A constant or a raster band read block-wise on the grid (picklable: read in the
    engine's workers, core.execution)."""

    source: Optional[BandSource] = None
    value: Optional[float] = None

    @classmethod
    def of(cls, value, band, grid_spec, what) -> "_Input":
        from . import grid as _grid
        from .raster_io import raster_info

        if isinstance(value, str) and value:
            method = _grid.choose_resampling(raster_info(value), grid_spec)
            _grid.GridReader(value, grid_spec, int(band), method).close()   # errors now
            return cls(source=BandSource(value, int(band), grid=grid_spec, resampling=method))
        if value is None or (isinstance(value, str) and not value):
            return cls()
        v = float(value)
        if not np.isfinite(v):
            raise ValueError(f"{what} = {value!r} is not a finite number")
        return cls(value=v)

    def resampled(self) -> Optional[str]:
        """The resampling method when the raster is not already on the grid, else None."""
        if self.source is None:
            return None
        from .raster_io import raster_info

        return None if self.source.grid.matches(raster_info(self.source.path)) \
            else self.source.resampling

    def read(self, row, rows, col=0, cols=None):
        """Rows ``row .. row+rows-1`` (columns ``col`` .. ``col+cols-1``) on the grid
        (float32), or the constant."""
        if self.source is not None:
            return self.source.read(row, rows, col, cols)
        return self.value


@dataclass(frozen=True)
class _DecompositionTask:
    """One block of :func:`decompose` (rows, and ``width`` columns from ``col``), solved in
    chunks of ``chunk_rows`` rows."""

    row: int
    rows: int
    width: int
    kinds: tuple
    inputs: tuple          # per observation: (value, incidence or None, heading, sigma or None)
    convention: str
    look: str
    basis: np.ndarray = field(compare=False)
    weighted: bool
    max_condition: float
    partial: bool
    tiles: TileLayout                    # the outputs' tiles: written results compressed here
    chunk_rows: int = 1
    components: tuple = ()               # names of the solved components, in order
    written: frozenset = frozenset()     # the outputs written ("east", "sigma", ...)
    col: int = 0                         # the block's first column


@dataclass
class _BlockSolution:
    """What a task sends back: float32 (rows, width) rasters (packed by the task's
    :class:`~.tiles.TileLayout` when written, None when not) and the block's counts."""

    components: list
    sigmas: list
    residual: np.ndarray
    count: np.ndarray      # observations used, NaN where not solved
    partial: int = 0
    missing: int = 0
    ill_conditioned: int = 0
    solved: int = 0


def _decompose_block(task: _DecompositionTask) -> _BlockSolution:
    """The weighted least-squares solution of one block (:func:`solve_columns`): every input
    read once for the whole block, the solution in chunks of rows (bounded memory)."""
    blocks = [[None if x is None else x.read(task.row, task.rows, task.col, task.width)
               for x in obs] for obs in task.inputs]
    m = task.basis.shape[0]
    shape = (task.rows, task.width)
    out = _BlockSolution([np.empty(shape, np.float32) for _ in range(m)],
                         [np.empty(shape, np.float32) for _ in range(m)],
                         np.empty(shape, np.float32), np.empty(shape, np.float32))

    def rows_of(value, part):
        return value[part].astype(np.float64).ravel() if np.ndim(value) else value

    for c0 in range(0, task.rows, task.chunk_rows):
        part = slice(c0, min(task.rows, c0 + task.chunk_rows))
        cols, ys, sigmas = [], [], []
        for kind, (value, inc, head, sig) in zip(task.kinds, blocks):
            ys.append(rows_of(value, part))
            a = rows_of(inc, part) if inc is not None else 0.0
            vec = observation_unit_vector(kind, a, rows_of(head, part), task.convention, task.look)
            cols.append(_design_row(vec, task.basis))
            if sig is not None:
                sigmas.append(rows_of(sig, part))
        n_rows = part.stop - part.start
        res = solve_columns(cols, ys, sigmas if task.weighted else None, task.max_condition,
                            n_rows * task.width, partial=task.partial)
        for j in range(m):
            out.components[j][part] = res.x[:, j].reshape(n_rows, task.width)
            out.sigmas[j][part] = res.sigma[:, j].reshape(n_rows, task.width)
        out.residual[part] = res.residual.reshape(n_rows, task.width)
        out.count[part] = np.where(res.solved, res.used, np.nan).reshape(n_rows, task.width)
        out.partial += int((res.solved & (res.used < len(task.kinds))).sum())
        out.missing += int(res.missing.sum())
        out.ill_conditioned += int(res.ill_conditioned.sum())
        out.solved += int(res.solved.sum())
    def pack(raster, name):
        return task.tiles.pack(raster, task.row, task.col) if name in task.written else None

    out.components = [pack(c, name) for c, name in zip(out.components, task.components)]
    out.sigmas = [pack(c, "sigma") for c in out.sigmas]
    out.residual, out.count = pack(out.residual, "residual"), pack(out.count, "count")
    return out


def decompose(
    observations: Sequence[Observation],
    outputs: dict,
    model: str = "east_up",
    horizontal_azimuth: Optional[float] = None,
    convention: str = "heading",
    look_direction: str = "right",
    grid="first",
    grid_resolution_m: Optional[float] = None,
    grid_crs_wkt: Optional[str] = None,
    max_condition: float = DEFAULT_MAX_CONDITION,
    parameters: Optional[dict] = None,
    block_pixels: int = 262144,
    monitor=None,
    coverage: str = "all",
    engine=None,
) -> DecompositionSummary:
    """Decompose 2–4 observation rasters into the components of ``model``, block by block.

    observations
        :class:`Observation` list (two to four).  All must share one unit
        (ValueError otherwise); outputs are in that unit.
    outputs
        ``{key: path}`` for keys in :data:`OUTPUT_KEYS`: ``east``, ``north``,
        ``up``, ``horizontal`` (components of the model; others are ignored),
        ``sigma`` (one band per component, propagated 1-sigma; unit-less noise
        amplification when no sigma is given), ``residual`` (weighted RMS misfit,
        written only when there are more observations than components; NaN where
        a pixel used no more observations than components), ``count`` (number of
        observations used per pixel, NaN where not solved).
    model, horizontal_azimuth
        See :data:`COMPONENT_MODELS` and :func:`component_basis`.
    convention, look_direction
        How the geometry inputs are given (:data:`ANGLE_CONVENTIONS`), right- or
        left-looking sensor.
    grid, grid_resolution_m, grid_crs_wkt
        See :func:`plan_decomposition_grid`.  Observations, angles and sigmas
        are resampled onto it by GDAL (:class:`~.grid.GridReader`; average when
        coarsening, else bilinear).  Note: heading rasters are interpolated as
        numbers, so a heading raster must not wrap around ±180° (Sentinel-1
        headings −12°/−168° do not).
    max_condition
        Pixels whose geometry condition number exceeds it are NaN (counted).
    coverage
        ``all`` (default): the grid covers the intersection of the observations
        and a pixel with a missing observation, angle or sigma is NaN (counted).
        ``any``: the grid covers their union and each pixel is solved with the
        observations it has, when they are at least as many as the components
        and pass ``max_condition`` (counted in ``summary.partial`` when fewer
        than all); its sigma grows accordingly.
    Raises ValueError when no pixel at all can be solved.
    """
    from .grid import describe_inputs
    from .progress import ensure_monitor
    from .raster_io import RasterWriter, raster_info

    mon = ensure_monitor(monitor)
    _check_choice(model, tuple(COMPONENT_MODELS), "component model")
    _check_choice(convention, ANGLE_CONVENTIONS, "angle convention")
    _check_choice(coverage, COVERAGE_CHOICES, "coverage")
    geometry._check_look(look_direction)
    n = len(observations)
    if not 2 <= n <= 4:
        raise ValueError(f"decomposition needs two to four observations, not {n}")
    components = COMPONENT_MODELS[model]
    m = len(components)
    if n < m:
        raise ValueError(
            f"the {' + '.join(components)} model needs at least {m} observations with independent "
            f"geometries (e.g. ascending LOS + descending LOS + an azimuth offset); {n} given")
    basis = component_basis(model, horizontal_azimuth)
    for k, obs in enumerate(observations):
        name = obs.name or f"observation {k + 1}"
        _check_choice(obs.kind, KINDS, f"kind of {name}")
        info = raster_info(obs.path)
        if not 1 <= int(obs.band) <= info.band_count:
            raise ValueError(f"{name}: band {obs.band} does not exist in {obs.path!r} "
                             f"({info.band_count} band(s))")
        needs_a = not (obs.kind == "azimuth_offset" and convention != "unit_vector")
        if obs.heading is None or (needs_a and obs.incidence is None):
            what = ("east and north unit-vector components" if convention == "unit_vector"
                    else "incidence and heading/azimuth")
            raise ValueError(f"{name} ({obs.kind}) needs its geometry: give the {what} "
                             "(a raster or a constant)")
    sig_given = [obs.sigma is not None and obs.sigma != "" for obs in observations]
    if any(sig_given) and not all(sig_given):
        missing = ", ".join(o.name or f"observation {k + 1}"
                            for k, (o, s) in enumerate(zip(observations, sig_given)) if not s)
        raise ValueError(f"sigma is given for some observations but not for {missing}: give a "
                         "sigma (raster or constant) for every observation, or for none")
    weighted = all(sig_given)
    unit, notes = check_units(observations)
    for note in notes:
        mon.info(note)
    for line in describe_inputs([o.path for o in observations]):
        mon.info(line)
    spec = plan_decomposition_grid(observations, grid, grid_resolution_m, grid_crs_wkt, mon.info,
                                   "union" if coverage == "any" else "intersection")
    mon.info(f"common grid: {spec.describe()}")

    inputs = []
    for k, obs in enumerate(observations):
        name = obs.name or f"observation {k + 1}"
        inputs.append((
            _Input.of(obs.path, obs.band, spec, name),
            _Input.of(obs.incidence, obs.incidence_band, spec, f"{name} incidence")
            if obs.incidence is not None else None,
            _Input.of(obs.heading, obs.heading_band, spec, f"{name} heading"),
            _Input.of(obs.sigma, obs.sigma_band, spec, f"{name} sigma") if weighted else None,
        ))
    for k, (src, *_rest) in enumerate(inputs):
        method = src.resampled()
        if method:
            mon.info(f"{observations[k].name or f'observation {k + 1}'} is resampled onto "
                     f"the grid ({method})")
    return _decompose_blocks(observations, inputs, outputs, spec, model, components, basis,
                             convention, look_direction, weighted, unit, max_condition,
                             parameters, block_pixels, mon, RasterWriter, notes, coverage, engine)


def _decompose_blocks(observations, inputs, outputs, spec, model, components, basis, convention,
                      look, weighted, unit, max_condition, parameters, block_pixels, mon,
                      RasterWriter, notes, coverage="all", engine=None):
    n, m = len(observations), len(components)
    width, height = spec.width, spec.height
    sigma_units = unit if weighted else "1"
    meta = {"model": model, "components": ",".join(components), "angle_convention": convention,
            "look_direction": look, "max_condition": repr(float(max_condition)),
            "coverage": coverage,
            "observations": "; ".join(f"{o.name or k + 1}: {o.kind} {o.path} band {o.band}"
                                      for k, o in enumerate(observations))}
    if parameters:
        meta.update({f"param_{k}": str(v) for k, v in parameters.items()})
    writers = {}
    summary = DecompositionSummary(grid=spec, units=unit, model=model, components=components,
                                   max_condition=float(max_condition), sigma_units=sigma_units,
                                   outputs={}, stats={}, notes=list(notes), coverage=coverage)
    try:
        for comp in components:
            path = outputs.get(comp)
            if path:
                quantity, convention_text = _QUANTITY[comp]
                writers[comp] = RasterWriter(
                    path, width, height, spec.geotransform, spec.crs_wkt, 1,
                    descriptions=[f"{comp} displacement ({unit or 'unit of the inputs'})"],
                    band_metadata=[{"units": unit, "quantity": quantity,
                                    "convention": convention_text}],
                    metadata=meta)
        if outputs.get("sigma"):
            writers["sigma"] = RasterWriter(
                outputs["sigma"], width, height, spec.geotransform, spec.crs_wkt, m,
                descriptions=[f"1-sigma of {c}" for c in components],
                band_metadata=[{"units": sigma_units, "quantity": f"{c}_sigma",
                                "convention": "propagated 1-sigma" if weighted else
                                "noise amplification per unit observation sigma (no sigma given)"}
                               for c in components],
                metadata=meta)
        if outputs.get("residual"):
            if n > m:
                writers["residual"] = RasterWriter(
                    outputs["residual"], width, height, spec.geotransform, spec.crs_wkt, 1,
                    descriptions=["weighted RMS misfit"],
                    band_metadata=[{"units": unit, "quantity": "weighted_rms_residual",
                                    "convention": "sqrt(sum(w r^2) / sum(w)), w = 1/sigma^2"}],
                    metadata=meta)
            else:
                summary.notes.append(
                    f"no residual raster: {n} observations for {m} components is not over-determined")
        if outputs.get("count"):
            writers["count"] = RasterWriter(
                outputs["count"], width, height, spec.geotransform, spec.crs_wkt, 1,
                descriptions=["observations used"],
                band_metadata=[{"units": "1", "quantity": "observation_count",
                                "convention": f"number of the {n} observations used; NaN where "
                                              "not solved"}],
                metadata=meta)

        run = engine or engine_from_environment()
        mon.info(f"work runs on: {run.describe()}")
        # a task holds every input (float32) of its pixels and its float32 results
        windows = task_windows(height, width, 4 * (4 * n + 2 * m + 2), run.workers)
        tiles = TileLayout(width, height)
        tasks = (_DecompositionTask(r0, n_rows, cols, tuple(o.kind for o in observations),
                                    tuple(inputs), convention, look, basis, weighted,
                                    float(max_condition), coverage == "any", tiles,
                                    max(1, int(block_pixels) // cols), tuple(components),
                                    frozenset(writers), c0)
                 for r0, n_rows, c0, cols in windows)
        for task, res in zip_tasks(run, _decompose_block, tasks, mon):
            summary.pixels += task.rows * task.width
            summary.partial += res.partial
            summary.missing += res.missing
            summary.ill_conditioned += res.ill_conditioned
            summary.solved += res.solved
            for j, comp in enumerate(components):
                if comp in writers:
                    writers[comp].write(1, task.row, res.components[j], task.col)
                if "sigma" in writers:
                    writers["sigma"].write(j + 1, task.row, res.sigmas[j], task.col)
            if "residual" in writers:
                writers["residual"].write(1, task.row, res.residual, task.col)
            if "count" in writers:
                writers["count"].write(1, task.row, res.count, task.col)
            mon.update(summary.pixels / (width * height))
        mon.info(f"work done: {run.summary()}")

        if summary.solved == 0:
            lacking = ("miss an observation, angle or sigma" if coverage == "all" else
                       f"have fewer than {m} observations")
            raise ValueError(
                f"no pixel could be solved: {summary.missing} of {summary.pixels} pixels {lacking}, "
                f"and {summary.ill_conditioned} have nearly parallel "
                f"geometries (condition number above {max_condition:g}); check that the "
                "observations overlap and that their geometries differ (e.g. ascending and "
                "descending)")
        for key, w in writers.items():
            summary.stats[key] = [w.stats(b + 1) for b in range(w.bands)]
            summary.outputs[key] = w.commit()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return summary
