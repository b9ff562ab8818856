"""Model specs: TOML files that describe a circuit, validated before anything runs.

A spec is a TOML table. ``kind`` (default ``"network"``) says what builds it:

- ``"network"``: populations, connections, inputs, monitors and a run length, built into a
  :class:`~biosim.core.Network` by :func:`build` (schema below). A population's ``model``
  names a builder registered with :func:`register_population_model` (core registers
  ``"poisson"``; :mod:`biosim.neurons` registers ``"izhikevich"`` and ``"lif"``);
- any other kind is registered by its family with :func:`register_kind` (the reservoir
  registers ``"what_when"`` and ``"force_sine"``), with its schema: core checks the sections
  and fields (names, types, units) as for ``"network"``, then the family builds.

Families register on import; ``import biosim`` imports the families that do, so core names
none of them. Errors name the field (``populations.exc.n: expected an integer >= 1, got -5``).
Times, rates and voltages may be written with units (``dt = "0.5 ms"``, ``rate = "20 Hz"``);
:func:`validate` converts them in place to numbers in ms, Hz and mV (see ``UNITS``; any
field named ``*_ms`` is in ms, ``*_hz`` in Hz). In specs a time is in ms (a field named
``*_ms`` when the name does not say it); counts of steps are a Python matter.
``load_model("izhikevich2003")`` finds ``models/izhikevich2003.toml``; ``override`` changes
one numeric field by its dotted path (``connections.0.weight.high``), as sweeps do.
"""
from __future__ import annotations

import copy
import math
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biosim.core import validation as check
from biosim.core.validation import BiosimError

MODEL_DIRS = [Path(__file__).resolve().parents[2] / "models"]

# ------------------------------------------------------------------ schema of kind "network"
# field -> (type, constraint); constraint: "pos", "nonneg", "prob", "int>=1", tuple of options
NUM, INT, STR, BOOL, ANY = "number", "integer", "string", "boolean", "any"
NETWORK = {"dt": (NUM, "pos"), "seed": (INT, "nonneg"), "duration": (NUM, "pos")}
POPULATION = {"model": (STR, None), "n": (INT, "int>=1")}
CONNECTION = {
    "pre": (STR, None), "post": (ANY, None),
    "connectivity": (STR, ("all_to_all", "fixed_probability", "fixed_indegree")),
    "p": (NUM, "prob"), "k": (INT, "nonneg"), "allow_self": (BOOL, None),
    "weight": (ANY, None), "delay": (NUM, "nonneg"), "target": (STR, None),
    "sparse": (BOOL, None),
}
WEIGHT = {"dist": (STR, ("uniform", "normal")), "low": (NUM, None), "high": (NUM, None),
          "mean": (NUM, None), "std": (NUM, "nonneg")}
INPUT = {"type": (STR, ("noise", "constant", "poisson")), "target": (STR, None),
         "std": (NUM, "nonneg"), "mean": (NUM, None), "every_ms": (NUM, "pos"),
         "amplitude": (NUM, None), "rate": (NUM, "nonneg"), "weight": (NUM, None),
         "n_sources": (INT, "int>=1"), "var": (STR, None)}
MONITORS = {"spikes": (ANY, None), "rate": (ANY, None)}
#: numeric fields that have a unit (any table): a string such as "2 s" is converted
UNITS = {"dt": "ms", "duration": "ms", "tau_m": "ms", "refractory": "ms", "delay": "ms",
         "rate": "Hz", "c": "mV", "v0": "mV", "v_peak": "mV", "v_rest": "mV",
         "v_reset": "mV", "v_thresh": "mV", "tau_rise": "ms", "tau_decay": "ms",
         "tau_e": "ms"}
TOP = {"kind": (STR, None), "name": (STR, None), "description": (STR, None),
       "network": (ANY, None), "populations": (ANY, None), "connections": (ANY, None),
       "inputs": (ANY, None), "monitors": (ANY, None)}


def _fields(where: str, table, schema: dict, required=()) -> None:
    if not isinstance(table, dict):
        check.fail(where, "a table", table)
    for key, value in table.items():
        field = f"{where}.{key}" if where else key
        if key not in schema:
            check.fail(field, "a known field (one of: " + ", ".join(schema) + ")", "unknown")
        kind, rule = schema[key]
        unit = _unit(key)
        if kind == NUM and unit and isinstance(value, str):
            value = table[key] = check.number(field, value, unit=unit)
        _value(field, value, kind, rule)
    for key in required:
        if key not in table:
            check.fail(f"{where}.{key}" if where else key, "a value (required)", "missing")


