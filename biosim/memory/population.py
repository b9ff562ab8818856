"""The memories as core :class:`~biosim.core.Population` objects inside a
:class:`biosim.core.Network`.

- :class:`MessageReplay` presents one message per step (one active neuron per cluster); a
  recurrent projection on it with the core ``ClippedHebbian`` rule and no self-connections
  (``all_to_all(allow_self=False)``) stores the messages as cliques.
- :class:`ClusterWTA` is the retrieval dynamics of a clique memory: each step (dt is only a
  counter here) a neuron's score is its input ``I`` (the recurrent projection delivers the
  sum-of-sum W^T v) plus gamma times its own activity, and in every cluster the neurons with
  the highest score stay active (ties kept).
- :class:`WillshawRetrieval` is the retrieval dynamics of a Willshaw memory: a unit is active
  when its dendritic sum ``I`` reaches the threshold (by default the number of units active
  before the step).

``CliqueNetwork.add_to(net)`` and ``WillshawMemory.add_to(net)`` add a stored memory as one
of these populations with its weights on a recurrent projection. Both retrieval populations
take an input ``cue``: in a step where any cue input is > 0 the population restarts from the
cue (activity = cue > 0; a cluster of a clique memory without a cued neuron is erased, as in
:meth:`~biosim.memory.CliqueNetwork.cue_activity`), so spikes or binary activity of another population, delivered by a
projection with ``target="cue"``, cue the memory. Activity kind ``"binary"``; the scores
(``state["score"]``) and dendritic sums (``state["sum"]``) can be monitored too.
"""
from __future__ import annotations

import numpy as np

from biosim.core import validation as v
from biosim.core.population import Population
from biosim.memory.cliques import CliqueNetwork, check_messages

__all__ = ["MessageReplay", "ClusterWTA", "WillshawRetrieval"]


class MessageReplay(Population):
    """Binary population of c clusters of l neurons showing messages[k] at step k (one message
    per step, then silence); its input ``I`` is ignored. Activity kind ``"binary"``."""

    activity_kinds = ("binary",)

    def __init__(self, c: int, l: int, messages, name=None):
        self.c = v.integer("c", c, low=2)
        self.l = v.integer("l", l, low=2)
        self.messages = check_messages(messages, self.c, self.l)
        super().__init__(self.c * self.l, name)
        self._k = 0

    def step(self, t: float, dt: float) -> None:
        self.activity[:] = False
        if self._k < len(self.messages):
            self.activity[np.arange(self.c) * self.l + self.messages[self._k]] = True
        self._k += 1


class ClusterWTA(Population):
    """Sum-of-sum retrieval dynamics of a clique memory as a population.

    Parameters
    ----------
    c, l : int >= 2
    cue : messages (c,) with -1 for erased clusters, bool activity (c, l), or None
        Activity before the first step (None: silent until cued through the ``cue`` input).
    gamma : float >= 0
        Memory term.

    Inputs ``I`` (the recurrent sum) and ``cue`` (see the module docstring). State
    ``score`` (the last step's scores). Activity kind ``"binary"``: the active neurons
    (states that persist, not spikes). A silent population without input stays silent.
    """

    input_names = ("I", "cue")
    activity_kinds = ("binary",)

    def __init__(self, c: int, l: int, cue=None, gamma: float = 1.0, name=None):
        self.c = v.integer("c", c, low=2)
        self.l = v.integer("l", l, low=2)
        self.gamma = v.nonnegative("gamma", gamma)
        memory = CliqueNetwork(self.c, self.l)
        cue_act = (np.zeros(self.c * self.l, bool) if cue is None
                   else memory.cue_activity(np.asarray(cue)[None]).reshape(-1))
        super().__init__(self.c * self.l, name)
        self.cue = cue_act
        self.activity[:] = self.cue
        self.state["score"] = np.zeros(self.n)

    def step(self, t: float, dt: float) -> None:
        cue = self.inputs["cue"] > 0
        if cue.any():  # restart from the cue (clusters without a cued neuron: erased)
            self.activity[:] = cue
            return
        if not self.activity.any() and not self.inputs["I"].any():
            return
        s = self.state["score"]
        np.add(self.inputs["I"], self.gamma * self.activity, out=s)
        s2 = s.reshape(self.c, self.l)
        self.activity[:] = (s2 == s2.max(axis=1, keepdims=True)).reshape(-1)


class WillshawRetrieval(Population):
    """Retrieval dynamics of a Willshaw memory of n binary units as a population.

    Each step a unit's dendritic sum is its input ``I`` (the memory's recurrent projection
    delivers sum_i W_ij x_i of the previous step's activity x); the unit is active when the
    sum reaches ``threshold``, or, when it is None, the number of units active before the
    step (Willshaw, Buneman & Longuet-Higgins 1969): one step from a cue is
    :meth:`~biosim.memory.WillshawMemory.retrieve`, further steps iterate it. ``cue``: bool
    activity (n,) before the first step (None: silent until cued through the ``cue`` input).
    State ``sum``. Activity kind ``"binary"``.
    """

    input_names = ("I", "cue")
    activity_kinds = ("binary",)

    def __init__(self, n: int, cue=None, threshold=None, name=None):
        super().__init__(v.integer("n", n, low=2), name)
        self.threshold = None if threshold is None else v.integer("threshold", threshold,
                                                                   low=1)
        if cue is not None:
            self.activity[:] = v.array("cue", cue, dtype=bool, shape=(self.n,))
        self.state["sum"] = np.zeros(self.n)

    def step(self, t: float, dt: float) -> None:
        cue = self.inputs["cue"] > 0
        if cue.any():
            self.activity[:] = cue
            return
        s = self.state["sum"]
        s[:] = self.inputs["I"]
        theta = self.activity.sum() if self.threshold is None else self.threshold
        np.greater_equal(s, max(theta, 1), out=self.activity)
