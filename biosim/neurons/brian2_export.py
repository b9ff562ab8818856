"""Export a biosim network of Izhikevich/LIF neurons to Brian2 (``to_brian2(net)``).

The Brian2 network does what :class:`~biosim.core.Network` does each step: the group
integrates (``when="groups"``), spikes are detected after the update and labelled with the
start of the step (Brian2's ``thresholds``), then reset; the synaptic input of spikes of
step n (``Isyn += w`` on_pre, delay d steps -> Brian2 delay d dt) acts in step n + 1 + d, after
which ``Isyn`` is cleared. The published Izhikevich scheme is a custom update (two dt/2
half-steps for v, then u with the new v), one floating-point operation a statement so that
Brian2 rounds as biosim does; forward Euler uses Brian2's ``method="euler"``. LIF uses
``method="euler"`` with Brian2 refractoriness ``refractory + dt`` (biosim clamps v for
``refractory`` ms after the step of the spike; Brian2 counts from that step).
Variables are dimensionless numbers in biosim's units (ms, mV). Results agree with biosim
to rounding: Brian2 sums synaptic input in its own order, and its code generation may
reorder arithmetic.
"""
from __future__ import annotations

import copy

import numpy as np

from biosim.core import validation as check
from biosim.core.inputs import ArrayCurrent, ConstantCurrent, GaussianNoise
from biosim.core.population import PoissonGroup, SpikeGenerator


