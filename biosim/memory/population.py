"""Clique memories inside a core :class:`biosim.core.Network`.

- :class:`MessageReplay` presents one message per step (one active neuron per cluster); a
  recurrent projection on it with the core ``ClippedHebbian`` rule and no self-connections
  (``all_to_all(allow_self=False)``) stores the messages as cliques.
- :class:`ClusterWTA` is the retrieval dynamics: each step (dt is only a counter here) a
  neuron's score is its input ``I`` (the recurrent projection delivers the sum-of-sum
  W^T v) plus gamma times its own activity, and in every cluster the neurons with the highest
  score stay active (ties kept).
"""
from __future__ import annotations

import numpy as np

from biosim.core import validation as v
from biosim.core.population import Population
from biosim.memory.cliques import CliqueNetwork, check_messages


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
    cue : messages (c,) with -1 for erased clusters, or bool activity (c, l)
        Activity before the first step.
    gamma : float >= 0
        Memory term.

    Activity kind ``"binary"``: the active neurons (states that persist, not spikes).
    """

    activity_kinds = ("binary",)

    def __init__(self, c: int, l: int, cue, gamma: float = 1.0, name=None):
        self.c = v.integer("c", c, low=2)
        self.l = v.integer("l", l, low=2)
        self.gamma = v.nonnegative("gamma", gamma)
        cue_act = CliqueNetwork(self.c, self.l).cue_activity(np.asarray(cue)[None])
        super().__init__(self.c * self.l, name)
        self.cue = cue_act.reshape(-1)
        self.activity[:] = self.cue

    def step(self, t: float, dt: float) -> None:
        s = (self.inputs["I"] + self.gamma * self.activity).reshape(self.c, self.l)
        self.activity[:] = (s == s.max(axis=1, keepdims=True)).reshape(-1)
