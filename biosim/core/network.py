"""The Network: clock (ms), seeds, the run loop, progress and checkpoints."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check
from biosim.core.connectivity import all_to_all, draw_weights
from biosim.core.inputs import Input
from biosim.core.io import read_file, write_file
from biosim.core.monitors import (Monitor, OrderParameterMonitor, RateMonitor, SpikeMonitor,
                                  StateMonitor, WeightMonitor)
from biosim.core.population import Population
from biosim.core.projection import Projection, Weights

CHECKPOINT_FORMAT = "biosim.Network"
#: 4: GaussianNoise with one stream per block of units, Kuramoto's blocked sparse layout (a
#: biosim that reads 3 would run them wrong; 3 is read here and converted on the first run);
#: 3: JSON + arrays (data only); 2 and older were pickles
CHECKPOINT_VERSION = 4
#: Network.run checks the state for NaN/inf after every chunk of this many steps
CHECK_EVERY = 1000
#: longest run accepted, in steps (more is a typo in dt or duration: ~days of compute)
MAX_STEPS = 10**10
#: time steps (ms) outside this range give a warning: probably a dt meant in seconds
DT_RANGE = (0.01, 10.0)
#: a run of fewer steps gives a warning: probably a duration meant in seconds
MIN_RUN_STEPS = 10


class Network:
    """Populations, projections, inputs, monitors and callbacks on one clock.

    Parameters
    ----------
    dt : float or str
        Time step in ms, or a string with units (``"0.1 ms"``, ``"100 us"``). A step outside
        [0.01, 10] ms gives a warning (``dt=0.0001`` is 0.1 us, not 0.1 ms).
    seed : int, SeedSequence or None
        Root seed. Every random object added (population, input, connection) gets its own
        child stream, spawned in the order of ``add``/``connect``; monitors draw nothing, so
        adding one never changes a run.

    Each step ``n`` (time ``t = n dt``) runs, in this fixed order:

    1. every population's input buffers are zeroed;
    2. projections deliver spikes/activity from earlier steps (in the order added);
    3. inputs add their currents (in the order added);
    4. populations step, in the order added (spikes of step n are in ``activity``);
    5. callbacks ``fn(net)`` run (they set ``net.modulators`` for the rules);
    6. plasticity rules update weights from the pre/post activity of step n;
    7. monitors record; the clock advances.

    What is in a network is exactly what was added to it. Populations, projections and
    monitors are found by name: ``net["exc"]``, ``net["exc.spikes"]``, ``net["exc->inh"]``
    (also after :meth:`load`); an unnamed one gets its default name made unique
    (``izhikevich``, ``izhikevich_1``, ...).
    """

    def __init__(self, dt: float = 0.1, seed=None):
        self.dt = check.positive("dt", dt, "ms")
        if not DT_RANGE[0] <= self.dt <= DT_RANGE[1]:
            check.warn("dt", f"{self.dt:g} ms is outside the usual [{DT_RANGE[0]:g}, "
                             f"{DT_RANGE[1]:g}] ms; a bare dt is in ms (write e.g. dt='0.1 ms')")
        if isinstance(check.seed("seed", seed), np.random.Generator):
            check.fail("seed", "an integer >= 0, a SeedSequence or None", "a Generator")
        self._seed = seed if isinstance(seed, np.random.SeedSequence) else \
            np.random.SeedSequence(seed)
        self.populations: list[Population] = []
        self.projections: list[Projection] = []
        self.inputs: list[Input] = []
        self.monitors: list[Monitor] = []
        self.callbacks: list[tuple] = []
        self.modulators: dict[str, float | np.ndarray] = {}
        self.step_count = 0

    @property
    def t(self) -> float:
        """Current time in ms."""
        return self.step_count * self.dt

    @property
    def seed(self) -> int:
        """The root entropy: ``Network(seed=net.seed)`` repeats this network's randomness."""
        return self._seed.entropy

    def __repr__(self):
        return (f"Network(dt={self.dt}, t={self.t:g} ms, populations="
                f"{[p.name for p in self.populations]}, projections={len(self.projections)})")

    def rng(self) -> np.random.Generator:
        """A new independent Generator from the network's seed (next child stream)."""
        return np.random.default_rng(self._seed.spawn(1)[0])

    # ------------------------------------------------------------ building
    def add(self, obj):
        """Add a population, input, projection or monitor; returns it."""
        if isinstance(obj, (Population, Projection, Monitor)):
            self._unique_name(obj)
        if isinstance(obj, Population):
            obj.check_dt(self.dt)
            obj.initialize(self.rng())
            self.populations.append(obj)
        elif isinstance(obj, Input):
            self._require(obj.target)
            obj.initialize(self.rng())
            self.inputs.append(obj)
        elif isinstance(obj, Projection):
            self._require(obj.pre)
            self._require(obj.post)
            if obj.rule is not None:
                obj.rule.check_projection(obj)
            self.projections.append(obj)
        elif isinstance(obj, Monitor):
            if isinstance(obj.source, Projection):
                if not any(p is obj.source for p in self.projections):
                    check.fail("projection", "one added to this network", obj.source.name)
            else:
                self._require(obj.source)
            self.monitors.append(obj)
        else:
            check.fail("add", "a Population, Input, Projection or Monitor", type(obj).__name__)
        return obj

    def _named(self):
        return [*self.populations, *self.projections, *self.monitors]

    def _unique_name(self, obj) -> None:
        taken = {x.name for x in self._named()}
        if obj.name not in taken:
            return
        if not getattr(obj, "auto_name", False):
            check.fail("name", f"a name not used in this network (taken: {sorted(taken)})",
                       obj.name)
        base, k = obj.name, 1
        while f"{base}_{k}" in taken:
            k += 1
        obj.name = f"{base}_{k}"

    def __getitem__(self, name: str):
        """The population, projection or monitor called ``name``."""
        for x in self._named():
            if x.name == name:
                return x
        check.fail("name", f"one of {[x.name for x in self._named()]}", name)

    def __contains__(self, name) -> bool:
        return any(x.name == name for x in self._named())

    def _require(self, pop):
        if not any(p is pop for p in self.populations):
            check.fail("population", "one added to this network with net.add()",
                       getattr(pop, "name", pop))

    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        check.fail("population", f"one of {[p.name for p in self.populations]}", name)

    def connect(self, pre, post, connectivity=None, weight=1.0, delay=0.0, target="I",
                rule=None, sparse=None, name=None, source=None) -> Projection:
        """Connect ``pre`` to ``post`` (one population or a list of them: a list of
        projections, named ``f"{name}_{post.name}"`` when ``name`` is given).

        ``connectivity``: ``all_to_all()`` (default), ``fixed_probability(p)``,
        ``fixed_indegree(k)``; ``weight``: scalar, array or distribution (``bs.uniform``);
        ``delay`` in ms (multiple of dt), scalar or distribution (one per synapse);
        ``sparse``: force CSR (default: CSR unless all-to-all); ``source``: the activity kind
        of ``pre`` delivered (default its first; a reservoir's spikes). ``rule``: a plasticity rule;
        each projection gets its own copy (rules carry traces), reachable as
        ``projection.rule``, and a random stream of its own (``rule.initialize(rng)``, a
        child of the projection's stream: a rule never shifts the seeds of other objects). Rules read this step's pre activity (not the delayed one). A rule
        must accept the activity kinds of ``pre`` and ``post`` (``rule.accepts``), and its
        bounds [w_min, w_max] must hold the initial weights (an inhibitory projection with
        weights <= 0 needs w_min < 0 <= w_max, e.g. ``STDP(w_min=-1.0, w_max=0.0)``).
        """
        if isinstance(post, (list, tuple)):  # one projection per post; name: "<name>_<post>"
            return [self.connect(pre, p, connectivity, weight, delay, target, rule, sparse,
                                 None if name is None else f"{name}_{p.name}", source)
                    for p in post]
        self._require(pre)
        self._require(post)
        connectivity = all_to_all() if connectivity is None else connectivity
        sparse = check.flag("sparse", sparse, allow_none=True)
        if not callable(connectivity):
            check.fail("connectivity", "all_to_all(), fixed_probability(p), fixed_indegree(k) "
                                       "or a callable", connectivity)
        expected = getattr(connectivity, "expected_synapses", None)
        if expected is not None:  # ~24 bytes a synapse (weight and its pre/post indices)
            n_syn = expected(pre.n, post.n)
            check.memory("connectivity", 24.0 * n_syn, f"{n_syn:.3g} synapses "
                         f"({pre.name} -> {post.name})", connectivity)
        rng = self.rng()
        pairs = connectivity(pre.n, post.n, rng, same=pre is post)
        if not callable(weight):
            weight = check.array("weight", weight)
        if not callable(weight) and weight.ndim >= 2:  # a matrix: (n_pre, n_post)
            weight = check.array("weight", weight, shape=(pre.n, post.n))
            if pairs is not None or sparse:
                weight = weight.ravel() if pairs is None else weight[pairs]
        if pairs is None and not sparse:
            weights = Weights.from_dense(draw_weights("weight", weight, rng, (pre.n, post.n)))
        else:
            if pairs is None:
                pairs = np.divmod(np.arange(pre.n * post.n), post.n)
            values = draw_weights("weight", weight, rng, (len(pairs[0]),))
            weights, order = Weights.from_pairs(pairs[0], pairs[1], values, pre.n, post.n)
        n_syn = weights.n_synapses
        if callable(delay):
            if weights.dense:
                check.fail("delay", "a scalar for dense weights (pass sparse=True for "
                                    "per-synapse delays)", delay)
            delay = delay(rng, n_syn)
        steps = self._delay_steps(delay)
        if rule is not None:  # its own copy and its own stream, a child of the projection's
            rule = _copy_rule(rule)
            rule.initialize(rng.spawn(1)[0])
        proj = Projection(pre, post, weights, steps, target, rule, name, source)
        return self.add(proj)

    def _delay_steps(self, delay):
        d = check.array("delay", delay, low=0.0, unit="ms")
        steps = np.rint(d / self.dt)
        if steps.size and steps.max() > MAX_STEPS:
            check.fail("delay", f"at most {MAX_STEPS:.0e} steps of dt", float(d.max()))
        if np.any(np.abs(steps * self.dt - d) > 1e-6 * max(self.dt, 1.0)):
            check.fail("delay", f"multiples of dt = {self.dt} ms", d if d.ndim == 0 else "array")
        return steps.astype(np.int64)

    def monitor(self, source, what: str = "spikes", indices=None, every: int = 1,
                name: str | None = None, **storage) -> Monitor:
        """Record a population or a projection (``indices``: units or synapses; every k
        steps).

        Population: ``"spikes"`` (:class:`SpikeMonitor`) and ``"rate"`` (population rate,
        :class:`RateMonitor`) need a ``"spikes"`` activity kind; ``"r"``/``"psi"`` of a
        ``"phase"`` population record its order parameter (:class:`OrderParameterMonitor`);
        any other name is a state variable, input, ``"activity"`` or activity kind
        (:class:`StateMonitor`). Projection: ``"w"``, the weights of its existing synapses
        (:class:`WeightMonitor`). A monitor of the wrong kind is refused. ``name`` (default
        ``"POP.WHAT"``) finds it again: ``net[name]``, also after :meth:`load`.

        ``storage`` (spike, rate, state and weight monitors): ``window=`` ms kept in memory, or
        ``path=`` a folder the records stream to in chunks of ``chunk_mb`` MB, for long runs
        whose records would not fit in memory (see :class:`~biosim.core.monitors.Bounded`).
        """
        if not isinstance(what, str):
            check.fail("what", "'spikes', 'rate', 'w' or a variable name", what)
        for key in storage:
            check.choice("storage", key, ("window", "path", "chunk_mb"))
        if isinstance(source, Projection):
            if what != "w":
                check.fail("what", f"'w' for projection {source.name!r}", what)
            return self.add(WeightMonitor(source, indices=indices, every=every, name=name,
                                          **storage))
        self._require(source)
        if what == "spikes":
            mon = SpikeMonitor(source, name, **storage)
        elif what == "rate":
            mon = RateMonitor(source, name, **storage)
        elif what in ("r", "psi") and source.activity_kinds[0] == "phase" \
                and what not in source.state:
            if storage:
                check.fail(next(iter(storage)), "window/path only for spike, rate, state and "
                                                "weight monitors (not the order parameter)",
                           what)
            mon = OrderParameterMonitor(source, what, indices=indices, every=every,
                                        name=name)
        else:
            mon = StateMonitor(source, what, indices=indices, every=every, name=name,
                               **storage)
        return self.add(mon)

    def callback(self, fn, every: int = 1):
        """Call ``fn(net)`` every ``every`` steps, after the populations step (step 5)."""
        if not callable(fn):
            check.fail("callback", "a callable fn(net)", fn)
        self.callbacks.append((fn, check.integer("every", every, low=1)))
        return fn

    # ------------------------------------------------------------ running
    def run(self, duration: float, progress: bool | None = None, fused: bool | None = None):
        """Advance by ``duration`` ms (or a string with units: ``"2 s"``). ``progress``: tqdm
        bar (default: runs of > 10^5 steps). ``fused``: use the model family's fused kernel
        when the network allows it (default), force it (True) or force the generic loop
        (False). A first run of fewer than 10 steps gives a warning (``run(2)`` is 2 ms)."""
        duration = check.nonnegative("duration", duration, "ms")
        progress = check.flag("progress", progress, allow_none=True)
        fused = check.flag("fused", fused, allow_none=True)
        if duration / self.dt > MAX_STEPS:
            check.fail("duration", f"at most {MAX_STEPS:.0e} steps of dt = {self.dt:g} ms "
                                   f"(this run is {duration / self.dt:.1e} steps; raise dt or "
                                   "run less)", duration)
        n_steps = int(round(duration / self.dt))
        if abs(n_steps * self.dt - duration) > 1e-6 * self.dt:
            check.fail("duration", f"a multiple of dt = {self.dt} ms", duration)
        if 0 < n_steps < MIN_RUN_STEPS and self.step_count == 0:  # a loop of short runs: once
            check.warn("duration", f"{duration:g} ms is only {n_steps} step(s) of dt = "
                                   f"{self.dt:g} ms; a bare duration is in ms (write e.g. "
                                   f"run('{duration:g} s') for seconds)")
        for pop in self.populations:
            pop.check_dt(self.dt)
        runner = self._fused_runner() if fused is not False else None
        if fused and runner is None:
            check.fail("fused", "a network the fused kernel supports (or fused=None)", fused)
        advance = runner or self._run_generic
        if progress is None:
            progress = n_steps > 100_000
        chunk = min(CHECK_EVERY, max(1, n_steps // 200) if progress else CHECK_EVERY)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=round(duration, 6), unit="ms", desc="biosim")
        try:
            done = 0
            while done < n_steps:
                k = min(chunk, n_steps - done)
                advance(k)
                done += k
                self._check_finite()
                if bar is not None:
                    bar.update(round(k * self.dt, 6))
        finally:
            if bar is not None:
                bar.close()
        return self

    def _check_finite(self) -> None:
        """NaN or inf in any population's state or plastic weights stops the run (checked
        every chunk of at most ``CHECK_EVERY`` steps: a diverging unit otherwise goes silent
        and the run returns plausible numbers)."""
        for proj in self.projections:  # first: diverging weights make the state diverge
            if proj.rule is not None and not np.isfinite(proj.weights.flat_values()).all():
                raise check.BiosimError(
                    f"projections.{proj.name}: w became non-finite at t = {self.t:g} ms "
                    "(check the rule's learning rates and bounds)")
        for pop in self.populations:
            var = pop.nonfinite()
            if var is not None:
                raise check.BiosimError(
                    f"populations.{pop.name}: {var} became non-finite at t = {self.t:g} ms "
                    "(check the inputs, weights, parameters and dt)")

    def _fused_runner(self):
        """The family's fused kernel: ``fused_runner(net)`` of the populations' class when
        they share one, or of the first population's class when it sets ``fused_mixed``
        (it checks the others: a reservoir with its readouts). None: the generic loop."""
        if not self.populations:
            return None
        first = type(self.populations[0])
        make = getattr(first, "fused_runner", None)
        if make is None or not (getattr(first, "fused_mixed", False)
                                or all(type(p) is first for p in self.populations)):
            return None
        return make(self)

    def _run_generic(self, n_steps: int) -> None:
        for _ in range(n_steps):
            self.step()

    def step(self) -> None:
        """One step of the fixed order above."""
        now, dt = self.step_count, self.dt
        t = now * dt
        for pop in self.populations:
            for buf in pop.inputs.values():
                buf.fill(0.0)
        for proj in self.projections:
            proj.deliver(now)
        for inp in self.inputs:
            inp.add(now, t, dt)
        for pop in self.populations:
            pop.step(t, dt)
        for fn, every in self.callbacks:
            if now % every == 0:
                fn(self)
        for proj in self.projections:
            if proj.rule is not None:
                x_pre = np.asarray(proj.pre.activity, float)
                x_post = np.asarray(proj.post.activity, float)
                proj.rule.update(proj.weights, x_pre, x_post, dt, self._modulator(proj))
            proj.record(now)
        for mon in self.monitors:
            mon.record(now, t, dt)
        self.step_count = now + 1

    def _modulator(self, proj) -> np.ndarray:
        m = np.ones(proj.post.n)
        for name in proj.rule.modulators:
            if name not in self.modulators:
                check.fail("modulators", f"a value for {name!r} (set net.modulators[{name!r}] "
                                         "before run or in a callback)", sorted(self.modulators))
            m = m * self.modulators[name]
        return m

    # ------------------------------------------------------------ checkpoints
    def save(self, path) -> None:
        """Checkpoint everything (state, weights, traces, random streams, monitors) to one
        ``.npz`` file of JSON and arrays (data only, :mod:`biosim.core.io`), atomically;
        :meth:`load` continues the run bit for bit."""
        write_file(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, self)

    @classmethod
    def load(cls, path, rules=None, callbacks=None, classes=None) -> "Network":
        """A network saved by :meth:`save`. Reading runs no code from the file: a
        ``LocalRule``'s user kernel, callbacks and your own classes (a Population, Rule,
        Input or Monitor subclass defined outside biosim) are saved by name and re-bound here
        from ``rules={"kernel_name": kernel}``, ``callbacks={"function_name": fn}`` and
        ``classes={"ClassName": cls}``."""
        for field, mapping in (("rules", rules), ("callbacks", callbacks),
                               ("classes", classes)):
            if mapping is not None and not isinstance(mapping, dict):
                check.fail(field, "a dict {name: function}", type(mapping).__name__)
        net = read_file(path, CHECKPOINT_FORMAT, (3, CHECKPOINT_VERSION),
                        {"rules": rules or {}, "callbacks": callbacks or {},
                         "classes": classes or {}})
        if not isinstance(net, Network):
            check.fail("path", "a file holding a Network", type(net).__name__)
        return net


def _copy_rule(rule):
    """Each projection gets its own rule object (rules carry traces)."""
    import copy

    if rule.pre_trace is not None:
        check.fail("rule", "a rule not yet used (it carries traces)", rule)
    return copy.copy(rule)
