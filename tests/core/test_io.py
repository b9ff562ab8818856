"""Network files are data: JSON + arrays, exact continuation, shared objects, user kernels
re-bound by name, one-line errors for foreign, old or damaged files; a killed writer's
temporary file is removed at the next save."""
import json
import os
import pickle
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numba
import numpy as np
import pytest

import biosim as bs
from biosim.core import io


@numba.njit
def anti_hebb(w, pre, post, pre_tr, post_tr, mod, dt, p):
    return -p[0] * pre_tr * post


def rich_network(seed=3):
    """CSR + STDP with delays, a user LocalRule, ThreeFactor, every input, every monitor."""
    net = bs.Network(dt=0.5, seed=seed)
    src = net.add(bs.PoissonGroup(40, 40.0, name="src"))
    gen = net.add(bs.SpikeGenerator(3, [0, 1, 2, 0], [1.0, 7.5, 30.0, 80.0], name="gen"))
    out = net.add(bs.LIF(15, name="out"))
    net.connect(src, out, bs.fixed_probability(0.4), weight=bs.uniform(0, 4.0),
                delay=lambda rng, n: rng.integers(0, 4, n) * 0.5,
                rule=bs.STDP(a_plus=0.05, a_minus=0.06, w_max=4.0))
    net.connect(gen, out, weight=3.0, rule=bs.LocalRule(anti_hebb, [0.01], tau_pre=10.0))
    net.connect(out, out, bs.fixed_probability(0.2), weight=bs.uniform(0, 1.0),
                rule=bs.ThreeFactor(0.1, modulators=("reward",)))
    net.add(bs.PoissonInput(out, rate=100.0, weight=60.0, n_sources=5))
    net.add(bs.GaussianNoise(out, std=3.0, every=3, block=7))
    net.add(bs.StepCurrent(out, [0.0, 50.0], [1.0, 2.0]))
    net.add(bs.ArrayCurrent(out, np.linspace(0.0, 5.0, 300), every=2))
    net.add(bs.ConstantCurrent(out, 0.5, indices=[0, 1]))
    net.modulators["reward"] = 0.5
    mons = [net.monitor(out), net.monitor(src, "rate"), net.monitor(out, "v", [0, 4], every=3),
            net.monitor(net.projections[0], "w", every=4)]
    return net, mons


def test_rich_network_continues_bit_for_bit(tmp_path):
    ref, ref_mons = rich_network()
    ref.run(150.0)
    net, _ = rich_network()
    net.run(55.5)
    net.save(tmp_path / "ckpt.npz")
    back = bs.Network.load(tmp_path / "ckpt.npz", rules={"anti_hebb": anti_hebb})
    back.run(94.5)
    spikes, rate, v, w = back.monitors
    assert ref_mons[0].i.size > 50
    assert np.array_equal(ref_mons[0].i, spikes.i) and np.array_equal(ref_mons[0].t, spikes.t)
    assert np.array_equal(ref_mons[1].rate, rate.rate)
    assert np.array_equal(ref_mons[2].values, v.values) and np.array_equal(ref_mons[2].t, v.t)
    assert np.array_equal(ref_mons[3].values, w.values) and len(w.t) == 75
    for a, b in zip(ref.projections, back.projections):
        assert np.array_equal(a.weights.flat_values(), b.weights.flat_values())
    # the objects are shared as in the network that was saved
    assert back.projections[0].pre is back.populations[0]
    assert back.monitors[0].source is back.populations[2]
    assert back.projections[1].rule.kernel is anti_hebb
    assert back.projections[2].weights.post_of is back.projections[2].weights.indices


def test_file_is_json_and_arrays(tmp_path):
    net, _ = rich_network()
    net.run(5.0)
    net.save(tmp_path / "ckpt.npz")
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as z:
        meta = json.loads(bytes(z[io.DOC_KEY]))
        assert all(z[k].dtype != object for k in z.files)
    assert meta["format"] == "biosim.Network" and meta["version"] == 4
    assert "anti_hebb" in json.dumps(meta)


def test_missing_rule_or_callback_is_one_line(tmp_path):
    net, _ = rich_network()
    net.save(tmp_path / "a.npz")
    with pytest.raises(bs.BiosimError, match=r"^rules: .*'anti_hebb'") as e:
        bs.Network.load(tmp_path / "a.npz")
    assert "\n" not in str(e.value)
    with pytest.raises(bs.BiosimError, match=r"rules\['anti_hebb'\]: expected a numba"):
        bs.Network.load(tmp_path / "a.npz", rules={"anti_hebb": print})

    calls = []

    def count(net):
        calls.append(net.step_count)

    net.callback(count, every=2)
    net.save(tmp_path / "b.npz")
    with pytest.raises(bs.BiosimError, match=r"^callbacks: .*'count'"):
        bs.Network.load(tmp_path / "b.npz", rules={"anti_hebb": anti_hebb})
    back = bs.Network.load(tmp_path / "b.npz", rules={"anti_hebb": anti_hebb},
                           callbacks={"count": count})
    back.run(10.0)
    assert calls == list(range(0, 20, 2))


