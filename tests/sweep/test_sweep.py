"""bs.sweep: identical tables across backends, crash safety, failures, store identity."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import biosim as bs
import biosim.sweep as sw
from biosim.core.validation import BiosimError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import sweep_helpers as h  # noqa: E402

GRID = {"a": [1, 2, 3], "b": sw.logspace(1, 100, 3)}


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch):
    """Worker processes (spawned by Dask, or a subprocess) must import sweep_helpers."""
    root = HERE.parents[1]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(root)]))
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _same(df1, df2):
    cols = [c for c in df1.columns if c != "wall_s"]
    pd.testing.assert_frame_equal(df1[cols], df2[cols])


def test_table_shape_and_seeds_from_seedsequence():
    df = bs.sweep(h.toy, grid=GRID, seeds=[0, 4], workers=1, progress=False, root_seed=7)
    assert list(df.columns) == ["a", "b", "seed", "y", "z", "rng_seed", "wall_s", "status",
                                "error", "traceback"]
    assert len(df) == 18 and (df.status == "ok").all() and df.error.isna().all()
    # replicate r gets SeedSequence(root).spawn(r + 1)[r], the same at every point
    want = {r: int(np.random.SeedSequence(7).spawn(5)[r].generate_state(1)[0]) for r in (0, 4)}
    assert (df.rng_seed == df.seed.map(want)).all()
    row = df.iloc[5]
    assert row.y == pytest.approx(h.toy(row.a, row.b, int(row.rng_seed))["y"], rel=1e-15)


def test_identical_tables_local_1_2_workers_and_dask():
    """Same table for 1 and 2 local workers, a Dask LocalCluster, and a reversed grid order."""
    from dask.distributed import LocalCluster

    kw = dict(grid=GRID, seeds=3, progress=False)
    one = bs.sweep(h.toy, workers=1, **kw)
    _same(one, bs.sweep(h.toy, workers=2, **kw))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        _same(one, bs.sweep(h.toy, backend="dask", address=cluster, **kw))
    rev = bs.sweep(h.toy, grid={"b": GRID["b"][::-1], "a": GRID["a"][::-1]}, seeds=[2, 1, 0],
                   workers=2, progress=False)
    _same(one, rev.sort_values(["a", "b", "seed"])[one.columns].reset_index(drop=True))


def test_sigkill_then_rerun_runs_every_point_exactly_once(tmp_path):
    store, calls = tmp_path / "s.sqlite", tmp_path / "calls.txt"
    script = ("import sys, biosim.sweep as sw, sweep_helpers as h\n"
              "sw.sweep(h.Counted(sys.argv[2], sleep=0.15), grid={'a': list(range(24))},"
              " store=sys.argv[1], workers=2, progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(store), str(calls)],
                            start_new_session=True)
    done_before, deadline = set(), time.time() + 90
    try:
        while len(done_before) < 6 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
            done_before = _keys(store)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its pool workers
        proc.wait()
    done_before = _keys(store)
    assert 6 <= len(done_before) < 24, "the kill did not land halfway"
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()

    fn = h.Counted(calls)
    df = bs.sweep(fn, grid={"a": list(range(24))}, store=store, workers=2, progress=False)
    assert sorted(df.a) == list(range(24)) and (df.status == "ok").all()
    assert (df.y == 2.0 * df.a).all()
    counts = fn.counts()
    finished_a = {json.loads(k)[0]["a"] for k in done_before}
    assert all(counts[a] == 1 for a in finished_a)  # not recomputed
    assert set(counts) == set(range(24)) and sum(counts.values()) <= 24 + 2  # <= 2 in flight
    # a third run computes nothing
    bs.sweep(fn, grid={"a": list(range(24))}, store=store, workers=2, progress=False)
    assert fn.counts() == counts


def _keys(store):
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            return {k for (k,) in con.execute("SELECT key FROM points")}
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return set()


def test_failing_point_is_recorded_and_retried(tmp_path):
    flag = tmp_path / "fixed"
    fn = h.Counted(tmp_path / "calls.txt", fail_unless=flag)
    kw = dict(grid={"a": [1, 2, 3]}, seeds=2, store=tmp_path / "s.sqlite", workers=2,
              progress=False)
    with pytest.warns(RuntimeWarning, match="2 of 6 points failed .*ValueError"):
        df = bs.sweep(fn, **kw)
    bad = df[df.status == "error"]
    assert list(bad.a) == [2, 2] and bad.y.isna().all()
    assert (bad.error == "ValueError: point a=2 is broken").all()
    assert "sweep_helpers.py" in bad.traceback.iloc[0] and "raise ValueError" in bad.traceback.iloc[0]
    assert (df[df.status == "ok"].y == [2.0, 2.0, 6.0, 6.0]).all()
    with pytest.warns(RuntimeWarning):  # a plain rerun keeps the failures
        bs.sweep(fn, **kw)
    assert fn.counts() == {1: 2, 2: 2, 3: 2}
    flag.touch()
    df = bs.sweep(fn, retry_failed=True, **kw)
    assert (df.status == "ok").all() and list(df.y) == [2.0, 2.0, 4.0, 4.0, 6.0, 6.0]
    assert fn.counts() == {1: 2, 2: 4, 3: 2}
    _same(df, sw.load(tmp_path / "s.sqlite"))


def test_store_of_another_sweep_or_grid(tmp_path):
    store = tmp_path / "s.sqlite"
    kw = dict(seeds=1, store=store, workers=1, progress=False)
    bs.sweep(h.trivial, grid={"a": [1, 2]}, **kw)
    with pytest.raises(BiosimError, match="^store: .* different sweep \\(fn"):
        bs.sweep(h.toy, grid={"a": [1, 2], "b": [1.0]}, **kw)
    with pytest.raises(BiosimError, match="different sweep \\(root_seed"):
        bs.sweep(h.trivial, grid={"a": [1, 2]}, root_seed=1, **kw)
    with pytest.raises(BiosimError, match="different grid \\(1 of the 3 .*extend"):
        bs.sweep(h.trivial, grid={"a": [1, 2, 3]}, **kw)
    assert len(bs.sweep(h.trivial, grid={"a": [1]}, **kw)) == 1  # a subset is fine
    df = bs.sweep(h.trivial, grid={"a": [1, 2, 3]}, extend=True, **kw)
    assert list(df.a) == [1, 2, 3] and list(sw.load(store).a) == [1, 2, 3]
    (tmp_path / "junk.sqlite").write_text("not a database, just text" * 50)
    with pytest.raises(BiosimError, match="^store: expected a sweep SQLite file"):
        bs.sweep(h.trivial, grid={"a": [1]}, store=tmp_path / "junk.sqlite", progress=False)


def test_metric_that_is_not_a_number_is_a_clear_error():
    with pytest.warns(RuntimeWarning, match="metric 'y': expected a number, got 'high'"):
        df = bs.sweep(h.bad_metric, grid={"a": [1]}, workers=1, progress=False)
    assert df.status.tolist() == ["error"]
    with pytest.warns(RuntimeWarning, match="metric 'seed': expected a name that is not"):
        bs.sweep(lambda a, seed: {"seed": 1.0}, grid={"a": [1]}, workers=1, progress=False)


def test_bad_arguments():
    for kw, field in ((dict(seeds=0), "seeds"), (dict(seeds=[1, 1]), "seeds"),
                      (dict(backend="mpi"), "backend"), (dict(workers=0), "workers")):
        with pytest.raises(BiosimError, match=f"^{field}: expected"):
            bs.sweep(h.trivial, grid={"a": [1]}, progress=False, **kw)
