"""Izhikevich neurons in the general quadratic form (time in ms, v in mV, I in the model's
units)::

    C v' = k2 v^2 + k1 v + k0 - u + I,    u' = a (b (v - v_u) - u),
    v >= v_peak:  v <- c,  u <- u + d

``coefficients="izhikevich2003"`` (the default) is Izhikevich (2003): v' = 0.04 v^2 + 5 v + 140 - u
+ I, u' = a (b v - u); ``coefficients="nicola_clopath"`` is the dimensional form of Nicola &
Clopath (2017): C v' = k (v - v_r)(v - v_t) - u + I with C = 250, k = 2.5, v_r = -60,
v_t = -20 (so k2 = k, k1 = -k (v_r + v_t), k0 = k v_r v_t, v_u = v_r).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.population import Population

#: (a, b, c, d) of Izhikevich (2003), Fig. 2
PRESETS = {
    "RS": (0.02, 0.2, -65.0, 8.0),     # regular spiking
    "IB": (0.02, 0.2, -55.0, 4.0),     # intrinsically bursting
    "CH": (0.02, 0.2, -50.0, 2.0),     # chattering
    "FS": (0.1, 0.2, -65.0, 2.0),      # fast spiking
    "LTS": (0.02, 0.25, -65.0, 2.0),   # low-threshold spiking
    "TC": (0.02, 0.25, -65.0, 0.05),   # thalamo-cortical
    "RZ": (0.1, 0.26, -65.0, 2.0),     # resonator
}

SCHEMES = ("published", "euler")


class Quadratic(NamedTuple):
    """Coefficients of the quadratic form (see the module docstring) and the spike peak."""

    k2: float
    k1: float
    k0: float
    C: float
    v_u: float
    v_peak: float


#: (k2, k1, k0, C, v_u) of each form
COEFFICIENTS = {
    "izhikevich2003": (0.04, 5.0, 140.0, 1.0, 0.0),
    # k (v - vr)(v - vt) with k = 2.5, vr = -60, vt = -20
    "nicola_clopath": (2.5, -2.5 * (-60.0 - 20.0), 2.5 * (-60.0) * (-20.0), 250.0, -60.0),
}


@njit(cache=True, inline="always")
def izhikevich_update(v, u, a, b, c, d, I, dt, q, published):
    """One unit over dt ms with coefficients ``q`` (a :class:`Quadratic`); returns (v, u,
    fired). Shared by every Izhikevich kernel (generic, fused, reservoir) so that all do the
    same floating-point operations (with the 2003 coefficients, those of v' = 0.04 v^2 + 5 v
    + 140 - u + I exactly: C = 1 and v_u = 0 change no bit)."""
    # v_u = 0 and C = 1 (the 2003 form) skip an operation that changes no bit: the loop
    # invariant branches let LLVM keep the 2003 loop as fast as a hard-coded one
    if published:
        h = 0.5 * dt / q.C
        v += h * (q.k2 * v * v + q.k1 * v + q.k0 - u + I)
        v += h * (q.k2 * v * v + q.k1 * v + q.k0 - u + I)
        u += dt * a * (b * (v - q.v_u if q.v_u != 0.0 else v) - u)
    else:
        dv = q.k2 * v * v + q.k1 * v + q.k0 - u + I
        if q.C != 1.0:
            dv /= q.C
        u += dt * a * (b * (v - q.v_u if q.v_u != 0.0 else v) - u)
        v += dt * dv
    if v >= q.v_peak:
        return c, u + d, True
    return v, u, False


@njit(cache=True)
def izhikevich_step(v, u, a, b, c, d, I, fired, dt, q, published):
    """Advance every unit by dt ms, then detect v >= v_peak and reset.

    ``published``: v in two half-steps of dt/2, then u once with the new v (Izhikevich 2003,
    the scheme of the paper's code at dt = 1 ms); otherwise forward Euler on (v, u) together.
    """
    for k in range(v.size):
        v[k], u[k], fired[k] = izhikevich_update(v[k], u[k], a[k], b[k], c[k], d[k], I[k],
                                                 dt, q, published)


def izhikevich_step_numpy(v, u, a, b, c, d, I, dt, q, published):
    """NumPy twin of :func:`izhikevich_step` (same operations, whole arrays); returns the
    new (v, u, fired)."""
    if published:
        h = 0.5 * dt / q.C
        v = v + h * (q.k2 * v * v + q.k1 * v + q.k0 - u + I)
        v = v + h * (q.k2 * v * v + q.k1 * v + q.k0 - u + I)
        u = u + dt * a * (b * (v - q.v_u) - u)
    else:
        dv = (q.k2 * v * v + q.k1 * v + q.k0 - u + I) / q.C
        u = u + dt * a * (b * (v - q.v_u) - u)
        v = v + dt * dv
    fired = v >= q.v_peak
    return np.where(fired, c, v), np.where(fired, u + d, u), fired


class Izhikevich(Population):
    """A population of Izhikevich neurons with per-unit parameters.

    Parameters a, b, c (mV), d may be scalars or arrays of length n. ``coefficients`` picks
    the quadratic form (module docstring: ``"izhikevich2003"``, the default, or
    ``"nicola_clopath"``, whose dt is at most 0.1 ms). ``scheme`` selects the
    integration: ``"published"`` (two dt/2 half-steps for v, then u with the new v; dt <= 1
    ms) or ``"euler"`` (forward Euler on both; dt <= 0.5 ms). The two give different rates:
    pin the scheme when comparing. ``v0`` (mV) and ``u0`` (default b v0) set the start.
    The input buffer is ``I``; a spike is emitted in the step where v crosses ``v_peak``
    and v, u are reset in the same step.
    """

    input_names = ("I",)

    def __init__(self, n, a=0.02, b=0.2, c=-65.0, d=8.0, *, v0=-65.0, u0=None,
                 v_peak=30.0, scheme="published", coefficients="izhikevich2003", name=None):
        super().__init__(n, name)
        self.coefficients = check.choice("coefficients", coefficients, tuple(COEFFICIENTS))
        self.params = {k: check.per_unit(k, x, self.n, unit="mV" if k == "c" else None)
                       for k, x in (("a", a), ("b", b), ("c", c), ("d", d))}
        self.scheme = check.choice("scheme", scheme, SCHEMES)
        self.v_peak = check.number("v_peak", v_peak, unit="mV")
        self._check_reset()
        v = check.per_unit("v0", v0, self.n, unit="mV")
        u = self.params["b"] * v if u0 is None else check.per_unit("u0", u0, self.n)
        self.state = {"v": v, "u": u}
        self._hetero = None
        self._fixed = ()  # parameters the heterogeneity draw leaves alone (given explicitly)

    def _check_reset(self):
        c = self.params["c"]
        if np.any(c >= self.v_peak):
            check.fail("c", f"values below v_peak = {self.v_peak:g} mV (the reset must lie "
                            "under the spike peak)", float(c.max()))

    @property
    def quadratic(self) -> Quadratic:
        """The coefficients the kernels read."""
        return Quadratic(*COEFFICIENTS[self.coefficients], self.v_peak)

    @property
    def max_dt(self):
        if self.coefficients == "nicola_clopath":
            return 0.1
        return 1.0 if self.scheme == "published" else 0.5

    @classmethod
    def preset(cls, kind: str, n: int, heterogeneity: bool = False, **kw) -> "Izhikevich":
        """One of RS, IB, CH, FS, LTS, TC, RZ. ``heterogeneity=True`` applies the r-randomisation
        of Izhikevich (2003), drawn when the population is added to a network: excitatory
        presets (RS) get c = -65 + 15 r^2, d = 8 - 6 r^2; inhibitory (FS, LTS) get
        a = 0.02 + 0.08 r, b = 0.25 - 0.05 r (c = -65, d = 2), r ~ U[0, 1] per neuron.

        Explicit ``a``, ``b``, ``c``, ``d`` override the preset's values and the draw's."""
        kind = check.choice("kind", str(kind).upper(), tuple(PRESETS))
        given = {k: kw.pop(k) for k in "abcd" if k in kw}
        pop = cls(n, **{**dict(zip("abcd", PRESETS[kind])), **given}, **kw)
        if not isinstance(heterogeneity, (bool, np.bool_)):
            check.fail("heterogeneity", "True or False", heterogeneity)
        if heterogeneity:
            if kind not in ("RS", "FS", "LTS"):
                check.fail("heterogeneity", "RS (excitatory) or FS/LTS (inhibitory) presets "
                                            "for the 2003 r-randomisation", kind)
            pop._hetero = "excitatory" if kind == "RS" else "inhibitory"
            pop._fixed = tuple(given)
        return pop

    @classmethod
    def heterogeneous(cls, n: int, kind: str, r=None, **kw) -> "Izhikevich":
        """The 2003 network's excitatory or inhibitory population; ``r`` (U[0,1] per neuron)
        is drawn from the network's stream when None. Explicit ``a``, ``b``, ``c``, ``d``
        override the drawn values."""
        kind = check.choice("kind", kind, ("excitatory", "inhibitory"))
        pop = cls(n, **kw)
        pop._hetero = kind
        pop._fixed = tuple(k for k in "abcd" if k in kw)
        if r is not None:
            pop._apply_r(check.per_unit("r", r, pop.n, low=0.0, high=1.0))
        return pop

    def _apply_r(self, r):
        if self._hetero == "excitatory":
            drawn = {"a": 0.02, "b": 0.2, "c": -65.0 + 15.0 * r**2, "d": 8.0 - 6.0 * r**2}
        else:
            drawn = {"a": 0.02 + 0.08 * r, "b": 0.25 - 0.05 * r, "c": -65.0, "d": 2.0}
        for k, x in drawn.items():
            if k not in self._fixed:
                self.params[k][:] = x
        self._check_reset()
        self.state["u"][:] = self.params["b"] * self.state["v"]
        self.r = r
        self._hetero = None

    def initialize(self, rng):
        if self._hetero is not None:
            self._apply_r(rng.random(self.n))

    def step(self, t, dt):
        p, s = self.params, self.state
        izhikevich_step(s["v"], s["u"], p["a"], p["b"], p["c"], p["d"], self.inputs["I"],
                        self.activity, dt, self.quadratic, self.scheme == "published")

    @classmethod
    def fused_runner(cls, net):
        """The fused kernel for a network of Izhikevich populations (see
        :mod:`biosim.neurons.fused`), or None when the network needs the generic loop."""
        from biosim.neurons.fused import fused_runner

        return fused_runner(net)
