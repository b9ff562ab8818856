"""The Population protocol: N units of one model, stepped by a :class:`~biosim.core.Network`.

A population holds NumPy arrays: ``state`` (recordable variables), ``inputs`` (buffers that
the network zeroes at the start of every step and that projections and inputs sum into),
and ``activity`` (what projections, rules and monitors read). ``step(t, dt)`` advances it by
``dt`` ms.

Activity is typed. Each class declares ``activity_kinds``, a tuple of names from
:data:`KINDS`: the first is what ``activity`` holds (what projections and rules read), any
further kind is exposed as the state variable of the same name (a reservoir neuron's
``activity`` is its filtered rate and ``state["spikes"]`` its spikes: ``("rate",
"spikes")``). Monitors and rules declare the kinds they ``accept`` and the network refuses a
mismatch when they are added.
"""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check


#: activity kinds: name -> what the array holds
KINDS = {
    "spikes": "bool (n,): the units that fired in this step",
    "binary": "bool (n,): on/off states that persist (patterns, winner-take-all)",
    "rate": "float (n,) >= 0: firing rates or filtered spike trains",
    "analog": "float (n,): real values of any sign (a linear unit's output)",
    "phase": "float (n, d): phases as unit vectors (cos theta, sin theta) for d = 2",
}
#: kinds of one value per unit (what rules that pair scalars accept)
SCALAR_KINDS = ("spikes", "binary", "rate", "analog")