class Doubler(bs.Population):
    """A user's own population: activity = input spikes, doubled in rate by a counter."""

    input_names = ("I",)

    def __init__(self, n, name=None):
        super().__init__(n, name)
        self.count = np.zeros(n, np.int64)

    def step(self, t, dt):
        self.count += self.inputs["I"] > 0
        self.activity[:] = self.count % 2 == 1


def test_user_classes_are_given_back_by_name(tmp_path):
    def make():
        net = bs.Network(dt=1.0, seed=4)
        src = net.add(bs.PoissonGroup(10, 200.0, name="src"))
        mine = net.add(Doubler(10, name="mine"))
        net.connect(src, mine, weight=1.0)
        return net, net.monitor(mine)

    ref, ref_mon = make()
    ref.run(60.0)
    net, _ = make()
    net.run(25.0)
    net.save(tmp_path / "u.npz")
    with pytest.raises(bs.BiosimError, match=r"^classes: .*'Doubler'"):
        bs.Network.load(tmp_path / "u.npz")
    with pytest.raises(bs.BiosimError, match=r"classes\['Doubler'\]: expected a subclass"):
        bs.Network.load(tmp_path / "u.npz", classes={"Doubler": dict})
    back = bs.Network.load(tmp_path / "u.npz", classes={"Doubler": Doubler})
    back.run(35.0)
    assert type(back.populations[1]) is Doubler and ref_mon.i.size > 20
    assert np.array_equal(back.monitors[0].i, ref_mon.i)


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(bs.BiosimError, match="path: no biosim.Network file"):
        bs.Network.load(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_bytes(b"hello")
    with pytest.raises(bs.BiosimError, match="not a biosim file"):
        bs.Network.load(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", x=np.ones(3))
    with pytest.raises(bs.BiosimError, match="^format: .*without a biosim header"):
        bs.Network.load(tmp_path / "plain.npz")
    net, _ = rich_network()
    net.save(tmp_path / "n.npz")
    z = dict(np.load(tmp_path / "n.npz"))
    meta = json.loads(bytes(z[io.DOC_KEY]))
    for field, value, pattern in (("version", 2, "^version: expected version 3 or 4.*got "
                                                 "version 2"),
                                  ("format", "biosim.Other", "^format: .*'biosim.Other'")):
        bad = dict(meta, **{field: value})
        np.savez(tmp_path / "bad.npz", **{**z, io.DOC_KEY: np.frombuffer(
            json.dumps(bad).encode(), np.uint8)})
        with pytest.raises(bs.BiosimError, match=pattern):
            bs.Network.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "v3.npz", **{**z, io.DOC_KEY: np.frombuffer(   # read, then converted
        json.dumps(dict(meta, version=3)).encode(), np.uint8)})
    assert isinstance(bs.Network.load(tmp_path / "v3.npz", rules={"anti_hebb": anti_hebb}),
                      bs.Network)
    data = (tmp_path / "n.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(bs.BiosimError, match="corrupted"):
        bs.Network.load(tmp_path / "cut.npz")
    with pytest.raises(bs.BiosimError, match="^rules: expected a dict"):
        bs.Network.load(tmp_path / "n.npz", rules=[anti_hebb])


def test_old_pickle_checkpoint_refused_then_converted(tmp_path):
    """A pickle of biosim < 0.2 is refused with the way to convert it; converted in a
    trusted session it continues bit for bit."""
    ref, ref_mons = rich_network()
    ref.run(60.0)
    net, _ = rich_network()
    net.run(20.0)
    with open(tmp_path / "old.pkl", "wb") as f:
        pickle.dump({"biosim_checkpoint": 2, "network": net}, f)
    with pytest.raises(bs.BiosimError, match="old pickle checkpoint.*convert_pickle_checkpoint"):
        bs.Network.load(tmp_path / "old.pkl")
    io.convert_pickle_checkpoint(tmp_path / "old.pkl", tmp_path / "new.npz")
    back = bs.Network.load(tmp_path / "new.npz", rules={"anti_hebb": anti_hebb})
    back.run(40.0)
    assert np.array_equal(back.monitors[0].i, ref_mons[0].i)


def test_views_and_generators_round_trip():
    """Views keep sharing memory with their base; generators and seed sequences resume."""
    base = np.arange(12.0)
    gen = np.random.default_rng(4)
    gen.random(3)
    ss = np.random.SeedSequence(7)
    ss.spawn(2)
    tree = {"base": base, "view": base[2:10:2], "shape": base.reshape(3, 4), "gen": gen,
            "again": gen, "ss": ss, "t": (1, np.int64(2), np.float32(0.5)), "c": 1 + 2j,
            "dt": np.dtype(np.bool_), "kind": np.float64, "inf": -np.inf, "s": {1, 2},
            "records": [np.arange(3.0), np.zeros((2, 2)), np.array(5.0)]}
    doc, arrays = io.to_data(tree)
    json.dumps(doc)
    back = io.from_data(json.loads(json.dumps(doc)), arrays)
    back["view"][0] = -1.0
    back["shape"][2, 3] = -2.0
    assert back["base"][2] == -1.0 and back["base"][11] == -2.0
    assert back["gen"] is back["again"] and back["gen"].random() == gen.random()
    assert back["ss"].spawn(1)[0].entropy == ss.spawn(1)[0].entropy
    assert back["ss"].n_children_spawned == 3
    assert type(back["t"][1]) is np.int64 and type(back["t"][2]) is np.float32
    assert back["c"] == 1 + 2j and back["dt"] == np.bool_ and back["kind"] is np.float64
    assert back["inf"] == -np.inf and back["s"] == {1, 2}
    assert [a.shape for a in back["records"]] == [(3,), (2, 2), ()]
    assert back["records"][2] == 5.0 and doc["items"]["records"]["$"] == "arrays"


def test_saving_non_data_names_the_field(tmp_path):
    net, _ = rich_network()
    net.populations[0].note = object()
    with pytest.raises(bs.BiosimError, match=r"Network\.populations\[0\]\.note: expected data"):
        net.save(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_crafted_documents_are_refused(tmp_path):
    """Class names outside biosim, non-data classes, forged kernels: refused, nothing run."""
    marker = tmp_path / "ran"
    for doc in ({"$": "object", "class": "os.system", "id": 0, "state": {}},
                {"$": "object", "class": "subprocess.Popen", "id": 0, "state": {}},
                {"$": "object", "class": "biosim.core.io.Path", "id": 0, "state": {}},
                {"$": "object", "class": "biosim.core.io.convert_pickle_checkpoint", "id": 0,
                 "state": {}},
                {"$": "kernel", "name": "biosim.core.io.convert_pickle_checkpoint"},
                {"$": "kernel", "name": "os.system"},
                {"$": "generator", "id": 0, "state": {"$": "dict", "id": 1, "items": {
                    "bit_generator": "os.system"}}},
                {"$": "dtype", "str": "O"},
                {"$": "ref", "id": 5},
                {"$": "dict", "id": 0, "pairs": [[{"$": "list", "id": 1, "items": []}, 1]]},
                {"$": "complex", "re": "x", "im": 1},
                {"$": "arrays", "id": 0, "ids": [1], "shapes": [[10**9]]},
                {"$": "eval", "code": f"open({str(marker)!r}, 'w')"}):
        with pytest.raises(bs.BiosimError):
            io.from_data(doc, {})
    assert not marker.exists()
    with zipfile.ZipFile(tmp_path / "x.npz", "w"):
        pass
    with pytest.raises(bs.BiosimError):
        bs.Network.load(tmp_path / "x.npz")


KILLED_SAVE = ("import os, signal, sys\n"
               "from biosim.core.io import atomic_path\n"
               "with atomic_path(sys.argv[1]) as tmp:\n"
               "    tmp.write_bytes(b'x' * 100_000)\n"
               "    os.kill(os.getpid(), signal.SIGKILL)\n")


def test_temp_file_of_a_killed_save_is_removed_at_the_next_save(tmp_path):
    target = tmp_path / "w.npz"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(target)], env=env)
    assert proc.returncode == -signal.SIGKILL
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(".w.npz.") and left.stat().st_size == 100_000
    live = tmp_path / f".w.npz.{os.getpid()}.abcd1234.npz"  # a save in progress: kept
    live.write_bytes(b"y")
    other = tmp_path / ".notes.txt"
    other.write_text("not ours")
    io.save_npz(target, a=np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name,
                                                                 "w.npz"])
    with np.load(target, allow_pickle=False) as f:
        assert f["a"].tolist() == [0, 1, 2]


