"""The local process pool of a sweep: warm worker processes that survive a poison point.

Why not ``concurrent.futures``: when one worker dies, a ``ProcessPoolExecutor`` breaks as a
whole and cannot say which point killed it, and its spawn/forkserver workers re-run the
user's script (a script without ``if __name__ == "__main__":`` then sweeps again in every
worker). Here each worker is a fresh ``python -c`` that imports only what ``fn`` needs
(``fn`` travels with cloudpickle: by value when it lives in a script or a notebook), runs
one batch of points at a time and sends back one result per point, so the parent knows which
point was running when a worker died: that point is retried alone, and after ``TRIES``
deaths recorded as an error. Workers exit when the parent dies (also on SIGKILL), ignore
Ctrl-C (the parent stops them), and stay warm between sweeps of one session, unless a
module they imported has changed on disk since they started.
"""
from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection, wait

from biosim.core.validation import BiosimError

TRIES = 3  # a point whose worker dies this many times is recorded as an error
IDLE_S = 300.0  # s: an idle warm worker exits after this long
BATCH_S = 0.05  # s of work per batch: small points go in batches, big ones one by one
WAIT_S = 30.0  # s: the longest the parent waits for results without renewing its claims

_BOOT = ("import sys; from multiprocessing.connection import Connection as C; "
         "r, w = C({r}, writable=False), C({w}, readable=False); sys.path[:] = r.recv(); "
         "from biosim.sweep.pool import serve; serve(r, w, {ppid}, {kernel_signal})")

_idle: list = []  # warm workers, between sweeps
_lock = threading.Lock()


