"""Where the assignment's spike counts S come from (SpikingPlaceRecognizer
``assignment_data``): ``"training"`` sums the counts of the training presentations of the
last 3 epochs (the RA-L 2022 code, QVPR/VPRSNN ``non_modular_snn``) instead of a frozen
labelling pass. Checked against S rebuilt by hand from the counts the network returned
during training, each presentation identified by its pixels."""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.vpr.recognizer import SpikingPlaceRecognizer
from biosim.vpr.snn_numba import NumbaVPRSNN
from biosim.vpr.synthetic import synthetic_route

KW = dict(module_size=3, neurons_per_place=4, epochs=5, shuffle=True, seed=2)


@pytest.fixture(scope="module")
def route():
    return synthetic_route(6, ("summer", "autumn", "winter"), seed=0)


def test_training_counts_equal_the_last_three_epochs_by_hand(route, monkeypatch):
    calls = []
    present = NumbaVPRSNN.present

    def spy(self, pixels, train, seed=None):
        out = present(self, pixels, train, seed)
        calls.append((train, [np.array(x) for x in pixels], [np.array(c) for c in out]))
        return out

    monkeypatch.setattr(NumbaVPRSNN, "present", spy)
    refs = list(route.references)                     # two traverses, places 0..5
    model = SpikingPlaceRecognizer(assignment_data="training", **KW).fit(refs)
    assert [c[0] for c in calls] == [True] * 5       # 5 epochs, no labelling pass
    # every presented image, by its pixels -> its place
    pix = np.concatenate([model._pixels("r", t.images) for t in refs])
    place = np.concatenate([t.place_ids for t in refs])
    for m, ch in enumerate(model.module_places_):
        S = np.zeros((12, 3))
        n = np.zeros(3)
        for _, xs, cs in calls[-3:]:                  # the last 3 epochs
            for x, c in zip(xs[m], cs[m]):
                p = place[np.flatnonzero((pix == x).all(axis=1))]
                assert len(p) == 1                    # one image has these pixels
                S[:, list(ch).index(p[0])] += c
                n[list(ch).index(p[0])] += 1
        np.testing.assert_array_equal(model.counts_[m], S)
        np.testing.assert_array_equal(model.presentations_[m], n)   # 2 traverses x 3
        assert n.tolist() == [6, 6, 6] and S.sum() > 0
    # the order was shuffled (else this test would not check the bookkeeping)
    assert not np.array_equal(calls[-1][1][0], calls[-2][1][0])

    # the same network as the labelling mode (same seed: same training and query draws)
    monkeypatch.setattr(NumbaVPRSNN, "present", present)
    labelled = SpikingPlaceRecognizer(**KW).fit(refs)
    for a, b in zip(model.modules_, labelled.modules_):
        np.testing.assert_array_equal(a["W"], b["W"])
    assert model.predict_seed_ == labelled.predict_seed_
    assert not np.array_equal(model.counts_[0], labelled.counts_[0])


def test_training_counts_survive_a_checkpoint_and_a_save(route, tmp_path):
    """Epochs 3 then 5 on one checkpoint: the recorded epochs (2-4) span the resume."""
    refs = list(route.references)
    kw = dict(KW, assignment_data="training")
    whole = SpikingPlaceRecognizer(**kw).fit(refs)
    SpikingPlaceRecognizer(**dict(kw, epochs=3)).fit(refs, checkpoint=tmp_path / "c")
    parts = SpikingPlaceRecognizer(**kw).fit(refs, checkpoint=tmp_path / "c")
    for a, b in zip(whole.counts_, parts.counts_):
        np.testing.assert_array_equal(a, b)
    sim = whole.predict(route.query.images)
    again = SpikingPlaceRecognizer.load(whole.save(tmp_path / "m"))
    assert again.assignment_data == "training"
    np.testing.assert_array_equal(again.predict(route.query.images), sim)


@pytest.mark.parametrize("kwargs, field", [
    (dict(assignment_data="record"), "assignment_data"),
    (dict(assignment_data="training", hyperactive_tau=2), "assignment_data"),
    (dict(assignment_data="training", epochs=0), "epochs"),
    (dict(gamma_rule=">="), "gamma_rule"),
])
def test_bad_modes_name_the_field(route, kwargs, field):
    with pytest.raises(BiosimError, match=f"^{field}"):
        SpikingPlaceRecognizer(**kwargs).fit(route.reference.images)
