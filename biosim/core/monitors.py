"""Monitors record what a population does, into arrays; ``.to_pandas()`` for tables.

Times are in ms. Recording never draws random numbers, so adding a monitor never changes
a run.
"""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check


class Monitor:
    def __init__(self, source, name=None):
        self.source = source
        self.name = name or f"{type(self).__name__}({source.name})"

    def record(self, step: int, t: float, dt: float) -> None:
        raise NotImplementedError


class SpikeMonitor(Monitor):
    """Spike times ``t`` (ms, the start of the step in which a unit fired) and indices ``i``."""

    def __init__(self, source, name=None):
        super().__init__(source, name)
        self._steps, self._idx = [], []
        self.dt = None

    def record(self, step, t, dt):
        fired = np.flatnonzero(self.source.activity)
        if fired.size:
            self._steps.append(np.full(fired.size, step, np.int64))
            self._idx.append(fired)
        self.dt = dt

    def add_block(self, steps, indices, dt):
        """Record many spikes at once (used by fused kernels)."""
        if len(steps):
            self._steps.append(np.asarray(steps, np.int64))
            self._idx.append(np.asarray(indices, np.int64))
        self.dt = dt

    def _merge(self):
        if len(self._steps) > 1:
            self._steps, self._idx = [np.concatenate(self._steps)], [np.concatenate(self._idx)]

    @property
    def steps(self) -> np.ndarray:
        self._merge()
        return self._steps[0] if self._steps else np.zeros(0, np.int64)

    @property
    def i(self) -> np.ndarray:
        """Index of the unit of each spike."""
        self._merge()
        return self._idx[0] if self._idx else np.zeros(0, np.int64)

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


class StateMonitor(Monitor):
    """A variable of selected units (``indices``, default all) every ``every`` steps.

    ``values`` has shape (n_samples, n_indices); ``t`` the sample times in ms.
    """

    def __init__(self, source, var: str, indices=None, every: int = 1, name=None):
        super().__init__(source, name or f"{source.name}.{var}")
        source.variable(var)  # fails early on an unknown variable
        self.var = var
        if indices is None:
            self.indices = None
        else:
            self.indices = check.array("indices", np.atleast_1d(indices), dtype=np.int64,
                                       ndim=1, low=0, high=source.n - 1)
        self.every = check.integer("every", every, low=1)
        self._t, self._v = [], []

    def record(self, step, t, dt):
        if step % self.every:
            return
        x = self.source.variable(self.var)
        self._t.append(t + dt)  # state at the end of the step
        self._v.append(np.array(x if self.indices is None else x[self.indices], copy=True))

    @property
    def t(self) -> np.ndarray:
        return np.asarray(self._t)

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self._v)

    def to_pandas(self):
        import pandas as pd

        v = self.values.reshape(len(self._t), -1)
        idx = self.indices if self.indices is not None else np.arange(v.shape[1])
        return pd.DataFrame(v, index=pd.Index(self.t, name="t_ms"),
                            columns=[f"{self.var}[{i}]" for i in idx])


class RateMonitor(Monitor):
    """Population rate (Hz) in each step: spikes / (n dt)."""

    def __init__(self, source, name=None):
        super().__init__(source, name)
        self._counts, self.dt = [], None

    def record(self, step, t, dt):
        self._counts.append(int(np.count_nonzero(self.source.activity)))
        self.dt = dt

    def add_counts(self, counts, dt):
        self._counts.extend(np.asarray(counts).tolist())
        self.dt = dt

    @property
    def counts(self) -> np.ndarray:
        return np.asarray(self._counts)

    @property
    def rate(self) -> np.ndarray:
        return self.counts / (self.source.n * self.dt * 1e-3) if self.dt else self.counts * 0.0

    @property
    def t(self) -> np.ndarray:
        return np.arange(len(self._counts)) * (self.dt or 0.0)

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({"t_ms": self.t, "rate_hz": self.rate})
