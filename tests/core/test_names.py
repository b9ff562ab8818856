"""Names (issue 19): unnamed populations get unique names; populations, projections and
monitors are found by name, before and after Network.load."""
import numpy as np
import pytest

import biosim as bs


def small_net():
    net = bs.Network(dt=1.0, seed=3)
    a = net.add(bs.Izhikevich(20))
    b = net.add(bs.Izhikevich(10))
    c = net.add(bs.Izhikevich.preset("FS", 5))
    net.connect(a, [b, c], weight=bs.uniform(0, 8))
    net.add(bs.GaussianNoise(a, std=6.0))
    net.monitor(a, "spikes")
    net.monitor(b, "v", indices=[0], name="b_voltage")
    net.monitor(a, "spikes")  # a second, unnamed one of the same kind
    return net


def test_unnamed_populations_get_unique_names():
    net = small_net()
    assert [p.name for p in net.populations] == ["izhikevich", "izhikevich_1", "izhikevich_2"]
    assert [m.name for m in net.monitors] == ["izhikevich.spikes", "b_voltage",
                                              "izhikevich.spikes_1"]
    assert [p.name for p in net.projections] == ["izhikevich->izhikevich_1",
                                                 "izhikevich->izhikevich_2"]
    with pytest.raises(bs.BiosimError, match=r"^name: expected a name not used .*'izhikevich'"):
        net.add(bs.LIF(3, name="izhikevich"))   # an explicit name is never changed
    with pytest.raises(bs.BiosimError, match=r"^name: expected one of .*got 'exc'"):
        net["exc"]


def test_found_by_name_before_and_after_load(tmp_path):
    net = small_net()
    assert net["izhikevich_1"] is net.populations[1]
    assert net["b_voltage"] is net.monitors[1]
    assert "izhikevich.spikes" in net and "nothing" not in net
    net.run(50.0)
    net.save(tmp_path / "ckpt")
    net.run(50.0)
    loaded = bs.Network.load(tmp_path / "ckpt")
    assert [p.name for p in loaded.populations] == [p.name for p in net.populations]
    assert [m.name for m in loaded.monitors] == [m.name for m in net.monitors]
    loaded.run(50.0)
    for name in ("izhikevich.spikes", "izhikevich.spikes_1"):
        assert np.array_equal(loaded[name].t, net[name].t) and net[name].t.size > 0
    np.testing.assert_array_equal(loaded["b_voltage"].values, net["b_voltage"].values)
    assert loaded["izhikevich->izhikevich_2"].W.shape == (20, 5)
    assert loaded["izhikevich_2"].n == 5


def test_a_named_connection_to_several_populations_names_each_projection():
    net = small_net()
    a, b, c = net.populations
    ab, ac = net.connect(a, [b, c], weight=1.0, name="drive")
    assert (ab.name, ac.name) == ("drive_izhikevich_1", "drive_izhikevich_2")
    assert net["drive_izhikevich_2"] is ac
