"""What every processor reader returns: a :class:`Product` of :class:`Layer` s with
georeferencing, dates, reference point and viewing :class:`Geometry`.

Units of layers: ``m``, ``m/yr``, ``mm``, ``mm/yr`` (see core/units.py), ``rad``
(phase), ``deg`` (angles), ``pixel`` (offsets), ``1`` (dimensionless: coherence,
unit-vector components, masks).  Every read returns ``float32`` with the
product's nodata value replaced by NaN.

Geometry follows core/geometry.py: incidence from the vertical (degrees), heading
clockwise from north (degrees), LOS azimuth ground→satellite anti-clockwise from
north (degrees), LOS unit vector ground→satellite (east, north, up).  A value is
either a constant of the whole product or the name of a per-pixel layer.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import geometry as geo

#: Signature of a block reader: (band 1-based, row, col, rows, cols) -> float32 array.
BlockReader = Callable[[int, int, int, int, int], np.ndarray]

DIVERGING = "diverging"
SEQUENTIAL = "sequential"


class ProductError(ValueError):
    """A product file is malformed or lacks something; the message names the file and what."""


def product_error(path: str, problem: str) -> ProductError:
    """A :class:`ProductError` that starts with the file name."""
    return ProductError(f"{os.path.basename(str(path))} ({path}): {problem}")


@dataclass
class Layer:
    """One raster of a product (one or more bands of the product's grid).

    ``dates``: one date per band for a time series (``None`` entries allowed);
    ``reference_date``: the date the displacements are relative to;
    ``date_pair``: (reference, secondary) of an interferogram or offset pair;
    ``band_date_pairs``: one (reference, secondary) pair per band (interferogram stacks).
    ``kind``: ``diverging`` (signed displacement, velocity, phase, offsets) or
    ``sequential`` (quality, angles, masks) for styling.
    """

    name: str
    quantity: str
    units: str
    reader: BlockReader
    description: str = ""
    bands: int = 1
    dates: Optional[List[Optional[_dt.date]]] = None
    reference_date: Optional[_dt.date] = None
    date_pair: Optional[Tuple[_dt.date, _dt.date]] = None
    kind: str = DIVERGING
    convention: str = ""
    metadata: Dict[str, str] = field(default_factory=dict)
    band_date_pairs: Optional[List[Tuple[_dt.date, _dt.date]]] = None

    def band_description(self, band: int) -> str:
        """A readable description of band ``band`` (1-based)."""
        base = self.description or self.name
        if self.band_date_pairs:
            a, b = self.band_date_pairs[band - 1]
            return f"{base} {a.isoformat()}_{b.isoformat()}"
        if self.dates and self.dates[band - 1] is not None:
            return f"{base} {self.dates[band - 1].isoformat()}"
        return base


@dataclass
class Geometry:
    """Viewing geometry of a product; each angle is a constant or a layer name.

    ``incidence`` (degrees from vertical), ``los_azimuth`` (degrees, ground→satellite,
    anti-clockwise from north), ``heading`` (degrees, clockwise from north),
    ``look_direction`` (``right``/``left``), ``wavelength`` (metres),
    ``enu_layers`` (names of ground→satellite unit-vector layers east, north, up;
    up may be ``None`` when only east/north are stored, e.g. OPERA),
    ``source`` (where the values came from, for messages and metadata).
    """

    incidence: Optional[float] = None
    incidence_layer: Optional[str] = None
    los_azimuth: Optional[float] = None
    los_azimuth_layer: Optional[str] = None
    heading: Optional[float] = None
    look_direction: Optional[str] = None
    wavelength: Optional[float] = None
    enu_layers: Optional[Tuple[str, str, Optional[str]]] = None
    source: str = ""

    def has_incidence(self) -> bool:
        return self.incidence is not None or self.incidence_layer is not None or bool(self.enu_layers)

    def has_los_azimuth(self) -> bool:
        return (self.los_azimuth is not None or self.los_azimuth_layer is not None
                or bool(self.enu_layers) or self.heading is not None)

    def as_metadata(self) -> Dict[str, str]:
        """Flat ``geometry_*`` metadata items (constants and per-pixel layer names)."""
        out: Dict[str, str] = {}
        for key in ("incidence", "los_azimuth", "heading", "wavelength"):
            value = getattr(self, key)
            if value is not None:
                out[f"geometry_{key}"] = f"{float(value):.12g}"
        for key in ("incidence_layer", "los_azimuth_layer"):
            value = getattr(self, key)
            if value:
                out[f"geometry_{key}"] = value
        if self.enu_layers:
            out["geometry_enu_layers"] = ",".join(x or "" for x in self.enu_layers)
        if self.look_direction:
            out["geometry_look_direction"] = self.look_direction
        if self.source:
            out["geometry_source"] = self.source
        return out


MISSING_PARAMETER = {
    "incidence": "set the incidence angle parameter (degrees from the vertical) of the algorithm",
    "los_azimuth": ("set the heading (degrees clockwise from north) and look direction "
                    "parameters of the algorithm"),
    "wavelength": "set the radar wavelength parameter (metres) of the algorithm",
}


class Product:
    """A processor's output opened for reading (see module docstring).

    Attributes: ``path``, ``processor`` (``MintPy``, ``ISCE2``, ...), ``product_type``,
    ``width``, ``height``, ``geotransform`` (GDAL order), ``crs_wkt`` (empty in radar
    geometry), ``has_geotransform``, ``layers``, ``reference_point`` (dict with
    ``row``/``col`` and, when known, ``y``/``x`` map coordinates), ``reference_date``,
    ``geometry``, ``metadata`` (raw attributes as strings), ``primary`` (the layer the
    product is about, when its reader knows it; see core/products/defaults.py).
    """

    def __init__(self, path: str, processor: str, product_type: str, width: int, height: int,
                 geotransform: Sequence[float], crs_wkt: str, layers: List[Layer],
                 geometry: Optional[Geometry] = None, metadata: Optional[Dict[str, str]] = None,
                 reference_point: Optional[Dict[str, float]] = None,
                 reference_date: Optional[_dt.date] = None, has_geotransform: bool = True,
                 primary: Optional[str] = None):
        self.path = str(path)
        self.processor = processor
        self.product_type = product_type
        self.width = int(width)
        self.height = int(height)
        self.geotransform = tuple(float(v) for v in geotransform)
        self.crs_wkt = crs_wkt or ""
        self.layers = list(layers)
        self.geometry = geometry or Geometry()
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        self.reference_point = reference_point
        self.reference_date = reference_date
        self.has_geotransform = has_geotransform
        self.primary = primary
        #: radar geometry: where the geolocation is (core/geocode.py metadata items)
        self.geolocation: Dict[str, str] = {}

    def __repr__(self) -> str:
        names = ", ".join(layer.name for layer in self.layers)
        return (f"<Product {self.processor} {self.product_type} {os.path.basename(self.path)} "
                f"{self.width}x{self.height} [{names}]>")

    @property
    def layer_names(self) -> List[str]:
        return [layer.name for layer in self.layers]

    def layer(self, name: str) -> Layer:
        """The layer called ``name`` (ProductError listing the layers if absent)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise product_error(self.path, f"has no layer {name!r}; its layers are "
                            f"{', '.join(self.layer_names) or 'none'}")

    def read(self, name: str, band: int = 1, row: int = 0, col: int = 0,
             rows: Optional[int] = None, cols: Optional[int] = None) -> np.ndarray:
        """Read a window of one band of layer ``name`` as float32 with nodata as NaN."""
        layer = self.layer(name)
        if not 1 <= band <= layer.bands:
            raise product_error(self.path, f"layer {name!r} has {layer.bands} band(s), not {band}")
        rows = self.height - row if rows is None else rows
        cols = self.width - col if cols is None else cols
        if row < 0 or col < 0 or rows <= 0 or cols <= 0 or row + rows > self.height \
                or col + cols > self.width:
            raise product_error(self.path, f"window ({row}, {col}, {rows}, {cols}) is outside "
                                f"the {self.height} x {self.width} grid")
        out = np.asarray(layer.reader(band, row, col, rows, cols), dtype=np.float32)
        if out.shape != (rows, cols):
            raise product_error(self.path, f"layer {name!r} returned shape {out.shape}, "
                                f"expected {(rows, cols)}")
        return out

    # --- geometry --------------------------------------------------------
    def _missing(self, what: str) -> ProductError:
        return product_error(self.path, f"the {self.processor} {self.product_type} carries no "
                             f"{what.replace('_', ' ')}: {MISSING_PARAMETER[what]}")

    def _window(self, row, col, rows, cols):
        rows = self.height - row if rows is None else rows
        cols = self.width - col if cols is None else cols
        return row, col, rows, cols

    def incidence(self, row: int = 0, col: int = 0, rows: Optional[int] = None,
                  cols: Optional[int] = None) -> np.ndarray:
        """Incidence angle (degrees from the vertical) of a window, per pixel."""
        g = self.geometry
        row, col, rows, cols = self._window(row, col, rows, cols)
        if g.incidence_layer:
            return self.read(g.incidence_layer, 1, row, col, rows, cols).astype(np.float64)
        if g.enu_layers:
            e, n, u = self.los_unit_vector(row, col, rows, cols)
            return geo.unit_vector_to_incidence_azimuth(e, n, u)[0]
        if g.incidence is not None:
            return np.full((rows, cols), float(g.incidence))
        raise self._missing("incidence")

    def los_azimuth(self, row: int = 0, col: int = 0, rows: Optional[int] = None,
                    cols: Optional[int] = None) -> np.ndarray:
        """LOS azimuth (degrees, ground→satellite, anti-clockwise from north), per pixel."""
        g = self.geometry
        row, col, rows, cols = self._window(row, col, rows, cols)
        if g.los_azimuth_layer:
            return self.read(g.los_azimuth_layer, 1, row, col, rows, cols).astype(np.float64)
        if g.enu_layers:
            e, n, u = self.los_unit_vector(row, col, rows, cols)
            return geo.unit_vector_to_incidence_azimuth(e, n, u)[1]
        if g.los_azimuth is not None:
            return np.full((rows, cols), float(g.los_azimuth))
        if g.heading is not None:
            value = geo.heading_to_los_azimuth(g.heading, g.look_direction or "right")
            return np.full((rows, cols), float(value))
        raise self._missing("los_azimuth")

    def los_unit_vector(self, row: int = 0, col: int = 0, rows: Optional[int] = None,
                        cols: Optional[int] = None):
        """Ground→satellite unit vector (east, north, up) per pixel of a window."""
        g = self.geometry
        row, col, rows, cols = self._window(row, col, rows, cols)
        if g.enu_layers:
            e_name, n_name, u_name = g.enu_layers
            e = self.read(e_name, 1, row, col, rows, cols).astype(np.float64)
            n = self.read(n_name, 1, row, col, rows, cols).astype(np.float64)
            if u_name:
                u = self.read(u_name, 1, row, col, rows, cols).astype(np.float64)
            else:
                u = geo.up_from_horizontal_unit_vector(e, n)
            return e, n, u
        return geo.los_unit_vector(self.incidence(row, col, rows, cols),
                                   self.los_azimuth(row, col, rows, cols))

    def wavelength(self) -> float:
        """Radar wavelength in metres."""
        if self.geometry.wavelength is None:
            raise self._missing("wavelength")
        return float(self.geometry.wavelength)

    def geometry_summary(self) -> Dict[str, object]:
        """Scene-level geometry: constants, or the median of per-pixel layers over at most
        ~256 evenly spaced rows (degrees)."""
        out: Dict[str, object] = {"source": self.geometry.source,
                                  "look_direction": self.geometry.look_direction,
                                  "heading": self.geometry.heading,
                                  "wavelength": self.geometry.wavelength}
        for key, func, has in (("incidence", self.incidence, self.geometry.has_incidence()),
                               ("los_azimuth", self.los_azimuth, self.geometry.has_los_azimuth())):
            if not has:
                out[key] = None
                continue
            step = max(1, self.height // 256)   # at most ~256 sampled rows
            values = np.concatenate([func(r, 0, 1, self.width).ravel()
                                     for r in range(step // 2, self.height, step)])
            finite = values[np.isfinite(values)]
            out[key] = float(np.median(finite)) if finite.size else None
        return out
