"""xoshiro256++ and the ziggurat normals of biosim.core.fastrandom against the published
generator, Marsaglia & Tsang's constants and the normal distribution's closed forms."""
import math

import numpy as np
import pytest
from numba import njit
from scipy import stats

from biosim.core import fastrandom as fr

MASK = (1 << 64) - 1


def xoshiro256pp(s, n):
    """n outputs of xoshiro256++ from state s (pure Python, transcribed from the published
    algorithm of Blackman & Vigna, prng.di.unimi.it/xoshiro256plusplus.c)."""
    s = [int(x) for x in s]

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    out = []
    for _ in range(n):
        out.append((rotl((s[0] + s[3]) & MASK, 23) + s[0]) & MASK)
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out, s


def draws(n, seed=0):
    return fr.standard_normal(fr.seed_state(np.random.default_rng(seed)), n)


def test_xoshiro_published_vector():
    """State {1, 2, 3, 4}: the first ten outputs of the reference C implementation (the test
    vector of rand_xoshiro, rust-random/rngs, xoshiro256plusplus.rs)."""
    expected = [41943041, 58720359, 3588806011781223, 3591011842654386,
                9228616714210784205, 9973669472204895162, 14011001112246962877,
                12406186145184390807, 15849039046786891736, 10450023813501588000]
    state = np.array([1, 2, 3, 4], np.uint64)
    out = np.empty(10, np.uint64)
    fr.fill_uint64(state, out)
    assert out.tolist() == expected
    assert xoshiro256pp([1, 2, 3, 4], 10)[0] == expected


def test_jump_published_vector():
    """State {0, 0, 0, 1} jumped 2^128 outputs: the state and first output of the test data
    of xoshiro-fortran (DSCF-1224, test/README.md, from the reference C jump()); streams()
    stacks the state jumped 0, 1, 2 times."""
    state = np.array([0, 0, 0, 1], np.uint64)
    fr.jump(state)
    assert state.tolist() == [0x934D05E8B2076310, 0xEABDD0BF76A1BE51, 0x75DD6A992ACCB1E8,
                              0xC660C602A7330187]
    out = np.empty(1, np.uint64)
    fr.fill_uint64(state.copy(), out)
    assert out[0] == 0x88F9A31AFDB439F5
    rows = fr.streams(np.array([0, 0, 0, 1], np.uint64), 3)
    assert rows[1].tolist() == state.tolist()
    fr.jump(state)
    assert rows[2].tolist() == state.tolist() and rows[0].tolist() == [0, 0, 0, 1]


def test_xoshiro_matches_the_pure_python_transcription():
    state = fr.seed_state(np.random.default_rng(7))
    ref, ref_state = xoshiro256pp(state, 2000)
    out = np.empty(2000, np.uint64)
    fr.fill_uint64(state, out)
    assert out.tolist() == ref and state.tolist() == ref_state


def test_ziggurat_tables():
    """r and v of the 256-layer ziggurat as published (Marsaglia & Tsang 2000: r =
    3.6541528853610088, v = 0.00492867323399); every layer has area v."""
    assert fr.ZIGGURAT_R == pytest.approx(3.6541528853610088, abs=1e-12)
    assert fr.ZIGGURAT_V == pytest.approx(0.00492867323399, abs=1e-13)
    x, f = fr._X, np.exp(-0.5 * fr._X ** 2)
    areas = x[1:-1] * (f[2:] - f[1:-1])  # layers 1..255
    np.testing.assert_allclose(areas, fr.ZIGGURAT_V, rtol=1e-9)
    assert x[0] * f[1] == pytest.approx(fr.ZIGGURAT_V, rel=1e-12)  # base strip
    assert np.all(np.diff(x[1:]) < 0) and x[-1] == 0.0


