"""Conformance suite (in the spirit of scikit-learn's ``check_estimator`` and NEST's model
tests): every Population, Rule, Monitor, Input and Estimator class of biosim, found by
walking the package, goes through the same checks:

- ``construct``: its example builds, holding an object of exactly that class;
- ``step``: it runs inside a Network and does something (a population's state or activity
  changes, a rule changes weights, a monitor records, an input reaches its buffer); an
  estimator trains and gives finite output;
- ``same_seed``: two builds with the same seed give bit-identical results;
- ``save_load``: ``Network.save``/``load`` (``est.save``/``load``) mid-run, then both
  continue (run on; an estimator that learns incrementally trains on): bit-identical;
- ``activity_kinds``: each kind a population declares holds what ``KINDS`` says, every step;
- ``wrong_kind``: a monitor or rule of a kind the object does not have (or a source it does
  not accept) is refused with a BiosimError naming both, and every kind a rule or monitor
  says it accepts is taken;
- ``bad_input``: bad constructor input gives a one-line BiosimError.

The examples live in ``examples.py``; a class without one fails ``test_every_class_has_an
_example``.
"""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import biosim
import biosim as bs
from biosim.core.estimator import Estimator
from biosim.core.inputs import Input
from biosim.core.monitors import Monitor, OrderParameterMonitor, SpikeMonitor, source_kinds
from biosim.core.plasticity import Rule
from biosim.core.population import KINDS, Population

from .examples import EXAMPLES, Example, EstimatorExample

BASES = (Population, Rule, Monitor, Input, Estimator)
STEPS, HALF = 40, 17


def discover() -> dict[str, type]:
    """Every public subclass of the BASES defined in a biosim module, by qualified name."""
    for info in pkgutil.walk_packages(biosim.__path__, "biosim."):
        importlib.import_module(info.name)  # every extra is installed where the suite runs
    found, stack = {}, list(BASES)
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            name = f"{sub.__module__}.{sub.__qualname__}"
            if (sub.__module__.startswith("biosim.") and not sub.__name__.startswith("_")
                    and "<locals>" not in sub.__qualname__):
                found[name] = sub
    return dict(sorted(found.items()))


CLASSES = discover()


def base_of(cls) -> type:
    return next(b for b in BASES if issubclass(cls, b))


def covered(*bases, need=None):
    """Parameters: the discovered classes (of ``bases``) that have an example."""
    out = []
    for name, cls in CLASSES.items():
        ex = EXAMPLES.get(name)
        if ex is None or (bases and base_of(cls) not in bases) or (need and not need(ex)):
            continue
        out.append(pytest.param(name, id=name.rsplit(".", 1)[1]))
    return out


def example(name, check):
    ex = EXAMPLES[name]
    if check in ex.xfail:
        pytest.xfail(ex.xfail[check])
    return ex


# ---------------------------------------------------------------- what a network holds
def fingerprint(net) -> dict[str, np.ndarray]:
    """Every number a run leaves behind: states, activities, input buffers, weights, rule
    traces, monitor records."""
    out = {"t": np.asarray(net.step_count)}
    for p in net.populations:
        for k, v in p.state.items():
            out[f"{p.name}.state.{k}"] = np.array(v, copy=True)
        for k, v in p.inputs.items():
            out[f"{p.name}.inputs.{k}"] = np.array(v, copy=True)
        out[f"{p.name}.activity"] = np.array(p.activity, copy=True)
    for k, proj in enumerate(net.projections):
        out[f"proj{k}.w"] = proj.weights.flat_values().copy()
        for a in ("pre_trace", "post_trace", "eligibility_"):
            v = getattr(proj.rule, a, None)
            if v is not None:
                out[f"proj{k}.{a}"] = np.array(v, copy=True)
    for k, m in enumerate(net.monitors):
        for a in ("t", "i", "values", "counts", "r", "psi"):
            if hasattr(type(m), a):
                out[f"mon{k}.{a}"] = np.array(getattr(m, a), copy=True)
    return out


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k, strict=True)


def changed(before: dict, after: dict, prefix: str) -> bool:
    keys = [k for k in after if k.startswith(prefix)]
    assert keys, f"nothing named {prefix}* to compare"
    return any(k not in before or before[k].shape != after[k].shape
               or not np.array_equal(before[k], after[k]) for k in keys)


def own(net, obj) -> str:
    """The fingerprint prefix of ``obj`` in ``net``."""
    if isinstance(obj, Population):
        return f"{obj.name}."
    if isinstance(obj, Rule):
        return f"proj{[p.rule for p in net.projections].index(obj)}.w"
    if isinstance(obj, Monitor):
        return f"mon{[id(m) for m in net.monitors].index(id(obj))}."
    return f"{obj.target.name}.inputs.{obj.var}"   # an input: the buffer it adds to


