"""Quantities with units where users type them: ``"0.5 ms"``, ``"2 s"``, ``"20 Hz"``, ``"-65 mV"``.

biosim computes in ms, Hz and mV; a bare number is read in those units, as it always was. A
string (or a scalar Brian2 or pint quantity, read through its text form, e.g. ``500. us``)
is converted, and a quantity of the wrong kind is an error that names the field:
``dt: expected a time such as '0.5 ms' (a bare number is in ms), got '20 Hz'``.

A small parser rather than pint or Brian2's units: biosim needs three kinds of quantity at
its edges (time, rate, voltage), converted once to plain floats before the numba kernels, so
a unit registry (pint: a dependency and ~0.2 s to build on import) or Brian2 (an optional
extra the core cannot require) would add weight for no gain inside the simulation.
"""
from __future__ import annotations

import re
import numpy as np

# unit -> (kind, factor to biosim's unit of that kind)
_UNITS: dict[str, tuple[str, float]] = {}
_KINDS = {"ms": "time", "Hz": "rate", "mV": "voltage"}
_NAMES = {"time": "a time such as '0.5 ms'", "rate": "a rate such as '20 Hz'",
          "voltage": "a voltage such as '-65 mV'"}


def _define(kind: str, factor: float, *names: str) -> None:
    for name in names:
        _UNITS[name] = (kind, factor)


_define("time", 1.0, "ms", "msec", "millisecond", "milliseconds")
_define("time", 1e3, "s", "sec", "second", "seconds")
_define("time", 1e-3, "us", "µs", "μs", "usec", "microsecond", "microseconds")
_define("time", 1e-6, "ns", "nanosecond", "nanoseconds")
_define("time", 6e4, "min", "minute", "minutes")
_define("rate", 1.0, "Hz", "hz", "hertz", "1/s")
_define("rate", 1e3, "kHz", "khz", "kilohertz", "1/ms")
_define("rate", 1e-3, "mHz", "millihertz")
_define("voltage", 1.0, "mV", "millivolt", "millivolts")
_define("voltage", 1e3, "V", "volt", "volts")
_define("voltage", 1e-3, "uV", "µV", "μV", "microvolt", "microvolts")

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*(\S*?)\s*$")


def to_unit(field: str, x, unit: str):
    """``x`` as a plain number in ``unit`` (``"ms"``, ``"Hz"`` or ``"mV"``).

    Numbers (and arrays of them) pass through unchanged; a string such as ``"2 s"`` or a
    scalar Brian2/pint quantity is converted. Anything else is returned as it is, for the
    caller's own check to reject with its usual message.
    """
    kind = _KINDS[unit]
    if _is_quantity(x):
        x = str(x)  # Brian2: "500. us", pint: "0.5 millisecond"
    if not isinstance(x, str):
        return x
    m = _QUANTITY.match(x)
    if m is None:
        _fail(field, kind, unit, x)
    value, name = float(m.group(1)), m.group(2)
    if not name:
        return value
    if name not in _UNITS or _UNITS[name][0] != kind:
        _fail(field, kind, unit, x)
    return value * _UNITS[name][1]


def _is_quantity(x) -> bool:
    module = type(x).__module__.split(".")[0]
    return module in ("brian2", "pint") and np.ndim(x) == 0


def _fail(field, kind, unit, x):
    from biosim.core.validation import fail

    fail(field, f"{_NAMES[kind]} (a bare number is in {unit})", x)
