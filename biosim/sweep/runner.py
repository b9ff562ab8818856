"""``biosim.sweep(fn, grid=...)``: run ``fn`` over a grid and seeds, resumable, as a DataFrame."""
from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable

import numpy as np

from biosim.core.validation import BiosimError, choice, fail, integer
from biosim.sweep.grid import point_key, points as make_points
from biosim.sweep.store import Store

TABLE_COLUMNS = ("seed", "rng_seed", "wall_s", "status", "error", "traceback")
POLL_S = 0.5  # s: how often a sweep checks on points that another sweep is running


def sweep(fn, grid=None, samples=None, seeds=1, store=None, backend="local", address=None,
          workers=None, progress=True, retry_failed=False, extend=False, root_seed=0):
    """Run ``fn(**point, seed=s)`` for every point of ``grid`` (or ``samples``) and seed.

    Parameters
    ----------
    fn : callable returning a dict of metric name -> number. ``workers=1`` calls it in this
        process; worker processes receive it with cloudpickle (any function, also one
        defined in a script or a notebook).
    grid : dict name -> list of values (see ``logspace``/``linspace``), Cartesian product.
    samples : list of dicts, explicit points instead of a grid (see ``random_points``).
    seeds : number of replicates (0..n-1) or a list of replicate numbers. Replicate ``r``
        gets ``seed = SeedSequence(root_seed).spawn(r + 1)[r]`` as a 32-bit int, the same
        for every point (common random numbers), whatever the workers or the order.
    store : path of the SQLite store (``None``: in memory, no resume). Finished points are
        committed as they arrive; a rerun skips them. Sweeps may share a store: a point
        that another running sweep has claimed is left to it (and waited for).
    backend : ``"local"``: ``workers`` processes (default: all cores), or this process for
        ``workers=1``; a point that kills its worker process is tried 3 times, then recorded
        as an error. ``"dask"``: ``address`` is a scheduler address, ``Client``, cluster, or
        ``None`` for a ``LocalCluster`` of ``workers`` processes.
    retry_failed : rerun the points recorded as errors.
    extend : allow points that an existing store does not hold yet (otherwise an error).

    Ctrl-C stops the sweep and raises ``KeyboardInterrupt`` saying how many points are
    stored; rerunning resumes. Worker processes never outlive the sweep's process, and
    need no ``if __name__ == "__main__":`` guard in a script.

    Returns
    -------
    DataFrame, one row per (point, seed) in grid order: the parameters, ``seed``, the
    metrics, ``rng_seed``, ``wall_s`` (s), ``status`` ('ok'/'error'), ``error``, ``traceback``.
    """
    if not callable(fn):
        fail("fn", "a callable returning a dict of metrics", fn)
    choice("backend", backend, ("local", "dask"))
    if workers is not None:
        workers = integer("workers", workers, low=1)
    root_seed = integer("root_seed", root_seed, low=0)
    pts = make_points(grid, samples)
    seeds = _seeds(seeds)
    params = list(pts[0])
    for name in params:
        if name in TABLE_COLUMNS:
            fail(f"{'grid' if grid is not None else 'samples'}[{name!r}]", "a parameter name "
                 f"other than the table's own columns {', '.join(TABLE_COLUMNS)}; fn receives "
                 "the seed as seed=", name)
    _check_not_bootstrapping()
    # SeedSequence(root, spawn_key=(r,)) is SeedSequence(root).spawn(r + 1)[r]
    rng_seeds = {r: int(np.random.SeedSequence(root_seed, spawn_key=(r,)).generate_state(1)[0])
                 for r in seeds}
    todo = {point_key(p, r): (p, r, rng_seeds[r]) for p in pts for r in seeds}
    keys = list(todo)

    db = Store(store)
    try:
        db.attach({"fn": _fn_id(fn), "params": params, "root_seed": root_seed,
                   "points": keys}, extend=extend)
        finished = db.finished(retry_failed)
        pending = [k for k in keys if k not in finished]
        if pending:
            retry = db.finished() - finished if retry_failed else set()
            try:
                _run(fn, pending, retry, set(params) | set(TABLE_COLUMNS), backend, address,
                     workers, progress, db, todo)
            except KeyboardInterrupt:
                done = f"{len(db.rows(keys))} of {len(keys)} points"
                raise KeyboardInterrupt(
                    f"sweep interrupted: {done} finished (no store: pass store= to keep them)"
                    if store is None else
                    f"sweep interrupted: {done} stored in {store}; rerun to resume") from None
        df = table(db.rows(keys), params)
    finally:
        db.close()
    failed = df[df["status"] == "error"]
    if len(failed):
        warnings.warn(f"sweep: {len(failed)} of {len(df)} points failed (first: "
                      f"{failed['error'].iloc[0]}); see the 'error' and 'traceback' columns, "
                      "rerun with retry_failed=True", RuntimeWarning, stacklevel=2)
    return df


