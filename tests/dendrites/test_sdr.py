"""Bit-packed SDRs: conversions, overlaps, unions, noise."""
import numpy as np
import pytest
from scipy.stats import hypergeom

from biosim.core.fastrandom import seed_state
from biosim.core.validation import BiosimError
from biosim.dendrites import sdr
from tests.core.test_fastrandom import Stream


def test_pack_roundtrip_and_indices():
    rng = np.random.default_rng(0)
    d = rng.random((7, 130)) < 0.1
    p = sdr.pack(d)
    assert p.shape == (7, 3) and p.dtype == np.uint64
    assert np.array_equal(sdr.unpack(p, 130), d)
    assert np.array_equal(sdr.count(p), d.sum(1))
    idx = sdr.to_indices(p[2], 130)
    assert np.array_equal(idx, np.flatnonzero(d[2]))
    assert np.array_equal(sdr.from_indices(idx, 130), p[2])
    assert np.array_equal(sdr.overlap(p[:, None], p[None]), d.astype(int) @ d.T.astype(int))
    assert np.array_equal(sdr.unpack(sdr.union(p), 130), d.any(0))


def test_random_sdrs_exact_count_and_uniform_overlap():
    """Overlap of two random SDRs follows Hypergeometric(n, a, a) (chi-square-free check on
    mean and variance)."""
    x = sdr.random_sdrs(256, 32, 20_000, seed=1)
    assert np.all(sdr.count(x) == 32)
    ov = sdr.overlap(x[::2], x[1::2])
    dist = hypergeom(256, 32, 32)
    se = dist.std() / np.sqrt(ov.size)
    assert abs(ov.mean() - dist.mean()) < 4 * se
    assert np.array_equal(x, sdr.random_sdrs(256, 32, 20_000, seed=1))
    d = sdr.unpack(x, 256).mean(0)  # every bit equally likely
    assert abs(d.mean() - 32 / 256) < 1e-12 and d.std() < 0.01


def test_noise_moves_v_bits():
    x = sdr.random_sdrs(500, 40, 100, seed=3)
    y = sdr.add_noise(x, 500, 12, seed=4)
    assert np.all(sdr.count(y) == 40)
    assert np.all(sdr.overlap(x, y) == 28)


def twin_subset(stream, n, k):
    """Floyd's k-subset of range(n) in plain Python (the order of draws of the kernel)."""
    chosen = set()
    for j in range(n - k, n):
        t = stream.bounded(j + 1)
        chosen.add(j if t in chosen else t)
    return chosen


def twin_noise(stream, row, n, v):
    """v active bits off (partial Fisher-Yates over the sorted active bits), v bits that
    were inactive on, in plain Python."""
    act = sorted(row)
    new = set(row)
    for j in range(v):
        q = j + stream.bounded(len(act) - j)
        act[j], act[q] = act[q], act[j]
        new.discard(act[j])
    moved = 0
    while moved < v:
        t = stream.bounded(n)
        if t not in row and t not in new:
            new.add(t)
            moved += 1
    return new


def test_kernels_equal_their_python_twins():
    """random_sdrs and add_noise draw exactly what the plain-Python twins draw from the
    reference xoshiro256++ stream (bit layout, Floyd's algorithm, noise moves)."""
    n, a, v = 150, 12, 5
    x = sdr.random_sdrs(n, a, 20, seed=8)
    ref = Stream(seed_state(np.random.default_rng(8)))
    rows = [twin_subset(ref, n, a) for _ in range(20)]
    assert [set(sdr.to_indices(r, n)) for r in x] == rows
    y = sdr.add_noise(x, n, v, seed=9)
    ref = Stream(seed_state(np.random.default_rng(9)))
    assert [set(sdr.to_indices(r, n)) for r in y] == [twin_noise(ref, r, n, v) for r in rows]


def test_bad_input():
    with pytest.raises(BiosimError, match="^a"):
        sdr.random_sdrs(10, 11)
    with pytest.raises(BiosimError, match="^v"):
        sdr.add_noise(sdr.random_sdrs(100, 10, 2, seed=0), 100, 11)
    with pytest.raises(BiosimError, match="^v"):
        sdr.add_noise(sdr.random_sdrs(100, 10, 2, seed=0), 100, -1)
    with pytest.raises(BiosimError, match="^indices"):
        sdr.from_indices([3, 100], 100)
    with pytest.raises(BiosimError, match="^x"):
        sdr.overlap(np.zeros(3), np.zeros(3, np.uint64))
