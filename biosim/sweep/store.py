"""The SQLite store of a sweep: its definition and one row per finished (point, seed).

Only the process that runs :func:`biosim.sweep` writes here. Each finished point is one
transaction, so a crash (even SIGKILL) leaves whole rows only; WAL journaling keeps the
per-point commit cheap (durable against process crashes, not against power loss).
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from biosim.core.validation import BiosimError

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
"""


class Store:
    """A sweep store at ``path`` (``None``: in memory, nothing kept)."""

    def __init__(self, path=None):
        self.path = ":memory:" if path is None else str(path)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path)
            if path is not None:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise BiosimError(f"store: expected a sweep SQLite file, got {self.path!r} ({e})") \
                from None

    def close(self):
        self.conn.close()

    def attach(self, definition: dict, extend: bool = False) -> None:
        """Record ``definition`` in a new store, or check it against the stored one.

        ``definition`` has ``fn``, ``params``, ``root_seed`` and ``points`` (a list of
        point keys). Another function, parameter set or root seed is always an error;
        other points are an error unless ``extend``, which adds them to the store.
        """
        stored = self.definition()
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

    def finished(self, retry_failed: bool = False) -> set[str]:
        """Keys of the points that need no run: 'ok' ones, and 'error' ones unless retrying."""
        query = "SELECT key FROM points" + (" WHERE status = 'ok'" if retry_failed else "")
        return {k for (k,) in self.conn.execute(query)}

    def write(self, key, params, seed, rng_seed, result: dict) -> None:
        """Commit one finished point (replacing an earlier failure of the same point)."""
        metrics = result.get("metrics")
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, json.dumps(params), seed, rng_seed, result["status"],
                 None if metrics is None else json.dumps(metrics), result["wall_s"],
                 result.get("error"), result.get("traceback")))

    def rows(self, keys=None) -> list[dict]:
        """Finished points as dicts, in the order of ``keys`` (default: the definition's)."""
        if keys is None:
            keys = (self.definition() or {"points": []})["points"]
        found = {}
        for key, params, seed, rng_seed, status, metrics, wall_s, error, tb in \
                self.conn.execute("SELECT * FROM points"):
            found[key] = {"params": json.loads(params), "seed": seed, "rng_seed": rng_seed,
                          "status": status, "metrics": json.loads(metrics) if metrics else {},
                          "wall_s": wall_s, "error": error, "traceback": tb}
        return [found[k] for k in keys if k in found]

    def definition(self):
        """The stored sweep definition (dict), or None for a new store."""
        row = self.conn.execute("SELECT value FROM definition WHERE name = 'sweep'").fetchone()
        return None if row is None else json.loads(row[0])

    def _set_definition(self, definition):
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO definition VALUES ('sweep', ?)",
                              (json.dumps(definition),))
