"""Qt-free, QGIS-free numerics of the Displacement Toolkit.

Every module here imports only the standard library, numpy, scipy and (for
raster I/O) GDAL, so it can be used from a plain Python script, a notebook or
a Dask job.  Units and sign conventions are stated in each function's
docstring and collected in ``docs/conventions.md``.
"""