def check_kinds(field: str, kinds) -> tuple[str, ...]:
    """A non-empty tuple of names from :data:`KINDS`, without repeats."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or len(set(kinds)) != len(kinds) or any(k not in KINDS for k in kinds):
        check.fail(field, f"distinct kinds among {tuple(KINDS)}", kinds)
    return kinds


def describe(obj) -> str:
    """``Class 'name'`` for error messages that name two objects."""
    name = getattr(obj, "name", None)
    return f"{type(obj).__name__} {name!r}" if name is not None else type(obj).__name__


class Population:
    """Base class. Subclasses set ``input_names``, ``activity_kinds`` and implement ``step``.

    ``activity_kinds`` (default ``("spikes",)``): the first kind is what ``activity`` holds
    (bool for spikes/binary, float otherwise); a further kind K is read from ``state[K]``.
    """

    input_names: tuple[str, ...] = ("I",)
    activity_kinds: tuple[str, ...] = ("spikes",)
    #: largest stable time step in ms (None: no limit)
    max_dt: float | None = None

    def __init__(self, n: int, name: str | None = None):
        self.n = check.integer("n", n, low=1)
        check.memory("n", 80.0 * self.n, f"{self.n} units", self.n)  # ~10 arrays of float64
        # unnamed: the network makes the default unique (izhikevich, izhikevich_1, ...)
        check.name("name", name)
        self.name = name or type(self).__name__.lower()
        self.auto_name = name is None
        self.state: dict[str, np.ndarray] = {}
        self.inputs = {k: np.zeros(self.n) for k in self.input_names}
        kind = self.activity_kinds[0]
        self.activity = np.zeros(self.n, dtype=np.bool_ if kind in ("spikes", "binary")
                                 else np.float64)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.activity_kinds = check_kinds(f"{cls.__name__}.activity_kinds", cls.activity_kinds)

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

    def activity_of(self, kind: str) -> np.ndarray:
        """The array of one of ``activity_kinds``: ``activity`` for the first, else
        ``state[kind]``."""
        if kind not in self.activity_kinds:
            check.fail("kind", f"one of {self.activity_kinds} for {describe(self)}", kind)
        return self.activity if kind == self.activity_kinds[0] else self.state[kind]

    def variable(self, name: str) -> np.ndarray:
        """A state variable, an input buffer, the activity, or an activity kind, by name."""
        if not isinstance(name, str):
            check.fail("variable", "a variable name (a string)", name)
        if name in self.state:
            return self.state[name]
        if name in self.inputs:
            return self.inputs[name]
        if name == "activity":
            return self.activity
        if name in self.activity_kinds:
            return self.activity_of(name)
        names = sorted({*self.state, *self.inputs, "activity", *self.activity_kinds})
        check.fail("variable", f"one of {names} for {describe(self)}", name)


class SpikeGenerator(Population):
    """Spikes at given times: neuron ``indices[k]`` fires at ``times[k]`` ms.

    A spike at time t is emitted in the step that contains t (t in [t_n, t_n + dt)).
    """

    input_names = ()

    def __init__(self, n: int, indices, times, name: str | None = None):
        super().__init__(n, name)
        idx = check.array("indices", indices, dtype=np.int64, ndim=1)
        tms = check.array("times", times, ndim=1, shape=(idx.size,), low=0.0, unit="ms")
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
    """Independent Poisson spike trains at ``rates`` Hz (scalar or per unit): each unit fires
    in a step of ``dt`` ms with probability ``rate * dt / 1000``, from the population's own
    stream of the network's seed. :meth:`set_rates` changes the rates between runs (one
    presentation of a stimulus after another)."""

    input_names = ()

    def __init__(self, n: int, rates, name: str | None = None):
        super().__init__(n, name)
        self.rates = check.per_unit("rates", rates, self.n, low=0.0, unit="Hz")
        self._rng = None
        self._block = None  # spikes drawn ahead by draw_block

    def initialize(self, rng):
        self._rng = rng

    def set_rates(self, rates) -> None:
        """New rates in Hz (scalar or one per unit), from the next step on."""
        self.rates = check.per_unit("rates", rates, self.n, low=0.0, unit="Hz")

    def draw_block(self, rates, n_steps: int, dt: float, stream) -> None:
        """Draw the spikes of the next ``n_steps`` steps of ``dt`` ms at ``rates`` Hz at once
        from the :mod:`~biosim.core.fastrandom` stream ``stream`` (``uint64[4]``, advanced):
        geometric gaps, unit after unit (:func:`~biosim.core.fastrandom.poisson_steps`), the
        draws of a kernel that draws a whole presentation at its start (VPRSNN's), so both
        give the same trains from the same stream. Afterwards the group fires at ``rates``
        (:meth:`set_rates`) again."""
        from biosim.core import fastrandom

        r = check.per_unit("rates", rates, self.n, low=0.0, unit="Hz")
        n_steps = check.integer("n_steps", n_steps, low=0)
        room = self.n * n_steps
        ids = np.empty(room, np.int64)
        ptr = np.empty(n_steps + 1, np.int64)
        fastrandom.draw_poisson_steps(stream, r, float(dt), n_steps, ids, ptr,
                                      np.empty(room, np.int64), np.empty(room, np.int64))
        self._block = {"ids": ids[:ptr[-1]].copy(), "ptr": ptr, "dt": float(dt),
                       "next": 0} if n_steps else None

    def take(self, n_steps: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """The spikes of the next ``n_steps`` steps, exactly as ``n_steps`` calls of
        :meth:`step` fire them (the block drawn ahead first, then the rates, from the
        group's generator): units ``ids[ptr[s]:ptr[s + 1]]`` fire in step s (for fused
        kernels). ``activity`` becomes that of the last step."""
        n_steps = check.integer("n_steps", n_steps, low=0)
        ids, counts = [], []
        block, m = self._block, 0
        if block is not None and n_steps:
            if dt != block["dt"]:
                check.fail("dt", f"the step the block was drawn for ({block['dt']} ms)", dt)
            k, ptr = block["next"], block["ptr"]
            m = min(n_steps, ptr.size - 1 - k)
            ids.append(block["ids"][ptr[k]:ptr[k + m]])
            counts.append(np.diff(ptr[k:k + m + 1]))
            block["next"] = k + m
            if k + m == ptr.size - 1:
                self._block = None
            self.activity[:] = False
            self.activity[block["ids"][ptr[k + m - 1]:ptr[k + m]]] = True
        rest = n_steps - m
        if rest and self.rates.any():
            fired = self._rng.random((rest, self.n)) < self.rates * (dt * 1e-3)
            step, unit = np.nonzero(fired)
            ids.append(unit)
            counts.append(np.bincount(step, minlength=rest))
            self.activity[:] = fired[-1]
        elif rest:
            counts.append(np.zeros(rest, np.int64))
            self.activity[:] = False
        ptr = np.zeros(n_steps + 1, np.int64)
        if counts:
            np.cumsum(np.concatenate(counts), out=ptr[1:])
        return (np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, np.int64)), ptr

    def step(self, t: float, dt: float) -> None:
        block = self._block
        if block is not None:
            k, ptr = block["next"], block["ptr"]
            if dt != block["dt"]:
                check.fail("dt", f"the step the block was drawn for ({block['dt']} ms)", dt)
            self.activity[:] = False
            self.activity[block["ids"][ptr[k]:ptr[k + 1]]] = True
            block["next"] = k + 1
            if k + 1 == ptr.size - 1:
                self._block = None
            return
        if not self.rates.any():  # silent: no draws (a rest between blocks costs nothing)
            self.activity[:] = False
            return
        np.less(self._rng.random(self.n), self.rates * (dt * 1e-3), out=self.activity)
