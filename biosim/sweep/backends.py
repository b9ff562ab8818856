"""Where points run: this process, a local process pool (``biosim.sweep.pool``), or Dask.

Workers only compute; results come back to the calling process, which alone writes
the store. ``run_point`` never raises: an exception inside ``fn`` becomes an 'error'
result with its traceback.
"""
from __future__ import annotations

import math
import os
import time
import traceback
import warnings
from numbers import Real

import numpy as np

from biosim.core.validation import BiosimError

DASK_TRIES = 2  # submissions of a point whose task Dask gave up on
DASK_LOST = 5  # submissions of a point whose finished result was lost
RESULT_S = 30.0  # s to fetch a finished result before it counts as lost
NO_WORKERS_S = 60.0  # s without a worker before a sweep on Dask says so


class _NoWorkers:
    """A cluster whose workers all died and did not come back would make the sweep wait
    forever: our own LocalCluster is an error after ``NO_WORKERS_S``, another cluster (which
    may be adaptive, waiting for a batch queue) a warning."""

    def __init__(self, client, own):
        self.client, self.own, self.since, self.warned = client, own, None, False

    def check(self):
        if self.client.nthreads():
            self.since = None
            return
        self.since = self.since or time.monotonic()
        if time.monotonic() - self.since < NO_WORKERS_S:
            return
        message = (f"the Dask cluster has had no workers for {NO_WORKERS_S:.0f} s (they died "
                   "and did not restart); finished points are stored, rerun to resume")
        if self.own:
            raise BiosimError(f"backend: {message}")
        if not self.warned:
            warnings.warn(f"sweep: {message}; still waiting", RuntimeWarning, stacklevel=2)
            self.warned = True


def _local_cluster(LocalCluster, workers):
    try:
        return LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1,
                            dashboard_address=None)
    except Exception as e:
        import __main__

        script = getattr(__main__, "__file__", None)
        if script is None:
            raise
        # its worker processes import the main script again (multiprocessing spawn)
        raise BiosimError(
            f"backend: a Dask LocalCluster could not start ({type(e).__name__}: {e}); its "
            f"worker processes re-run {script}: put the sweep under "
            '`if __name__ == "__main__":`, or use backend="local", which needs no guard'
        ) from None


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


def run_inline(fn, feed, reserved):
    """Run the points of ``feed`` one by one in this process (``workers=1``)."""
    while batch := feed.take(1, wait=True):
        key, params, seed = batch[0]
        feed.done([(key, run_point(fn, params, seed, reserved))])


def run_dask(fn, feed, reserved, address, workers):
    """Run the points of ``feed`` on a Dask cluster: ``address`` is a scheduler address, a
    ``Client``, a cluster object, or ``None`` for a ``LocalCluster`` of ``workers`` processes.

    A point goes to the cluster with ``fn`` (no scattered copy that a dying worker could
    take down with it), at most two per worker thread at a time. Dask reruns the tasks of a
    worker that died and gives up on a task after its ``allowed-failures`` (``KilledWorker``);
    such a point is submitted once more, since a healthy point may have been queued on the
    dying worker, and recorded as an error if it fails again. A finished point whose result
    cannot be fetched within ``RESULT_S`` (lost with a dying worker) is submitted again.
    """
    from dask.distributed import Client, LocalCluster, wait

    cluster = None
    if isinstance(address, Client):
        client = address
    else:
        if address is None:
            cluster = address = _local_cluster(LocalCluster, workers)
        client = Client(address)
    try:
        futures = {}  # future -> (task, tries, lost results)

        def submit(tasks, tries=1, lost=0):
            for key, params, seed in tasks:
                future = client.submit(run_point, fn, params, seed, reserved, pure=False)
                futures[future] = (key, params, seed), tries, lost

        slots = max(2, 2 * sum(client.nthreads().values()))
        submit(feed.take(slots, wait=True))
        idle = _NoWorkers(client, cluster is not None)
        while futures:
            try:
                done = wait(list(futures), timeout=10.0, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                idle.check()
                continue
            for future in done:
                task, tries, lost = futures.pop(future)
                try:
                    result = future.result(timeout=RESULT_S)
                except Exception as e:  # KilledWorker, a lost result: never an error of fn
                    if isinstance(e, TimeoutError):
                        future.cancel()
                        lost += 1
                    else:
                        tries += 1
                    if tries <= DASK_TRIES and lost < DASK_LOST:
                        submit([task], tries, lost)
                        continue
                    result = {"status": "error", "traceback": traceback.format_exc(),
                              "error": f"worker died: {type(e).__name__}: {e}",
                              "wall_s": float("nan")}
                feed.done([(task[0], result)])
            submit(feed.take(slots - len(futures), wait=not futures))
    finally:
        if client is not address:
            client.close()
        if cluster is not None:
            cluster.close()
