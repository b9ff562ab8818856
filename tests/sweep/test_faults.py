"""Sweeps under faults: poison points, concurrent writers, kill -9, Ctrl-C, damaged stores,
scripts without a ``__main__`` guard (issues 16 and 19)."""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import biosim as bs
import biosim.sweep as sw
from biosim.core.validation import BiosimError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import sweep_helpers as h  # noqa: E402


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch):
    """Subprocesses (and Dask workers) must import biosim from here, and sweep_helpers."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(ROOT)]))
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")


def _group(pgid):
    """The live (not zombie) processes of process group ``pgid``."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            fields = (d / "stat").read_text().rpartition(")")[2].split()
        except (OSError, ValueError):
            continue
        if d.name.isdigit() and fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(d.name))
    return out


@pytest.fixture
def fail_after():
    """``fail_after(s)``: the test raises instead of hanging the suite after ``s`` seconds."""
    def alarm(signum, frame):
        raise TimeoutError("the test ran too long")

    old = signal.signal(signal.SIGALRM, alarm)
    yield signal.alarm
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _rows(store):
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            return con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def _start(code, *args, **kw):
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                            start_new_session=True, stderr=subprocess.PIPE, text=True, **kw)


def _wait_rows(proc, store, n, timeout=60):
    deadline = time.time() + timeout
    while _rows(store) < n and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None and _rows(store) >= n, proc.stderr.read() if proc.poll() else ""


def test_poison_point_local_is_an_error_and_every_healthy_point_ok(tmp_path):
    """A point whose fn kills its worker (os._exit): 3 tries, then an error; the pool is
    restarted, each healthy point runs once; a rerun keeps it, --retry-failed reruns it."""
    fixed = tmp_path / "fixed"
    fn = h.Counted(tmp_path / "calls.txt", die_at=3, fixed=fixed)
    kw = dict(grid={"a": list(range(8))}, store=tmp_path / "s.sqlite", workers=2,
              progress=False)
    with pytest.warns(RuntimeWarning, match="1 of 8 points failed .*worker died"):
        df = bs.sweep(fn, **kw)
    bad = df[df.a == 3].iloc[0]
    assert bad.status == "error" and "exit code 7" in bad.error and "3 times" in bad.error
    ok = df[df.a != 3]
    assert (ok.status == "ok").all() and (ok.y == 2.0 * ok.a).all()
    assert fn.counts() == {**{a: 1 for a in range(8)}, 3: 3}
    with pytest.warns(RuntimeWarning):  # a plain rerun computes nothing
        bs.sweep(fn, **kw)
    assert fn.counts()[3] == 3
    fixed.touch()
    df = bs.sweep(fn, retry_failed=True, **kw)
    assert (df.status == "ok").all() and fn.counts() == {**{a: 1 for a in range(8)}, 3: 4}


def test_dask_poison_point_and_killed_worker(tmp_path, fail_after):
    """Dask: the poison point ends as an error after its tries; the 7 healthy points are ok
    (before: fn was scattered to every worker and died with them, FutureCancelledError).
    A worker killed once mid-sweep: its point is run again, nothing lost or duplicated."""
    import dask
    from dask.distributed import LocalCluster

    poison = h.Counted(tmp_path / "calls.txt", die_at=3)
    once = h.Counted(tmp_path / "calls2.txt", sleep=0.05, kill_at=3)
    fail_after(240)  # a cluster whose workers could not restart fails, not hangs
    # give up on a task at its first worker death, one task per worker at a time: the test
    # stays short and a healthy task is never on a dying worker
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=None) as cluster:
        kw = dict(grid={"a": list(range(8))}, backend="dask", address=cluster, progress=False)
        with pytest.warns(RuntimeWarning, match="1 of 8 points failed .*worker died"):
            df = bs.sweep(poison, **kw)
        df2 = bs.sweep(once, store=tmp_path / "s.sqlite", **kw)
    assert df[df.a == 3].status.tolist() == ["error"]
    assert "KilledWorker" in df[df.a == 3].error.iloc[0]
    ok = df[df.a != 3]
    assert len(ok) == 7 and (ok.status == "ok").all() and (ok.y == 2.0 * ok.a).all()

    assert (tmp_path / "calls2.txt.killed").exists()
    assert list(df2.a) == list(range(8)) and (df2.status == "ok").all()
    assert once.counts()[3] == 2  # (a result lost with the dying worker is computed again)
    assert len(sw.load(tmp_path / "s.sqlite")) == 8


