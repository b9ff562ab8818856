"""Monitors record what a population or a projection does, into arrays; ``.to_pandas()``
for tables.

Times are in ms. Recording never draws random numbers, so adding a monitor never changes
a run. Each monitor class declares ``accepts``, the kinds of source it can record: activity
kinds of a population (:data:`biosim.core.population.KINDS`) or ``"weights"`` for a
projection. A monitor built on a source of another kind is refused at once, with a one-line
:class:`~biosim.core.validation.BiosimError` naming both.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from biosim.core import validation as check
from biosim.core.population import KINDS, Population, describe
from biosim.core.projection import Projection


def source_kinds(source) -> tuple[str, ...]:
    """The kinds a monitor can read from ``source``: a population's ``activity_kinds``, or
    ``("weights",)`` for a projection."""
    if isinstance(source, Projection):
        return ("weights",)
    if isinstance(source, Population):
        return source.activity_kinds
    check.fail("source", "a Population or a Projection", type(source).__name__)


class Monitor:
    """Base class: records ``source`` once per step (``record``), after the rules (step 7 of
    :class:`~biosim.core.Network`).

    ``accepts``: the source kinds this monitor records (any population kind by default).
    ``name`` (default ``"POP.spikes"``, ``"POP.rate"``, ``"POP.VAR"``, ``"PROJ.w"``) finds the
    monitor in its network, ``net["exc.spikes"]``, also after ``Network.load``."""

    accepts: tuple[str, ...] = tuple(KINDS)

    def __init__(self, source, name=None, suffix=None):
        kinds = source_kinds(source)
        if not any(k in self.accepts for k in kinds):
            raise check.BiosimError(
                f"source: {type(self).__name__} records {' or '.join(map(repr, self.accepts))}"
                f", but {describe(source)} is of kind {' and '.join(map(repr, kinds))}")
        self.source = source
        # the default name is read after the check: a bad source has no name
        self.name = check.name("name", name) or (f"{source.name}.{suffix}" if suffix
                             else f"{type(self).__name__}({source.name})")
        self.auto_name = name is None  # the network makes a default name unique

    def record(self, step: int, t: float, dt: float) -> None:
        raise NotImplementedError


class Bounded:
    """Bounded memory for long runs (spike, state and rate monitors). By default a monitor keeps
    every record in memory. ``window`` (ms) keeps only the records of the last ``window`` ms;
    ``path`` (a folder) streams the records to disk: every ``chunk_mb`` MB of records is
    written, atomically, to ``path/chunk-000000.npz``, ``chunk-000001.npz``, ... (arrays
    ``steps`` and ``i`` for spikes, ``t`` and ``values`` for states, ``counts`` for rates;
    read them with ``np.load``), and the monitor's arrays read the chunks back followed by
    what is still in memory (``flush()`` writes that too). Memory then stays under
    ~``chunk_mb`` MB (plus the window) whatever the run length. One folder per monitor."""

    _columns: tuple[str, ...] = ()

    def _bound(self, window, path, chunk_mb):
        from biosim.core.io import output_dir

        if window is not None and path is not None:
            check.fail("window", "either window (keep the last ms in memory) or path (stream "
                                 "to disk), not both", window)
        self.window = None if window is None else check.positive("window", window, unit="ms")
        self.chunk_mb = check.positive("chunk_mb", chunk_mb)
        self.path = None
        if path is not None:
            folder = output_dir("path", path)
            if any(folder.glob("chunk-*.npz")):
                check.fail("path", "a folder without chunk files (it holds another "
                                   "monitor's records)", str(folder))
            self.path = str(folder)
        self._n_chunks, self._pending = 0, 0

    def reset(self) -> None:
        """Forget the records held in memory (a monitor that streams to ``path`` keeps its
        chunk files, so it cannot be reset)."""
        if self.path is not None:
            check.fail("path", "a monitor without path to reset (its chunk files stay)",
                       self.path)
        self._clear()
        self._pending = 0

    def _added(self, n_bytes: int) -> None:
        """Count what was recorded; past ``chunk_mb`` MB, write a chunk or trim."""
        self._pending += n_bytes
        if self._pending <= self.chunk_mb * 1e6:
            return
        if self.path is not None:
            self.flush()
        elif self.window is not None:
            self._trim()
        self._pending = 0

    def flush(self) -> None:
        """Write the records held in memory to the next chunk file (with ``path``)."""
        from biosim.core.io import save_npz

        arrays = self._memory()
        if self.path is None or not len(arrays[self._columns[0]]):
            return
        save_npz(Path(self.path) / f"chunk-{self._n_chunks:06d}.npz", **arrays)
        self._n_chunks += 1
        self._clear()
        self._pending = 0

    def _columns_read(self) -> dict:
        """Every record: the chunk files, then memory."""
        parts = []
        for k in range(self._n_chunks if self.path is not None else 0):
            with np.load(Path(self.path) / f"chunk-{k:06d}.npz", allow_pickle=False) as f:
                parts.append({c: f[c] for c in self._columns})
        parts.append(self._memory())
        return {c: np.concatenate([p[c] for p in parts]) for c in self._columns}


class SpikeMonitor(Bounded, Monitor):
    """Spike times ``t`` (ms, the start of the step in which a unit fired) and indices ``i``.
    Accepts populations with a ``"spikes"`` activity kind. ``window``, ``path``,
    ``chunk_mb``: bounded memory for long runs (see :class:`Bounded`)."""

    accepts = ("spikes",)
    _columns = ("steps", "i")

    def __init__(self, source, name=None, *, window=None, path=None, chunk_mb=64.0):
        super().__init__(source, name, "spikes")
        self._steps, self._idx = [], []
        self.dt = None
        self._bound(window, path, chunk_mb)

    def record(self, step, t, dt):
        fired = np.flatnonzero(self.source.activity_of("spikes"))
        self.dt = dt
        if fired.size:
            self._steps.append(np.full(fired.size, step, np.int64))
            self._idx.append(fired)
            self._added(16 * fired.size)

    def add_block(self, steps, indices, dt):
        """Record many spikes at once (used by fused kernels)."""
        self.dt = dt
        if len(steps):
            self._steps.append(np.asarray(steps, np.int64))
            self._idx.append(np.asarray(indices, np.int64))
            self._added(16 * len(steps))

    def _merge(self):
        if len(self._steps) > 1:
            self._steps, self._idx = [np.concatenate(self._steps)], [np.concatenate(self._idx)]

    def _memory(self) -> dict:
        self._merge()
        empty = np.zeros(0, np.int64)
        return {"steps": self._steps[0] if self._steps else empty,
                "i": self._idx[0] if self._idx else empty}

    def _clear(self):
        self._steps, self._idx = [], []

    def _trim(self):
        """Keep the spikes of the last ``window`` ms."""
        m = self._memory()
        keep = m["steps"] >= m["steps"][-1] - self.window / self.dt
        self._steps, self._idx = [m["steps"][keep]], [m["i"][keep]]

    @property
    def steps(self) -> np.ndarray:
        if self.path is not None:
            return self._columns_read()["steps"]
        return self._memory()["steps"]

    @property
    def i(self) -> np.ndarray:
        """Index of the unit of each spike."""
        if self.path is not None:
            return self._columns_read()["i"]
        return self._memory()["i"]

    @property
    def t(self) -> np.ndarray:
        """Time of each spike in ms."""
        return self.steps * (self.dt or 0.0)

    @property
    def count(self) -> np.ndarray:
        """Spikes per unit."""
        return np.bincount(self.i, minlength=self.source.n)

    def spike_trains(self) -> list[np.ndarray]:
        """Spike times (ms) of each unit."""
        order = np.argsort(self.i, kind="stable")
        return np.split(self.t[order], np.cumsum(self.count)[:-1])

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({"t_ms": self.t, "i": self.i})


class Series(Bounded):
    """Records ``(t, values)`` of a fixed shape ``_shape`` (state and weight monitors)."""

    _columns = ("t", "values")
    _shape: tuple = ()

    def add(self, t: float, x) -> None:
        """Append one record: the values ``x`` at time ``t`` (ms)."""
        x = np.array(x, copy=True)
        self._t.append(t)
        self._v.append(x)
        self._added(x.nbytes + 8)

    def add_rows(self, t, X) -> None:
        """Append many records at once (fused kernels): ``X[k]`` at time ``t[k]`` (ms);
        keeps views of the rows of ``X``, which must not change afterwards."""
        self._t.extend(np.asarray(t, float).tolist())
        self._v.extend(X)
        self._added(X.nbytes + 8 * len(X))

    def _memory(self) -> dict:
        return {"t": np.asarray(self._t, float),
                "values": np.reshape(self._v, (len(self._t),) + self._shape)}

    def _clear(self):
        self._t, self._v = [], []

    def _trim(self):
        """Keep the records of the last ``window`` ms."""
        t = np.asarray(self._t)
        k = int(np.searchsorted(t, t[-1] - self.window, side="left"))
        self._t, self._v = self._t[k:], self._v[k:]

    @property
    def t(self) -> np.ndarray:
        """Record times in ms (the end of the step)."""
        return self._columns_read()["t"] if self.path is not None else np.asarray(self._t)

    @property
    def values(self) -> np.ndarray:
        """(n_records, ...) values."""
        return self._columns_read()["values"] if self.path is not None else \
            self._memory()["values"]


class StateMonitor(Series, Monitor):
    """A variable of selected units (``indices``, default all) every ``every`` steps.

    ``values`` has shape (n_samples, n_indices); ``t`` the sample times in ms. Accepts any
    population; the variable must be one it has (state, input, ``"activity"`` or a kind).
    ``window``, ``path``, ``chunk_mb``: bounded memory for long runs (see :class:`Bounded`).
    """

    def __init__(self, source, var: str, indices=None, every: int = 1, name=None, *,
                 window=None, path=None, chunk_mb=64.0):
        super().__init__(source, name, var)
        x = source.variable(var)  # fails early on an unknown variable
        self.var = var
        self.indices = _indices(indices, source.n)
        self._shape = np.shape(x if self.indices is None else x[self.indices])
        self.every = check.integer("every", every, low=1)
        self._t, self._v = [], []
        self._bound(window, path, chunk_mb)

    def record(self, step, t, dt):
        if step % self.every:
            return
        x = self.source.variable(self.var)
        self.add(t + dt, x if self.indices is None else x[self.indices])  # end of the step

    def to_pandas(self):
        import pandas as pd

        x = self.values
        v = x.reshape(len(x), -1)
        idx = self.indices if self.indices is not None else np.arange(x.shape[1] if x.ndim > 1
                                                                      else 1)
        cols = [f"{self.var}[{i}]" for i in idx]
        if x.ndim == 3:  # vector activity (phases as unit vectors): one column per component
            cols = [f"{c}[{k}]" for c in cols for k in range(x.shape[2])]
        return pd.DataFrame(v, index=pd.Index(self.t, name="t_ms"), columns=cols)


class RateMonitor(Bounded, Monitor):
    """Population rate (Hz) in each step: spikes / (n dt). Accepts populations with a
    ``"spikes"`` activity kind (record a rate population's activity with a StateMonitor).
    ``window``, ``path``, ``chunk_mb``: bounded memory for long runs (see :class:`Bounded`;
    the chunk files hold ``counts``, spikes per step)."""

    accepts = ("spikes",)
    _columns = ("counts",)

    def __init__(self, source, name=None, *, window=None, path=None, chunk_mb=64.0):
        super().__init__(source, name, "rate")
        self._counts, self.dt = [], None
        self._dropped = 0  # steps before the window
        self._bound(window, path, chunk_mb)

    def record(self, step, t, dt):
        self._counts.append(int(np.count_nonzero(self.source.activity_of("spikes"))))
        self.dt = dt
        self._added(8)

    def add_counts(self, counts, dt):
        self._counts.extend(np.asarray(counts).tolist())
        self.dt = dt
        self._added(8 * len(counts))

    def _memory(self) -> dict:
        return {"counts": np.asarray(self._counts, np.int64)}

    def _clear(self):
        self._counts = []

    def _trim(self):
        """Keep the counts of the last ``window`` ms."""
        drop = max(0, len(self._counts) - int(np.ceil(self.window / self.dt)))
        self._counts = self._counts[drop:]
        self._dropped += drop

    @property
    def counts(self) -> np.ndarray:
        if self.path is not None:
            return self._columns_read()["counts"]
        return np.asarray(self._counts, np.int64)

    @property
    def rate(self) -> np.ndarray:
        return self.counts / (self.source.n * self.dt * 1e-3) if self.dt else self.counts * 0.0

    @property
    def t(self) -> np.ndarray:
        return (self._dropped + np.arange(self.counts.size)) * (self.dt or 0.0)

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({"t_ms": self.t, "rate_hz": self.rate})


class OrderParameterMonitor(Monitor):
    """The order parameter r e^(i psi) = mean_j e^(i theta_j) of a phase population (of the
    units ``indices``, default all) every ``every`` steps: ``r`` (in [0, 1]), ``psi`` (rad),
    ``t`` (ms, the end of the step). ``var`` (``"r"`` or ``"psi"``) is what ``values``
    holds. Accepts populations of kind ``"phase"``; ``net.monitor(pop, "r")`` builds one.
    """

    accepts = ("phase",)

    def __init__(self, source, var: str = "r", indices=None, every: int = 1, name=None):
        super().__init__(source, name, var)
        self.var = check.choice("var", var, ("r", "psi"))
        self.indices = _indices(indices, source.n)
        self.every = check.integer("every", every, low=1)
        self._t, self._z = [], []

    def record(self, step, t, dt):
        if step % self.every:
            return
        x = self.source.activity_of("phase")
        self._t.append(t + dt)
        self._z.append((x if self.indices is None else x[self.indices]).mean(axis=0))

    def add(self, t, z) -> None:
        """Append records computed elsewhere (a fused kernel): times ``t`` (ms, shape (k,))
        and the mean unit vectors ``z`` (k, 2) of the recorded units."""
        self._t.extend(np.asarray(t, float).reshape(-1).tolist())
        self._z.append(np.array(z, dtype=float, copy=True).reshape(-1, 2))  # one block

    @property
    def t(self) -> np.ndarray:
        return np.asarray(self._t)

    def _mean_vectors(self) -> np.ndarray:
        """(n_records, 2): the mean unit vector of each record (also before the first)."""
        if not self._z:
            return np.zeros((0, 2))
        return np.concatenate([np.reshape(z, (-1, 2)) for z in self._z])

    @property
    def r(self) -> np.ndarray:
        """|mean unit vector| per record."""
        z = self._mean_vectors()
        return np.hypot(z[:, 0], z[:, 1])

    @property
    def psi(self) -> np.ndarray:
        """Mean phase (rad, in (-pi, pi]) per record."""
        z = self._mean_vectors()
        return np.arctan2(z[:, 1], z[:, 0])

    @property
    def values(self) -> np.ndarray:
        return self.r if self.var == "r" else self.psi

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({"t_ms": self.t, "r": self.r, "psi": self.psi})


class WeightMonitor(Series, Monitor):
    """The weights of a projection's existing synapses every ``every`` steps, after the rules
    have updated them (``t``: the end of the step, ms).

    ``indices`` are synapse numbers in the order of
    :meth:`~biosim.core.projection.Weights.flat_values` (dense: ``pre * n_post + post``; CSR:
    by pre unit, then post unit), default all. ``values`` has shape (n_records, n_synapses);
    ``pre``/``post`` give each column's units. Accepts projections (kind ``"weights"``);
    ``net.monitor(proj, "w")`` builds one. ``window``, ``path``, ``chunk_mb``: bounded
    memory for long runs (see :class:`Bounded`).
    """

    accepts = ("weights",)
    var = "w"

    def __init__(self, source, indices=None, every: int = 1, name=None, *, window=None,
                 path=None, chunk_mb=64.0):
        super().__init__(source, name, "w")
        w = source.weights
        self.indices = _indices(indices, w.n_synapses)
        self.every = check.integer("every", every, low=1)
        sel = slice(None) if self.indices is None else self.indices
        self.pre, self.post = w.pre_of[sel].copy(), w.post_of[sel].copy()
        self._shape = (self.pre.size,)
        self._t, self._v = [], []
        self._bound(window, path, chunk_mb)

    def record(self, step, t, dt):
        if step % self.every:
            return
        w = self.source.weights.flat_values()
        self.add(t + dt, w if self.indices is None else w[self.indices])

    def to_pandas(self):
        """A long table: one row per (record, synapse) with t_ms, synapse, pre, post, w."""
        import pandas as pd

        n_t, n_s = self.t.size, self.pre.size
        syn = np.arange(n_s) if self.indices is None else self.indices
        return pd.DataFrame({"t_ms": np.repeat(self.t, n_s), "synapse": np.tile(syn, n_t),
                             "pre": np.tile(self.pre, n_t), "post": np.tile(self.post, n_t),
                             "w": self.values.reshape(-1)})


def _indices(indices, n: int):
    """None (all) or a 1-d int array of indices in [0, n - 1]."""
    if indices is None:
        return None
    return check.array("indices", np.atleast_1d(indices), dtype=np.int64, ndim=1, low=0,
                       high=n - 1)
