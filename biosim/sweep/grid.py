"""Parameter grids: Cartesian products, explicit lists, log/linear ranges, seeded random samples.

A *point* is a dict ``{parameter name: value}``; values are numbers, strings or booleans.
A sweep runs every point once per seed.
"""
from __future__ import annotations

import itertools
import json
import math
from numbers import Integral, Real

import numpy as np

from biosim.core.random import make_rng
from biosim.core.validation import BiosimError, fail, integer, number

__all__ = ["logspace", "linspace", "cartesian", "random_points", "parse_values"]


def logspace(start, stop, num) -> list[float]:
    """``num`` values from ``start`` to ``stop`` (both > 0, included), evenly spaced in log."""
    start = number("start", start, low=0.0, low_open=True)
    stop = number("stop", stop, low=0.0, low_open=True)
    num = integer("num", num, low=1)
    return [float(v) for v in np.geomspace(start, stop, num)]


def linspace(start, stop, num) -> list[float]:
    """``num`` evenly spaced values from ``start`` to ``stop`` (both included)."""
    start, stop = number("start", start), number("stop", stop)
    num = integer("num", num, low=1)
    return [float(v) for v in np.linspace(start, stop, num)]


def cartesian(grid: dict) -> list[dict]:
    """Every combination of the values in ``grid`` (name -> list); the last name varies fastest."""
    if not isinstance(grid, dict) or not grid:
        fail("grid", "a dict of parameter name -> non-empty list of values", grid)
    axes = {}
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        values = [_value(f"grid[{name!r}]", v) for v in values]
        if not values:
            fail(f"grid[{name!r}]", "a non-empty list of values", [])
        axes[_name("grid", name)] = values
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def random_points(ranges: dict, n, seed=0) -> list[dict]:
    """``n`` points drawn uniformly from ``ranges``: name -> ``(low, high)`` or ``(low, high, "log")``.

    ``"log"`` draws uniformly in log (low > 0). The same ``seed`` gives the same points.
    """
    n = integer("n", n, low=1)
    if not isinstance(ranges, dict) or not ranges:
        fail("ranges", "a dict of parameter name -> (low, high) or (low, high, 'log')", ranges)
    rng = make_rng(seed)
    columns = {}
    for name, spec in ranges.items():
        field = f"ranges[{name!r}]"
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3) or \
                (len(spec) == 3 and spec[2] not in ("log", "lin")):
            fail(field, "(low, high) or (low, high, 'log')", spec)
        low, high = number(field, spec[0]), number(field, spec[1])
        if not low < high:
            fail(field, "low < high", spec)
        if len(spec) == 3 and spec[2] == "log":
            if low <= 0:
                fail(field, "low > 0 for a log range", spec)
            columns[_name("ranges", name)] = np.exp(rng.uniform(np.log(low), np.log(high), n))
        else:
            columns[_name("ranges", name)] = rng.uniform(low, high, n)
    return [{k: float(v[i]) for k, v in columns.items()} for i in range(n)]


def parse_values(field: str, text: str) -> list:
    """Values of one ``--set`` option.

    ``1e-4:1e-1:log:7`` (7 log-spaced values), ``0:1:lin:5`` or ``0:1:5`` (linear),
    ``20,50,100`` (a list) or ``0.5`` (one value). Integers stay integers.
    """
    text = text.strip()
    if not text:
        fail(field, "values such as 1e-4:1e-1:log:7, 0:1:5 or 20,50,100", text)
    if ":" in text:
        parts = text.split(":")
        kind = "lin"
        if len(parts) == 4:
            kind = parts.pop(2)
        if len(parts) != 3 or kind not in ("log", "lin"):
            fail(field, "a range start:stop:num or start:stop:log:num", text)
        start, stop, num = (_scalar(field, p) for p in parts)
        return (logspace if kind == "log" else linspace)(start, stop, num)
    return [_scalar(field, p) for p in text.split(",")]


def points(grid=None, samples=None) -> list[dict]:
    """The points of a sweep: a Cartesian ``grid`` or an explicit list of ``samples``."""
    if (grid is None) == (samples is None):
        fail("grid/samples", "exactly one of grid={...} or samples=[...]",
             "both" if grid is not None else "neither")
    if grid is not None:
        return cartesian(grid)
    samples = list(samples)
    if not samples:
        fail("samples", "a non-empty list of points (dicts)", [])
    out = []
    for i, s in enumerate(samples):
        if not isinstance(s, dict) or not s:
            fail(f"samples[{i}]", "a non-empty dict of parameter name -> value", s)
        if out and list(s) != list(out[0]):
            fail(f"samples[{i}]", f"the parameters of samples[0] {list(out[0])}", list(s))
        out.append({_name(f"samples[{i}]", k): _value(f"samples[{i}][{k!r}]", v)
                    for k, v in s.items()})
    return out


def point_key(params: dict, seed: int) -> str:
    """The identity of one (point, seed): canonical JSON, independent of grid order."""
    return json.dumps([params, seed], sort_keys=True, separators=(",", ":"))


def _name(field, name) -> str:
    if not isinstance(name, str) or not name:
        fail(field, "parameter names that are non-empty strings", name)
    return name


def _value(field, v):
    """A JSON-exact scalar: Python int, finite float, str or bool."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (bool, str)):
        return v
    if isinstance(v, Integral):
        return int(v)
    if isinstance(v, Real) and math.isfinite(v):
        return float(v)
    fail(field, "a finite number, a string or a bool", v)


def _scalar(field, text):
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return _value(field, float(text))
    except ValueError:
        raise BiosimError(f"{field}: expected a number, got {text!r}") from None