# ---------------------------------------------------------------- coverage
def test_every_class_has_an_example():
    """A new Population/Rule/Monitor/Input/Estimator fails here until examples.py has one."""
    assert len(CLASSES) >= 25, sorted(CLASSES)
    missing = [name for name in CLASSES if name not in EXAMPLES]
    assert not missing, ("add an example to tests/conformance/examples.py for: "
                         + ", ".join(missing))
    for name, cls in CLASSES.items():
        kind = EstimatorExample if issubclass(cls, Estimator) else Example
        assert isinstance(EXAMPLES[name], kind), f"{name}: expected an {kind.__name__}"


def test_no_stale_examples():
    """Every example names a class that exists (a renamed class keeps its example)."""
    for name in EXAMPLES:
        module, _, attr = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attr, None), type), name


# ---------------------------------------------------------------- network objects
NETWORK_OBJECTS = covered(Population, Rule, Monitor, Input)


@pytest.mark.parametrize("name", NETWORK_OBJECTS)
def test_construct(name):
    net, obj = example(name, "construct").build(0)
    assert type(obj) is CLASSES[name]
    assert isinstance(net, bs.Network)


@pytest.mark.parametrize("name", NETWORK_OBJECTS)
def test_step(name):
    net, obj = example(name, "step").build(0)
    prefix = own(net, obj)
    first = fingerprint(net)
    moved = False
    for _ in range(STEPS):
        net.step()
        now = fingerprint(net)
        moved |= changed(first, now, prefix)
    for k, v in now.items():
        if v.dtype.kind in "fc":
            assert np.isfinite(v).all(), k
    assert moved, f"nothing of {prefix}* changed in {STEPS} steps"
    if isinstance(obj, Population):
        shape = (obj.n, 2) if obj.activity_kinds[0] == "phase" else (obj.n,)
        assert obj.activity.shape == shape
        for kind in obj.activity_kinds:
            assert len(obj.activity_of(kind)) == obj.n


def check_kind(kind, x, n):
    """What :data:`biosim.core.population.KINDS` promises of an activity array."""
    x = np.asarray(x)
    if kind == "phase":
        assert x.shape == (n, 2)
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-12)
        return
    assert x.shape == (n,)
    if kind in ("spikes", "binary"):
        assert x.dtype == bool or np.isin(x, (0.0, 1.0)).all(), f"{kind}: not 0/1"
    elif kind == "rate":
        assert x.dtype.kind == "f" and (x >= 0).all(), "rate: negative"
    else:
        assert x.dtype.kind == "f"


@pytest.mark.parametrize("name", covered(Population))
def test_activity_kinds(name):
    """Every step, each declared kind holds what KINDS says (spikes 0/1, rates >= 0, phases
    unit vectors, ...), and a spike monitor counts exactly the spikes of the spike kind."""
    net, pop = example(name, "step").build(0)
    spikes = net.monitor(pop, "spikes") if "spikes" in pop.activity_kinds else None
    total = 0
    for _ in range(STEPS):
        net.step()
        for kind in pop.activity_kinds:
            check_kind(kind, pop.activity_of(kind), pop.n)
        if spikes is not None:
            total += int(np.count_nonzero(pop.activity_of("spikes")))
    if spikes is not None:
        assert spikes.count.sum() == total


@pytest.mark.parametrize("name", NETWORK_OBJECTS)
def test_same_seed(name):
    ex = example(name, "same_seed")
    runs = []
    for _ in range(2):
        net, _ = ex.build(3)
        net.run(STEPS * net.dt)
        runs.append(fingerprint(net))
    assert_same(*runs)


@pytest.mark.parametrize("name", NETWORK_OBJECTS)
def test_save_load(name, tmp_path):
    """A checkpoint mid-run continues bit for bit (generic loop and, where the network has
    one, the fused kernel)."""
    ex = example(name, "save_load")
    net, _ = ex.build(1)
    net.run(HALF * net.dt)
    net.save(tmp_path / "ckpt.npz")
    back = bs.Network.load(tmp_path / "ckpt.npz", **ex.load)
    assert_same(fingerprint(back), fingerprint(net))
    net.run(HALF * net.dt)
    back.run(HALF * back.dt)
    assert_same(fingerprint(back), fingerprint(net))


# ---------------------------------------------------------------- kinds
def sample(kind, seed=0):
    """(net, population) of an example population whose activity is ``kind`` and that has
    an input ``I``; None if no population class has that kind."""
    for name, cls in CLASSES.items():
        if issubclass(cls, Population) and cls.activity_kinds[0] == kind \
                and "I" in cls.input_names and name in EXAMPLES:
            return EXAMPLES[name].build(seed)
    return None


SAMPLES = {kind: sample(kind) is not None for kind in KINDS}


def test_every_kind_has_a_population():
    assert all(SAMPLES.values()), SAMPLES


