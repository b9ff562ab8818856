"""``biosim sweep SPEC --set ...`` against a stand-in of biosim.core.spec (no model file needed)."""
import sys
from pathlib import Path

import pytest

from biosim.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep_helpers as h  # noqa: E402


@pytest.fixture(autouse=True)
def fake_spec(monkeypatch):
    h.install_fake_spec(monkeypatch)


def test_cli_sweeps_a_grid_and_prints_a_summary(tmp_path, capsys):
    argv = ["sweep", "toy", "--set", "readout.eta=1e-3:1e-1:log:3", "--set", "gate.width=20,50",
            "--seeds", "2", "--metric", "adaptation_trials", "--store", str(tmp_path / "s.sqlite"),
            "--workers", "2", "--no-progress", "--csv", str(tmp_path / "t.csv")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "adaptation_trials" in out and "accuracy" not in out and "mean" in out
    import pandas as pd

    df = pd.read_csv(tmp_path / "t.csv")
    assert len(df) == 12 and set(df["gate.width"]) == {20, 50}
    # closed form of the stand-in: 10 * width * eta + U(0, 1) noise
    excess = df.adaptation_trials - 10 * df["gate.width"] * df["readout.eta"]
    assert ((excess >= 0) & (excess < 1)).all()
    assert main(argv) == 0  # resumes: nothing to recompute, same table
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv").drop(columns="wall_s"),
                                  df.drop(columns="wall_s"))


@pytest.mark.parametrize("sets, message", [
    (["readout.tau=1,2"], "readout.tau: unknown spec field"),
    (["readout.mode=1,2"], "readout.mode: expected a numeric field"),
    (["gate.width="], "gate.width: expected values"),
    (["gate.width"], "--set: expected FIELD=VALUES"),
    ([], "--set: expected at least one"),
])
def test_cli_bad_set_is_a_clear_error(sets, message, capsys):
    argv = ["sweep", "toy", "--no-progress"] + [a for s in sets for a in ("--set", s)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_scheduler_address_gives_the_local_table(tmp_path):
    """--scheduler tcp://... submits to that Dask cluster; same table as the process pool."""
    import pandas as pd
    from dask.distributed import LocalCluster

    argv = ["sweep", "toy", "--set", "readout.eta=0.01,0.1", "--seeds", "2", "--no-progress"]
    assert main(argv + ["--workers", "2", "--csv", str(tmp_path / "local.csv")]) == 0
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        assert main(argv + ["--scheduler", cluster.scheduler_address,
                            "--csv", str(tmp_path / "dask.csv")]) == 0
    local, dask = (pd.read_csv(tmp_path / f).drop(columns="wall_s")
                   for f in ("local.csv", "dask.csv"))
    pd.testing.assert_frame_equal(local, dask)


def test_cli_sweeps_a_function(capsys):
    argv = ["sweep", "sweep_helpers:toy", "--set", "a=1,2", "--set", "b=1:100:log:3",
            "--seeds", "2", "--workers", "2", "--no-progress", "--metric", "y"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "y" in out and " z " not in out and out.count("\n") == 9  # 2 header + 6 points + 1
    assert main(argv[:-1] + ["w"]) == 2
    assert "--metric: expected a metric that fn returns, got 'w'" in capsys.readouterr().err
    assert main(["sweep", "sweep_helpers:nothing", "--set", "a=1"]) == 2
    assert "spec: expected a spec or an importable function" in capsys.readouterr().err


def test_cli_unknown_metric_fails_every_point(capsys):
    argv = ["sweep", "toy", "--set", "gate.width=20", "--metric", "speed", "--workers", "1",
            "--no-progress"]
    assert main(argv) == 1
    assert "metric 'speed': expected one of the spec's metrics" in capsys.readouterr().err


def test_cli_store_of_an_edited_spec_is_an_error(tmp_path, monkeypatch, capsys):
    argv = ["sweep", "toy", "--set", "gate.width=20", "--store", str(tmp_path / "s.sqlite"),
            "--workers", "1", "--no-progress"]
    assert main(argv) == 0
    monkeypatch.setitem(h.SPEC, "name", "edited")
    assert main(argv) == 2
    assert "belongs to a different sweep (fn 'spec:" in capsys.readouterr().err


LIF_TOML = """
name = "lif_step"
[network]
dt = 0.05
duration = 1000.0
[populations.cell]
model = "lif"
n = 1
tau_m = 20.0
v_rest = -65.0
v_reset = -65.0
v_thresh = -50.0
refractory = 2.0
[[inputs]]
type = "constant"
target = "cell"
amplitude = 20.0
"""


def test_cli_on_a_real_spec_matches_the_lif_rate_closed_form(tmp_path, monkeypatch, capsys):
    """Sweep a real spec's input current; LIF f-I curve, closed form
    rate = 1 / (t_ref + tau_m ln(RI / (RI - (v_thresh - v_rest)))) (Gerstner & Kistler 2002,
    eq. 4.11), within 1.5 Hz (dt = 0.05 ms delays each spike by < 1 step)."""
    monkeypatch.undo()  # the real biosim.core.spec, not the stand-in
    import math

    import pandas as pd

    (tmp_path / "lif.toml").write_text(LIF_TOML)
    argv = ["sweep", str(tmp_path / "lif.toml"), "--set", "inputs.0.amplitude=20,30",
            "--metric", "rate_hz.cell", "--workers", "1", "--no-progress",
            "--csv", str(tmp_path / "t.csv")]
    assert main(argv) == 0, capsys.readouterr().err
    df = pd.read_csv(tmp_path / "t.csv")
    for current, rate in zip(df["inputs.0.amplitude"], df["rate_hz.cell"]):
        want = 1e3 / (2.0 + 20.0 * math.log(current / (current - 15.0)))
        assert rate == pytest.approx(want, abs=1.5), (current, rate, want)
