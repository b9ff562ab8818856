"""``biosim.sweep(fn, grid=...)``: run ``fn`` over a grid and seeds, resumable, as a DataFrame."""
from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from biosim.core.validation import choice, fail, integer
from biosim.sweep.grid import point_key, points as make_points
from biosim.sweep.store import Store

TABLE_COLUMNS = ("seed", "rng_seed", "wall_s", "status", "error", "traceback")


def sweep(fn, grid=None, samples=None, seeds=1, store=None, backend="local", address=None,
          workers=None, progress=True, retry_failed=False, extend=False, root_seed=0):
    """Run ``fn(**point, seed=s)`` for every point of ``grid`` (or ``samples``) and seed.

    Parameters
    ----------
    fn : callable returning a dict of metric name -> number. It must be picklable
        (a module-level function, or any function when cloudpickle is installed).
    grid : dict name -> list of values (see ``logspace``/``linspace``), Cartesian product.
    samples : list of dicts, explicit points instead of a grid (see ``random_points``).
    seeds : number of replicates (0..n-1) or a list of replicate numbers. Replicate ``r``
        gets ``seed = SeedSequence(root_seed).spawn(r + 1)[r]`` as a 32-bit int, the same
        for every point (common random numbers), whatever the workers or the order.
    store : path of the SQLite store (``None``: in memory, no resume). Finished points are
        committed one by one; a rerun skips them.
    backend : ``"local"`` (process pool of ``workers`` processes, default: all cores) or
        ``"dask"`` (``address``: scheduler address, ``Client``, cluster, or ``None`` for a
        ``LocalCluster`` of ``workers`` processes).
    retry_failed : rerun the points recorded as errors.
    extend : allow points that an existing store does not hold yet (otherwise an error).

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
        tasks = [(k, p, rng) for k, (p, _, rng) in todo.items() if k not in finished]
        if tasks:
            _run(fn, tasks, set(params) | set(TABLE_COLUMNS), backend, address, workers,
                 progress, db, todo)
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


def _run(fn, tasks, reserved, backend, address, workers, progress, db, todo):
    """Run ``tasks`` (key, params, rng seed); commit each result as it arrives."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), initial=len(todo) - len(tasks), desc="sweep",
               disable=not progress, unit="pt")

    def on_result(key, result):
        db.write(key, *todo[key], result)
        bar.update(1)

    try:
        if backend == "local":
            from biosim.sweep.backends import run_local

            run_local(fn, tasks, reserved, workers, on_result)
        else:
            from biosim.sweep.backends import run_dask

            run_dask(fn, tasks, reserved, address, workers, on_result)
    finally:
        bar.close()


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