@pytest.mark.parametrize("name", covered(Population))
def test_wrong_kind_population(name):
    """A monitor of a kind the population does not have is refused, naming both."""
    net, pop = example(name, "wrong_kind").build(0)
    monitor = OrderParameterMonitor if "spikes" in pop.activity_kinds else SpikeMonitor
    with pytest.raises(bs.BiosimError) as err:
        monitor(pop)
    assert monitor.__name__ in str(err.value) and repr(pop.name) in str(err.value)
    if "spikes" not in pop.activity_kinds:
        with pytest.raises(bs.BiosimError, match=repr(pop.name)):
            net.monitor(pop, "spikes")


@pytest.mark.parametrize("name", covered(Rule))
def test_wrong_kind_rule(name):
    """The rule connects every population kind it ``accepts`` (and runs a step on it) and
    refuses every other kind at ``connect``, naming the rule and the population."""
    ex = example(name, "wrong_kind")
    _, rule = ex.build(0)
    for kind in KINDS:
        net, pop = sample(kind)
        for m in rule.modulators:
            net.modulators[m] = 1.0
        if kind in rule.accepts:
            net.connect(pop, pop, weight=0.0, rule=rule, sparse=False)  # connect copies it
            net.step()
            net.step()
        else:
            with pytest.raises(bs.BiosimError) as err:
                net.connect(pop, pop, weight=0.0, rule=rule)
            assert type(rule).__name__ in str(err.value) and repr(pop.name) in str(err.value)


@pytest.mark.parametrize("name", covered(Monitor))
def test_wrong_kind_monitor(name):
    """The monitor records every population kind it ``accepts`` and refuses every other
    source (a population of another kind, or a projection), naming both."""
    ex = example(name, "wrong_kind")
    net, mon = ex.build(0)
    cls = type(mon)
    sources = {kind: sample(kind) for kind in KINDS}
    proj_net, _ = EXAMPLES["biosim.core.plasticity.STDP"].build(0)
    for net, source in [*sources.values(), (proj_net, proj_net.projections[0])]:
        if set(source_kinds(source)) & set(cls.accepts):
            net.add(ex.on(source))
            net.step()
            net.step()
        else:
            with pytest.raises(bs.BiosimError) as err:
                ex.on(source)
            msg = str(err.value)
            assert cls.__name__ in msg and repr(source.name) in msg and "\n" not in msg


@pytest.mark.parametrize("name", covered(Input))
def test_wrong_kind_input(name):
    """An input on a population without the buffer it writes is refused, naming the buffer."""
    ex = example(name, "wrong_kind")
    net = bs.Network(dt=0.5, seed=0)
    silent = net.add(bs.PoissonGroup(4, 10.0, name="silent"))
    with pytest.raises(bs.BiosimError, match=r"^var: .*'silent'"):
        ex.on(silent)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", covered())
def test_bad_input(name):
    ex = example(name, "bad_input")
    with pytest.raises(bs.BiosimError) as err:
        ex.bad()
    msg = str(err.value)
    assert "\n" not in msg and ": " in msg[:80], msg


# ---------------------------------------------------------------- estimators
ESTIMATORS = covered(Estimator)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_construct(name):
    """The constructor stores its arguments under their names and learns nothing;
    get_params/set_params/clone follow the signature."""
    est = example(name, "construct").make(0)
    assert type(est) is CLASSES[name]
    params = est.get_params()
    again = type(est)(**params).get_params()   # stored as given, under the same names
    assert params and again.keys() == params.keys()
    for k in params:
        np.testing.assert_equal(again[k], params[k], err_msg=k)
    assert not est.fitted_attributes()
    clone = est.clone()
    assert clone is not est and clone.get_params().keys() == params.keys()
    with pytest.raises(bs.BiosimError, match="set_params"):
        est.set_params(no_such_parameter=1)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_step(name):
    ex = example(name, "step")
    est = ex.fit(ex.make(0))
    assert est.fitted_attributes()
    out = np.asarray(ex.output(est))
    assert out.size and (out.dtype.kind not in "fc" or np.isfinite(out).all())


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_same_seed(name):
    ex = example(name, "same_seed")
    a, b = (np.asarray(ex.output(ex.fit(ex.make(5)))) for _ in range(2))
    np.testing.assert_array_equal(a, b, strict=True)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_save_load(name, tmp_path):
    """A saved and loaded estimator gives the same output, and (where it learns
    incrementally) continues training exactly as the one that was not saved."""
    ex = example(name, "save_load")
    est = ex.fit(ex.make(2))
    est.save(tmp_path / "model")
    back = type(est).load(tmp_path / "model")
    assert type(back) is type(est)
    assert back.get_params().keys() == est.get_params().keys()
    np.testing.assert_array_equal(np.asarray(ex.output(back)), np.asarray(ex.output(est)),
                                  strict=True)
    if ex.more is not None:
        ex.more(est), ex.more(back)
        np.testing.assert_array_equal(np.asarray(ex.output(back)),
                                      np.asarray(ex.output(est)), strict=True)