def test_mutated_documents_give_one_line_errors(tmp_path):
    """Any value of a saved network's document replaced by junk: the load either works or
    stops with a one-line BiosimError (never another exception)."""
    net, _ = rich_network()
    net.run(10.0)
    doc, arrays = io.to_data(net, "Network")
    text = json.dumps(doc)
    rng = np.random.default_rng(0)
    junk = [None, -1, 10**30, 0.5, "os.system", [], {}, {"$": "ref", "id": -3}, [1, [2]],
            {"$": "object", "class": "biosim.core.network.Network", "id": 10**6, "state": 3}]

    def slots(node, out):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            out.append((node, k))
            if isinstance(v, (dict, list)):
                slots(v, out)
        return out

    for _ in range(300):
        d = json.loads(text)
        spots = slots(d, [])
        for j in rng.choice(len(spots), 2, replace=False):
            node, key = spots[j]
            node[key] = junk[rng.integers(len(junk))]
        try:
            io.from_data(d, arrays, {"rules": {"anti_hebb": anti_hebb}}, "Network")
        except bs.BiosimError as e:
            assert "\n" not in str(e)


def test_saved_files_get_the_usual_permissions(tmp_path):
    """Regression: atomic saves went through mkstemp and left files readable by their owner
    only (0600), unlike every other file a user writes."""
    import os

    from biosim.core.io import atomic_path

    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("x")
    umask = os.umask(0)
    os.umask(umask)
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~umask)
