"""Inputs that add a current (or any input buffer) to a population every step.

Spike sources (Poisson trains, given spike times) are populations instead
(:class:`~biosim.core.population.PoissonGroup`, :class:`~biosim.core.population.SpikeGenerator`)
so that they connect through projections like any other population.
"""
from __future__ import annotations

import numpy as np

from biosim.core import fastrandom
from biosim.core import validation as check


class Input:
    """Adds to ``target.inputs[var]`` (all units, or ``indices``) every step."""

    def __init__(self, target, var: str = "I", indices=None):
        if not isinstance(var, str) or var not in target.inputs:
            check.fail("var", f"an input of population {target.name!r}: {sorted(target.inputs)}",
                       var)
        self.target, self.var = target, var
        if indices is None:
            self.indices, self.size = None, target.n
        else:
            self.indices = check.array("indices", indices, dtype=np.int64, ndim=1,
                                       low=0, high=target.n - 1)
            self.size = self.indices.size

    def initialize(self, rng: np.random.Generator) -> None:
        """Receive this input's own random stream (called once, before the first step)."""

    def values(self, step: int, t: float, dt: float):
        raise NotImplementedError

    def add(self, step: int, t: float, dt: float) -> None:
        v = self.values(step, t, dt)
        buf = self.target.inputs[self.var]
        if self.indices is None:
            buf += v
        else:
            buf[self.indices] += v


class ConstantCurrent(Input):
    """A constant input (scalar or one value per unit)."""

    def __init__(self, target, amplitude, var="I", indices=None):
        super().__init__(target, var, indices)
        a = check.array("amplitude", amplitude)
        self.amplitude = a if a.ndim == 0 else check.array("amplitude", a, shape=(self.size,))

    def values(self, step, t, dt):
        return self.amplitude


class StepCurrent(Input):
    """Piecewise constant: ``amplitudes[k]`` from ``times[k]`` ms on (0 before ``times[0]``)."""

    def __init__(self, target, times, amplitudes, var="I", indices=None):
        super().__init__(target, var, indices)
        self.times = check.array("times", times, ndim=1, unit="ms")
        if np.any(np.diff(self.times) < 0):
            check.fail("times", "increasing times", self.times)
        self.amplitudes = check.array("amplitudes", amplitudes, shape=(self.times.size,))

    def values(self, step, t, dt):
        k = np.searchsorted(self.times, t + 1e-9 * dt, side="right") - 1
        return self.amplitudes[k] if k >= 0 else 0.0


class ArrayCurrent(Input):
    """Pre-computed input: row ``step // every`` of ``values`` (shape (rows,) or
    (rows, n units)); zero after the last row."""

    def __init__(self, target, values, every: int = 1, var="I", indices=None):
        super().__init__(target, var, indices)
        v = check.array("values", values)
        if v.ndim not in (1, 2) or (v.ndim == 2 and v.shape[1] != self.size):
            check.fail("values", f"shape (rows,) or (rows, {self.size})", f"shape {v.shape}")
        self.table, self.every = v, check.integer("every", every, low=1)

    def values(self, step, t, dt):
        row = step // self.every
        return self.table[row] if row < self.table.shape[0] else 0.0


#: units per random stream of a :class:`GaussianNoise`: a larger one draws each block of
#: this many of its units from its own stream, so that threads draw the blocks side by side
NOISE_BLOCK = 4096


