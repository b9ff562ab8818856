"""Real Nordland frames (../shared/data/nordland_trimmed; skipped where absent)."""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.vpr.baselines import sad_similarity, sequence_match
from biosim.vpr.datasets import (dark_frames, drop_dark_places, load_ground_truth,
                                 load_nordland, same_index_ground_truth)
from biosim.vpr.metrics import recall_at_k
from biosim.vpr.preprocess import preprocess


@pytest.fixture(scope="module")
def nordland_every10(nordland_dir):
    return load_nordland(nordland_dir, "summer", "winter", every=10)


def test_layout_and_published_ground_truth(nordland_dir, nordland_every10):
    """The OpenSeqSLAM2 sample ground truth (1-based query, reference, tolerance) covers the
    every-10th subsample: 358 places, same index within 15."""
    ds = nordland_every10
    assert len(ds.reference) == len(ds.query) == 358
    assert ds.reference.files[:2] == ["images-00010.png", "images-00110.png"]
    g = load_ground_truth(nordland_dir / "sample_ground_truth.csv", 358, 358, one_based=True)
    np.testing.assert_array_equal(g, same_index_ground_truth(358, 358, 15))


def test_tunnel_frames_dropped(nordland_dir):
    """The data README: about 6% of the frames are in tunnels (almost black)."""
    ds = load_nordland(nordland_dir, "summer", "winter", drop_dark=20)
    n_dropped = len(ds.notes["dropped_dark"])
    assert 0.04 * 3576 <= n_dropped <= 0.08 * 3576
    assert len(ds.reference) == 3576 - n_dropped


def test_sad_and_sequence_matching_on_summer_vs_winter(nordland_every10):
    """Dark tunnel references attract queries after patch normalisation; dropping them and
    matching sequences lifts SAD far above chance (1/336)."""
    g_all = np.eye(358, dtype=bool)
    s_all = sad_similarity(preprocess(nordland_every10.reference.images),
                           preprocess(nordland_every10.query.images))
    ds = drop_dark_places(nordland_every10)
    s = sad_similarity(preprocess(ds.reference.images), preprocess(ds.query.images))
    r1 = recall_at_k(s, ds.ground_truth, 1)
    assert r1 > recall_at_k(s_all, g_all, 1) + 0.05
    assert 0.2 < r1 < 0.6
    assert recall_at_k(sequence_match(s, 10), ds.ground_truth, 1) > 0.8


# ---- blocks of lit places and dark frames (what the README table's blocks are cut by) ---

def test_block_of_lit_places(nordland_dir):
    """count places are cut after the tunnel places are dropped: a block always holds count
    lit places, and the loader reports the dark ones it skipped inside the block (the first
    200 lit places skip the tunnel at frames 187-201)."""
    ds = load_nordland(nordland_dir, "summer", "winter", count=200, drop_dark=20)
    assert len(ds.reference) == len(ds.query) == 200
    assert len(ds.notes["dropped_dark"]) == 225   # 17 of them before the first lit frame
    for t in (ds.reference, ds.query):
        assert not dark_frames(t.images, 20).any()
    skipped = ds.notes["dark_in_block"]
    assert len(skipped) >= 10 and set(skipped).isdisjoint(ds.reference.files)
    assert ds.reference.files == sorted(ds.reference.files)
    # the block spans 100 lit + the skipped dark frames, nothing else
    names = sorted(p.name for p in (nordland_dir / "summer").glob("images-*.png"))
    span = names[names.index(ds.reference.files[0]):names.index(ds.reference.files[-1]) + 1]
    assert len(span) == 200 + len(skipped)
    later = load_nordland(nordland_dir, "summer", "winter", offset=50, count=100, drop_dark=20)
    assert later.reference.files == ds.reference.files[50:150]
    with pytest.raises(BiosimError, match="count"):
        load_nordland(nordland_dir, "summer", "winter", offset=3000, count=1000, drop_dark=20)


def test_one_tunnel_frame_captures_most_queries_without_the_dark_rule(nordland_dir):
    """The first 100 frames (summer -> winter) hold tunnel frames. Without the rule, one dark
    reference is SAD's best match for most queries (measured 89 of 100); with it, no
    reference is the best match of more than a few (measured at most 4)."""
    raw = load_nordland(nordland_dir, "summer", "winter", count=100)
    s = sad_similarity(preprocess(raw.reference.images), preprocess(raw.query.images))
    wins = np.bincount(s.argmax(axis=0), minlength=100)
    top = wins.argmax()
    assert dark_frames(raw.reference.images[top:top + 1], 20)[0]
    assert wins[top] > 50
    lit = load_nordland(nordland_dir, "summer", "winter", count=100, drop_dark=20)
    s = sad_similarity(preprocess(lit.reference.images), preprocess(lit.query.images))
    assert np.bincount(s.argmax(axis=0)).max() <= 10
