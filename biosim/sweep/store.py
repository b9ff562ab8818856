"""The SQLite store of a sweep: its definition, one row per finished (point, seed), and claims.

Each finished point is committed at once, so a crash (even SIGKILL) leaves whole rows only;
WAL journaling keeps the commit cheap (durable against process crashes, not power loss).
Several sweeps may share one store: every read-modify-write is one ``BEGIN IMMEDIATE``
transaction, and a sweep *claims* a point just before running it, so that another sweep
skips it. A claim holds while its owner runs: on this machine while its process lives,
from another machine while it renewed the claim in the last ``STALE_S`` seconds.
"""
from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from biosim.core.processes import pid_alive
from biosim.core.validation import BiosimError

STALE_S = 600.0  # s: a claim from another machine not renewed for this long is taken over
HEARTBEAT_S = 60.0  # s: how often a running sweep renews its claims
LOCK_TIMEOUT_S = 120.0  # s: how long a write waits for another sweep's transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS definition (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,       -- point_key(params, seed)
    params TEXT NOT NULL,       -- JSON dict
    seed INTEGER NOT NULL,      -- replicate number
    rng_seed INTEGER NOT NULL,  -- the seed fn received
    status TEXT NOT NULL,       -- 'ok' or 'error'
    metrics TEXT,               -- JSON dict of floats (status 'ok')
    wall_s REAL,                -- s, inside the worker
    error TEXT,                 -- 'ExceptionType: message' (status 'error')
    traceback TEXT
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,       -- a point some sweep is running now
    owner TEXT NOT NULL,        -- that sweep (a random id)
    pid INTEGER NOT NULL,       -- its process
    host TEXT NOT NULL,         -- its machine
    heartbeat REAL NOT NULL     -- s since the epoch, renewed while it runs
);
"""


def _guarded(method):
    """A damaged store or a foreign file gives a one-line BiosimError naming the store."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except BiosimError:
            raise
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise BiosimError(f"store: {self.path} stayed locked by another process for "
                                  f"{LOCK_TIMEOUT_S:.0f} s ({e}); retry when it is done") from None
            raise BiosimError(f"store: {self.path} cannot be used ({e})") from None
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise BiosimError(f"store: expected a sweep SQLite file, got {self.path!r}, which "
                              f"is damaged or another file ({type(e).__name__}: {e}); move it "
                              "away or use a new store") from None

    return wrapper