def run(fn, feed, reserved, workers):
    """Run the points of ``feed`` (see ``runner._Feed``) on up to ``workers`` processes."""
    payload = _dumps(fn)
    pool = _checkout(workers)  # warm workers first; more start when there is work for them
    tries, retry = {}, []  # deaths per point; points to run again after a death
    mean_s = None  # mean time per point (s), for the batch size
    try:
        while True:
            for i in range(workers):
                if i < len(pool) and pool[i].batch:
                    continue
                if retry:
                    batch = [retry.pop(0)]
                else:
                    size = 1 if mean_s is None else max(1, min(
                        int(BATCH_S / max(mean_s, 1e-6)), -(-feed.left // workers)))
                    batch = feed.take(size, wait=not any(w.batch for w in pool))
                if not batch:
                    break
                if i == len(pool):
                    pool.append(_Worker())
                try:
                    pool[i].start(batch, payload, reserved)
                except OSError:  # it ended while idle (killed from outside): not a try
                    retry[:0] = batch
                    pool[i].kill()
                    pool[i] = _Worker()
            busy = [w for w in pool if w.batch]
            if not busy:
                if retry:  # requeued at dispatch: a fresh worker takes it
                    continue
                break
            results = []
            for conn in wait([w.conn_in for w in busy], timeout=WAIT_S):
                w = next(w for w in busy if w.conn_in is conn)
                while True:  # every result that is there: one commit for them
                    try:
                        message = conn.recv()
                    except (EOFError, OSError):
                        results += _died(w, tries, retry)
                        pool[pool.index(w)] = _Worker()
                        break
                    if message[0] == "done":
                        key, result = message[1], message[2]
                        w.batch.pop(0)
                        results.append((key, result))
                        mean_s = result["wall_s"] if mean_s is None else \
                            0.8 * mean_s + 0.2 * result["wall_s"]
                        if w.batch and conn.poll():
                            continue
                    elif message[0] == "stale":  # a module changed on disk: a fresh worker
                        retry[:0] = w.batch
                        w.kill()
                        pool[pool.index(w)] = _Worker()
                    else:  # "load_error"
                        raise BiosimError(f"fn: expected a function that worker processes "
                                          f"can load, got {message[1]}; use workers=1 to run "
                                          "it in this process")
                    break
            feed.done(results)
    except BaseException:
        for w in pool:
            w.kill()
        raise
    _checkin(pool)


def _died(w, tries, retry):
    """A worker died: its running point is retried in a batch of its own, or, after TRIES
    deaths, recorded as an error; the rest of its batch is queued again."""
    code = w.kill()
    key, params, seed = w.batch[0]
    retry[:0] = w.batch[1:]  # the rest of its batch never ran
    tries[key] = tries.get(key, 0) + 1
    if tries[key] < TRIES:
        retry.append(w.batch[0])
        return []
    how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
    error = (f"worker died: its process ended ({how}) while running this point, {TRIES} "
             "times; a crash in native code, out of memory or os._exit in fn")
    return [(key, {"status": "error", "error": error, "traceback": error,
                   "wall_s": float("nan")})]


def _dumps(fn) -> bytes:
    import cloudpickle

    try:
        return cloudpickle.dumps(fn)
    except Exception as e:
        raise BiosimError(f"fn: expected a function that can be sent to worker processes "
                          f"({type(e).__name__}: {e}); use workers=1 to run it in this "
                          "process") from None


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self):
        r_child, w_parent = os.pipe()  # parent -> worker
        r_parent, w_child = os.pipe()  # worker -> parent
        # the kernel's parent-death signal follows the thread that started the child
        main = threading.current_thread() is threading.main_thread()
        code = _BOOT.format(r=r_child, w=w_child, ppid=os.getpid(), kernel_signal=main)
        self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(r_child, w_child),
                                     stdin=subprocess.DEVNULL)  # the terminal is the parent's
        os.close(r_child)
        os.close(w_child)
        self.conn_out = Connection(w_parent, readable=False)
        self.conn_in = Connection(r_parent, writable=False)
        self.conn_out.send(list(sys.path))
        self.context = _context()
        self.payload = None  # the fn it holds
        self.batch = []  # (key, params, seed) sent, results not back yet

    def start(self, batch, payload, reserved):
        if payload is not self.payload:
            self.conn_out.send(("fn", payload, reserved))
            self.payload = payload
        self.batch = list(batch)
        self.conn_out.send(("run", self.batch))

    def alive(self) -> bool:
        return self.proc.poll() is None and self.context == _context()

    def kill(self):
        """End the process now; its exit code (negative: the signal)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.close()
        return self.proc.wait()

    def close(self):
        self.conn_out.close()
        self.conn_in.close()


def _context():
    """What a warm worker must share with a new sweep: interpreter, folders, environment."""
    return sys.executable, os.getcwd(), tuple(sys.path), tuple(sorted(os.environ.items()))


def _checkout(n):
    """Up to ``n`` warm workers that can run this sweep."""
    with _lock:
        alive = [w for w in _idle if w.alive()]
        for w in _idle:
            if w not in alive:
                w.kill()
        pool, _idle[:] = alive[:n], alive[n:]
    return pool


def _checkin(pool):
    with _lock:
        _idle.extend(pool)


@atexit.register
def _close_idle():
    with _lock:
        for w in _idle:
            w.close()  # the worker sees end-of-file and exits
        _idle.clear()


def serve(conn_in, conn_out, parent_pid, kernel_signal=True):
    """The worker's loop: load ``fn``, run batches of points, send one result per point."""
    import cloudpickle

    from biosim.core.processes import exit_with_parent
    from biosim.sweep.backends import run_point

    exit_with_parent(parent_pid, kernel_signal=kernel_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    started = time.time()
    fn = reserved = None
    try:
        while conn_in.poll(IDLE_S):
            message = conn_in.recv()
            if message[0] == "fn":
                if _changed_since(started):
                    conn_out.send(("stale",))
                    return
                _, payload, reserved = message
                try:
                    fn = cloudpickle.loads(payload)
                except Exception as e:
                    conn_out.send(("load_error", f"{type(e).__name__}: {e}"))
            else:
                for key, params, seed in message[1]:
                    conn_out.send(("done", key, run_point(fn, params, seed, reserved)))
    except (EOFError, OSError):  # the parent closed the pool, or died
        pass


def _changed_since(t) -> bool:
    """Whether a module this process imported was modified on disk after time ``t``."""
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        try:
            if path and os.stat(path).st_mtime > t:
                return True
        except OSError:
            pass
    return False