SWEEP = ("import sys, biosim.sweep as sw, sweep_helpers as h\n"
         "lo, hi, workers = map(int, sys.argv[3:6])\n"
         "df = sw.sweep(h.Counted(sys.argv[2], sleep=float(sys.argv[6])),"
         " grid={'a': list(range(lo, hi))}, store=sys.argv[1], workers=workers,"
         " extend=True, progress=False)\n"
         "assert (df.status == 'ok').all() and list(df.a) == list(range(lo, hi))\n")


def test_two_concurrent_extend_sweeps_store_every_point_once(tmp_path):
    """Two --extend sweeps on one store at once, overlapping grids: every point of both is
    stored, and computed once (before: rows were lost, the overlap computed twice)."""
    store, calls = tmp_path / "s.sqlite", tmp_path / "calls.txt"
    procs = [_start(SWEEP, store, calls, lo, hi, 1, 0.1) for lo, hi in ((0, 12), (6, 18))]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    df = sw.load(store)
    assert sorted(df.a) == list(range(18)) and (df.status == "ok").all()
    assert h.Counted(calls).counts() == {a: 1 for a in range(18)}
    con = sqlite3.connect(store)
    assert con.execute("SELECT COUNT(*) FROM claims").fetchone() == (0,)  # all released
    con.close()


def test_claims_of_a_killed_sweep_are_taken_over(tmp_path):
    """A sweep killed -9 holds claims; the next sweep on the store runs those points."""
    store, calls = tmp_path / "s.sqlite", tmp_path / "calls.txt"
    proc = _start(SWEEP, store, calls, 0, 6, 1, 0.4)
    _wait_rows(proc, store, 1)
    proc.kill()
    proc.wait()
    df = bs.sweep(h.Counted(calls), grid={"a": list(range(6))}, store=store, workers=1,
                  progress=False)
    assert (df.status == "ok").all() and len(df) == 6


def test_kill_9_of_a_sweep_leaves_no_process(tmp_path):
    """kill -9 of the sweep process alone: its workers exit within 10 s."""
    store = tmp_path / "s.sqlite"
    proc = _start(SWEEP, store, tmp_path / "calls.txt", 0, 40, 2, 0.3)
    _wait_rows(proc, store, 2)
    assert len(_group(proc.pid)) == 3  # the sweep and its 2 workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while _group(proc.pid) and time.time() < deadline:
        time.sleep(0.1)
    assert _group(proc.pid) == []


