"""ISCE2 images: a flat binary file with its ISCE ``.xml`` description (``los.rdr``,
``filt_topophase.unw.geo``, ``dense_offsets.bil``, ``hgt.rdr``, ...).

What is read from the ``.xml`` (ISCE2 ``isceobj.Image``): ``width``, ``length``,
``number_bands``, ``data_type`` (BYTE, SHORT, INT, FLOAT, DOUBLE, CFLOAT), ``scheme``
(BIL/BIP/BSQ), ``byte_order`` (``l``/``b``) and, for geocoded images, the components
``coordinate1`` (longitude: ``startingvalue``, ``delta``) and ``coordinate2``
(latitude); ``startingvalue`` is read as the upper-left corner of the first pixel
(as MintPy's ``X_FIRST``).  Band meanings (ISCE2 topo / MintPy prep_isce):

* ``los.rdr[.geo]``: band 1 incidence angle at the target (degrees from vertical),
  band 2 LOS azimuth (degrees, anti-clockwise from north, ground→satellite); 0 incidence
  is nodata (outside the bursts, :func:`has_undeclared_fill`) for both bands; algorithms
  given a radar-geometry los.rdr read it through this reader for that reason.
* ``dense_offsets.bil`` (denseOffsets/PyCuAmpcor): band 1 azimuth offset, band 2 range
  offset, in pixels; −10000 marks failed matches (nodata).  ``*_snr.bil``: SNR.
* ``*.unw[.geo]``: band 1 amplitude, band 2 unwrapped phase (radians; 0 = nodata).
  Phase increases with range: LOS toward the satellite = −phase·λ/(4π).
* ``*.cor``: coherence (last band), ``*.conncomp``: connected components, ``hgt.rdr``:
  height (m), ``lat.rdr``/``lon.rdr``: degrees.

Geometry of other images: a ``los.rdr[.geo]`` of the same size next to the file or in
``../geom_reference``/``../geom_master`` is used per pixel.  ISCE2 images do not carry
the wavelength.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import xml.etree.ElementTree as ET
from typing import Dict, Optional

import numpy as np

from ..dates import dates_in_name
from ..raster_io import wgs84_wkt
from ._io import binary_reader
from .base import SEQUENTIAL, Geometry, Layer, Product, product_error

_TYPES = {"BYTE": "u1", "CHAR": "i1", "SHORT": "i2", "INT": "i4", "LONG": "i8", "FLOAT": "f4",
          "DOUBLE": "f8", "CFLOAT": "c8", "CDOUBLE": "c16"}
OFFSET_NODATA = -10000.0


def is_isce2(path: str) -> bool:
    xml = path + ".xml"
    if not os.path.exists(xml):
        return False
    try:
        return ET.parse(xml).getroot().tag == "imageFile"
    except ET.ParseError:
        return False


def has_undeclared_fill(path: str) -> bool:
    """True for an ISCE2 ``los.rdr[.geo]``: 0 marks pixels outside the bursts in both bands,
    and the ``.xml``/``.vrt`` declare no nodata, so GDAL reads the fill as an incidence of
    0.  ISCE2's topsStack ``mergeBursts.py`` builds the merged geometry (lat, lon, hgt,
    los) as a VRT over the whole frame from the bursts' valid areas (``mergeBurstsVirtual``,
    ``validOnly`` off for geometry) and ``gdal_translate``s it to ENVI: no burst, no value
    written, 0 read, and ``-a_nodata`` is set only for GDAL multilooking with ``-N``.
    The reader masks the fill of los.rdr, where 0 cannot be an incidence; lat/lon/hgt keep
    0 (a real height and coordinate)."""
    return _role(path) == "los" and is_isce2(path)


def read_isce_xml(path: str) -> Dict[str, object]:
    """The properties of ``<path>.xml`` (lower-case keys) plus coordinate1/coordinate2 dicts."""
    xml = path + ".xml"
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise product_error(xml, f"not a readable ISCE2 .xml: {exc}") from exc
    if root.tag != "imageFile":
        raise product_error(xml, "not an ISCE2 image description (<imageFile>)")
    out: Dict[str, object] = {}
    for prop in root.findall("property"):
        value = prop.find("value")
        if value is not None and value.text is not None:
            out[prop.get("name", "").lower()] = value.text.strip()
    for comp in root.findall("component"):
        name = comp.get("name", "").lower()
        if name.startswith("coordinate"):
            coords = {}
            for prop in comp.findall("property"):
                value = prop.find("value")
                if value is not None and value.text is not None:
                    coords[prop.get("name", "").lower()] = value.text.strip()
            out[name] = coords
    return out


def _role(path: str) -> str:
    name = os.path.basename(path).lower()
    if name.startswith("los."):
        return "los"
    if "offset" in name and "snr" in name:
        return "snr"
    if "offset" in name and "cov" in name:
        return "cov"
    if "offset" in name:
        return "offsets"
    if ".unw" in name:
        return "unw"
    if "conncomp" in name:
        return "conncomp"
    if name.endswith((".cor", ".cor.geo")) or ".cor" in name:
        return "cor"
    if name.startswith("hgt"):
        return "height"
    if name.startswith(("lat.", "lon.")):
        return name[:3]
    return "other"


def _pair(path: str):
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    named = dates_in_name(os.path.basename(path)) or dates_in_name(folder)
    if len(named) >= 2:
        return named[0], named[1]
    return None


def _find_los(path: str, width: int, height: int) -> Optional[str]:
    folder = os.path.dirname(os.path.abspath(path))
    geo = os.path.basename(path).endswith(".geo")
    names = ["los.rdr.geo", "los.geo"] if geo else ["los.rdr"]
    for sub in ("", "..", os.path.join("..", "geom_reference"), os.path.join("..", "geom_master"),
                os.path.join("..", "..", "geom_reference")):
        for name in names:
            candidate = os.path.normpath(os.path.join(folder, sub, name))
            if candidate != os.path.abspath(path) and is_isce2(candidate):
                info = read_isce_xml(candidate)
                if int(info.get("width", -1)) == width and int(info.get("length", -1)) == height:
                    return candidate
    return None


def _find_latlon(path: str, width: int, height: int) -> Dict[str, str]:
    """geocode metadata items naming the ``lat.rdr``/``lon.rdr`` of a radar image's grid
    (same folders as :func:`_find_los`; the ISCE2 ``.vrt`` when present, else the image GDAL's
    ISCE driver opens with its ``.xml``)."""
    from ..geocode import LATITUDE_KEY, LONGITUDE_KEY
    folder = os.path.dirname(os.path.abspath(path))
    for sub in ("", "..", os.path.join("..", "geom_reference"), os.path.join("..", "geom_master"),
                os.path.join("..", "..", "geom_reference")):
        for suffix in (".rdr", ".rdr.full"):
            found = {}
            for key, name in ((LATITUDE_KEY, "lat"), (LONGITUDE_KEY, "lon")):
                candidate = os.path.normpath(os.path.join(folder, sub, name + suffix))
                if is_isce2(candidate):
                    info = read_isce_xml(candidate)
                    if (int(info.get("width", -1)), int(info.get("length", -1))) == (width, height):
                        vrt = candidate + ".vrt"
                        found[key] = vrt if os.path.exists(vrt) else candidate
            if len(found) == 2:
                return found
    return {}


def _los_layers(los_path, width, height, dtype, bands, scheme, auxiliary=False):
    inc = binary_reader(los_path, width, height, dtype, bands, scheme, nodata=0.0, band_map=[1])
    az_raw = binary_reader(los_path, width, height, dtype, bands, scheme, band_map=[2])

    def az(band, row, col, rows, cols):
        out = az_raw(1, row, col, rows, cols)
        out[np.isnan(inc(1, row, col, rows, cols))] = np.nan
        return out

    meta = {"auxiliary": os.path.basename(los_path)} if auxiliary else {}
    return [Layer("incidence_angle", "incidence_angle", "deg", reader=inc, kind=SEQUENTIAL,
                  description="incidence angle (los.rdr band 1)", metadata=dict(meta)),
            Layer("los_azimuth", "los_azimuth", "deg", reader=az, kind=SEQUENTIAL,
                  description="LOS azimuth, anti-clockwise from north (los.rdr band 2)",
                  metadata=dict(meta))]


def open_isce2(path: str) -> Product:
    """Open an ISCE2 image (``path`` is the data file; its ``.xml`` sits next to it)."""
    if path.lower().endswith(".vrt"):
        path = path[:-4]
    info = read_isce_xml(path)
    for key in ("width", "length", "data_type"):
        if key not in info:
            raise product_error(path + ".xml", f"ISCE2 property {key!r} is missing")
    width, height = int(info["width"]), int(info["length"])
    bands = int(info.get("number_bands", 1))
    scheme = str(info.get("scheme", "BIP")).upper()
    dtype_name = str(info["data_type"]).upper()
    if dtype_name not in _TYPES:
        raise product_error(path + ".xml", f"unsupported ISCE2 data_type {dtype_name!r}")
    order = "<" if str(info.get("byte_order", "l")).lower().startswith("l") else ">"
    dtype = order + _TYPES[dtype_name]
    if dtype_name.startswith("C"):
        raise product_error(path, "complex ISCE2 images (SLC, wrapped interferograms) are not "
                            "displacement products; unwrap them first")
    role = _role(path)
    pair = _pair(path)
    layers = []

    def reader(band, nodata=None):
        return binary_reader(path, width, height, dtype, bands, scheme, nodata=nodata,
                             band_map=[band])

    if role == "los":
        if bands < 2:
            raise product_error(path, f"los.rdr must have 2 bands (incidence, azimuth), not {bands}")
        layers = _los_layers(path, width, height, dtype, bands, scheme)
    elif role == "offsets":
        if bands < 2:
            raise product_error(path, f"dense offsets must have 2 bands (azimuth, range), not {bands}")
        layers = [Layer("azimuth_offset", "azimuth_offset", "pixel", reader=reader(1, OFFSET_NODATA),
                        description="azimuth offset (band 1)", date_pair=pair,
                        convention="positive along the flight direction (increasing rows)"),
                  Layer("range_offset", "range_offset", "pixel", reader=reader(2, OFFSET_NODATA),
                        description="range offset (band 2)", date_pair=pair,
                        convention="positive with increasing range (away from the satellite)")]
    elif role == "unw":
        if bands >= 2:
            layers.append(Layer("amplitude", "amplitude", "1", reader=reader(1, 0.0),
                                kind=SEQUENTIAL, description="amplitude", date_pair=pair))
        layers.append(Layer("unwrapped_phase", "unwrapped_phase", "rad",
                            reader=reader(bands, 0.0), description="unwrapped phase",
                            date_pair=pair, reference_date=pair[0] if pair else None,
                            convention="phase increases with range: LOS toward satellite = "
                                       "-phase*wavelength/(4*pi)"))
    else:
        table = {"snr": ("snr", "1"), "cov": ("offset_covariance", "pixel2"),
                 "conncomp": ("connected_component", "1"), "cor": ("coherence", "1"),
                 "height": ("height", "m"), "lat": ("latitude", "deg"), "lon": ("longitude", "deg")}
        quantity, units = table.get(role, (re.sub(r"\W+", "_", os.path.basename(path)), ""))
        if role == "cor":
            layers.append(Layer("coherence", quantity, units, reader=reader(bands, 0.0),
                                kind=SEQUENTIAL, description="coherence", date_pair=pair))
        else:
            for b in range(1, bands + 1):
                name = quantity if bands == 1 else f"{quantity}_{b}"
                layers.append(Layer(name, quantity, units, reader=reader(b), kind=SEQUENTIAL,
                                    description=name.replace("_", " "), date_pair=pair))
    geometry = Geometry(look_direction=None, source="")
    if role == "los":
        geometry.incidence_layer, geometry.los_azimuth_layer = "incidence_angle", "los_azimuth"
        geometry.source = os.path.basename(path)
    else:
        los = _find_los(path, width, height)
        if los:
            li = read_isce_xml(los)
            lo = "<" if str(li.get("byte_order", "l")).lower().startswith("l") else ">"
            layers += _los_layers(los, width, height, lo + _TYPES[str(li["data_type"]).upper()],
                                  int(li.get("number_bands", 2)), str(li.get("scheme", "BIL")).upper(),
                                  auxiliary=True)
            geometry.incidence_layer, geometry.los_azimuth_layer = "incidence_angle", "los_azimuth"
            geometry.source = os.path.relpath(los, os.path.dirname(os.path.abspath(path)))
    c1, c2 = info.get("coordinate1"), info.get("coordinate2")
    has_gt = False
    gt, wkt = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0), ""
    if isinstance(c1, dict) and isinstance(c2, dict) and "startingvalue" in c1 \
            and "startingvalue" in c2 and "delta" in c1 and "delta" in c2:
        x0, dx = float(c1["startingvalue"]), float(c1["delta"])
        y0, dy = float(c2["startingvalue"]), float(c2["delta"])
        # radar images carry coordinate1 = (0, 1) in pixels; only geographic ones are georeferenced
        if not (x0 == 0 and dx == 1 and y0 == 0 and dy == 1) and abs(dx) < 1 and abs(dy) < 1:
            gt, wkt, has_gt = (x0, dx, 0.0, y0, 0.0, dy), wgs84_wkt(), True
    meta = {k: str(v) for k, v in info.items() if not isinstance(v, dict)}
    ref = pair[0] if pair else None
    if isinstance(ref, _dt.date):
        meta["reference_date"] = ref.isoformat()
    product = Product(path, "ISCE2", role, width, height, gt, wkt, layers, geometry, meta,
                      reference_date=ref, has_geotransform=has_gt)
    if not has_gt:
        product.geolocation = _find_latlon(path, width, height)
    return product