class Store:
    """A sweep store at ``path`` (``None``: in memory, nothing kept)."""

    @_guarded
    def __init__(self, path=None):
        self.path = ":memory:" if path is None else str(path)
        if path is not None:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise BiosimError(f"store: cannot create {path} ({e.strerror or e})") from None
        self.owner, self.pid, self.host = uuid.uuid4().hex, os.getpid(), socket.gethostname()
        self._beat = time.time()
        # autocommit mode: transactions are the explicit BEGIN IMMEDIATE blocks below
        self.conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                if path is not None:
                    self.conn.execute("PRAGMA journal_mode=WAL")
                    self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as e:
                # two sweeps creating one store at the same moment: SQLite may answer
                # "locked" at once, without its busy wait (2 runs in 25 of the concurrent
                # sweeps test); try again
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self):
        """Release this sweep's claims and close."""
        try:
            with self._transaction():
                self.conn.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
        except sqlite3.Error:  # a damaged store was reported already
            pass
        self.conn.close()

    @contextmanager
    def _transaction(self):
        self.conn.execute("BEGIN IMMEDIATE")  # takes the write lock now: no lost updates
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @_guarded
    def attach(self, definition: dict, extend: bool = False) -> None:
        """Record ``definition`` in a new store, or check it against the stored one.

        ``definition`` has ``fn``, ``params``, ``root_seed`` and ``points`` (a list of
        point keys). Another function, parameter set or root seed is always an error;
        other points are an error unless ``extend``, which adds them to the store.
        """
        with self._transaction():
            stored = self._definition()
            if stored is None:
                self._set_definition(definition)
                return
            for name in ("fn", "params", "root_seed"):
                if stored[name] != definition[name]:
                    raise BiosimError(
                        f"store: {self.path} belongs to a different sweep ({name} "
                        f"{stored[name]!r} there, {definition[name]!r} here); use a new store")
            old = set(stored["points"])
            new = [k for k in definition["points"] if k not in old]
            if not new:
                return
            if not extend:
                raise BiosimError(
                    f"store: {self.path} holds a different grid ({len(new)} of the "
                    f"{len(definition['points'])} requested points are not in it); pass "
                    "extend=True (--extend) to add them to this store, or use a new store")
            self._set_definition({**stored, "points": stored["points"] + new})

    @_guarded
    def finished(self, retry_failed: bool = False) -> set[str]:
        """Keys of the points that need no run: 'ok' ones, and 'error' ones unless retrying."""
        query = "SELECT key FROM points" + (" WHERE status = 'ok'" if retry_failed else "")
        return {k for (k,) in self.conn.execute(query)}

    @_guarded
    def claim(self, keys, n: int, retry=frozenset()) -> tuple[list, list]:
        """Claim up to ``n`` of ``keys`` (in order) for this sweep.

        A key is claimable when it has no row (or an 'error' row and is in ``retry``) and no
        live sweep holds it. Returns the keys claimed and the keys found finished meanwhile.
        """
        now = time.time()
        claimed, finished = [], []
        with self._transaction():
            held = {key: (owner, pid, host, beat) for key, owner, pid, host, beat in
                    self.conn.execute("SELECT * FROM claims WHERE owner != ?", (self.owner,))}
            for key in keys:
                if len(claimed) >= n:
                    break
                if key in held and self._live(*held[key][1:], now):
                    continue
                row = self.conn.execute("SELECT status FROM points WHERE key = ?",
                                        (key,)).fetchone()
                if row is not None and not (row[0] == "error" and key in retry):
                    finished.append(key)
                    continue
                claimed.append(key)
            self.conn.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                                  [(k, self.owner, self.pid, self.host, now) for k in claimed])
            self._heartbeat(now)
        return claimed, finished

    def _live(self, pid, host, beat, now) -> bool:
        if host == self.host:
            return pid_alive(pid)
        return now - beat < STALE_S

    def _heartbeat(self, now):
        if now - self._beat > HEARTBEAT_S:
            self.conn.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?", (now, self.owner))
            self._beat = now

    @_guarded
    def write(self, rows) -> None:
        """Commit finished points ``(key, params, seed, rng_seed, result)`` (replacing earlier
        failures of the same points) and release their claims, in one transaction."""
        with self._transaction():
            for key, params, seed, rng_seed, result in rows:
                metrics = result.get("metrics")
                self.conn.execute(
                    "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, json.dumps(params), seed, rng_seed, result["status"],
                     None if metrics is None else json.dumps(metrics), result["wall_s"],
                     result.get("error"), result.get("traceback")))
                self.conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?",
                                  (key, self.owner))
            self._heartbeat(time.time())

    @_guarded
    def rows(self, keys=None) -> list[dict]:
        """Finished points as dicts, in the order of ``keys`` (default: the definition's)."""
        if keys is None:
            keys = (self._definition() or {"points": []})["points"]
        found = {}
        for key, params, seed, rng_seed, status, metrics, wall_s, error, tb in \
                self.conn.execute("SELECT * FROM points"):
            found[key] = {"params": json.loads(params), "seed": seed, "rng_seed": rng_seed,
                          "status": status, "metrics": json.loads(metrics) if metrics else {},
                          "wall_s": wall_s, "error": error, "traceback": tb}
        return [found[k] for k in keys if k in found]

    @_guarded
    def definition(self):
        """The stored sweep definition (dict), or None for a new store."""
        return self._definition()

    def _definition(self):
        row = self.conn.execute("SELECT value FROM definition WHERE name = 'sweep'").fetchone()
        if row is None:
            return None
        definition = json.loads(row[0])
        if not {"fn", "params", "root_seed", "points"} <= set(definition):
            raise KeyError("the sweep definition lacks fields")
        return definition

    def _set_definition(self, definition):
        self.conn.execute("INSERT OR REPLACE INTO definition VALUES ('sweep', ?)",
                          (json.dumps(definition),))
