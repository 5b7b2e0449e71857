"""What the Displacement Inspector shows for a clicked point of a point layer (persistent
scatterers loaded by displacement:load_points, or any point layer with ``DYYYYMMDD`` fields):
its time series, its velocity and id.  Qt-free; the dock (ui/point_inspector.py) reads the
clicked feature's attributes and passes them here."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
from osgeo import ogr

from .inspection import Series, _number
from .points import DATE_FIELD

ogr.UseExceptions()


def date_fields(names) -> List[Tuple[_dt.date, str]]:
    """(date, field) of the ``DYYYYMMDD`` fields among ``names``, sorted by date."""
    out = []
    for name in names:
        m = DATE_FIELD.match(str(name))
        if m:
            try:
                out.append((_dt.datetime.strptime(m.group(1), "%Y%m%d").date(), str(name)))
            except ValueError:
                continue
    return sorted(out)


def layer_metadata(source: str) -> Dict[str, str]:
    """The GDAL layer metadata (units, velocity_units, reference_date ...) of a vector layer
    source (``path|layername=...``); empty when GDAL cannot open it."""
    path, _, rest = str(source).partition("|layername=")
    layer_name = rest.split("|")[0]
    try:
        ds = ogr.Open(path)
    except RuntimeError:
        return {}
    if ds is None:
        return {}
    layer = ds.GetLayerByName(layer_name) if layer_name else ds.GetLayer(0)
    return dict(layer.GetMetadata() or {}) if layer is not None else {}


def point_series(attributes: Mapping[str, object], metadata: Optional[Mapping[str, str]] = None,
                 label: str = "", x: float = math.nan, y: float = math.nan) -> Series:
    """The displacement series of one point from its attributes (``DYYYYMMDD`` fields; NULL
    = NaN), in the layer's unit (metadata ``units``, mm by default) relative to its
    ``reference_date``.  Raises ValueError when the point has no date field."""
    metadata = dict(metadata or {})
    pairs = date_fields(attributes.keys())
    if not pairs:
        raise ValueError("the point has no date fields (DYYYYMMDD)")
    ref = metadata.get("reference_date")
    values = np.array([_number(attributes[f]) for _, f in pairs])
    return Series([d for d, _ in pairs], values, metadata.get("units", "mm"), x, y, 0.0, label,
                  _dt.date.fromisoformat(ref) if ref else None,
                  {"pid": str(attributes.get("pid", ""))})


def point_velocity(attributes: Mapping[str, object], metadata: Optional[Mapping[str, str]] = None
                   ) -> Tuple[float, float, str]:
    """(velocity, its 1-sigma, unit) stored with the point (NaN when absent)."""
    metadata = dict(metadata or {})
    return (_number(attributes.get("velocity")), _number(attributes.get("velocity_std")),
            metadata.get("velocity_units", "mm/yr"))


def velocity_text(velocity: float, sigma: float, unit: str) -> str:
    """``-7.4 ± 0.1 mm/yr`` (``—`` when unknown)."""
    if not math.isfinite(velocity):
        return "—"
    return f"{velocity:.4g}{'' if not math.isfinite(sigma) else f' ± {sigma:.2g}'} {unit}"