def load(store):
    """The table of an existing store (all its finished points), as :func:`sweep` returns it."""
    import os

    if not os.path.exists(store):
        fail("store", "an existing sweep store", str(store))
    db = Store(store)
    try:
        definition = db.definition()
        if definition is None:
            fail("store", "a sweep store (no sweep definition found)", str(store))
        return table(db.rows(), definition["params"])
    finally:
        db.close()


def table(rows, params):
    """DataFrame of store rows: parameters, seed, metrics (first-seen order), bookkeeping."""
    import pandas as pd

    metric_names = list(dict.fromkeys(m for r in rows for m in r["metrics"]))
    records = [{**r["params"], "seed": r["seed"],
                **{m: r["metrics"].get(m, float("nan")) for m in metric_names},
                **{c: r[c] for c in TABLE_COLUMNS[1:]}} for r in rows]
    return pd.DataFrame.from_records(records,
                                     columns=[*params, "seed", *metric_names, *TABLE_COLUMNS[1:]])


def _run(fn, pending, retry, reserved, backend, address, workers, progress, db, todo):
    """Run the ``pending`` points (keys); commit results as they arrive."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), initial=len(todo) - len(pending), desc="sweep",
               disable=not progress, unit="pt")
    feed = _Feed(db, todo, pending, retry, bar)
    try:
        if backend == "dask":
            from biosim.sweep.backends import run_dask

            run_dask(fn, feed, reserved, address, workers)
        elif min(workers or os.cpu_count() or 1, len(pending)) == 1:
            from biosim.sweep.backends import run_inline

            run_inline(fn, feed, reserved)
        else:
            from biosim.sweep.pool import run

            run(fn, feed, reserved, min(workers or os.cpu_count() or 1, len(pending)))
    finally:
        bar.close()


class _Feed:
    """The points a sweep still needs, handed to the backend a few at a time.

    Each point is claimed in the store just before it runs (``Store.claim``), so that
    another sweep on the same store skips it; a point that another live sweep holds is
    waited for, and taken over if that sweep dies.
    """

    def __init__(self, db, todo, pending, retry, bar):
        self.db, self.todo, self.retry, self.bar = db, todo, retry, bar
        self.pending = dict.fromkeys(pending)  # ordered; claimed ones leave it

    @property
    def left(self) -> int:
        return len(self.pending)

    def take(self, n, wait=False) -> list:
        """Up to ``n`` tasks (key, params, rng seed) claimed for this sweep. ``wait``: when
        other sweeps hold all that is left, wait for them rather than return []."""
        while self.pending and (n > 0 or wait):
            claimed, finished = self.db.claim(self.pending, max(n, 1), self.retry)
            for key in claimed + finished:
                del self.pending[key]
            self.bar.update(len(finished))
            if claimed or not wait:
                return [(k, self.todo[k][0], self.todo[k][2]) for k in claimed]
            time.sleep(POLL_S)
        return []

    def done(self, results) -> None:
        """Commit ``[(key, result), ...]``."""
        self.db.write([(key, *self.todo[key], result) for key, result in results])
        self.bar.update(len(results))


def _check_not_bootstrapping():
    """A process started by multiprocessing (spawn/forkserver, e.g. Dask's local workers)
    re-runs the main script: a sweep at its top level would start there again."""
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise BiosimError("sweep: called while a new worker process imports your script; put "
                          'the sweep under `if __name__ == "__main__":` in that script')


def _seeds(seeds) -> list[int]:
    if isinstance(seeds, Iterable) and not isinstance(seeds, (str, bytes)):
        out = [integer("seeds", s, low=0) for s in seeds]
        if not out or len(set(out)) != len(out):
            fail("seeds", "a non-empty list of distinct replicate numbers >= 0", list(seeds))
        return out
    return list(range(integer("seeds", seeds, low=1)))


def _fn_id(fn) -> str:
    """What makes two sweeps the same sweep: ``fn.sweep_id`` or the function's full name."""
    sweep_id = getattr(fn, "sweep_id", None)
    if sweep_id is not None:
        return str(sweep_id)
    name = getattr(fn, "__qualname__", type(fn).__qualname__)
    return f"{getattr(fn, '__module__', type(fn).__module__)}.{name}"


__all__ = ["sweep", "load", "table"]