def _unit(key: str) -> str | None:
    if key in UNITS:
        return UNITS[key]
    return "ms" if key.endswith("_ms") else "Hz" if key.endswith("_hz") else None


def _value(field, value, kind, rule):
    if kind == NUM:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            check.fail(field, "a number", value)
        if rule == "pos":
            check.positive(field, value)
        elif rule == "nonneg":
            check.nonnegative(field, value)
        elif rule == "prob":
            check.probability(field, value)
        else:
            check.number(field, value)
    elif kind == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            check.fail(field, "an integer", value)
        check.integer(field, value, low=1 if rule == "int>=1" else 0)
    elif kind == STR:
        if not isinstance(value, str):
            check.fail(field, "a string", value)
        if isinstance(rule, tuple):
            check.choice(field, value, rule)
    elif kind == BOOL and not isinstance(value, bool):
        check.fail(field, "true or false", value)


def validate(spec: dict) -> dict:
    """Check a spec; returns it. Raises BiosimError naming the first bad field."""
    if not isinstance(spec, dict):
        check.fail("spec", "a TOML table", spec)
    kind = spec.get("kind", "network")
    if not isinstance(kind, str):
        check.fail("kind", "a string", kind)
    if kind != "network":
        family = _family(kind)
        if family.schema is not None:
            check_sections(spec, family.schema)
        return family.validate(spec)
    _fields("", spec, TOP, required=("network", "populations"))
    _fields("network", spec["network"], NETWORK, required=("dt",))
    net = spec["network"]
    pops = spec["populations"]
    if not isinstance(pops, dict) or not pops:
        check.fail("populations", "at least one [populations.NAME] table", pops)
    for name, pop in pops.items():
        where = f"populations.{name}"
        if not isinstance(pop, dict):
            check.fail(where, "a table", pop)
        if "model" not in pop:
            check.fail(f"{where}.model", "a value (required)", "missing")
        _value(f"{where}.model", pop["model"], STR, tuple(POPULATION_MODELS))
        schema = {**POPULATION, **POPULATION_MODELS[pop["model"]].fields}
        _fields(where, pop, schema, required=("n",))
        _stable_dt(where, pop, net["dt"])
    for k, con in enumerate(_list("connections", spec.get("connections", []))):
        where = f"connections.{k}"
        _fields(where, con, CONNECTION, required=("pre", "post"))
        posts = con["post"] if isinstance(con["post"], list) else [con["post"]]
        for field, name in [("pre", con["pre"])] + [("post", p) for p in posts]:
            _population(f"{where}.{field}", name, pops)
        conn = con.get("connectivity", "all_to_all")
        need = {"fixed_probability": "p", "fixed_indegree": "k"}.get(conn)
        if need and need not in con:
            check.fail(f"{where}.{need}", f"a value for connectivity = {conn!r}", "missing")
        w = con.get("weight", 1.0)
        if isinstance(w, dict):
            _fields(f"{where}.weight", w, WEIGHT, required=("dist",))
            if w["dist"] == "uniform" and w.get("low", 0.0) > w.get("high", 1.0):
                check.fail(f"{where}.weight.low", f"<= weight.high = {w.get('high', 1.0)}",
                           w.get("low", 0.0))
        else:
            _value(f"{where}.weight", w, NUM, None)
        if "delay" in con:
            steps = con["delay"] / net["dt"]
            if not math.isfinite(steps) or abs(steps - round(steps)) > 1e-9:
                check.fail(f"{where}.delay", f"a multiple of network.dt = {net['dt']} ms",
                           con["delay"])
    for k, inp in enumerate(_list("inputs", spec.get("inputs", []))):
        _fields(f"inputs.{k}", inp, INPUT, required=("type", "target"))
        _population(f"inputs.{k}.target", inp["target"], pops)
    mons = spec.get("monitors", {})
    _fields("monitors", mons, MONITORS)
    for key, names in mons.items():
        for name in names if isinstance(names, list) else [names]:
            _population(f"monitors.{key}", name, pops)
    return spec


def check_sections(spec: dict, schema: dict) -> None:
    """Check a family's spec against its ``schema`` ({section: {field: (type, constraint)}}):
    the top fields (kind, name, description and the sections), each section a table of
    known fields of the right type; unit strings converted in place."""
    top = {k: TOP[k] for k in ("kind", "name", "description")}
    _fields("", spec, {**top, **{section: (ANY, None) for section in schema}})
    for section, fields in schema.items():
        _fields(section, spec.get(section, {}), fields)


def _list(field, x) -> list:
    if not isinstance(x, list):
        check.fail(field, "an array of tables ([[" + field + "]])", x)
    return x


