"""The Population protocol: N units of one model, stepped by a :class:`~biosim.core.Network`.

A population holds NumPy arrays: ``state`` (recordable variables), ``inputs`` (buffers that
the network zeroes at the start of every step and that projections and inputs sum into),
and ``activity`` (what projections, rules and monitors read: spikes as bool, rates as float,
phases as unit vectors of shape (n, 2), ...). ``step(t, dt)`` advances it by ``dt`` ms.
"""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check


class Population:
    """Base class. Subclasses set ``input_names`` and implement ``step``."""

    input_names: tuple[str, ...] = ("I",)
    activity_dtype = np.bool_
    #: largest stable time step in ms (None: no limit)
    max_dt: float | None = None

    def __init__(self, n: int, name: str | None = None):
        self.n = check.integer("n", n, low=1)
        self.name = name or type(self).__name__.lower()
        self.state: dict[str, np.ndarray] = {}
        self.inputs = {k: np.zeros(self.n) for k in self.input_names}
        self.activity = np.zeros(self.n, dtype=self.activity_dtype)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, name={self.name!r})"

    def initialize(self, rng: np.random.Generator) -> None:
        """Draw what is random (called once, before the first step)."""

    def check_dt(self, dt: float) -> None:
        if self.max_dt is not None and dt > self.max_dt:
            check.fail("dt", f"<= {self.max_dt} ms for {type(self).__name__} "
                             f"population {self.name!r} (larger steps are unstable)", dt)

    def step(self, t: float, dt: float) -> None:
        raise NotImplementedError

    def nonfinite(self) -> str | None:
        """The name of a float state variable holding NaN or inf, else None (checked by
        :meth:`Network.run` after every chunk of steps)."""
        for name, x in self.state.items():
            if x.dtype.kind in "fc" and not np.isfinite(x).all():
                return name
        return None

    def variable(self, name: str) -> np.ndarray:
        """A state variable, an input buffer, or the activity, by name."""
        if name in self.state:
            return self.state[name]
        if name in self.inputs:
            return self.inputs[name]
        if name in ("activity", "spikes"):
            return self.activity
        check.fail("variable", f"one of {sorted([*self.state, *self.inputs, 'spikes'])} "
                               f"for population {self.name!r}", name)


class SpikeGenerator(Population):
    """Spikes at given times: neuron ``indices[k]`` fires at ``times[k]`` ms.

    A spike at time t is emitted in the step that contains t (t in [t_n, t_n + dt)).
    """

    input_names = ()

    def __init__(self, n: int, indices, times, name: str | None = None):
        super().__init__(n, name)
        idx = check.array("indices", indices, dtype=np.int64, ndim=1)
        tms = check.array("times", times, ndim=1, shape=(idx.size,), low=0.0)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            check.fail("indices", f"values in [0, {n - 1}]", idx.max())
        order = np.argsort(tms, kind="stable")
        self.indices, self.times = idx[order], tms[order]
        self._next = 0

    def step(self, t: float, dt: float) -> None:
        self.activity[:] = False
        k, end = self._next, np.searchsorted(self.times, t + dt - 1e-9 * dt, side="left")
        self.activity[self.indices[k:end]] = True
        self._next = end


class PoissonGroup(Population):
    """Independent Poisson spike trains at ``rates`` Hz (scalar or per unit)."""

    input_names = ()

    def __init__(self, n: int, rates, name: str | None = None):
        super().__init__(n, name)
        self.rates = check.per_unit("rates", rates, self.n, low=0.0)
        self._rng = None

    def initialize(self, rng):
        self._rng = rng

    def step(self, t: float, dt: float) -> None:
        np.less(self._rng.random(self.n), self.rates * (dt * 1e-3), out=self.activity)
