"""`biosim vpr` commands (issue 19): strict config keys, dark-frame options and warnings,
chance level in every report; predict_places on every recogniser; biosim.vpr.__all__."""
import json
import re

import numpy as np
import pytest
from PIL import Image

import biosim as bs
from biosim.cli import main
from biosim.vpr.metrics import chance_recall, recall_at_k
from biosim.vpr.synthetic import synthetic_route

N, DARK = 24, [3, 4, 5, 11]   # places of the route; places made dark (a "tunnel")


def write(tmp_path, config):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize("data, model, key", [
    ({"references": ["x"], "cont": 100}, {}, "config.data.cont"),
    ({"synthetic": {"n_places": 6, "seeed": 1}}, {}, "config.data.synthetic.seeed"),
    ({"references": [{"path": "x", "evry": 2}]}, {}, r"config.data.references\[0\].evry"),
    ({"synthetic": {"n_places": 6}}, {"epoch": 3}, "config.model.epoch"),
    ({"synthetic": {"n_places": 6}}, {"params": {"tau_v": 1}}, "config.model.params.tau_v"),
])
def test_unknown_keys_are_one_line_naming_the_key_and_the_valid_ones(tmp_path, capsys, data,
                                                                     model, key):
    cfg = write(tmp_path, {"data": data, "model": model})
    assert main(["vpr", "train", "--config", cfg, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert re.search(key + ": unknown key; valid keys: ", err), err
    valid = err.split("valid keys: ")[1].split(", ")
    assert len(valid) >= 3 and valid == sorted(valid)
    if key == "config.model.epoch":
        assert "epochs" in valid and "module_size" in valid   # the full list, not truncated


@pytest.fixture(scope="module")
def tunnel_route(tmp_path_factory):
    """A synthetic route as PNG folders with a dark stretch (mean grey < 20) in both."""
    root = tmp_path_factory.mktemp("route")
    ds = synthetic_route(N, ("summer", "winter"), seed=4)
    for trav in (ds.reference, ds.query):
        (root / trav.name).mkdir()
        for i, img in enumerate(trav.images):
            img = (img // 16).astype(np.uint8) if i in DARK else img
            Image.fromarray(img).save(root / trav.name / f"{i:04d}.png")
    return root


def test_baseline_warns_on_dark_frames_and_drops_them(tunnel_route, tmp_path, capsys):
    ref, query = str(tunnel_route / "summer"), str(tunnel_route / "winter")
    with pytest.warns(bs.BiosimWarning, match=r"4 of 24 places are dark .*drop_dark = 20"):
        assert main(["vpr", "baseline", "--reference", ref, "--query", query,
                     "--sequence", "0", "--out", str(tmp_path / "a")]) == 0
    all_places = json.loads((tmp_path / "a" / "report.json").read_text())
    assert all_places["chance"]["R@1"] == pytest.approx(1 / N)
    assert main(["vpr", "baseline", "--reference", ref, "--query", query, "--sequence", "0",
                 "--drop-dark", "20", "--offset", "2", "--count", "15",
                 "--out", str(tmp_path / "b")]) == 0
    lit = json.loads((tmp_path / "b" / "report.json").read_text())
    assert lit["chance"]["R@1"] == pytest.approx(1 / 15)
    assert "chance" in capsys.readouterr().out


def test_train_and_eval_select_lit_places(tunnel_route, tmp_path, capsys):
    """drop_dark in [data]: the model holds only lit places; eval takes the same frames by
    default (same-frame ground truth on the original frame numbers) and reports chance."""
    cfg = write(tmp_path, {"data": {"references": [str(tunnel_route / "summer")],
                                    "drop_dark": 20, "every": 1, "count": 16},
                           "model": {"module_size": 16, "epochs": 1, "seed": 1}})
    assert main(["vpr", "train", "--config", cfg, "--out", str(tmp_path / "m"),
                 "--no-progress"]) == 0
    saved = json.loads((tmp_path / "m" / "train_config.json").read_text())
    assert len(saved["frames"]) == 16 and not set(saved["frames"]) & set(DARK)
    assert main(["vpr", "eval", "--model", str(tmp_path / "m"), "--query",
                 str(tunnel_route / "winter"), "--out", str(tmp_path / "e")]) == 0
    report = json.loads((tmp_path / "e" / "report.json").read_text())
    assert set(report) == {"snn", "sad", "chance"}
    assert report["chance"]["R@1"] == pytest.approx(1 / 16)
    assert report["sad"]["R@1"] > 3 / 16           # SAD on the same lit places: far above
    # the whole query traverse: the dark frames are flagged and have no reference place
    with pytest.warns(bs.BiosimWarning, match="4 of 24 places are dark"):
        assert main(["vpr", "eval", "--model", str(tmp_path / "m"), "--query",
                     str(tunnel_route / "winter"), "--every", "1"]) == 0


def test_chance_recall_matches_random_rankings():
    """Closed form 1 - C(n-m, K)/C(n, K) against the recall of random similarity matrices."""
    rng = np.random.default_rng(0)
    g = np.zeros((20, 30), bool)
    for _ in range(2):
        g[rng.integers(0, 20, 30), np.arange(30)] = True
    mc = np.mean([recall_at_k(rng.random(g.shape), g, [1, 3]) for _ in range(4000)], axis=0)
    np.testing.assert_allclose(chance_recall(g, [1, 3]), mc, atol=0.006)
    assert chance_recall(np.eye(100, dtype=bool), 5) == pytest.approx(0.05)


def test_predict_places_on_every_recogniser():
    pytest.importorskip("torch")
    from biosim.vpr import SpikingPlaceRecognizer, TempoPlaceRecognizer

    ds = synthetic_route(8, ("summer", "autumn", "winter"), seed=0)
    for model in (SpikingPlaceRecognizer(module_size=8, epochs=2, seed=1),
                  TempoPlaceRecognizer(module_size=8, epochs=2, seed=1)):
        model.fit(list(ds.references))
        labels, scores = model.predict_places(ds.query.images)
        s = model.predict(ds.query.images)
        assert labels.shape == scores.shape == (8,)
        assert np.all(np.isin(labels, model.places_))
        np.testing.assert_array_equal(scores, s.max(axis=0))
        # same-place ground truth: the share of right labels is Recall@1
        assert np.mean(labels == np.arange(8)) == pytest.approx(
            recall_at_k(s, ds.ground_truth, 1))


def test_tempo_progress_counts_epochs(monkeypatch):
    pytest.importorskip("torch")
    import tqdm.auto

    from biosim.vpr import TempoPlaceRecognizer

    bars = []

    class Bar:
        def __init__(self, total, **kw):
            self.total, self.n = total, 0
            bars.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    ds = synthetic_route(6, ("summer", "winter"), seed=0)
    TempoPlaceRecognizer(module_size=3, epochs=3, progress=True).fit(ds.reference)
    assert [(b.total, b.n) for b in bars] == [(2 * 3 * 2, 12)]  # 2 modules x 2 layers x 3


def test_vpr_all_names_resolve():
    import biosim.vpr as vpr

    assert "SpikingPlaceRecognizer" in vpr.__all__ and "load_nordland" in vpr.__all__
    assert set(vpr.__all__) <= set(dir(vpr))
    for name in vpr.__all__:
        assert getattr(vpr, name).__name__ == name
