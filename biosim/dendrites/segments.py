"""Neurons with dendritic segments as a :class:`~biosim.core.Population`, and synapse growth.

Units of :class:`DendriticNeurons` are *segments*: cell c owns segments
``c * segments_per_cell ... (c + 1) * segments_per_cell - 1``. A projection from an input
population with binary weights W (n_input, n_segments), 1 = synapse, delivers to the
``"overlap"`` buffer the number of active synapses on each segment; a segment fires an NMDA
spike when that count reaches ``theta``, and a cell is *predicted* when any of its segments
fires (Ahmad & Hawkins 2016).

Learning is supervised by a teacher that clamps cells on through the ``"teach"`` buffer (any
value > 0 on a segment teaches its cell, e.g. with ``ArrayCurrent(var="teach")``). A taught
cell whose segments are all silent gets one segment clamped on: the least used, ties broken
at random. :class:`SynapseGrowth` then connects every firing segment to s of the active
inputs (subsampling), so a segment taught M patterns stores their union. Projections deliver
the previous step's input, so hold each pattern for two steps (``SDRInput(hold=2)``) and
teach on the second.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from biosim.core.plasticity import Rule
from biosim.core.population import Population
from biosim.core.validation import array, fail, integer

__all__ = ["SDRInput", "DendriticNeurons", "SynapseGrowth"]


class SDRInput(Population):
    """Presents binary patterns (bool, shape (count, n)) in turn, each for ``hold`` steps,
    cycling. Activity kind ``"binary"``: the active bits."""

    input_names = ()
    activity_kinds = ("binary",)

    def __init__(self, patterns, hold: int = 1, name: str | None = None):
        p = array("patterns", patterns, dtype=bool, ndim=2)
        super().__init__(p.shape[1], name)
        self.patterns = p
        self.hold = integer("hold", hold, low=1)
        self._k = 0

    def step(self, t: float, dt: float) -> None:
        self.activity[:] = self.patterns[(self._k // self.hold) % self.patterns.shape[0]]
        self._k += 1


class DendriticNeurons(Population):
    """``n_cells`` pattern-detecting neurons with ``segments_per_cell`` segments each.

    Parameters
    ----------
    n_cells, segments_per_cell : int
    theta : int
        NMDA threshold: active synapses a segment needs to fire.

    State (per segment): ``overlap`` (active synapses this step), ``nmda`` (fired by its
    input), ``uses`` (times clamped by the teacher). ``activity`` = nmda or clamped, of kind
    ``"spikes"`` (a segment's NMDA spike in this step).
    :attr:`predicted_cells` gives the cells with at least one NMDA spike.
    """

    input_names = ("overlap", "teach")
    activity_kinds = ("spikes",)

    def __init__(self, n_cells: int, segments_per_cell: int, theta: int,
                 name: str | None = None):
        self.n_cells = integer("n_cells", n_cells, low=1)
        self.segments_per_cell = integer("segments_per_cell", segments_per_cell, low=1)
        self.theta = integer("theta", theta, low=1)
        super().__init__(self.n_cells * self.segments_per_cell, name)
        self.state = {"overlap": np.zeros(self.n), "nmda": np.zeros(self.n, bool),
                      "uses": np.zeros(self.n, np.int64)}
        self._rng = None

    def initialize(self, rng: np.random.Generator) -> None:
        self._rng = rng

    @property
    def predicted_cells(self) -> np.ndarray:
        """Bool per cell: at least one segment fired an NMDA spike this step."""
        return self.state["nmda"].reshape(self.n_cells, -1).any(axis=1)

    def cell_of(self, segment) -> np.ndarray:
        """The cell that owns each segment index."""
        return np.asarray(segment) // self.segments_per_cell

    def teach_table(self, cells_per_step) -> np.ndarray:
        """Rows for ``ArrayCurrent(var="teach")``: one row per step, 1.0 on the segments of
        the cells taught at that step (``cells_per_step``: a list of int lists, or -1 for none)."""
        rows = np.zeros((len(cells_per_step), self.n))
        k = self.segments_per_cell
        for r, cells in enumerate(cells_per_step):
            for c in np.atleast_1d(cells):
                c = int(c)
                if c >= self.n_cells:
                    fail("cells_per_step", f"cell indices < {self.n_cells}", c)
                if c >= 0:
                    rows[r, c * k:(c + 1) * k] = 1.0
        return rows

    def step(self, t: float, dt: float) -> None:
        ov = self.state["overlap"]
        ov[:] = self.inputs["overlap"]
        nmda = self.state["nmda"]
        np.greater_equal(ov, self.theta, out=nmda)
        self.activity[:] = nmda
        taught = self.inputs["teach"].reshape(self.n_cells, -1).max(axis=1) > 0
        silent = taught & ~nmda.reshape(self.n_cells, -1).any(axis=1)
        if silent.any():
            rng = _stream(self._rng, self)
            uses = self.state["uses"].reshape(self.n_cells, -1)
            for c in np.flatnonzero(silent):
                least = np.flatnonzero(uses[c] == uses[c].min())
                seg = c * self.segments_per_cell + int(rng.choice(least))
                self.activity[seg] = True
                self.state["uses"][seg] += 1


def _stream(rng, obj) -> np.random.Generator:
    """The Generator a network gave ``obj`` (never an unseeded fallback)."""
    if rng is None:
        fail("rng", f"a random stream for {type(obj).__name__} (add it to a Network, or call "
                    ".initialize(np.random.default_rng(seed)) first)")
    return rng


@njit(cache=True)
def _grow(W, pre, post, s, draws):
    """On each firing segment j, connect s distinct active inputs: those with the s smallest
    of the row of uniform ``draws`` (all active inputs if fewer than s)."""
    act = np.flatnonzero(pre > 0)
    k = 0
    for j in range(W.shape[1]):
        if post[j] <= 0:
            continue
        order = np.argsort(draws[k])
        k += 1
        for q in order[:s]:
            W[act[q], j] = 1.0


class SynapseGrowth(Rule):
    """Grow binary synapses on firing segments (Ahmad & Hawkins' subsampling): each segment
    with post activity > 0 and modulator > 0 connects to s active inputs chosen at random
    (all of them if fewer are active). Weights stay 0/1 and synapses are never removed, so a
    segment that learns M patterns holds the union of M random s-subsamples.

    Give it a modulator (``modulators="learn"``) and set ``net.modulators["learn"]`` to 1 on
    the steps (or segments) that should learn, 0 elsewhere: each firing step grows s more.
    Reads binary inputs and segment spikes (``accepts``). Its random choices come from the
    projection's stream (``Network.connect`` calls :meth:`initialize`; outside a network call
    ``rule.initialize(np.random.default_rng(seed))``).
    """

    accepts = ("binary", "spikes")

    def __init__(self, s: int, *, modulators=()):
        self.s = integer("s", s, low=1)
        super().__init__([float(self.s)], w_min=0.0, w_max=1.0, modulators=modulators)
        self._rng = None

    def initialize(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def update(self, weights, x_pre, x_post, dt, mod) -> None:
        if not weights.dense:
            fail("weights", "dense weights for SynapseGrowth (connect(..., sparse=False))",
                 "CSR")
        if x_pre.ndim != 1 or x_post.ndim != 1:
            fail("activity", "one value per unit for SynapseGrowth", f"shape {x_pre.shape}")
        post = np.asarray(x_post, float) * np.asarray(mod, float)
        n_fire = int((post > 0).sum())
        n_act = int((x_pre > 0).sum())
        if n_fire == 0 or n_act == 0:
            return
        draws = _stream(self._rng, self).random((n_fire, n_act))
        _grow(weights.W, np.asarray(x_pre, float), post, self.s, draws)
