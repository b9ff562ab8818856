"""Where points run: a local process pool, or a Dask distributed cluster.

Workers only compute; results come back to the calling process, which alone writes
the store. ``run_point`` never raises: an exception inside ``fn`` becomes an 'error'
result with its traceback.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import time
import traceback
from numbers import Real

import numpy as np

from biosim.core.validation import BiosimError

_FN = None  # the swept function, loaded once per local worker process


def run_point(fn, params: dict, seed: int, reserved) -> dict:
    """Call ``fn(**params, seed=seed)`` and check that it returned a dict of numbers."""
    t0 = time.perf_counter()
    try:
        metrics = check_metrics(fn(**params, seed=seed), reserved)
        out = {"status": "ok", "metrics": metrics}
    except Exception as e:  # recorded, not raised: the other points go on
        out = {"status": "error", "error": f"{type(e).__name__}: {e}",
               "traceback": traceback.format_exc()}
    out["wall_s"] = time.perf_counter() - t0
    return out


def check_metrics(metrics, reserved) -> dict:
    """A dict of metric name -> float; names may not clash with parameter/table columns."""
    if not isinstance(metrics, dict) or not metrics:
        raise BiosimError("fn: expected to return a non-empty dict of metric name -> number, "
                          f"got {type(metrics).__name__}")
    out = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or name in reserved:
            raise BiosimError(f"metric {name!r}: expected a name that is not a parameter or "
                              f"one of {sorted(reserved)}")
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.number)):
            raise BiosimError(f"metric {name!r}: expected a number, got {value!r:.60}")
        value = float(value)
        out[name] = value if math.isfinite(value) else float("nan")
    return out


def _dumps(fn) -> bytes:
    """Pickle ``fn``; cloudpickle (shipped with dask) also handles notebook functions."""
    try:
        import cloudpickle as pickle
    except ImportError:
        import pickle
    return pickle.dumps(fn)


def _init_worker(payload):
    import pickle

    global _FN
    _FN = pickle.loads(payload)


def _run_local_point(params, seed, reserved):
    return run_point(_FN, params, seed, reserved)


def run_local(fn, tasks, reserved, workers, on_result):
    """Run ``tasks`` (key, params, seed) on a process pool; ``on_result(key, result)``."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    workers = min(workers or os.cpu_count() or 1, len(tasks))
    # forkserver: workers start from a clean process, not from a fork of a parent whose
    # threads (torch, OpenMP, numba) a fork would leave in a broken state
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_init_worker, initargs=(_dumps(fn),))
    try:
        futures = {pool.submit(_run_local_point, params, seed, reserved): key
                   for key, params, seed in tasks}
        for future in as_completed(futures):
            try:
                result = future.result()
            except BrokenProcessPool:
                raise RuntimeError("sweep: a worker process died (killed, out of memory or a "
                                   "crash in native code); finished points are in the store, "
                                   "rerun to resume") from None
            on_result(futures[future], result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_dask(fn, tasks, reserved, address, workers, on_result):
    """Run ``tasks`` on a Dask cluster: ``address`` is a scheduler address, a ``Client``,
    a cluster object, or ``None`` for a ``LocalCluster`` of ``workers`` processes.

    Dask reruns the tasks of a worker that died; a point whose task keeps killing
    workers is recorded as an error.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if isinstance(address, Client):
        client = address
    else:
        if address is None:
            cluster = address = LocalCluster(n_workers=workers or os.cpu_count(),
                                             threads_per_worker=1, dashboard_address=None)
        client = Client(address)
    try:
        fn_future = client.scatter(fn, broadcast=True, hash=False)
        futures = {client.submit(run_point, fn_future, params, seed, reserved, pure=False): key
                   for key, params, seed in tasks}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as e:  # e.g. KilledWorker: the task failed on every retry
                result = {"status": "error", "error": f"{type(e).__name__}: {e}",
                          "traceback": traceback.format_exc(), "wall_s": float("nan")}
            on_result(futures[future], result)
    finally:
        if client is not address:
            client.close()
        if cluster is not None:
            cluster.close()
