"""Model specs: every bad spec fails before anything runs, with one line naming the field."""
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import biosim as bs
from biosim.core.spec import evaluate, load_spec, override, validate

ROOT = Path(__file__).resolve().parents[2]
BASE = tomllib.loads((ROOT / "models/izhikevich2003.toml").read_text())


def spec_with(path, value):
    spec = json.loads(json.dumps(BASE))
    node = spec
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    if value is KeyError:
        del node[keys[-1]]
    else:
        node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value
    return spec


@pytest.mark.parametrize("path,value,field,expected", [
    ("populations.exc.nn", 3, "populations.exc.nn", "known field"),            # unknown key
    ("network.dtt", 1.0, "network.dtt", "known field"),
    ("populations.exc.n", "800", "populations.exc.n", "integer"),             # wrong type
    ("inputs.0.std", "5", "inputs.0.std", "number"),
    ("populations.exc.n", -5, "populations.exc.n", ">= 1"),                   # negative
    ("inputs.0.std", -5.0, "inputs.0.std", ">= 0"),
    ("inputs.0.std", float("nan"), "inputs.0.std", "finite"),                 # NaN
    ("network.dt", float("nan"), "network.dt", "finite"),
    ("network.dt", 2.0, "network.dt", "<= 1.0 ms"),                           # unstable dt
    ("connections.0.pre", "thalamus", "connections.0.pre", "population"),     # missing pop
    ("connections.1.post", ["exc", "ghost"], "connections.1.post", "population"),
    ("inputs.1.target", "ghost", "inputs.1.target", "population"),
    ("populations.exc.model", "hodgkin", "populations.exc.model", "one of"),
    ("network.dt", KeyError, "network.dt", "required"),
])
def test_bad_spec_names_the_field(path, value, field, expected):
    with pytest.raises(bs.BiosimError) as err:
        validate(spec_with(path, value))
    msg = str(err.value)
    assert msg.startswith(field + ":") and expected in msg and "\n" not in msg


def test_euler_scheme_has_a_smaller_stable_dt():
    spec = spec_with("populations.exc.scheme", "euler")
    with pytest.raises(bs.BiosimError, match=r"network.dt: expected <= 0.5 ms"):
        validate(spec)


def test_malformed_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[network\ndt = 1")
    with pytest.raises(bs.BiosimError, match="bad.toml: malformed TOML"):
        load_spec(bad)
    with pytest.raises(bs.BiosimError, match="file not found"):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(bs.BiosimError, match="no model named"):
        load_spec("nope")


def test_load_model_builds_the_2003_network():
    net = bs.load_model("izhikevich2003")
    assert [p.n for p in net.populations] == [800, 200]
    assert len(net.projections) == 4 and len(net.inputs) == 2
    W = net.projections[0].W
    assert W.shape == (800, 800) and 0 <= W.min() and W.max() <= 0.5
    assert -1 <= net.projections[2].W.min() and net.projections[2].W.max() <= 0
    c = net.populations[0].params["c"]
    assert -65 <= c.min() and c.max() <= -50 and c.std() > 1  # c = -65 + 15 r^2


def test_override_and_evaluate():
    spec = override(BASE, "inputs.0.std", 6.0)
    assert spec["inputs"][0]["std"] == 6.0 and BASE["inputs"][0]["std"] == 5.0
    with pytest.raises(bs.BiosimError, match="inputs.0.sd"):
        override(BASE, "inputs.0.sd", 1.0)
    with pytest.raises(bs.BiosimError, match="populations.exc.model"):
        override(BASE, "populations.exc.model", 1.0)
    with pytest.raises(bs.BiosimError, match="network.dt"):
        override(BASE, "network.dt", 3.0)
    small = override(override(BASE, "network.duration", 200.0), "populations.exc.n", 80)
    metrics = evaluate(small, seed=1)
    assert set(metrics) >= {"rate_hz.exc", "rate_hz.inh"}
    assert 0 < metrics["rate_hz.exc"] < 100


def test_cli_run_writes_spikes_and_raster(tmp_path):
    out = tmp_path / "res"
    r = subprocess.run([sys.executable, "-m", "biosim.cli", "run", "izhikevich2003",
                        "--duration", "200", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = np.load(out / "spikes.npz")
    assert data["exc_t_ms"].size > 100 and data["exc_t_ms"].max() < 200
    assert (out / "raster.png").stat().st_size > 10_000
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "models/izhikevich2003.toml").read_text().replace("n = 800", "n = -1"))
    r = subprocess.run([sys.executable, "-m", "biosim.cli", "run", str(bad), "--out",
                        str(out)], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == ("biosim run: error: populations.exc.n: expected an integer "
                                ">= 1, got -1")


def test_families_register_their_models_and_kinds():
    """Core names no family: the neurons register ``izhikevich``/``lif`` and the reservoir its
    kinds on import; a field of another model is refused; a newly registered model builds."""
    from biosim.core import spec as core_spec

    assert {"poisson", "izhikevich", "lif"} <= set(core_spec.POPULATION_MODELS)
    assert {"what_when", "force_sine"} <= set(core_spec.KINDS)
    with pytest.raises(bs.BiosimError, match=r"^populations.exc.tau_m: .*known field"):
        validate(spec_with("populations.exc.tau_m", 10.0))    # a LIF field on Izhikevich
    core_spec.register_population_model(
        "slow_lif", lambda n, name, table: bs.LIF(n, tau_m=table["tau_m"], name=name),
        {"tau_m": ("number", "pos")}, max_dt=lambda table: 0.1)
    try:
        spec = spec_with("populations.inh", {"model": "slow_lif", "n": 3, "tau_m": 50.0})
        with pytest.raises(bs.BiosimError, match=r"network.dt: expected <= 0.1 ms"):
            validate(spec)
        spec["network"]["dt"] = 0.1
        net, _ = core_spec.build(spec)
        inh = net.populations[1]
        assert isinstance(inh, bs.LIF) and inh.n == 3 and inh.tau_m == 50.0
    finally:
        del core_spec.POPULATION_MODELS["slow_lif"]
