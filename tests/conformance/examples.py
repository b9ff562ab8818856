"""One small example of every Population, Rule, Monitor, Input and Estimator class of biosim,
keyed by the class's qualified name. The conformance suite (``test_conformance.py``) finds
the classes itself and fails for a class that has no example here: a new class gets one
entry (a few lines), not a test.

An :class:`Example` builds a small network that holds the object and makes it do something
(``build(seed) -> (net, obj)``), gives a constructor call with bad input (``bad()`` must raise
a one-line BiosimError; an estimator may check its parameters when it is fitted) and, for monitors and inputs, builds the object on another source
(``on(source)``, for the wrong-kind check). An :class:`EstimatorExample` makes an untrained
estimator (``make(seed)``), trains it on a little data (``fit(est)``), reads what it
learned (``output(est)``, an array) and, for incremental learners, trains it on
(``more(est)``).

``xfail`` maps a check's name to the reason it fails today (a known bug, reported).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numba import njit

import biosim as bs
from biosim.core.monitors import (OrderParameterMonitor, RateMonitor, SpikeMonitor,
                                  StateMonitor, WeightMonitor)


@dataclass
class Example:
    build: Callable            # seed -> (net, obj)
    bad: Callable              # () -> raises BiosimError
    on: Callable | None = None  # source -> a new object of the class (monitors, inputs)
    load: dict = field(default_factory=dict)  # keywords of Network.load
    xfail: dict = field(default_factory=dict)  # check -> reason


@dataclass
class EstimatorExample:
    make: Callable             # seed -> untrained estimator
    fit: Callable              # est -> est, trained on a little data
    output: Callable           # trained est -> array
    bad: Callable              # () -> raises BiosimError
    more: Callable | None = None  # trained est -> more training (incremental learners)
    xfail: dict = field(default_factory=dict)


def rng_of(seed):
    return np.random.default_rng(1000 + seed)


# ---------------------------------------------------------------- small pieces
def lif_net(seed, n=5, drive=True):
    net = bs.Network(dt=0.5, seed=seed)
    lif = net.add(bs.LIF(n, name="lif"))
    if drive:
        net.add(bs.GaussianNoise(lif, std=5.0, mean=30.0))
    return net, lif


def _adaptive_lif(seed):
    """A conductance LIF with the adaptive threshold and the timer (plain LIFs are in
    every other example that uses ``lif_net``)."""
    net = bs.Network(dt=0.5, seed=seed)
    lif = net.add(bs.LIF(5, conductance=True, theta_plus=0.5, tau_theta=200.0, offset=1.0,
                         timer_rate=0.5, timer_min=3.0, name="lif"))
    src = poisson(net, rate=400.0)
    net.connect(src, lif, weight=bs.uniform(0.0, 0.4), target="ge")
    return net, lif


def poisson(net, n=8, rate=150.0, name="src"):
    return net.add(bs.PoissonGroup(n, rate, name=name))


def kuramoto(seed):
    from biosim.oscillators import KuramotoPopulation

    net = bs.Network(dt=0.5, seed=seed)
    pop = net.add(KuramotoPopulation(6, omega=0.02, K=0.5, sigma=0.05, name="osc"))
    return net, pop


def reservoir_pop(seed):
    from biosim.reservoir import Reservoir
    from biosim.reservoir.network import ReservoirPopulation

    net = bs.Network(dt=0.5, seed=seed)
    res = Reservoir(20, p=0.3, n_inputs=1, seed=seed)
    pop = net.add(ReservoirPopulation(res, name="res"))
    net.add(bs.GaussianNoise(pop, std=2.0, mean=3.0))
    return net, pop


def dendritic(seed, teach_every=3):
    from biosim.dendrites.segments import DendriticNeurons

    net = bs.Network(dt=1.0, seed=seed)
    pop = net.add(DendriticNeurons(3, 2, theta=2, name="cells"))
    rng = rng_of(seed)
    net.add(bs.ArrayCurrent(pop, rng.integers(0, 3, (60, pop.n)).astype(float),
                            var="overlap"))
    cells = [[k % 3] if k % teach_every == 0 else [-1] for k in range(60)]
    net.add(bs.ArrayCurrent(pop, pop.teach_table(cells), var="teach"))
    return net, pop


def sdr_input(seed, n=8, name="sdr"):
    from biosim.dendrites.segments import SDRInput

    return SDRInput(rng_of(seed).random((3, n)) < 0.4, hold=2, name=name)


def cluster_wta(seed):
    from biosim.memory.population import ClusterWTA

    net = bs.Network(dt=1.0, seed=seed)
    pop = net.add(ClusterWTA(3, 4, cue=[0, -1, 2], gamma=0.5, name="wta"))
    net.add(bs.GaussianNoise(pop, std=1.0))
    return net, pop


def willshaw_retrieval(seed):
    from biosim.memory import WillshawMemory

    pats = rng_of(seed).random((4, 16)) < 0.3
    net = bs.Network(dt=1.0, seed=seed)
    pop = WillshawMemory(16).store(pats).add_to(net, cue=pats[0] & (np.arange(16) % 2 == 0))
    return net, pop


def replay(name="replay"):
    from biosim.memory.population import MessageReplay

    return MessageReplay(3, 4, np.array([[0, 1, 2], [3, 0, 1], [2, 2, 0]]), name=name)


def linear(seed):
    from biosim.reservoir.network import LinearReadout

    net = bs.Network(dt=0.5, seed=seed)
    out = net.add(LinearReadout(3, name="out"))
    net.add(bs.GaussianNoise(out, std=1.0, mean=0.5))
    return net, out


def obj(net, o):
    net.add(o)
    return net, o


def rule_net(seed, rule, post="lif", weight=None, **kw):
    """A Poisson source projecting onto ``post`` ("lif" or "linear") through ``rule``."""
    net, target = lif_net(seed) if post == "lif" else linear(seed)
    src = poisson(net)
    proj = net.connect(src, target, weight=bs.uniform(0.0, 0.5) if weight is None else weight,
                       rule=rule, **kw)
    return net, proj.rule


# ---------------------------------------------------------------- a user rule
@njit
def anti_hebb(w, pre, post, pre_tr, post_tr, mod, dt, p):
    return -p[0] * pre_tr * post


def _three_factor(seed):
    net, rule = rule_net(seed, bs.ThreeFactor(eta=0.5, tau_e=20.0, modulators=("error",)))
    net.modulators["error"] = 0.3
    return net, rule


def _rls(seed):
    from biosim.reservoir import RLS, LinearReadout

    net, pop = reservoir_pop(seed)
    out = net.add(LinearReadout(2, name="out"))
    proj = net.connect(pop, out, weight=bs.uniform(-0.1, 0.1), rule=RLS(alpha=1.0, every=2))
    net.modulators["target"] = np.array([0.5, -0.5])
    return net, proj.rule


def _clipped(seed):
    from biosim.memory.population import ClusterWTA

    net = bs.Network(dt=1.0, seed=seed)
    pre = net.add(replay())
    post = net.add(ClusterWTA(3, 4, cue=[0, 1, 2], name="wta"))
    proj = net.connect(pre, post, weight=0.0, rule=bs.ClippedHebbian())
    return net, proj.rule


def _growth(seed):
    from biosim.dendrites.segments import SynapseGrowth

    net, cells = dendritic(seed, teach_every=1)
    src = net.add(sdr_input(seed, n=8))
    proj = net.connect(src, cells, weight=0.0, target="overlap", sparse=False,
                       rule=SynapseGrowth(2, modulators="learn"))
    net.modulators["learn"] = 1.0
    return net, proj.rule


def _weight_monitor(seed):
    net, rule = rule_net(seed, bs.STDP(), sparse=True, connectivity=bs.fixed_probability(0.5))
    proj = net.projections[0]
    return obj(net, WeightMonitor(proj, indices=[0, 2, 3], every=2))


# ---------------------------------------------------------------- inputs
def _input(make):
    def build(seed):
        net, lif = lif_net(seed, drive=False)
        return obj(net, make(lif, seed))
    return build


def _array_current(target, seed=0):
    return bs.ArrayCurrent(target, rng_of(seed).uniform(10, 30, (40, target.n)))


# ---------------------------------------------------------------- estimators
def _images(seed, n=4):
    return rng_of(seed).integers(0, 256, (n, 32, 64), dtype=np.uint8)


def _vprsnn(seed):
    from biosim.vpr.recognizer import SpikingPlaceRecognizer

    return SpikingPlaceRecognizer(module_size=2, neurons_per_place=2, epochs=1,
                                  hyperactive_tau=1, seed=seed)


def _tempo(seed):
    from biosim.vpr.tempo import TempoPlaceRecognizer

    return TempoPlaceRecognizer(module_size=2, epochs=1, seed=seed)


def _surrogate(seed):
    from biosim.vpr.surrogate import SurrogatePlaceRecognizer

    return SurrogatePlaceRecognizer(channels=(4, 4), kernels=(5, 3), strides=(4, 2),
                                    time_steps=2, epochs=1, batch_size=4, seed=seed)


def _bad_surrogate():
    from biosim.vpr.surrogate import SurrogatePlaceRecognizer

    SurrogatePlaceRecognizer(time_steps=0).fit(_images(0))


def _bad_vprsnn():
    from biosim.vpr.recognizer import SpikingPlaceRecognizer

    SpikingPlaceRecognizer(module_size=0).fit(_images(0))


def _bad_tempo():
    from biosim.vpr.tempo import TempoPlaceRecognizer

    TempoPlaceRecognizer(epochs=0).fit(_images(0))


def _messages(seed, m=5, c=4, l=8):
    return rng_of(seed).integers(0, l, (m, c))


def _erase(messages, k=2):
    cue = np.array(messages)
    cue[:, :k] = -1
    return cue


def _coyac_inputs(seed, c=4, l=8, t=40):
    """A stream of noisy one-hot inputs (T, c, l) drawn from three messages."""
    rng = rng_of(seed)
    msgs = rng.integers(0, l, (3, c))
    x = np.zeros((t, c, l), bool)
    for k in range(t):
        x[k, np.arange(c), msgs[k % 3]] = True
    return x | (rng.random(x.shape) < 0.05)


def _patterns(n=64, m=5, active=6):
    rng = rng_of(7)
    x = np.zeros((m, n), bool)
    for row in x:
        row[rng.choice(n, active, replace=False)] = True
    return x


def _pm1(n=32, m=3):
    return np.where(rng_of(8).random((m, n)) < 0.5, -1.0, 1.0)


def _small_reservoir():
    from biosim.reservoir import Reservoir

    return Reservoir(30, p=0.3, n_inputs=1, seed=11)


def _force_fit(est):
    t = np.arange(200)
    est.run(_small_reservoir(), np.zeros((200, 1)), np.sin(2 * np.pi * t / 50.0)[:, None])
    return est


def _force_output(est):
    return est.run(_small_reservoir(), np.zeros((60, 1)), train=False)


def _readout_fit(est):
    t = np.arange(120)
    targets = np.stack([np.exp(-((t - 60) / 10.0) ** 2), np.zeros(120)], axis=1)
    inputs = (np.abs(t - 40) < 5).astype(float)[:, None]
    est.trial(_small_reservoir(), inputs, targets, np.ones(120))
    return est


def _readout_output(est):
    inputs = np.zeros((60, 1))
    return est.trial(_small_reservoir(), inputs, np.zeros((60, 2)), np.ones(60), learn=False)


def _digits():
    from biosim.dendrites.active import permuted_digits

    tasks = permuted_digits(2, seed=0)
    return [{k: (v[:120] if k in ("x_train", "y_train") else v[:60])
             if k != "perm" else v for k, v in t.items()} for t in tasks]


def _estimator(path, **kw):
    def make(seed):
        module, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        return cls(**kw, **({"seed": seed} if "seed" in cls._param_names() else {}))
    return make


def _vprsnn_input(seed):
    """A small VPRSNN network (Network.run picks its fused kernel), learning, the input at
    plain rates for a while and then a block drawn ahead."""
    from biosim.core import fastrandom
    from biosim.vpr import vprsnn_network
    from biosim.vpr.snn_numba import SNNParams

    p = SNNParams(weight_sum=4.8, rate_scale=1.0)
    net = vprsnn_network(p, n_input=16, n_e=4, seed=seed)
    bs.normalize_incoming(net["input->exc"].weights, p.weight_sum)
    inp = net["input"]
    inp.set_rates(np.linspace(100.0, 400.0, 16))
    inp.draw_block(np.full(16, 300.0), 20, p.dt, fastrandom.seed_state(
        np.random.default_rng(seed)))
    return net, inp


# ---------------------------------------------------------------- the registry
def _bad(cls_path, *args, **kw):
    """A constructor call of the class at ``cls_path`` with bad arguments."""
    def call():
        module, _, name = cls_path.rpartition(".")
        getattr(importlib.import_module(module), name)(*args, **kw)
    return call


EXAMPLES = {
    # ---- populations
    "biosim.core.population.PoissonGroup": Example(
        lambda s: obj(bs.Network(dt=0.5, seed=s), bs.PoissonGroup(6, 200.0, name="p")),
        lambda: bs.PoissonGroup(3, -1.0)),
    "biosim.vpr.snn_network.VPRSNNInput": Example(
        _vprsnn_input, _bad("biosim.vpr.snn_network.VPRSNNInput", 4, {"dt": 0.5})),
    "biosim.core.population.SpikeGenerator": Example(
        lambda s: obj(bs.Network(dt=0.5, seed=s),
                      bs.SpikeGenerator(3, [0, 1, 2, 0], [0.5, 1.0, 2.2, 7.0], name="g")),
        lambda: bs.SpikeGenerator(3, [5], [1.0])),
    "biosim.neurons.izhikevich.Izhikevich": Example(
        lambda s: (lambda net: (net, net.populations[0]))(_izh(s)),
        lambda: bs.Izhikevich(0)),
    "biosim.neurons.lif.LIF": Example(_adaptive_lif, lambda: bs.LIF(5, tau_m=-1.0)),
    "biosim.oscillators.kuramoto.KuramotoPopulation": Example(
        kuramoto, _bad("biosim.oscillators.kuramoto.KuramotoPopulation", 5, method="rk5")),
    "biosim.reservoir.network.ReservoirPopulation": Example(
        reservoir_pop, _bad("biosim.reservoir.network.ReservoirPopulation", "not a reservoir")),
    "biosim.reservoir.network.LinearReadout": Example(
        linear, _bad("biosim.reservoir.network.LinearReadout", 0)),
    "biosim.dendrites.segments.DendriticNeurons": Example(
        dendritic, _bad("biosim.dendrites.segments.DendriticNeurons", 3, 0, 1)),
    "biosim.dendrites.segments.SDRInput": Example(
        lambda s: obj(bs.Network(dt=1.0, seed=s), sdr_input(s)),
        _bad("biosim.dendrites.segments.SDRInput", np.zeros(4, bool))),
    "biosim.memory.population.ClusterWTA": Example(
        cluster_wta, _bad("biosim.memory.population.ClusterWTA", 1, 4, [0])),
    "biosim.memory.population.WillshawRetrieval": Example(
        willshaw_retrieval, _bad("biosim.memory.population.WillshawRetrieval", 8, threshold=0)),
    "biosim.memory.population.MessageReplay": Example(
        lambda s: obj(bs.Network(dt=1.0, seed=s), replay()),
        _bad("biosim.memory.population.MessageReplay", 3, 4, [[9, 0, 0]])),
    # ---- rules
    "biosim.core.plasticity.STDP": Example(
        lambda s: rule_net(s, bs.STDP(a_plus=0.02, a_minus=0.02)),
        lambda: bs.STDP(a_plus=-0.01)),
    "biosim.core.plasticity.TripletSTDP": Example(
        lambda s: rule_net(s, bs.TripletSTDP(nu_pre=1e-3, nu_post=0.05), sparse=True,
                           delay=0.5 * (np.arange(40) % 4)),
        lambda: bs.TripletSTDP(tau_post2=0.0)),
    "biosim.core.plasticity.Hebbian": Example(
        lambda s: rule_net(s, bs.Hebbian(eta=0.01, decay=0.1), post="linear"),
        lambda: bs.Hebbian(eta=0.01, decay=-1.0)),
    "biosim.core.plasticity.Oja": Example(
        lambda s: rule_net(s, bs.Oja(eta=0.01), post="linear"), lambda: bs.Oja(eta=0.0)),
    "biosim.core.plasticity.ThreeFactor": Example(
        _three_factor, lambda: bs.ThreeFactor(eta=0.1, tau_e=0.0)),
    "biosim.reservoir.force.RLS": Example(
        _rls, _bad("biosim.reservoir.force.RLS", alpha=0.0)),
    "biosim.core.plasticity.ClippedHebbian": Example(
        _clipped, lambda: bs.ClippedHebbian().apply(np.zeros((2, 2)), [1, 0, 1], [1, 0])),
    "biosim.core.plasticity.LocalRule": Example(
        lambda s: rule_net(s, bs.LocalRule(anti_hebb, [1e-3], tau_pre=20.0, w_min=-1.0)),
        lambda: bs.LocalRule(lambda *a: 0.0), load={"rules": {"anti_hebb": anti_hebb}}),
    "biosim.dendrites.segments.SynapseGrowth": Example(
        _growth, _bad("biosim.dendrites.segments.SynapseGrowth", 0)),
    # ---- monitors
    "biosim.core.monitors.SpikeMonitor": Example(
        lambda s: _on_lif(s, SpikeMonitor),
        lambda: SpikeMonitor("exc"), on=SpikeMonitor),
    "biosim.core.monitors.RateMonitor": Example(
        lambda s: _on_lif(s, RateMonitor), lambda: RateMonitor(3), on=RateMonitor),
    "biosim.core.monitors.StateMonitor": Example(
        lambda s: _on_lif(s, lambda p: StateMonitor(p, "v", indices=[0, 2], every=2)),
        lambda: StateMonitor(lif_net(0)[1], "voltage"),
        on=lambda src: StateMonitor(src, "activity")),
    "biosim.core.monitors.OrderParameterMonitor": Example(
        lambda s: (lambda net, pop: obj(net, OrderParameterMonitor(pop, "psi", every=3)))(
            *kuramoto(s)),
        lambda: OrderParameterMonitor(kuramoto(0)[1], "phi"),
        on=lambda src: OrderParameterMonitor(src, "r")),
    "biosim.core.monitors.WeightMonitor": Example(
        _weight_monitor, lambda: WeightMonitor(rule_net(0, None)[0].projections[0],
                                               indices=[10**6]),
        on=WeightMonitor),
    # ---- inputs
    "biosim.core.inputs.ConstantCurrent": Example(
        _input(lambda t, s: bs.ConstantCurrent(t, 18.0)),
        lambda: bs.ConstantCurrent(lif_net(0)[1], [1.0, 2.0]),
        on=lambda t: bs.ConstantCurrent(t, 1.0)),
    "biosim.core.inputs.StepCurrent": Example(
        _input(lambda t, s: bs.StepCurrent(t, [0.0, 5.0], [10.0, 25.0])),
        lambda: bs.StepCurrent(lif_net(0)[1], [2.0, 1.0], [1.0, 1.0]),
        on=lambda t: bs.StepCurrent(t, [0.0], [1.0])),
    "biosim.core.inputs.ArrayCurrent": Example(
        _input(_array_current), lambda: bs.ArrayCurrent(lif_net(0)[1], np.zeros((3, 4))),
        on=_array_current),
    "biosim.core.inputs.GaussianNoise": Example(
        _input(lambda t, s: bs.GaussianNoise(t, 5.0, 15.0, every=2, block=7)),
        lambda: bs.GaussianNoise(lif_net(0)[1], -1.0), on=lambda t: bs.GaussianNoise(t, 1.0)),
    "biosim.core.inputs.PoissonInput": Example(
        _input(lambda t, s: bs.PoissonInput(t, rate=300.0, weight=4.0, n_sources=5)),
        lambda: bs.PoissonInput(lif_net(0)[1], -5.0, 1.0),
        on=lambda t: bs.PoissonInput(t, 10.0, 1.0)),
    # ---- estimators
    "biosim.vpr.recognizer.SpikingPlaceRecognizer": EstimatorExample(
        _vprsnn, lambda est: est.fit(_images(0)), lambda est: est.predict(_images(1)),
        _bad_vprsnn),
    "biosim.vpr.surrogate.SurrogatePlaceRecognizer": EstimatorExample(
        _surrogate, lambda est: est.fit([_images(0), _images(2)]),
        lambda est: est.predict(_images(1)), _bad_surrogate),
    "biosim.vpr.tempo.TempoPlaceRecognizer": EstimatorExample(
        _tempo, lambda est: est.fit(_images(0)), lambda est: est.predict(_images(1)),
        _bad_tempo),
    "biosim.memory.cliques.CliqueNetwork": EstimatorExample(
        _estimator("biosim.memory.cliques.CliqueNetwork", c=4, l=8),
        lambda est: est.fit(_messages(0)), lambda est: est.retrieve(_erase(_messages(0))),
        _bad("biosim.memory.cliques.CliqueNetwork", 1, 8),
        more=lambda est: est.store(_messages(3))),
    "biosim.memory.coyac.CoyacLearner": EstimatorExample(
        _estimator("biosim.memory.coyac.CoyacLearner", c=4, l=8),
        lambda est: est.fit(_coyac_inputs(0)),
        lambda est: np.stack([est.response(x) for x in _coyac_inputs(1)[:5]]),
        _bad("biosim.memory.coyac.CoyacLearner", 4, 1),
        more=lambda est: [est.partial_fit(x) for x in _coyac_inputs(2)[:10]]),
    "biosim.memory.hopfield.HopfieldNetwork": EstimatorExample(
        _estimator("biosim.memory.hopfield.HopfieldNetwork", n=32),
        lambda est: est.fit(_pm1()), lambda est: est.retrieve(_pm1() * (rng_of(9).random(
            (3, 32)) < 0.8)),
        _bad("biosim.memory.hopfield.HopfieldNetwork", 1),
        more=lambda est: est.store(_pm1(m=1) * -1.0)),
    "biosim.memory.willshaw.WillshawMemory": EstimatorExample(
        _estimator("biosim.memory.willshaw.WillshawMemory", n=64),
        lambda est: est.fit(_patterns()),
        lambda est: est.retrieve(_patterns() & (rng_of(9).random((5, 64)) < 0.7)),
        _bad("biosim.memory.willshaw.WillshawMemory", 64, threshold=0),
        more=lambda est: est.store(_patterns()[::-1, ::-1])),
    "biosim.reservoir.force.FORCE": EstimatorExample(
        _estimator("biosim.reservoir.force.FORCE", n_outputs=1, every=2, feedback=0.5),
        _force_fit, _force_output, _bad("biosim.reservoir.force.FORCE", 1, alpha=0.0),
        more=_force_fit),
    "biosim.reservoir.readout.ThreeFactorReadout": EstimatorExample(
        _estimator("biosim.reservoir.readout.ThreeFactorReadout", n_outputs=2,
                   modes=["online", "offline"]),
        _readout_fit, _readout_output,
        _bad("biosim.reservoir.readout.ThreeFactorReadout", 2, eta=-1.0),
        more=_readout_fit),
    "biosim.dendrites.active.ActiveDendriteClassifier": EstimatorExample(
        _estimator("biosim.dendrites.active.ActiveDendriteClassifier", hidden=(16,), epochs=1,
                   batch_size=32),
        lambda est: est.fit(_digits()), lambda est: est.predict(_digits()[1]["x_test"]),
        _bad("biosim.dendrites.active.ActiveDendriteClassifier", hidden=(0,))),
}


def _izh(seed):
    net = bs.Network(dt=0.5, seed=seed)
    pop = net.add(bs.Izhikevich.preset("RS", 5, heterogeneity=True, name="izh"))
    net.add(bs.GaussianNoise(pop, std=4.0, mean=6.0))
    return net


def _on_lif(seed, make):
    net, lif = lif_net(seed)
    return obj(net, make(lif))
