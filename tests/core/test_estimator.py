"""The estimator contract: parameters from the signature, fitted attributes, data-only files."""
import json

import numpy as np
import pytest

import biosim as bs
from biosim.core.estimator import Estimator, all_estimators
from biosim.core.validation import integer


class Mean(Estimator):
    """A toy estimator: the mean of noisy copies of the data."""

    def __init__(self, n_copies: int = 3, *, noise=0.1, seed=None):
        self.n_copies = integer("n_copies", n_copies, low=1)
        self.noise = noise
        self.seed = seed

    def fit(self, x):
        rng = bs.make_rng(self.seed)
        x = np.asarray(x, float)
        self.mean_ = np.mean([x + self.noise * rng.standard_normal(x.shape)
                              for _ in range(self.n_copies)], axis=0)
        self.rng_ = rng
        return self


def test_params_from_signature():
    m = Mean(5, seed=2)
    assert m.get_params() == {"n_copies": 5, "noise": 0.1, "seed": 2}
    assert repr(m) == "Mean(n_copies=5, seed=2)"
    assert m.set_params(noise=0.3) is m and m.noise == 0.3
    with pytest.raises(bs.BiosimError, match="n_copies: expected an integer >= 1"):
        m.set_params(n_copies=0)
    assert m.n_copies == 5
    with pytest.raises(bs.BiosimError, match="set_params: expected parameters of Mean"):
        m.set_params(colour="red")
    c = m.clone()
    assert c.get_params() == m.get_params() and not c.fitted_attributes()


def test_fit_resolves_the_seed_and_save_load_continues(tmp_path):
    a = Mean(seed=4).fit(np.arange(5.0))
    b = Mean(seed=4).fit(np.arange(5.0))
    np.testing.assert_array_equal(a.mean_, b.mean_)  # same seed, same model
    assert sorted(a.fitted_attributes()) == ["mean_", "rng_"]
    a.save(tmp_path / "m")
    back = Mean.load(tmp_path / "m")
    np.testing.assert_array_equal(back.mean_, a.mean_)
    assert back.get_params() == a.get_params()
    assert back.rng_.random() == a.rng_.random()  # the random stream resumes
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["format"] == "test_estimator.Mean" or meta["format"].endswith(".Mean")
    meta["data"]["items"]["params"]["items"]["n_copies"] = -1
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(bs.BiosimError, match="n_copies: expected an integer"):
        Mean.load(tmp_path / "m")


def test_all_estimators_finds_subclasses():
    found = all_estimators(import_all=False)
    assert Mean not in found  # only biosim's own classes
    assert all(issubclass(c, Estimator) for c in found)