def _population(field, name, pops) -> None:
    if not isinstance(name, str) or name not in pops:
        check.fail(field, f"a population in [populations] ({', '.join(map(str, pops))})", name)


def _stable_dt(where, pop, dt):
    limit = POPULATION_MODELS[pop["model"]].max_dt(pop)
    if limit is not None and dt > limit:
        check.fail("network.dt", f"<= {limit} ms for {where} (model {pop['model']!r}; "
                                 "larger steps are unstable)", dt)


def _family(kind):
    if kind not in KINDS:
        check.fail("kind", "one of " + ", ".join(["network", *KINDS]), kind)
    return KINDS[kind]


# ------------------------------------------------------------------ registries
@dataclass(frozen=True)
class PopulationModel:
    """How a spec's ``[populations.NAME]`` table with ``model = NAME`` becomes a
    Population: ``fields`` (schema beyond ``model`` and ``n``), ``build(n, name, table)``,
    and ``max_dt(table)`` (the largest stable step in ms, or None)."""
    fields: dict
    build: object
    max_dt: object


@dataclass(frozen=True)
class Kind:
    """A spec kind other than ``"network"``: ``validate(spec) -> spec``,
    ``evaluate(spec, seed) -> {metric: float}`` and ``schema`` ({section: {field: (type,
    constraint)}}, checked by core before ``validate``; None: the family checks all)."""
    validate: object
    evaluate: object
    schema: dict | None = None


#: model name -> PopulationModel, filled by the families on import
POPULATION_MODELS: dict[str, PopulationModel] = {}
#: spec kind -> Kind, filled by the families on import
KINDS: dict[str, Kind] = {}


def register_population_model(name: str, build, fields: dict, max_dt=None) -> None:
    """Let specs build populations of ``model = name``: ``build(n, name, table)`` returns
    the Population from the validated table, ``fields`` maps each further field to
    ``(type, constraint)`` as in :data:`NETWORK`, ``max_dt(table)`` gives the largest
    stable dt in ms (or None)."""
    POPULATION_MODELS[name] = PopulationModel(dict(fields), build,
                                              max_dt or (lambda table: None))


def register_kind(kind: str, validate, evaluate, schema: dict | None = None) -> None:
    """Let specs of ``kind = kind`` be validated and evaluated (run by sweeps and
    ``biosim run``) by the family's ``validate(spec)`` and ``evaluate(spec, seed)``.
    ``schema``: the kind's sections, {section: {field: (type, constraint)}} as in
    :data:`NETWORK`; core checks names, types and units first (the same loader and errors
    as ``"network"``), then calls ``validate``, which builds."""
    if kind == "network":
        check.fail("kind", "a name other than 'network'", kind)
    KINDS[kind] = Kind(validate, evaluate, schema)


