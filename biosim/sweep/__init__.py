"""Parameter sweeps: local process pool or Dask cluster, resumable SQLite store.

>>> import biosim as bs
>>> df = bs.sweep(fn, grid={"eta": bs.sweep.logspace(1e-4, 1e-1, 7), "width": [20, 50]},
...               seeds=5, store="sweep.sqlite")          # doctest: +SKIP

The module itself is callable (``biosim.sweep(...)`` is ``biosim.sweep.sweep(...)``), so
``bs.sweep`` works both as the function and as the namespace of the grid helpers.
"""
import sys
import types

from biosim.sweep.grid import cartesian, linspace, logspace, parse_values, random_points
from biosim.sweep.runner import load, sweep, table

__all__ = ["sweep", "load", "table", "cartesian", "linspace", "logspace", "random_points",
           "parse_values"]


class _CallableModule(types.ModuleType):
    __call__ = staticmethod(sweep)


sys.modules[__name__].__class__ = _CallableModule
