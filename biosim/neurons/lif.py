"""Leaky integrate-and-fire neurons, current- or conductance-based (forward Euler).

Current-based:      tau_m v' = (v_rest - v) + R I
Conductance-based:  tau_m v' = (v_rest - v) + g_e (E_e - v) + g_i (E_i - v),
                    g_e' = -g_e / tau_e, g_i' = -g_i / tau_i (inputs ``ge``/``gi`` add jumps)
Spike when v >= v_thresh + theta - offset; v <- v_reset, then clamped for the ``refractory``
ms after the step of the spike (Brian2's ``refractory = refractory + dt``).
Time in ms, voltages in mV, conductances relative to the leak (dimensionless).

Two options of Diehl & Cook (2015), as VPRSNN (Hussaini et al. 2022) ran them, both off by
default:

- an adaptive threshold: ``theta`` (mV, state) grows by ``theta_plus`` at each spike and
  decays as theta' = -theta / tau_theta (Euler: ``theta *= 1 - dt / tau_theta``); both only
  while ``adapt_threshold`` is True (VPRSNN freezes theta when testing). The threshold is
  ``v_thresh + theta - offset``;
- the timer quirk: a second clock ``timer`` (ms, state) grows by ``timer_rate * dt`` each step,
  is reset to 0 at a spike, and a unit fires only while ``timer > timer_min``; with
  ``timer_rate=0.1`` and ``timer_min=5`` a unit fires at most once per 50 ms.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.population import Population


class LIFParams(NamedTuple):
    """One population's constants for a step of ``dt`` ms (see the module docstring);
    ``theta_decay`` is the per-step factor of theta, ``timer_step`` ms per step (0: no timer),
    ``extended``: the threshold or timer options are on (theta and timer are read)."""
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
    offset: float
    theta_plus: float
    theta_decay: float
    adapt: bool
    timer_step: float
    timer_min: float
    extended: bool


class LIFState(NamedTuple):
    """One population's state arrays (mV, ms; ``theta`` and ``timer`` see the module
    docstring)."""
    v: np.ndarray
    ge: np.ndarray
    gi: np.ndarray
    refr: np.ndarray
    theta: np.ndarray
    timer: np.ndarray


@njit(cache=True, inline="always")
def _drive(k, v, ge, gi, I, in_e, in_i, p):
    """Unit k's drive this step: R I, or the conductances' (after adding this step's jumps;
    they then decay by one Euler step)."""
    if not p.conductance:
        return p.R * I[k]
    ge[k] += in_e[k]
    gi[k] += in_i[k]
    drive = ge[k] * (p.E_e - v[k]) + gi[k] * (p.E_i - v[k])
    ge[k] -= p.dt * ge[k] / p.tau_e
    gi[k] -= p.dt * gi[k] / p.tau_i
    return drive


@njit(cache=True)
def _plain_step(v, ge, gi, refr, fired, I, in_e, in_i, p):
    """:func:`lif_step` without the threshold and timer options."""
    dt = p.dt
    for k in range(v.size):
        drive = _drive(k, v, ge, gi, I, in_e, in_i, p)
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


@njit(cache=True)
def lif_step(s, fired, I, in_e, in_i, p):
    """One Euler step of every unit in place: state ``s`` (:class:`LIFState`), spikes into
    ``fired``, inputs ``I`` (current-based) or ``in_e``/``in_i`` (conductance jumps),
    constants ``p`` (:class:`LIFParams`)."""
    v, ge, gi, refr, theta, timer = s.v, s.ge, s.gi, s.refr, s.theta, s.timer
    if not p.extended:  # a loop that may write theta/timer runs slower even with them off
        _plain_step(v, ge, gi, refr, fired, I, in_e, in_i, p)
        return
    dt, timed = p.dt, p.timer_step > 0.0
    for k in range(v.size):
        drive = _drive(k, v, ge, gi, I, in_e, in_i, p)
        if p.adapt:
            theta[k] *= p.theta_decay
        if timed:
            timer[k] += p.timer_step
        if refr[k] > 0.5 * dt:
            refr[k] -= dt
            fired[k] = False
            continue
        v[k] += dt * ((p.v_rest - v[k]) + drive) / p.tau_m
        fired[k] = (v[k] >= theta[k] - p.offset + p.v_thresh
                    and (not timed or timer[k] > p.timer_min))
        if fired[k]:
            v[k] = p.v_reset
            refr[k] = p.t_ref
            timer[k] = 0.0
            if p.adapt:
                theta[k] += p.theta_plus


class LIF(Population):
    """Leaky integrate-and-fire population (``conductance=False``: input ``I``, times R;
    ``True``: inputs ``ge``/``gi`` add to the conductances).

    ``theta_plus`` (mV), ``tau_theta`` (ms, None: no decay), ``offset`` (mV): the adaptive
    threshold; ``timer_rate`` (ms per ms, None: off) and ``timer_min`` (ms): the timer quirk
    (module docstring). ``adapt_threshold`` (attribute, default True) switches theta's
    growth and decay on and off between runs. State: ``v``, ``ge``, ``gi``, ``refractory``
    (ms left), ``theta`` (mV) and ``timer`` (ms); ``theta`` and ``timer`` take part only when
    one of the options is on (a plain LIF steps as fast as before)."""

    def __init__(self, n, tau_m=20.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0, R=1.0,
                 refractory=2.0, *, conductance=False, E_e=0.0, E_i=-80.0, tau_e=5.0,
                 tau_i=10.0, v0=None, theta_plus=0.0, tau_theta=None, offset=0.0,
                 timer_rate=None, timer_min=0.0, name=None):
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
        self.theta_plus = check.nonnegative("theta_plus", theta_plus, "mV")
        self.tau_theta = None if tau_theta is None else check.positive("tau_theta", tau_theta,
                                                                       "ms")
        self.offset = check.number("offset", offset, unit="mV")
        self.timer_rate = None if timer_rate is None else check.positive("timer_rate",
                                                                         timer_rate)
        self.timer_min = check.nonnegative("timer_min", timer_min, "ms")
        self.adapt_threshold = True
        self.state = {"v": check.per_unit("v0", self.v_rest if v0 is None else v0, self.n,
                                                unit="mV"),
                      "ge": np.zeros(self.n), "gi": np.zeros(self.n),
                      "refractory": np.zeros(self.n), "theta": np.zeros(self.n),
                      "timer": np.zeros(self.n)}
        taus = [self.tau_m, self.tau_e, self.tau_i] + ([self.tau_theta] if self.tau_theta else [])
        self.max_dt = 0.5 * min(taus)

    def params(self, dt: float) -> LIFParams:
        """The kernel's constants for a step of ``dt`` ms."""
        adapt = bool(self.adapt_threshold) and (self.theta_plus > 0.0 or self.tau_theta is not None)
        decay = 1.0 if self.tau_theta is None else 1.0 - dt / self.tau_theta
        return LIFParams(float(dt), self.tau_m, self.v_rest, self.v_reset, self.v_thresh,
                         self.R, self.E_e, self.E_i, self.tau_e, self.tau_i, self.refractory,
                         self.conductance, self.offset, self.theta_plus, decay, adapt,
                         0.0 if self.timer_rate is None else self.timer_rate * dt,
                         self.timer_min, self.extended)

    @property
    def extended(self) -> bool:
        """The adaptive threshold or the timer is on (``theta`` and ``timer`` take part)."""
        return bool(self.theta_plus > 0.0 or self.tau_theta is not None or self.offset != 0.0
                    or self.timer_rate is not None)

    def step(self, t, dt):
        s, z = self.state, self._zeros()
        st = LIFState(s["v"], s["ge"], s["gi"], s["refractory"], s["theta"], s["timer"])
        lif_step(st, self.activity, self.inputs.get("I", z), self.inputs.get("ge", z),
                 self.inputs.get("gi", z), self.params(dt))

    def _zeros(self):
        if not hasattr(self, "_z"):
            self._z = np.zeros(self.n)
        return self._z