class Brian2Model:
    """What :func:`to_brian2` built: ``network`` (a ``brian2.Network``), and per biosim
    population name the ``groups`` and ``spikes`` (``brian2.SpikeMonitor``); ``synapses``
    in the order of ``net.projections``; ``dt`` in ms."""

    def __init__(self, network, groups, spikes, synapses, dt):
        self.network, self.groups, self.spikes = network, groups, spikes
        self.synapses, self.dt = synapses, dt

    def run(self, duration: float, **kw):
        """Run for ``duration`` ms (keywords go to ``brian2.Network.run``)."""
        from brian2 import ms

        self.network.run(duration * ms, **kw)
        return self

    def spike_steps(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(step, unit) of each spike of population ``name``, in step then unit order, as
        biosim's ``SpikeMonitor.steps``/``.i``."""
        mon = self.spikes[name]
        steps = np.rint(np.asarray(mon.t_) * 1e3 / self.dt).astype(np.int64)
        i = np.asarray(mon.i, np.int64)
        order = np.lexsort((i, steps))
        return steps[order], i[order]


def to_brian2(net, duration: float | None = None) -> Brian2Model:
    """Build ``net`` (Izhikevich, LIF, PoissonGroup and SpikeGenerator populations;
    projections with weights and delays; constant, array and Gaussian-noise inputs) as
    Brian2 objects, starting from the network's current state (time 0 in Brian2 is
    ``net.t``; spikes already in flight are not carried over).

    ``duration`` (ms): Gaussian-noise inputs become ``TimedArray``s of exactly the numbers
    the biosim network will draw over that time (drawn from copies of their streams;
    ``net`` is not changed). Without it Brian2 draws its own noise (``randn()``, redrawn
    every ``every`` steps): the same statistics, other numbers.
    """
    import brian2 as b2

    dt = net.dt
    now = net.step_count
    n_steps = None
    if duration is not None:
        n_steps = int(round(check.nonnegative("duration", duration) / dt))
    objects, groups, spikes = [], {}, {}
    for pop in net.populations:
        inputs = [q for q in net.inputs if q.target is pop]
        group = _group(b2, pop, inputs, dt, now, n_steps)
        groups[pop.name] = group
        spikes[pop.name] = b2.SpikeMonitor(group, name=f"spikes_{_ident(pop.name)}")
        objects += [group, spikes[pop.name]]
    synapses = []
    for k, proj in enumerate(net.projections):
        if proj.rule is not None:
            check.fail("projections", "projections without plasticity rules for Brian2 "
                                      "export", proj.name)
        w = proj.weights
        var = "Isyn" if proj.target == "I" else proj.target
        syn = b2.Synapses(groups[proj.pre.name], groups[proj.post.name], "w : 1",
                          on_pre=f"{var}_post += w", dt=dt * b2.ms, name=f"synapses_{k}")
        syn.connect(i=w.pre_of, j=w.post_of)
        syn.w[:] = w.flat_values()
        if proj.max_delay:
            syn.delay[:] = np.broadcast_to(proj.delay, (w.n_synapses,)) * dt * b2.ms
        synapses.append(syn)
    network = b2.Network(*objects, *synapses)
    return Brian2Model(network, groups, spikes, synapses, dt)


def _ident(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def _group(b2, pop, inputs, dt, now, n_steps):
    """A NeuronGroup (or spike source) for ``pop`` with its inputs."""
    from biosim.neurons.izhikevich import Izhikevich
    from biosim.neurons.lif import LIF

    name, clock = _ident(pop.name), dt * b2.ms
    if isinstance(pop, PoissonGroup):
        return b2.PoissonGroup(pop.n, rates=pop.rates * b2.Hz, dt=clock, name=name)
    if isinstance(pop, SpikeGenerator):
        keep = pop.times >= now * dt  # a unit fires once in a step, however many times fall in it
        steps = np.floor((pop.times[keep] - now * dt) / dt + 1e-9).astype(np.int64)
        pairs = np.unique(np.stack([steps, pop.indices[keep]]), axis=1)
        return b2.SpikeGeneratorGroup(pop.n, pairs[1], pairs[0] * dt * b2.ms, dt=clock,
                                      name=name)
    if type(pop) not in (Izhikevich, LIF):  # a subclass (a reservoir) steps otherwise
        check.fail("populations", "Izhikevich, LIF, PoissonGroup or SpikeGenerator for Brian2 "
                                  "export", type(pop).__name__)
    if isinstance(pop, LIF) and (pop.theta_plus or pop.tau_theta or pop.timer_rate
                                 or pop.offset or pop.state["theta"].any()):
        check.fail("populations", "LIF without an adaptive threshold or timer for Brian2 "
                                  "export", pop.name)
    ns = {"h": 0.5 * dt, "dt_ms": dt}
    has_isyn = not getattr(pop, "conductance", False)  # conductance LIF: ge/gi instead
    lines, terms, setters, extras = ["Isyn : 1"] if has_isyn else [], ["Isyn"], [], []
    for k, q in enumerate(inputs):
        if q.var not in ("I",):
            check.fail("inputs", "inputs to I for Brian2 export", q.var)
        unit = np.arange(pop.n) if q.indices is None else q.indices
        if isinstance(q, ConstantCurrent):
            lines.append(f"I_{k} : 1 (constant)")
            amp = np.zeros(pop.n)
            amp[unit] = q.amplitude
            setters.append((f"I_{k}", amp))
            terms.append(f"I_{k}")
        elif isinstance(q, ArrayCurrent) or (isinstance(q, GaussianNoise) and n_steps):
            table = np.zeros((_rows(q, now, n_steps) + 1, pop.n))
            table[:-1, unit] = _per_step(q, now, n_steps, dt)
            ns[f"ta_{k}"] = b2.TimedArray(table, dt=dt * b2.ms, name=f"ta_{name}_{k}")
            terms.append(f"ta_{k}(t, i)")
        elif isinstance(q, GaussianNoise):
            lines += [f"noise_{k} : 1", f"mu_{k} : 1 (constant)", f"sd_{k} : 1 (constant)"]
            mu, sd = np.zeros(pop.n), np.zeros(pop.n)
            mu[unit], sd[unit] = q.mean, q.std
            setters += [(f"mu_{k}", mu), (f"sd_{k}", sd)]
            terms.append(f"noise_{k}")
            extras.append((f"noise_{k} = mu_{k} + sd_{k} * randn()", q.every * dt))
        else:
            check.fail("inputs", "ConstantCurrent, ArrayCurrent or GaussianNoise for Brian2 "
                                 "export", type(q).__name__)
    current = f"I = {' + '.join(terms)} : 1"
    if isinstance(pop, Izhikevich):
        if pop.coefficients != "izhikevich2003":
            check.fail("coefficients", "'izhikevich2003' for Brian2 export (population "
                                       f"{pop.name!r})", pop.coefficients)
        params = ["a", "b", "c", "d"]
        lines += [f"{p} : 1 (constant)" for p in params]
        ns["v_peak"] = pop.v_peak
        if pop.scheme == "published":
            lines += ["v : 1", "u : 1", current]
            update = _PUBLISHED
            group = b2.NeuronGroup(pop.n, "\n".join(lines), threshold="v >= v_peak",
                                   reset="v = c\nu = u + d", namespace=ns, dt=clock, name=name)
            group.run_regularly(update, when="groups", name=f"{name}_published")
        else:
            lines += ["dv/dt = (0.04 * v * v + 5 * v + 140 - u + I) / ms : 1",
                      "du/dt = a * (b * v - u) / ms : 1", current]
            group = b2.NeuronGroup(pop.n, "\n".join(lines), threshold="v >= v_peak",
                                   reset="v = c\nu = u + d", method="euler", namespace=ns,
                                   dt=clock, name=name)
        for p in params:
            setattr(group, p, pop.params[p])
        group.v, group.u = pop.state["v"], pop.state["u"]
    else:
        ns.update(tau_m=pop.tau_m, v_rest=pop.v_rest, v_reset=pop.v_reset, R=pop.R,
                  v_thresh=pop.v_thresh, E_e=pop.E_e, E_i=pop.E_i, tau_e=pop.tau_e,
                  tau_i=pop.tau_i)
        if pop.conductance:
            lines += ["dv/dt = ((v_rest - v) + ge * (E_e - v) + gi * (E_i - v)) / (tau_m * ms)"
                      " : 1 (unless refractory)",
                      "dge/dt = -ge / (tau_e * ms) : 1", "dgi/dt = -gi / (tau_i * ms) : 1"]
            if inputs:
                check.fail("inputs", "no current inputs to a conductance-based LIF", pop.name)
        else:
            lines += ["dv/dt = ((v_rest - v) + R * I) / (tau_m * ms) : 1 (unless refractory)",
                      current]
        group = b2.NeuronGroup(pop.n, "\n".join(lines), threshold="v >= v_thresh",
                               reset="v = v_reset", refractory=(pop.refractory + dt) * b2.ms,
                               method="euler", namespace=ns, dt=clock, name=name)
        group.v = pop.state["v"]
        if pop.conductance:
            group.ge, group.gi = pop.state["ge"], pop.state["gi"]
    for var, values in setters:
        setattr(group, var, values)
    for code, every in extras:
        group.run_regularly(code, dt=every * b2.ms, when="start")
    if has_isyn:
        group.run_regularly("Isyn = 0", when="after_groups", name=f"{name}_clear")
    return group


# The published scheme, one floating-point operation a statement, in the order of
# biosim.neurons.izhikevich.izhikevich_update (Brian2 reorders the terms of longer
# expressions, which changes the rounding).
_HALF_STEP = """
x1 = 0.04 * v
x2 = x1 * v
x3 = 5.0 * v
x4 = x2 + x3
x5 = x4 + 140.0
x6 = x5 - u
x7 = x6 + I
x8 = h * x7
v = v + x8
"""
_PUBLISHED = _HALF_STEP + _HALF_STEP + """
y1 = b * v
y2 = y1 - u
y3 = dt_ms * a
y4 = y3 * y2
u = u + y4
"""


def _rows(q, now, n_steps):
    if isinstance(q, GaussianNoise):
        return n_steps
    return max(0, q.table.shape[0] * q.every - now)


def _per_step(q, now, n_steps, dt):
    """The values input ``q`` adds in each step from ``now`` on (rows, q.size)."""
    if isinstance(q, ArrayCurrent):
        rows = (now + np.arange(_rows(q, now, n_steps))) // q.every
        return np.broadcast_to(q.table[rows].reshape(rows.size, -1), (rows.size, q.size))
    q = copy.deepcopy(q)  # draw what the biosim network will draw, leaving it untouched
    return np.array([q.values(s, s * dt, dt) for s in range(now, now + n_steps)])