def test_normals_distribution():
    """2e6 draws: KS against the normal CDF, equiprobable-bin chi-square, mean, variance,
    skewness and excess kurtosis within 5 standard errors (sampling theory)."""
    n = 2_000_000
    z = draws(n)
    assert stats.kstest(z[:1_000_000], "norm").pvalue > 1e-3
    edges = stats.norm.ppf(np.linspace(0, 1, 201)[1:-1])
    counts = np.bincount(np.searchsorted(edges, z), minlength=200)
    assert stats.chisquare(counts).pvalue > 1e-3
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / n)


@pytest.mark.parametrize("c", [1.0, 3.0, 4.0, 4.5])
def test_normals_tails(c):
    """P(|z| > c) = erfc(c / sqrt 2) within 5 binomial standard errors (4e6 draws; 3.65 is
    where the ziggurat's tail algorithm takes over)."""
    n = 4_000_000
    z = draws(n, seed=int(10 * c))
    p = math.erfc(c / math.sqrt(2))
    assert abs(np.mean(np.abs(z) > c) - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_tail_beyond_r():
    """|z| beyond the ziggurat's r (Marsaglia's tail algorithm): its count and its
    distribution, KS against P(|z| <= x | |z| > r) = 1 - erfc(x/sqrt 2) / erfc(r/sqrt 2)."""
    r, n = fr.ZIGGURAT_R, 40_000_000
    state = fr.seed_state(np.random.default_rng(9))
    tails = []
    for _ in range(4):  # 1e7 draws at a time
        x = np.abs(fr.standard_normal(state, n // 4))
        tails.append(x[x > r])
    z = np.concatenate(tails)
    p = math.erfc(r / math.sqrt(2))
    assert abs(z.size - n * p) < 5 * math.sqrt(n * p)
    sf_r = stats.norm.sf(r)
    assert stats.kstest(z, lambda x: 1.0 - stats.norm.sf(x) / sf_r).pvalue > 1e-3


def test_successive_draws_uncorrelated():
    """Lags 1-3 of z and of z^2 (layer/magnitude reuse): |rho| < 5 / sqrt(n)."""
    n = 1_000_000
    z = draws(n, seed=3)
    for y in (z, z * z - 1.0):
        for lag in (1, 2, 3):
            assert abs(np.corrcoef(y[:-lag], y[lag:])[0, 1]) < 5 / math.sqrt(n)


def test_same_seed_same_draws_whatever_the_cuts():
    a = draws(5000, seed=11)
    assert np.array_equal(a, draws(5000, seed=11))
    assert not np.array_equal(a, draws(5000, seed=12))
    state = fr.seed_state(np.random.default_rng(11))
    parts = [fr.standard_normal(state, k) for k in (1, 999, 17, 3983)]
    assert np.array_equal(a, np.concatenate(parts))
    assert fr.standard_normal(fr.seed_state(np.random.default_rng(11)), (50, 100)).ravel() \
        .tolist() == a[:5000].tolist()


def test_seed_state_from_the_generator():
    s = fr.seed_state(np.random.default_rng(5))
    assert s.dtype == np.uint64 and s.shape == (4,) and s.any()
    assert s.tolist() == np.random.default_rng(5).integers(0, 2**64, 4, np.uint64).tolist()


class Stream:
    """The reference stream for kernels that draw integers and uniforms: the Python
    xoshiro256++ above, Lemire's (2019) multiply-shift for [0, bound) on the top 32 bits of
    each output, and the top 53 bits for a float in [0, 1)."""

    def __init__(self, state):
        self.s = [int(x) for x in state]

    def next(self):
        out, self.s = xoshiro256pp(self.s, 1)
        return out[0]

    def bounded(self, b):
        m = (self.next() >> 32) * b
        if (m & 0xFFFFFFFF) < b:
            t = ((1 << 32) - b) % b
            while (m & 0xFFFFFFFF) < t:
                m = (self.next() >> 32) * b
        return m >> 32

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53


@njit
def _draw_kernel(state, bounds, out_int, out_float):
    st = fr.load(state)
    for k in range(bounds.size):
        out_int[k], st = fr.bounded(st, bounds[k])
        out_float[k], st = fr.uniform(st)
    fr.store(state, st)


def test_bounded_and_uniform_match_the_reference_stream():
    state = fr.seed_state(np.random.default_rng(13))
    ref = Stream(state)
    bounds = np.array([1, 2, 3, 7, 1000, 2**31 + 11, 2**32 - 1] * 300, np.int64)
    ints, floats = np.empty(bounds.size, np.int64), np.empty(bounds.size)
    _draw_kernel(state, bounds, ints, floats)
    expected = []
    for b in bounds:
        expected += [ref.bounded(int(b)), ref.uniform()]
    assert ints.tolist() == expected[0::2] and floats.tolist() == expected[1::2]
    assert state.tolist() == ref.s
    assert np.all((ints >= 0) & (ints < bounds))


def test_bounded_is_uniform():
    """Counts of [0, 7) over 700,000 draws: chi-square p > 1e-3."""
    bounds = np.full(700_000, 7, np.int64)
    ints, floats = np.empty(bounds.size, np.int64), np.empty(bounds.size)
    _draw_kernel(fr.seed_state(np.random.default_rng(2)), bounds, ints, floats)
    assert stats.chisquare(np.bincount(ints, minlength=7)).pvalue > 1e-3
    assert stats.kstest(floats, "uniform").pvalue > 1e-3


def _poisson_steps_twin(ref, rates, dt, n_steps):
    """Plain Python: per unit, geometric gaps floor(log(1 - u) / log(1 - p)) + 1 between
    spikes (Bernoulli(p) per step, p = rate dt / 1000) from the reference stream."""
    spikes = set()
    for i, r in enumerate(rates):
        p = r * dt * 1e-3
        if p <= 0:
            continue
        s = -1
        while True:
            s += 1 if p >= 1 else 1 + math.floor(math.log(1.0 - ref.uniform()) / math.log1p(-p))
            if s >= n_steps:
                break
            spikes.add((s, i))
    return spikes


def _steps(state, rates, dt, n):
    ids, ptr = np.empty(rates.size * n, np.int64), np.empty(n + 1, np.int64)
    fr.draw_poisson_steps(state, rates, dt, n, ids, ptr, np.empty_like(ids), np.empty_like(ids))
    return {(s, int(i)) for s in range(n) for i in ids[ptr[s]:ptr[s + 1]]}, ptr


def test_poisson_steps_match_the_reference_stream():
    state = fr.seed_state(np.random.default_rng(5))
    ref = Stream(state)
    rates = np.array([0.0, 3.0, 40.0, 255.0, 2500.0, 900.0])
    got, ptr = _steps(state, rates, 0.5, 300)
    assert got == _poisson_steps_twin(ref, rates, 0.5, 300)
    assert state.tolist() == ref.s
    assert ptr[-1] == len(got) and {i for _, i in got} >= {2, 3, 4, 5}
    assert sum(1 for _, i in got if i == 4) == 300  # rate * dt >= 1: every step, no draw


def test_poisson_steps_counts_are_binomial():
    """Counts of 400 units at 128 Hz over 700 steps of 0.5 ms ~ Binomial(700, 0.064)."""
    got, _ = _steps(fr.seed_state(np.random.default_rng(6)), np.full(400, 128.0), 0.5, 700)
    counts = np.bincount([i for _, i in got], minlength=400)
    n, p = 700, 128.0 * 0.5e-3
    assert abs(counts.mean() - n * p) < 4 * math.sqrt(n * p * (1 - p) / 400)
    assert stats.chisquare(*np.histogram(counts, bins=[0, 35, 40, 45, 50, 55, 60, 1000])[:1],
                           f_exp=np.diff(stats.binom.cdf([-1, 34, 39, 44, 49, 54, 59, 1000],
                                                         n, p)) * 400).pvalue > 1e-3