def test_ctrl_c_stops_cleanly_and_says_how_much_is_stored(tmp_path):
    """SIGINT to `biosim sweep`: one line "N of M points stored ...; rerun to resume", exit
    status 130, no traceback, no process left; the rerun resumes."""
    store = tmp_path / "s.sqlite"
    argv = ["-m", "biosim.cli", "sweep", "sweep_helpers:spin", "--set", "n=10000",
            "--seeds", "30", "--workers", "2", "--store", str(store), "--no-progress"]
    proc = subprocess.Popen([sys.executable, *argv], start_new_session=True,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _wait_rows(proc, store, 2)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    stored = _rows(store)
    assert proc.returncode == 130, err
    assert err.strip() == (f"biosim sweep: sweep interrupted: {stored} of 30 points stored in "
                           f"{store}; rerun to resume")
    time.sleep(0.5)
    assert _group(proc.pid) == []


GUARDLESS = """
import os
import biosim as bs

def f(a, seed):
    return {"y": 2.0 * a, "pid": os.getpid()}

print("script ran")
for workers in (1, 2):
    df = bs.sweep(f, grid={"a": [1, 2, 3, 4]}, workers=workers, progress=False)
    print(df.y.sum(), len(set(df.pid)), os.getpid() in set(df.pid))
"""


def test_script_without_main_guard(tmp_path):
    """A plain script, no `if __name__ == "__main__":`: workers=1 runs in the script's own
    process, workers=2 in two worker processes, which do not re-run the script (before:
    "a worker process died", even with workers=1)."""
    script = tmp_path / "script.py"
    script.write_text(GUARDLESS)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["script ran", "20.0 1 True", "20.0 2 False"]


def test_workers_stay_warm_until_a_module_changes(tmp_path, monkeypatch):
    """The second sweep of a session reuses the worker processes; after an edit of fn's
    module (and a reload, as autoreload does) fresh workers run the new code."""
    import importlib

    mod = tmp_path / "warm_mod.py"
    mod.write_text("import os\ndef fn(a, seed):\n    return {'y': a + 1.0, 'pid': os.getpid()}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import warm_mod

    kw = dict(grid={"a": [1, 2, 3, 4]}, workers=2, progress=False)
    first, second = bs.sweep(warm_mod.fn, **kw), bs.sweep(warm_mod.fn, **kw)
    pids = set(first.pid)
    assert len(pids) == 2 and os.getpid() not in pids and set(second.pid) == pids
    mod.write_text("import os\ndef fn(a, seed):\n    return {'y': a + 20.0, 'pid': os.getpid()}\n")
    importlib.reload(warm_mod)
    third = bs.sweep(warm_mod.fn, **kw)
    assert list(third.y) == [21.0, 22.0, 23.0, 24.0] and not set(third.pid) & pids


def test_cli_finds_module_fn_in_the_current_folder(tmp_path, monkeypatch, capsys):
    from biosim.cli import main

    (tmp_path / "mymod_cwd.py").write_text("def fn(a, seed):\n    return {'y': a + 0.5}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "mymod_cwd:fn", "--set", "a=1,2", "--workers", "2",
                 "--no-progress", "--csv", "t.csv"]) == 0
    import pandas as pd

    assert pd.read_csv(tmp_path / "t.csv").y.tolist() == [1.5, 2.5]


def test_damaged_stores_are_one_line_errors(tmp_path):
    store = tmp_path / "s.sqlite"
    kw = dict(grid={"a": [1, 2]}, store=store, workers=1, progress=False)
    bs.sweep(h.trivial, **kw)
    con = sqlite3.connect(store)
    con.execute("UPDATE points SET metrics = '{\"out\": 1.' WHERE seed = 0")
    con.commit()
    with pytest.raises(BiosimError, match="^store: expected a sweep SQLite file, .* damaged "
                                          ".*JSONDecodeError"):
        sw.load(store)
    con.execute("UPDATE definition SET value = '[1, 2]'")
    con.commit()
    con.close()
    with pytest.raises(BiosimError, match="^store: .*damaged"):
        bs.sweep(h.trivial, **kw)
    # a store cut short (a disk full, a partial copy)
    store2 = tmp_path / "s2.sqlite"
    bs.sweep(h.trivial, grid={"a": list(range(400))}, store=store2, workers=1, progress=False)
    data = store2.read_bytes()
    store2.write_bytes(data[:len(data) // 3])
    with pytest.raises(BiosimError, match="^store: "):
        sw.load(store2)


@pytest.mark.parametrize("kw, field", [
    (dict(grid={"status": [1, 2]}), "grid['status']"),
    (dict(grid={"a": [1], "seed": [1, 2]}), "grid['seed']"),
    (dict(samples=[{"traceback": 1}]), "samples['traceback']"),
])
def test_parameter_named_like_a_table_column(kw, field):
    with pytest.raises(BiosimError, match=f"^{re.escape(field)}: expected a parameter name other than"
                                          ".*got '"):
        bs.sweep(h.trivial, progress=False, **{**kw})


@pytest.mark.slow
def test_guardless_script_with_a_dask_local_cluster_names_the_guard(tmp_path):
    """Dask's LocalCluster starts workers that re-run the script: the error says so."""
    script = tmp_path / "script.py"
    script.write_text("import biosim as bs\n"
                      "bs.sweep(lambda a, seed: {'y': a}, grid={'a': [1]}, backend='dask',"
                      " workers=1, progress=False)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith(
        "biosim.core.validation.BiosimError: backend: a Dask LocalCluster could not start")
    assert 'put the sweep under `if __name__ == "__main__":`' in out.stderr
