"""Leaky integrate-and-fire neurons, current- or conductance-based (forward Euler).

Current-based:      tau_m v' = (v_rest - v) + R I
Conductance-based:  tau_m v' = (v_rest - v) + g_e (E_e - v) + g_i (E_i - v),
                    g_e' = -g_e / tau_e, g_i' = -g_i / tau_i (inputs ``ge``/``gi`` add jumps)
Spike when v >= v_thresh; v <- v_reset, then clamped for the ``refractory`` ms after the
step of the spike (Brian2's ``refractory = refractory + dt``).
Time in ms, voltages in mV, conductances relative to the leak (dimensionless).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.population import Population


class LIFParams(NamedTuple):
    """One population's constants for a step of ``dt`` ms (see the module docstring)."""
    dt: float
    tau_m: float
    v_rest: float
    v_reset: float
    v_thresh: float
    R: float
    E_e: float
    E_i: float
    tau_e: float
    tau_i: float
    t_ref: float
    conductance: bool


@njit(cache=True)
def lif_step(v, ge, gi, refr, fired, I, in_e, in_i, p):
    """One Euler step of every unit in place: state (v, ge, gi, refr), spikes into ``fired``,
    inputs ``I`` (current-based) or ``in_e``/``in_i`` (conductance jumps), constants ``p``."""
    dt = p.dt
    for k in range(v.size):
        if p.conductance:
            ge[k] += in_e[k]
            gi[k] += in_i[k]
            drive = ge[k] * (p.E_e - v[k]) + gi[k] * (p.E_i - v[k])
            ge[k] -= dt * ge[k] / p.tau_e
            gi[k] -= dt * gi[k] / p.tau_i
        else:
            drive = p.R * I[k]
        if refr[k] > 0.5 * dt:  # a remainder under half a step is rounding, not refractory
            refr[k] -= dt
            fired[k] = False
            continue
        v[k] += dt * ((p.v_rest - v[k]) + drive) / p.tau_m
        if v[k] >= p.v_thresh:
            fired[k] = True
            v[k] = p.v_reset
            refr[k] = p.t_ref
        else:
            fired[k] = False


class LIF(Population):
    """Leaky integrate-and-fire population (``conductance=False``: input ``I``, times R;
    ``True``: inputs ``ge``/``gi`` add to the conductances)."""

    def __init__(self, n, tau_m=20.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0, R=1.0,
                 refractory=2.0, *, conductance=False, E_e=0.0, E_i=-80.0, tau_e=5.0,
                 tau_i=10.0, v0=None, name=None):
        self.conductance = check.flag("conductance", conductance)
        self.input_names = ("ge", "gi") if self.conductance else ("I",)
        super().__init__(n, name)
        self.tau_m = check.positive("tau_m", tau_m, "ms")
        self.v_rest = check.number("v_rest", v_rest, unit="mV")
        self.v_reset = check.number("v_reset", v_reset, unit="mV")
        self.v_thresh = check.number("v_thresh", v_thresh, unit="mV")
        if self.v_thresh < self.v_reset:
            check.fail("v_thresh", f"a threshold >= v_reset = {self.v_reset:g} mV", v_thresh)
        self.R = check.number("R", R)
        self.refractory = check.nonnegative("refractory", refractory, "ms")
        self.E_e, self.E_i = check.number("E_e", E_e, unit="mV"), check.number("E_i", E_i, unit="mV")
        self.tau_e, self.tau_i = check.positive("tau_e", tau_e, "ms"), check.positive("tau_i", tau_i, "ms")
        self.state = {"v": check.per_unit("v0", self.v_rest if v0 is None else v0, self.n,
                                                unit="mV"),
                      "ge": np.zeros(self.n), "gi": np.zeros(self.n),
                      "refractory": np.zeros(self.n)}
        self.max_dt = 0.5 * min(self.tau_m, self.tau_e, self.tau_i)

    def step(self, t, dt):
        s, z = self.state, self._zeros()
        p = LIFParams(float(dt), self.tau_m, self.v_rest, self.v_reset, self.v_thresh, self.R,
                      self.E_e, self.E_i, self.tau_e, self.tau_i, self.refractory,
                      self.conductance)
        lif_step(s["v"], s["ge"], s["gi"], s["refractory"], self.activity,
                 self.inputs.get("I", z), self.inputs.get("ge", z), self.inputs.get("gi", z), p)

    def _zeros(self):
        if not hasattr(self, "_z"):
            self._z = np.zeros(self.n)
        return self._z
