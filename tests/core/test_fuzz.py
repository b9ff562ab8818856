"""Fuzzing the spec loader and the command-line parsers (issue 16, item 8): whatever a user
writes, the only exception is a one-line BiosimError (argparse's own usage errors aside)."""
import copy
import tomllib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biosim.core.spec import MODEL_DIRS, build, validate
from biosim.core.validation import BiosimError

SPECS = [tomllib.loads((MODEL_DIRS[0] / f"{name}.toml").read_text())
         for name in ("izhikevich2003", "what_when", "force_sine")]
FAST = settings(max_examples=1500, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.integers(-3, 300), st.sampled_from([0, -1, 2**63, 10**12, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.5, 1e-12, 1e300]),
    st.text(max_size=6), st.sampled_from(["RS", "lif", "uniform", "noise", "exc", "inh"]),
    st.booleans())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=5)


def paths(node, prefix=()):
    """Every (container path, key) of a spec, tables and arrays alike."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield prefix, key
        if isinstance(value, (dict, list)):
            yield from paths(value, prefix + (key,))


@st.composite
def mutated_specs(draw):
    spec = copy.deepcopy(draw(st.sampled_from(SPECS)))
    for _ in range(draw(st.integers(1, 3))):
        where = list(paths(spec))
        if not where:
            break
        prefix, key = draw(st.sampled_from(where))
        node = spec
        for k in prefix:
            node = node[k]
        action = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
        if action == "set":
            node[key] = draw(values)
        elif action == "delete":
            del node[key]
        elif isinstance(node, dict):
            node[draw(st.text(max_size=5))] = draw(values)
        else:
            node.append(draw(values))
    return spec


def small(spec):
    pops = spec.get("populations", {})
    return all(isinstance(p, dict) and p.get("n", 1) <= 300 for p in pops.values())


@FAST
@given(mutated_specs())
def test_fuzz_spec_loader(spec):
    """validate (and build, for networks of small size) raises BiosimError or nothing."""
    try:
        validate(spec)
        if spec.get("kind", "network") == "network" and small(spec):
            build(spec)
    except BiosimError as e:
        assert "\n" not in str(e) and ":" in str(e)


# ------------------------------------------------------------------ command-line arguments
COMMANDS = {
    ("run", "izhikevich2003"): ["--duration", "--seed", "--out", "--format"],
    ("vpr", "make-synthetic"): ["--places", "--conditions", "--seed", "--out"],
    ("vpr", "baseline"): ["--reference", "--query", "--gt", "--tolerance", "--sequence",
                          "--out"],
    ("vpr", "train"): ["--config", "--out", "--epochs", "--backend", "--device"],
    ("vpr", "eval"): ["--model", "--query", "--gt", "--tolerance", "--every", "--offset",
                      "--count", "--assignment", "--out"],
    ("sweep", "models/what_when.toml"): ["--set", "--seeds", "--metric", "--store",
                                         "--workers", "--root-seed"],
}
words = st.one_of(
    st.integers(-10**20, 10**20).map(str), st.floats(allow_nan=True).map(str),
    st.sampled_from(["-3", "0", "1", "nan", "inf", "-1e300", "1.5", "abc", "", "same",
                     "/nonexistent/x.npy", "synthetic", "numba", "a=1", "x=1:2:3"]),
    st.text(max_size=8))


@st.composite
def command_lines(draw):
    head, options = draw(st.sampled_from(sorted(COMMANDS.items())))
    argv = list(head)
    for opt in draw(st.lists(st.sampled_from(options), max_size=5)):
        argv += [opt, draw(words)]
    return argv


PARSER = {}


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(command_lines())
def test_fuzz_cli_arguments(argv):
    """The parser of ``biosim`` (argparse, then the subcommand's ``check_args``, as
    :func:`biosim.cli.parse` does) raises BiosimError or argparse's SystemExit, nothing else,
    and runs nothing."""
    from biosim.cli import build_parser

    if not PARSER:  # built once: the examples then take ~1 ms each
        PARSER["parser"], PARSER["modules"] = build_parser()
    try:
        args = PARSER["parser"].parse_args(argv)
        check = getattr(PARSER["modules"][args.command], "check_args", None)
        if check is not None:
            check(args)
    except SystemExit as e:
        assert e.code == 2
    except BiosimError as e:
        assert "\n" not in str(e)


# ------------------------------------------------------------------ Python API
def _net():
    import biosim as bs

    net = bs.Network(dt=0.5, seed=1)
    return net, net.add(bs.Izhikevich(4, name="a")), net.add(bs.LIF(3, name="b"))


def _api(target, kw):
    import biosim as bs

    pick = lambda *names: {k: kw[k] for k in names if k in kw}  # noqa: E731
    net, a, b = _net()
    return {
        "Izhikevich": lambda: bs.Izhikevich(3, **pick("a", "b", "c", "d", "v0", "u0", "v_peak",
                                                      "scheme", "name")),
        "LIF": lambda: bs.LIF(3, **pick("tau_m", "v_rest", "v_reset", "v_thresh", "R",
                                        "refractory", "conductance", "name")),
        "PoissonGroup": lambda: bs.PoissonGroup(3, kw.get("rates", 1.0)),
        "SpikeGenerator": lambda: bs.SpikeGenerator(3, kw.get("indices", [0]),
                                                    kw.get("times", [1.0])),
        "ConstantCurrent": lambda: bs.ConstantCurrent(b, kw.get("amplitude", 1.0),
                                                      **pick("var", "indices")),
        "GaussianNoise": lambda: bs.GaussianNoise(b, kw.get("std", 1.0), kw.get("mean", 0.0),
                                                  **pick("every", "var", "indices")),
        "PoissonInput": lambda: bs.PoissonInput(b, kw.get("rate", 1.0), kw.get("weight", 1.0),
                                                **pick("n_sources", "var")),
        "connect": lambda: net.connect(a, b, **pick("connectivity", "weight", "delay", "target",
                                                    "sparse", "name")),
        "monitor": lambda: net.monitor(a, **pick("what", "indices", "every", "name", "window")),
        "run": lambda: net.run(kw.get("duration", 1.0), **pick("progress", "fused")),
        "STDP": lambda: net.connect(a, a, rule=bs.STDP(**pick("a_plus", "a_minus", "tau_plus",
                                                              "tau_minus", "w_min", "w_max"))),
        "fixed_probability": lambda: bs.fixed_probability(kw.get("p", 0.1),
                                                          kw.get("allow_self", True)),
        "Network": lambda: bs.Network(dt=kw.get("dt", 0.5), seed=kw.get("seed")),
    }[target]


API_KEYS = ["a", "b", "c", "d", "v0", "u0", "v_peak", "scheme", "name", "tau_m", "v_rest",
            "v_reset", "v_thresh", "R", "refractory", "conductance", "rates", "indices", "times",
            "amplitude", "var", "std", "mean", "every", "rate", "weight", "n_sources", "delay",
            "target", "sparse", "connectivity", "what", "window", "duration", "progress",
            "fused", "a_plus", "a_minus", "tau_plus", "tau_minus", "w_min", "w_max", "p",
            "allow_self", "dt", "seed"]
api_values = st.one_of(scalars, st.none(), st.lists(st.floats(-5, 5), max_size=4),
                       st.sampled_from([np.ones((2, 3)), {"a": 1}, object(), 2**70]))
TARGETS = sorted([
    "Izhikevich", "LIF", "PoissonGroup", "SpikeGenerator", "ConstantCurrent", "GaussianNoise",
    "PoissonInput", "connect", "monitor", "run", "STDP", "fixed_probability", "Network"])


@settings(max_examples=800, deadline=None, derandomize=True)
@given(st.sampled_from(TARGETS), st.dictionaries(st.sampled_from(API_KEYS), api_values,
                                                 max_size=3))
def test_fuzz_python_api(target, kw):
    """Constructors, connect, monitor and run with odd values: BiosimError or nothing."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _api(target, kw)()
        except BiosimError as e:
            assert "\n" not in str(e)
