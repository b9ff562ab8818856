"""``biosim sweep SPEC --set FIELD=VALUES ...``: sweep numeric fields of a model spec.

Example::

    biosim sweep models/what_when.toml --set readout.eta=1e-4:1e-1:log:7 \\
        --set gate.width=20,50,100 --seeds 5 --metric adaptation_trials --store out.sqlite

``SPEC`` may also be a function ``package.module:name`` called as ``fn(**point, seed=s)``;
the module may be a ``.py`` file in the current folder. Ctrl-C stops the sweep and says how
many points are stored (rerunning the command resumes).
"""
from __future__ import annotations

import os
import sys
import warnings

from biosim.core.validation import fail


def add_arguments(parser) -> None:
    parser.add_argument("spec", help="model spec (a TOML path or a name in models/), or a "
                                     "function package.module:name returning metrics")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="FIELD=VALUES",
                        help="a numeric field and its values: 1e-4:1e-1:log:7 (log range), "
                             "0:1:5 (linear range) or 20,50,100 (list); repeat for a grid")
    parser.add_argument("--seeds", type=int, default=1, help="replicates per point (default 1)")
    parser.add_argument("--metric", action="append", default=[],
                        help="metric to summarise (repeatable; default: all)")
    parser.add_argument("--store", help="SQLite store; rerunning resumes it (default: none)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler, e.g. tcp://host:8786 (implies --backend dask)")
    parser.add_argument("--backend", choices=("local", "dask"), default=None,
                        help="local process pool (default) or dask (a LocalCluster "
                             "without --scheduler)")
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
    parser.add_argument("--retry-failed", action="store_true", help="rerun failed points")
    parser.add_argument("--extend", action="store_true",
                        help="add new points to an existing store")
    parser.add_argument("--root-seed", type=int, default=0, help="root of the seed tree")
    parser.add_argument("--csv", help="also write the full table to this CSV file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    from biosim.sweep.grid import parse_values
    from biosim.sweep.runner import sweep
    from biosim.sweep.specs import SpecFunction

    target = _function(args.spec)
    fn = target or SpecFunction(args.spec, require=args.metric)
    grid = {}
    for item in args.sets:
        field, sep, text = item.partition("=")
        if not sep or not field:
            fail("--set", "FIELD=VALUES, e.g. readout.eta=1e-4:1e-1:log:7", item)
        grid[field] = parse_values(field, text)
        if target is None:  # a spec: an unknown or non-numeric field is an error now
            for value in grid[field]:
                fn.with_fields(**{field: value})
    if not grid:
        fail("--set", "at least one FIELD=VALUES to sweep", "none")
    backend = args.backend or ("dask" if args.scheduler else "local")
    if args.scheduler and backend != "dask":
        fail("--backend", "dask with --scheduler", backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # failures are reported below
        try:
            df = sweep(fn, grid=grid, seeds=args.seeds, store=args.store, backend=backend,
                       address=args.scheduler, workers=args.workers,
                       progress=not args.no_progress, retry_failed=args.retry_failed,
                       extend=args.extend, root_seed=args.root_seed)
        except KeyboardInterrupt as e:
            print(f"biosim sweep: {e or 'interrupted'}", file=sys.stderr)
            return 130
    if args.csv:
        from biosim.core.io import atomic_path

        with atomic_path(args.csv) as tmp:
            df.to_csv(tmp, index=False)
    table = summary(df, list(grid), args.metric)
    if target is not None and (df["status"] == "ok").any():
        for name in args.metric:
            if name not in table.columns.get_level_values(0):
                fail("--metric", "a metric that fn returns", name)
    print(table.to_string())
    failed = df[df["status"] == "error"]
    if len(failed):
        print(f"{len(failed)} of {len(df)} points failed; first: {failed['error'].iloc[0]}\n"
              "(full tracebacks in the store; rerun with --retry-failed)", file=sys.stderr)
        return 1
    return 0


def _function(text):
    """The function named ``package.module:name``, or None when ``text`` is a spec."""
    import importlib
    from pathlib import Path

    module, sep, name = text.partition(":")
    if not sep or Path(text).exists():
        return None
    if "" not in sys.path and os.getcwd() not in sys.path:  # as `python -m` does
        sys.path.insert(0, os.getcwd())
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        fail("spec", "a spec or an importable function package.module:name", f"{text} ({e})")
    if not callable(fn):
        fail("spec", "a callable package.module:name", text)
    return fn


def summary(df, params, metrics=()):
    """Mean, standard deviation and count over seeds of each metric, per point ('ok' rows)."""
    from biosim.sweep.runner import TABLE_COLUMNS

    ok = df[df["status"] == "ok"]
    measured = [c for c in df.columns if c not in params and c not in TABLE_COLUMNS]
    metrics = [m for m in metrics if m in measured] if metrics else measured
    if not metrics:  # every point failed
        return df.groupby(params, sort=False)["status"].value_counts().unstack()
    return ok.groupby(params, sort=False)[metrics].agg(["mean", "std", "count"])
