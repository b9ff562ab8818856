"""Active-dendrite network on permuted digits (Iyer et al. 2022): it forgets less than the
same network without dendrites."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from biosim.core.validation import BiosimError  # noqa: E402
from biosim.dendrites import active  # noqa: E402

pytestmark = pytest.mark.torch


def test_kwinners_keeps_top_k():
    x = torch.tensor([[0.1, 3.0, -1.0, 2.0], [5.0, 4.0, 3.0, 2.0]])
    y = active.kwinners(x, 2)
    assert torch.equal(y, torch.tensor([[0.0, 3.0, 0.0, 2.0], [5.0, 4.0, 0.0, 0.0]]))


def test_permuted_tasks_are_permutations():
    tasks = active.permuted_digits(3, seed=0)
    assert np.array_equal(tasks[1]["x_train"], tasks[0]["x_train"][:, tasks[1]["perm"]])
    assert len(tasks[0]["y_test"]) == 539 and tasks[0]["x_train"].shape == (1258, 64)


def test_dendrites_forget_less_than_twin():
    """Iyer et al. (2022), permuted MNIST: active dendrites + k-WTA keep earlier tasks far
    better than a network without dendrites. Here 5 permuted-digit tasks (CPU, ~15 s):
    the dendritic network ends >= 0.15 higher in mean accuracy and forgets >= 0.15 less
    (measured: 0.73 vs 0.38 and 0.25 vs 0.67 at seed 0; seeds 1-2 alike)."""
    r = active.continual_learning_demo(5, seed=0)
    d, t = r["dendrites"], r["twin"]
    assert np.all(np.diag(d["accuracy"]) > 0.8) and np.all(np.diag(t["accuracy"]) > 0.8)
    assert d["context_accuracy"] > 0.95
    assert d["final"] > t["final"] + 0.15
    assert d["forgetting"] < t["forgetting"] - 0.15


def test_bad_input():
    with pytest.raises(BiosimError, match="^k_frac"):
        active.ActiveDendriteNet(64, 10, context_dim=64, k_frac=0.0)
    with pytest.raises(BiosimError, match="^n_tasks"):
        active.permuted_digits(0)


def test_classifier_estimator_predicts_as_trained_and_round_trips(tmp_path):
    """The estimator's predict is train_continual's test: the last task's accuracy
    matches the accuracy matrix; a saved and loaded model predicts the same."""
    tasks = active.permuted_digits(2, seed=1)
    clf = active.ActiveDendriteClassifier(hidden=(32,), epochs=1, seed=1).fit(tasks)
    pred = clf.predict(tasks[1]["x_test"])
    assert np.mean(pred == tasks[1]["y_test"]) == clf.accuracy_[1, 1] > 0.5
    clf.save(tmp_path / "m")
    back = active.ActiveDendriteClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(tasks[0]["x_test"]),
                                  clf.predict(tasks[0]["x_test"]))
    with pytest.raises(BiosimError, match=r"^x: expected shape \(n, 64\)"):
        back.predict(np.zeros((3, 5)))
