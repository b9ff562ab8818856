"""AKOrN object discovery: the synthetic image set, FG-ARI, and learning beats k-means."""
import numpy as np
import pytest
from scipy import ndimage

from biosim.core.validation import BiosimError
from biosim.oscillators.objects import fg_ari, tetromino_images


def test_tetromino_images_are_seeded_and_separated():
    x, y = tetromino_images(20, size=20, n_objects=3, gap=2, seed=3)
    x2, y2 = tetromino_images(20, size=20, n_objects=3, gap=2, seed=3)
    np.testing.assert_array_equal(x, x2)
    assert x.shape == y.shape == (20, 20, 20) and x.min() >= 0 and x.max() <= 1
    for lab in y:
        assert sorted(np.unique(lab)) == [0, 1, 2, 3]
        for k in (1, 2, 3):
            assert np.sum(lab == k) == 16                     # 4 cells of 2 x 2 pixels
            assert ndimage.label(lab == k)[1] == 1            # one connected piece
            grown = ndimage.binary_dilation(lab == k, iterations=2, structure=np.ones((3, 3)))
            assert set(np.unique(lab[grown])) <= {0, k}       # >= 2 background pixels apart
    with pytest.raises(BiosimError, match="^n_objects:"):
        tetromino_images(1, size=8, n_objects=6, seed=0)


def test_fg_ari_matches_hand_computed_values():
    """ARI (Hubert & Arabie 1985) on foreground pixels only: label permutations score 1,
    background predictions are ignored; a hand-computed contingency table example."""
    truth = np.array([0, 0, 1, 1, 1, 2, 2, 2])
    assert fg_ari([5, 7, 2, 2, 2, 9, 9, 9], truth) == pytest.approx(1.0)
    # fg truth (1,1,1,2,2,2) vs pred (1,1,2,2,2,2): contingency [[2, 1], [0, 3]],
    # sum_ij C(n_ij,2) = 1 + 0 + 3 = 4, a = 2 C(3,2) = 6, b = C(2,2) + C(4,2) = 7, C(6,2) = 15:
    # ARI = (4 - 6 * 7 / 15) / ((6 + 7) / 2 - 6 * 7 / 15) = 1.2 / 3.7
    assert fg_ari([0, 0, 1, 1, 2, 2, 2, 2], truth) == pytest.approx(1.2 / 3.7)


torch = pytest.importorskip("torch")


@pytest.mark.torch
def test_akorn_learns_to_bind_objects_better_than_kmeans():
    """After 40 training steps on 256 images the AKOrN segments beat k-means on the raw
    pixel values by a wide margin and beat the untrained network (learning helps)."""
    from biosim.oscillators.discovery import (ObjectDiscovery, discovery_scores,
                                              train_object_discovery)

    torch.set_num_threads(1)
    train_x, _ = tetromino_images(256, seed=0)
    test_x, test_y = tetromino_images(16, seed=1)
    before = discovery_scores(ObjectDiscovery(seed=0), test_x, test_y)
    model, losses = train_object_discovery(train_x, iters=40, batch=8, seed=0)
    after = discovery_scores(model, test_x, test_y)
    assert losses[-10:].mean() < losses[:5].mean()
    assert after["akorn"] > after["kmeans"] + 0.15, after
    assert after["akorn"] > before["akorn"] + 0.03, (before["akorn"], after["akorn"])


@pytest.mark.slow
@pytest.mark.torch
def test_akorn_object_discovery_full_run():
    """The reported run: 300 steps of batch 16; FG-ARI on 64 held-out images, both
    protocols (foreground pixels, and all pixels with k = objects + 1)."""
    from biosim.oscillators.discovery import discovery_scores, train_object_discovery

    train_x, _ = tetromino_images(512, seed=0)
    test_x, test_y = tetromino_images(64, seed=1)
    model, _ = train_object_discovery(train_x, iters=300, batch=16, seed=0)
    s = discovery_scores(model, test_x, test_y)
    print({k: round(v, 3) for k, v in s.items() if not k.startswith("segments")})
    assert s["akorn"] > s["kmeans"] + 0.2
    assert s["akorn_all_pixels"] > s["kmeans_all_pixels"] + 0.1
