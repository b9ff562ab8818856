"""numba's start-up in a process, made cheaper where it is pure overhead for biosim.

The first compiled function a process loads (from numba's cache too) makes numba load its
whole library of typing and lowering registries (~0.25 s CPU). Two parts of that are not
needed by biosim's kernels:

- numba imports ``scipy.linalg`` (~0.09 s) only to set a flag saying a BLAS is there.
  scipy is a dependency of biosim, so one is: :func:`skip_blas_probe` sets the flag without
  the import (numba still imports scipy.linalg when a function uses BLAS, e.g. ``np.dot``);
- the registries are ~10^5 long-lived objects, over which Python's cyclic garbage collector
  runs several times while they are built (~0.04 s): the fused Izhikevich kernel (the first
  kernel of most runs) is called in :func:`gc_paused`.
"""
from __future__ import annotations

import gc
import sys
from contextlib import contextmanager


def skip_blas_probe() -> None:
    """Import ``numba.np.arraymath`` with numba's BLAS probe skipped (once per process; a
    no-op when numba has loaded it already or no longer probes this way)."""
    if "numba.np.arraymath" in sys.modules:
        return
    import numba.np.linalg as linalg

    probe = getattr(linalg, "ensure_blas", None)
    if probe is None:
        return
    linalg.ensure_blas = lambda: None
    try:
        import numba.np.arraymath as arraymath
    finally:
        linalg.ensure_blas = probe
    arraymath.ensure_blas = probe


@contextmanager
def gc_paused():
    """Python's cyclic garbage collector off for the block (a kernel call creates no cycles;
    the first one in a process builds numba's registries), then back as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
