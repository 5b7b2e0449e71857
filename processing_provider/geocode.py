"""displacement:geocode — put a radar-geometry raster on a north-up map grid."""

import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core import geocode as gc
from ..core.raster_io import RasterError
from .base import DisplacementAlgorithm, parameter_error
from .common_grid import style_kind_for_quantity

# short: the side panel; the full text is docs/algorithms/geocode.md (Help button)
HELP = """
Puts a raster in radar geometry (any bands: offsets, LOS, interferograms, dated series) on a
north-up map grid, keeping band descriptions, units and dates. Geolocation: LATITUDE and
LONGITUDE rasters (ISCE2 lat.rdr/lon.rdr, MintPy geometryRadar.h5), a GAMMA LOOKUP_TABLE with
its DEM_PAR, or a Sentinel-1 ANNOTATION; none when INPUT's metadata names it (offset-tracking
outputs, placed by their window centres; ISCE2/MintPy radar products). WGS 84 or local UTM,
RESOLUTION in metres; nodata never averaged in. Output: float32 GeoTIFF, NaN nodata, styled.
"""

RESAMPLING = list(gc.RESAMPLING_CHOICES)


class Geocode(DisplacementAlgorithm):
    NAME = "geocode"
    DISPLAY_NAME = "Geocode a radar-geometry raster"
    GROUP = "Grids and geometry"
    GROUP_ID = "grids"
    HELP = HELP

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Raster in radar geometry"))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "LATITUDE", "Latitude of the radar grid (degrees)", optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "LONGITUDE", "Longitude of the radar grid (degrees)", optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "LOOKUP_TABLE", "or: GAMMA lookup table (.lt, lookup_fine)", optional=True,
            fileFilter="All files (*)"))
        self.addParameter(QgsProcessingParameterFile(
            "DEM_PAR", "GAMMA DEM parameter file of the lookup table (.dem_par, dem.par)",
            optional=True, fileFilter="All files (*)"))
        self.addParameter(QgsProcessingParameterFile(
            "ANNOTATION", "or: Sentinel-1 annotation XML", optional=True,
            fileFilter="Sentinel-1 annotation (*.xml)"))
        self.addParameter(QgsProcessingParameterCrs(
            "TARGET_CRS", "Target CRS (default WGS 84)", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "LOCAL_UTM", "Use the local UTM zone (instead of TARGET_CRS)", defaultValue=False))
        self.addParameter(QgsProcessingParameterNumber(
            "RESOLUTION", "Resolution (metres; default from the geolocation spacing)",
            QgsProcessingParameterNumber.Type.Double, optional=True, minValue=0.0))
        self.addParameter(QgsProcessingParameterEnum(
            "RESAMPLING", "Resampling", RESAMPLING, defaultValue=1))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Geocoded"))
        self.addOutput(QgsProcessingOutputNumber("VALID_FRACTION",
                                                 "Fraction of the output pixels with data"))

    def _file(self, parameters, name, context):
        path = self.parameterAsFile(parameters, name, context)
        if path and not os.path.exists(path):
            raise parameter_error(name, path, "the file does not exist", "Check the path")
        return path or None

    def _geolocation(self, parameters, context):
        lat = self.raster_path(parameters, "LATITUDE", context, required=False)
        lon = self.raster_path(parameters, "LONGITUDE", context, required=False)
        lookup = self._file(parameters, "LOOKUP_TABLE", context)
        dem_par = self._file(parameters, "DEM_PAR", context)
        annotation = self._file(parameters, "ANNOTATION", context)
        if not any((lat, lon, lookup, dem_par, annotation)):
            return None
        try:
            return gc.Geolocation(latitude=lat, longitude=lon, lookup_table=lookup,
                                  dem_par=dem_par, annotation=annotation)
        except ValueError as exc:
            given = ", ".join(n for n, v in (("LATITUDE", lat), ("LONGITUDE", lon),
                                             ("LOOKUP_TABLE", lookup), ("DEM_PAR", dem_par),
                                             ("ANNOTATION", annotation)) if v)
            raise QgsProcessingException(f"Geolocation given: {given}. {exc}") from exc

    def compute(self, parameters, context, feedback):
        path = self.raster_path(parameters, "INPUT", context)
        info = self.raster_info(path, "INPUT")
        geolocation = self._geolocation(parameters, context)
        crs = None
        if self.parameterAsBool(parameters, "LOCAL_UTM", context):
            crs = "utm"
        else:
            qcrs = self.parameterAsCrs(parameters, "TARGET_CRS", context)
            if qcrs is not None and qcrs.isValid():
                crs = qcrs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED_GDAL)
        resolution = None
        if parameters.get("RESOLUTION") not in (None, ""):
            resolution = self.parameterAsDouble(parameters, "RESOLUTION", context)
            if not resolution > 0:
                raise parameter_error("RESOLUTION", resolution, "must be positive",
                                      "Give metres, or leave it empty for the default")
        resampling = RESAMPLING[self.parameterAsEnum(parameters, "RESAMPLING", context)]
        out = self.output_raster_path(parameters, "OUTPUT", context)
        feedback.pushInfo(f"INPUT: {info.width} x {info.height} pixels, {info.band_count} band(s)")
        try:
            result = gc.geocode(path, geolocation, out, crs, resolution, True, resampling,
                                self.monitor(feedback))
        except ValueError as exc:
            # an empty result: say which input has no valid value (the base class adds the
            # diagnosis only to messages that name no parameter, and this one names INPUT)
            diagnosis = None if isinstance(exc, RasterError) else self.input_diagnosis()
            if diagnosis is None:
                raise
            raise QgsProcessingException(f"{exc}. {diagnosis}") from exc
        for note in result.notes:
            feedback.pushInfo(note)
        feedback.pushInfo("Output grid: " + result.grid.describe())
        feedback.pushInfo(f"{100 * result.valid_fraction:.1f} % of the output pixels hold data")
        meta = info.band_metadata[0] if info.band_metadata else {}
        self.finish_raster(out, context, style_kind_for_quantity(meta.get("quantity")),
                           meta.get("units", ""), result.stats[0])
        return {"OUTPUT": out, "VALID_FRACTION": result.valid_fraction}