# ------------------------------------------------------------------ loading
def find_model(name_or_path) -> Path:
    if not isinstance(name_or_path, (str, Path)):
        check.fail("spec", "a path or a model name", name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise BiosimError(f"spec: file not found: {path}")
        return path
    for d in MODEL_DIRS:
        if (d / f"{name_or_path}.toml").is_file():
            return d / f"{name_or_path}.toml"
    known = sorted({p.stem for d in MODEL_DIRS if d.is_dir() for p in d.glob("*.toml")})
    raise BiosimError(f"spec: no model named {name_or_path!r} (known: {', '.join(known)})")


def load_spec(name_or_path) -> dict:
    """Read and validate a spec from a path or a model name in ``models/``."""
    path = find_model(name_or_path)
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BiosimError(f"{path.name}: malformed TOML, expected UTF-8 text ({e})") from None
    except OSError as e:
        raise BiosimError(f"spec: cannot read {path} ({e.strerror})") from None
    return validate(spec)


@contextmanager
def _prefix(where):
    """Errors of the constructors name the spec field (``populations.exc.c: ...``)."""
    try:
        yield
    except BiosimError as e:
        raise BiosimError(f"{where}.{e}") from None


def override(spec: dict, field: str, value) -> dict:
    """A copy of ``spec`` with the numeric ``field`` (dotted path) set to ``value``."""
    new = copy.deepcopy(spec)
    parts = field.split(".")
    node = new
    for depth, key in enumerate(parts):
        where = ".".join(parts[:depth + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                check.fail(where, f"an index < {len(node)}", key)
            key = int(key)
        elif not isinstance(node, dict) or key not in node:
            options = ", ".join(map(str, node)) if isinstance(node, dict) else "none"
            check.fail(where, f"a field of the spec (here: {options})", "unknown")
        if depth == len(parts) - 1:
            old = node[key]
            if isinstance(old, bool) or not isinstance(old, (int, float)):
                check.fail(field, "a numeric field to set", old)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                check.fail(field, "a number", value)
            node[key] = int(value) if isinstance(old, int) and float(value).is_integer() \
                else float(value)
        else:
            node = node[key]
    return validate(new)


# ------------------------------------------------------------------ building and running
def build(spec: dict, seed=None):
    """A :class:`~biosim.core.Network` from a validated ``kind = "network"`` spec; returns
    ``(net, monitors)`` with monitors keyed ``"spikes.NAME"`` / ``"rate.NAME"``."""
    from biosim import core

    spec = validate(spec)
    net_spec = spec["network"]
    seed = net_spec.get("seed") if seed is None else seed
    net = core.Network(dt=net_spec["dt"], seed=seed)
    pops = {}
    for name, p in spec["populations"].items():
        build_population = POPULATION_MODELS[p["model"]].build
        with _prefix(f"populations.{name}"):
            pops[name] = net.add(build_population(p["n"], name, p))
    for k, con in enumerate(spec.get("connections", [])):
        conn = {"all_to_all": lambda: core.all_to_all(con.get("allow_self", True)),
                "fixed_probability": lambda: core.fixed_probability(
                    con["p"], con.get("allow_self", True)),
                "fixed_indegree": lambda: core.fixed_indegree(
                    con["k"], con.get("allow_self", True))}[con.get("connectivity",
                                                                    "all_to_all")]()
        w = con.get("weight", 1.0)
        if isinstance(w, dict):
            w = (core.uniform(w.get("low", 0.0), w.get("high", 1.0)) if w["dist"] == "uniform"
                 else core.normal(w.get("mean", 0.0), w.get("std", 1.0)))
        posts = con["post"] if isinstance(con["post"], list) else [con["post"]]
        for post in posts:
            with _prefix(f"connections.{k}"):
                net.connect(pops[con["pre"]], pops[post], conn, weight=w,
                            delay=con.get("delay", 0.0), target=con.get("target", "I"),
                            sparse=con.get("sparse"))
    for k, inp in enumerate(spec.get("inputs", [])):
        target, var = pops[inp["target"]], inp.get("var", "I")
        with _prefix(f"inputs.{k}"):
            if inp["type"] == "noise":
                every = max(1, int(round(inp.get("every_ms", net.dt) / net.dt)))
                net.add(core.GaussianNoise(target, inp.get("std", 1.0), inp.get("mean", 0.0),
                                           every=every, var=var))
            elif inp["type"] == "constant":
                net.add(core.ConstantCurrent(target, inp.get("amplitude", 0.0), var=var))
            else:
                net.add(core.PoissonInput(target, inp.get("rate", 0.0),
                                          inp.get("weight", 1.0), inp.get("n_sources", 1),
                                          var=var))
    monitors = {}
    for key, names in spec.get("monitors", {"spikes": list(pops)}).items():
        for name in names if isinstance(names, list) else [names]:
            monitors[f"{key}.{name}"] = net.monitor(pops[name], key)
    return net, monitors


def load_model(name_or_path, seed=None):
    """Build the Network of a spec (path or name in ``models/``); returns the Network, with
    its monitors in ``net.spec_monitors``."""
    net, monitors = build(load_spec(name_or_path), seed)
    net.spec_monitors = monitors
    return net


def evaluate(spec: dict, seed: int) -> dict[str, float]:
    """Build, run and measure a spec: the metrics a sweep records."""
    kind = spec.get("kind", "network")
    if kind != "network":
        return _family(kind).evaluate(spec, seed)
    net, monitors = build(spec, seed)
    duration = spec["network"].get("duration", 1000.0)
    net.run(duration)
    metrics = {}
    for key, mon in monitors.items():
        if key.startswith("spikes."):
            metrics[f"rate_hz.{key[7:]}"] = float(mon.count.mean() / (duration * 1e-3))
            metrics[f"cv_isi.{key[7:]}"] = _mean_cv(mon.spike_trains())
    return metrics


def _mean_cv(trains) -> float:
    cvs = [np.std(d) / np.mean(d) for d in (np.diff(s) for s in trains) if d.size > 2]
    return float(np.mean(cvs)) if cvs else math.nan


def _poisson(n, name, table):
    from biosim.core.population import PoissonGroup

    return PoissonGroup(n, table.get("rate", 0.0), name=name)


register_population_model("poisson", _poisson, {"rate": (NUM, "nonneg")})
