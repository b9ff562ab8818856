"""Input checks shared by every model family.

Each check raises :class:`BiosimError` with one line that names the field and says
what was expected, e.g. ``dt: expected a finite number > 0, got nan``. Checks of a quantity
take its ``unit`` (``"ms"``, ``"Hz"``, ``"mV"``) and then also accept a string with units
(``"0.5 ms"``, ``"2 s"``, ``"20 Hz"``), converted by :mod:`biosim.core.units`.
"""
from __future__ import annotations

import functools
import math
from numbers import Integral, Real

import warnings

import numpy as np

from biosim.core.units import to_unit


class BiosimError(ValueError):
    """Bad input to biosim: one line that names the field and the fix."""

    def __init__(self, message=""):
        super().__init__(" ".join(str(message).replace("\r", "\\r").split("\n")))


class BiosimWarning(UserWarning):
    """Input that runs but is probably not what was meant (a 2-step run, dark frames)."""


def warn(field: str, message: str, stacklevel: int = 3) -> None:
    """A :class:`BiosimWarning` naming the field, shown where the user's call was made."""
    warnings.warn(f"{field}: {message}", BiosimWarning, stacklevel=stacklevel)


def fail(field: str, expected: str, got=None) -> None:
    msg = f"{field}: expected {expected}"
    if got is not None:
        msg += f", got {_show(got)}"
    raise BiosimError(msg)


def _show(x) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape}" if x.size > 4 else repr(x.tolist())
    s = repr(x)
    return s if len(s) < 60 else s[:57] + "..."


def number(field: str, x, *, low=None, high=None, low_open=False, high_open=False,
           allow_none=False, unit=None) -> float | None:
    """A finite real scalar inside [low, high] (open ends when asked), in ``unit``."""
    if x is None and allow_none:
        return None
    if unit is not None:
        x = to_unit(field, x, unit)
    if isinstance(x, bool) or not isinstance(x, (Real, np.floating, np.integer)):
        fail(field, "a number", x)
    x = float(x)
    if not math.isfinite(x):
        fail(field, f"a finite number{_range_text(low, high, low_open, high_open)}", x)
    if (low is not None and (x < low or (low_open and x == low))) or \
            (high is not None and (x > high or (high_open and x == high))):
        fail(field, f"a number{_range_text(low, high, low_open, high_open)}", x)
    return x


def positive(field: str, x, unit=None) -> float:
    return number(field, x, low=0.0, low_open=True, unit=unit)


def nonnegative(field: str, x, unit=None) -> float:
    return number(field, x, low=0.0, unit=unit)


def probability(field: str, x) -> float:
    return number(field, x, low=0.0, high=1.0)


def integer(field: str, x, *, low=None, high=None) -> int:
    if isinstance(x, bool) or not isinstance(x, (Integral, np.integer)):
        if isinstance(x, (float, np.floating)) and float(x).is_integer():
            x = int(x)
        else:
            fail(field, "an integer" + _range_text(low, high, False, False), x)
    x = int(x)
    if (low is not None and x < low) or (high is not None and x > high):
        fail(field, "an integer" + _range_text(low, high, False, False), x)
    return x


def array(field: str, x, *, shape=None, dtype=float, finite=True, low=None, high=None,
          ndim=None, unit=None) -> np.ndarray:
    """An array of a given shape (``None`` in ``shape`` matches any length); with ``unit``,
    a scalar may be a string with units."""
    if unit is not None:
        x = to_unit(field, x, unit)
    try:
        a = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        fail(field, f"an array of {np.dtype(dtype).name}", x)
    if ndim is not None and a.ndim != ndim:
        fail(field, f"a {ndim}-d array", f"shape {a.shape}")
    if shape is not None:
        ok = a.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, a.shape))
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            fail(field, f"shape {want}", f"shape {a.shape}")
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        fail(field, "finite values (no NaN or inf)", "a non-finite entry")
    if low is not None and a.size and a.min() < low:
        fail(field, f"values >= {low}", a.min())
    if high is not None and a.size and a.max() > high:
        fail(field, f"values <= {high}", a.max())
    return a


def per_unit(field: str, x, n: int, *, low=None, high=None, unit=None) -> np.ndarray:
    """A scalar or an array of length n, returned as a float array of length n."""
    a = array(field, x, low=low, high=high, unit=unit)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        fail(field, f"a scalar or an array of length {n}", f"shape {a.shape}")
    return a.copy()


def name(field: str, x):
    """None or a non-empty string (names are keys: ``net[name]``)."""
    if x is not None and (not isinstance(x, str) or not x):
        fail(field, "a non-empty string or None", x)
    return x


def flag(field: str, x, allow_none=False):
    """True or False (or None when allowed); numbers and strings are not flags."""
    if (x is None and allow_none) or isinstance(x, (bool, np.bool_)):
        return None if x is None else bool(x)
    fail(field, "True or False" + (" or None" if allow_none else ""), x)


def seed(field: str, x):
    """A seed: None, an int >= 0, a sequence of them, a SeedSequence or a Generator."""
    if x is None or isinstance(x, (np.random.SeedSequence, np.random.Generator)):
        return x
    items = x if isinstance(x, (list, tuple)) and x else [x]
    for k in items:
        if isinstance(k, bool) or not isinstance(k, (Integral, np.integer)) or k < 0:
            fail(field, "an integer >= 0, a SeedSequence, a Generator or None", x)
    return x


def memory(field: str, n_bytes: float, what: str, got=None) -> None:
    """Refuse an allocation larger than this machine's memory before making it."""
    if n_bytes > _total_memory():
        fail(field, f"a size that fits in memory ({what} would need {_bytes(n_bytes)}; this "
                    f"machine has {_bytes(_total_memory())})", got)


@functools.cache
def _total_memory() -> float:
    import os

    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 64e9


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} EB"


def choice(field: str, x, options) -> str:
    try:
        known = isinstance(x, (str, int, float, type(None))) and x in options
    except TypeError:
        known = False
    if not known:
        fail(field, "one of " + ", ".join(repr(o) for o in options), x)
    return x


def _range_text(low, high, low_open, high_open) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" {'<' if high_open else '<='} {high}"
    return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