class GaussianNoise(Input):
    """``mean + std N(0, 1)``, one draw per unit, redrawn every ``every`` steps.

    The normals come from this input's own xoshiro256++ stream
    (:mod:`biosim.core.fastrandom`, seeded from the Generator the network gives it, state in
    ``_state``), ``block`` rows at a time; an input of more than ``NOISE_BLOCK`` units has
    one stream per block of ``NOISE_BLOCK`` units (block b: the first stream jumped b times,
    :func:`~biosim.core.fastrandom.jump`; rows of ``_state``). Each stream is sequential: the
    same numbers in the same order whatever the block size, run lengths, checkpoints, the
    path (generic loop or fused kernel) and the number of threads that draw them."""

    def __init__(self, target, std, mean=0.0, every: int = 1, var="I", indices=None,
                 block: int = 256):
        super().__init__(target, var, indices)
        self.std = check.array("std", std, low=0.0)
        self.mean = check.array("mean", mean)
        for name, a in (("std", self.std), ("mean", self.mean)):
            if a.ndim and a.shape != (self.size,):
                check.fail(name, f"a scalar or one value per unit ({self.size})",
                           f"shape {a.shape}")
        self.every = check.integer("every", every, low=1)
        self.block = check.integer("block", block, low=1)
        self._state = None
        self._buffer = np.zeros((0, self.size))
        self._row = 0
        self._current = None

    def initialize(self, rng):
        self._state = self._streams(fastrandom.seed_state(rng))

    def _streams(self, state=None) -> np.ndarray:
        """The streams' states (``uint64[blocks, 4]``), made from ``state`` or from a 1-d
        ``_state`` (one stream, as files saved before the blocks hold)."""
        state = self._state if state is None else state
        blocks = -(-self.size // NOISE_BLOCK)
        if state.ndim == 1:
            state = fastrandom.streams(state, blocks)
        if state.shape != (blocks, 4):  # (a kernel would read past the streams)
            check.fail("GaussianNoise._state", f"{blocks} streams of 4 words, one per "
                       f"{NOISE_BLOCK} units (NOISE_BLOCK)", f"shape {state.shape}")
        return state

    def draw(self) -> np.ndarray:
        """The next standard-normal row of this input's stream."""
        if self._row == self._buffer.shape[0]:
            self._state = self._streams()
            self._buffer = np.empty((self.block, self.size))
            fastrandom.fill_normal_blocks(self._state, self._buffer, NOISE_BLOCK)
            self._row = 0
        self._row += 1
        return self._buffer[self._row - 1]

    def values(self, step, t, dt):
        if self._current is None or step % self.every == 0:
            self._current = self.mean + self.std * self.draw()
        return self._current

    # A kernel that continues the stream itself (the fused Izhikevich runner) borrows it with
    # ``lend`` and gives it back with ``settle``: the same numbers in the same order.
    def lend(self, n: int):
        """(the normals behind the current value, None before the first draw; the next rows
        already drawn, at most ``n``; a copy of the streams' states after them)."""
        current = None if self._current is None else self._buffer[self._row - 1]
        self._state = self._streams()
        return current, self._buffer[self._row:self._row + n], self._state.copy()

    def settle(self, n: int, state, last) -> None:
        """Take the stream back after a kernel used its next ``n`` rows: ``state`` holds the
        streams' states after them and ``last`` the last row (the current value's normals)."""
        used = min(n, self._buffer.shape[0] - self._row)
        self._row += used
        if n > used:  # the kernel drew the rest from the generator
            self._state[:] = state
            self._buffer, self._row = np.array(last, np.float64).reshape(1, -1), 1
        if n:
            self._current = self.mean + self.std * self._buffer[self._row - 1]


class PoissonInput(Input):
    """``n_sources`` independent Poisson sources per unit at ``rate`` Hz, each spike adding
    ``weight`` to the buffer in the step it occurs (as Brian2's ``PoissonInput``)."""

    def __init__(self, target, rate, weight, n_sources: int = 1, var="I", indices=None):
        super().__init__(target, var, indices)
        self.rate = check.nonnegative("rate", rate, "Hz")
        self.weight = check.number("weight", weight)
        self.n_sources = check.integer("n_sources", n_sources, low=1)
        self._rng = None

    def initialize(self, rng):
        self._rng = rng

    def values(self, step, t, dt):
        lam = self.n_sources * self.rate * dt * 1e-3
        return self.weight * self._rng.poisson(lam, self.size)
