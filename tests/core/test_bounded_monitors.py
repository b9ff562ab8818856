"""Bounded monitors (issue 16, item 10): a window in memory or chunks streamed to disk give
the same records as an unbounded monitor, and memory stays bounded."""
import numpy as np
import pytest

import biosim as bs
from biosim.core.validation import BiosimError


def network(**storage):
    net = bs.Network(dt=0.5, seed=7)
    e = net.add(bs.Izhikevich.preset("RS", 200, name="e"))
    net.connect(e, e, bs.fixed_probability(0.1), weight=0.5)
    net.add(bs.GaussianNoise(e, 5.0, mean=5.0))
    spike_storage = dict(storage)
    if "path" in storage:  # one folder per monitor
        spike_storage["path"], storage["path"] = storage["path"] / "s", storage["path"] / "v"
    full = (net.monitor(e, "spikes", name="full"), net.monitor(e, "v", indices=[0, 5, 9],
                                                                 name="vfull"))
    bounded = (net.monitor(e, "spikes", name="b", **spike_storage),
               net.monitor(e, "v", indices=[0, 5, 9], name="vb", **storage))
    return net, full, bounded


@pytest.mark.parametrize("fused", [None, False])
def test_streamed_chunks_equal_the_full_record(tmp_path, fused):
    net, (s, v), (sb, vb) = network(path=tmp_path / "rec", chunk_mb=0.002)
    duration = 2000.0 if fused is None else 300.0
    net.run(duration, fused=fused)
    for sub in "sv":
        assert len(list((tmp_path / "rec" / sub).glob("chunk-*.npz"))) >= 2  # it streamed
    held = sum(a.nbytes for a in sb._steps + sb._idx)  # memory: a fraction of the record
    assert held <= 0.002e6 + 16 * 200 * 1000 and held < 16 * s.i.size / 4
    np.testing.assert_array_equal(sb.t, s.t)
    np.testing.assert_array_equal(sb.i, s.i)
    np.testing.assert_array_equal(vb.t, v.t)
    np.testing.assert_array_equal(vb.values, v.values)
    sb.flush()
    with np.load(tmp_path / "rec" / "s" / "chunk-000000.npz", allow_pickle=False) as f:
        assert set(f.files) == {"steps", "i"}
    np.testing.assert_array_equal(sb.i, s.i)   # after flush: all on disk, same records
    assert sb.to_pandas().shape == s.to_pandas().shape


def test_window_keeps_the_last_ms(tmp_path):
    net, (s, v), (sb, vb) = network(window=100.0, chunk_mb=0.005)
    net.run(2000.0)
    # the window holds at least the last 100 ms (before the latest record), far less than
    # the whole run
    assert sb.t.min() <= s.t.max() - 100.0 and sb.t.size < s.t.size / 3
    assert vb.t.min() <= v.t.max() - 100.0
    last = s.t >= sb.t.min()
    np.testing.assert_array_equal(sb.t, s.t[last])
    np.testing.assert_array_equal(sb.i, s.i[last])
    keep = v.t >= vb.t.min()
    np.testing.assert_array_equal(vb.values, v.values[keep])
    assert vb.t.size < v.t.size / 3


@pytest.mark.parametrize("fused", [None, False])
def test_rate_monitor_window_and_stream(tmp_path, fused):
    net = bs.Network(dt=0.5, seed=3)
    e = net.add(bs.Izhikevich.preset("RS", 50, name="e"))
    net.add(bs.GaussianNoise(e, 5.0, mean=5.0))
    full = net.monitor(e, "rate", name="full")
    win = net.monitor(e, "rate", name="win", window=50.0, chunk_mb=0.001)
    disk = net.monitor(e, "rate", name="disk", path=tmp_path / "r", chunk_mb=0.001)
    net.run(600.0, fused=fused)
    assert len(list((tmp_path / "r").glob("chunk-*.npz"))) >= 2
    np.testing.assert_array_equal(disk.counts, full.counts)
    np.testing.assert_array_equal(disk.t, full.t)
    assert win.t.size < full.t.size / 2 and win.t[-1] == full.t[-1]
    np.testing.assert_array_equal(win.rate, full.rate[-win.t.size:])
    np.testing.assert_array_equal(win.t, full.t[-win.t.size:])


def test_weight_monitor_streams(tmp_path):
    net = bs.Network(dt=0.5, seed=2)
    pre = net.add(bs.PoissonGroup(20, 50.0, name="pre"))
    post = net.add(bs.LIF(5, name="post"))
    proj = net.connect(pre, post, bs.fixed_probability(0.5), weight=0.5,
                       rule=bs.STDP(0.01, 0.012, 20.0, 20.0))
    full = net.monitor(proj, "w", every=2, name="full")
    disk = net.monitor(proj, "w", every=2, name="disk", path=tmp_path / "w", chunk_mb=0.002)
    net.run(200.0)
    assert len(list((tmp_path / "w").glob("chunk-*.npz"))) >= 2
    np.testing.assert_array_equal(disk.values, full.values)
    np.testing.assert_array_equal(disk.t, full.t)
    np.testing.assert_array_equal(disk.values[-1], proj.weights.flat_values())
    assert disk.to_pandas().shape == full.to_pandas().shape


def test_bad_storage_arguments(tmp_path):
    net = bs.Network(dt=0.5)
    e = net.add(bs.Izhikevich(3))
    with pytest.raises(BiosimError, match="^window: "):
        net.monitor(e, "spikes", window=10.0, path=tmp_path)
    with pytest.raises(BiosimError, match="^window: "):
        net.monitor(e, "spikes", window=-1.0)
    with pytest.raises(BiosimError, match="^storage: "):
        net.monitor(e, "spikes", windw=10.0)
    (tmp_path / "file").write_text("")
    with pytest.raises(BiosimError, match="^path: "):
        net.monitor(net.connect(e, e), "w", path=tmp_path / "file" / "w")
    (tmp_path / "chunk-000000.npz").write_bytes(b"")
    with pytest.raises(BiosimError, match="^path: "):
        net.monitor(e, "spikes", path=tmp_path)


def test_checkpoint_keeps_streaming(tmp_path):
    """A saved network with a streaming monitor continues writing chunks after load."""
    net, (s, _), (sb, _) = network(path=tmp_path / "rec", chunk_mb=0.002)
    net.run(500.0)
    net.save(tmp_path / "net.npz")
    net.run(500.0)
    again = bs.Network.load(tmp_path / "net.npz")
    again.run(500.0)
    np.testing.assert_array_equal(again["b"].i, s.i)
    np.testing.assert_array_equal(again["b"].t, s.t)
