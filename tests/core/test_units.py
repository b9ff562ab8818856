"""Units where users type them (issue 19): strings such as "0.5 ms", "2 s", "20 Hz" are
converted to biosim's ms / Hz / mV; bare numbers keep those units; likely slips warn."""
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import biosim as bs
from biosim.core.units import to_unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, unit, value", [
    ("0.5 ms", "ms", 0.5), ("2 s", "ms", 2000.0), ("100us", "ms", 0.1), ("1e-4 s", "ms", 0.1),
    ("250 µs", "ms", 0.25), ("1 min", "ms", 60000.0), ("20 Hz", "Hz", 20.0),
    ("0.02 kHz", "Hz", 20.0), ("-65 mV", "mV", -65.0), ("-0.07 V", "mV", -70.0),
    ("3", "ms", 3.0), ("5 * ms", "ms", 5.0)])
def test_strings_convert_to_biosim_units(text, unit, value):
    assert to_unit("x", text, unit) == pytest.approx(value, rel=1e-12)


def test_numbers_pass_through_and_wrong_kinds_name_the_field():
    assert to_unit("dt", 0.25, "ms") == 0.25
    a = np.ones(3)
    assert to_unit("rates", a, "Hz") is a
    with pytest.raises(bs.BiosimError, match=r"^dt: expected a time such as '0.5 ms' .*'20 Hz'"):
        bs.Network(dt="20 Hz")
    with pytest.raises(bs.BiosimError, match=r"^rates: expected a rate .*'5 ms'"):
        bs.PoissonGroup(3, "5 ms")
    with pytest.raises(bs.BiosimError, match="^duration: expected a time"):
        bs.Network(dt=1.0).run("two seconds")


def test_brian2_quantities_are_read_through_their_text():
    b2 = pytest.importorskip("brian2")
    assert to_unit("dt", 0.5 * b2.ms, "ms") == pytest.approx(0.5)
    assert to_unit("rate", 20 * b2.Hz, "Hz") == pytest.approx(20.0)
    assert to_unit("v", -65 * b2.mV, "mV") == pytest.approx(-65.0)


def test_lif_with_unit_strings_matches_the_closed_form():
    """Constant drive: ISI = t_ref + tau ln(R I / (R I - (theta - v_reset))), every time
    typed with units in seconds or microseconds."""
    tau, R_I, thr, ref = 20.0, 20.0, 15.0, 2.0
    net = bs.Network(dt="10 us", seed=0)
    pop = net.add(bs.LIF(1, tau_m="0.02 s", v_rest="0 mV", v_reset=0.0, v_thresh="15 mV",
                         refractory="2000 us"))
    net.add(bs.ConstantCurrent(pop, R_I))
    mon = net.monitor(pop)
    net.run("1 s")
    assert net.t == pytest.approx(1000.0)
    isi = np.diff(mon.t).mean()
    assert isi == pytest.approx(ref + tau * math.log(R_I / (R_I - thr)), rel=0.01)


def test_poisson_rate_and_delay_with_units():
    """20 Hz for 2 s over 500 sources: mean count 40 within 5 standard errors; a delay of
    '2 ms' is 4 steps of 0.5 ms."""
    net = bs.Network(dt="0.5 ms", seed=2)
    src = net.add(bs.PoissonGroup(500, "0.02 kHz"))
    out = net.add(bs.LIF(1))
    proj = net.connect(src, out, delay="2 ms")
    mon = net.monitor(src)
    net.run("2 s")
    assert mon.count.mean() == pytest.approx(40.0, abs=5 * math.sqrt(40 / 500))
    assert int(proj.delay) == 4


def test_short_runs_and_odd_time_steps_warn():
    with pytest.warns(bs.BiosimWarning, match=r"^dt: 0.0001 ms is outside"):
        bs.Network(dt=0.0001)
    with pytest.warns(bs.BiosimWarning, match=r"^duration: 2 ms is only 2 step"):
        bs.Network(dt=1.0).run(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bs.Network(dt=0.1).run(1.0)   # 10 steps: fine
        bs.Network(dt=1.0).run(0.0)   # nothing to run: fine


def test_specs_and_the_cli_take_units(tmp_path):
    """A spec written with units builds the same network as one in bare ms/Hz/mV, and
    `biosim run --duration '0.1 s'` runs 100 ms."""
    from biosim.cli import main
    from biosim.core.spec import build, load_spec

    text = (ROOT / "models" / "izhikevich2003.toml").read_text()
    with_units = (text.replace("dt = 1.0 ", 'dt = "1 ms" ')
                  .replace("duration = 1000.0", 'duration = "1 s"'))
    assert with_units != text
    (tmp_path / "u.toml").write_text(with_units)
    spec = load_spec(tmp_path / "u.toml")
    assert spec["network"]["dt"] == 1.0 and spec["network"]["duration"] == 1000.0
    net, mons = build(spec, seed=1)
    ref, ref_mons = build(load_spec("izhikevich2003"), seed=1)
    net.run(30.0), ref.run(30.0)
    np.testing.assert_array_equal(mons["spikes.exc"].t, ref_mons["spikes.exc"].t)
    bad = with_units.replace('dt = "1 ms"', 'dt = "1 Hz"')
    (tmp_path / "bad.toml").write_text(bad)
    with pytest.raises(bs.BiosimError, match=r"^network.dt: expected a time"):
        load_spec(tmp_path / "bad.toml")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "u.toml"), "--duration", "0.1 s", "--no-plot",
                 "--out", str(out)]) == 0
    import json

    assert json.loads((out / "summary.json").read_text())["duration_ms"] == 100.0
    assert main(["run", "izhikevich2003", "--duration", "5 Hz", "--out", str(out)]) == 2
