"""Monte Carlo over bit-packed SDRs against the exact theory (Ahmad & Hawkins 2016)."""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.dendrites import montecarlo as mc
from biosim.dendrites import theory as T

N = 400_000  # samples per point: >= 40 expected events at p = 1e-4


@pytest.mark.parametrize("n,a,s,theta", [(300, 128, 24, 12),   # p ~ 0.29
                                          (300, 64, 24, 12),    # p ~ 1.1e-3
                                          (300, 32, 24, 7),     # p ~ 4.5e-3
                                          (2048, 128, 32, 8),   # p ~ 5.5e-4
                                          (1024, 128, 32, 12),  # p ~ 2.2e-4
                                          (300, 150, 24, 10)])  # p ~ 0.74
def test_false_match_within_4_se(n, a, s, theta):
    p = T.false_match_probability(n, a, s, theta)
    assert 1e-4 <= p <= 0.9
    r = mc.false_match_rate(n, a, s, theta, N, seed=1)
    assert abs(r.z_score(p)) < 4, (r.p, p)


@pytest.mark.parametrize("n,a,s,theta,v", [(300, 128, 24, 12, 60), (300, 128, 24, 12, 90),
                                           (2048, 40, 20, 10, 15), (2048, 40, 20, 8, 20)])
def test_false_negative_within_4_se(n, a, s, theta, v):
    p = T.false_negative_probability(a, s, theta, v)
    assert 1e-4 <= p <= 0.99
    r = mc.false_negative_rate(n, a, s, theta, v, N, seed=2)
    assert abs(r.z_score(p)) < 4, (r.p, p)


@pytest.mark.parametrize("n,a,s,theta,M", [(300, 20, 16, 8, 5), (1024, 40, 24, 10, 8),
                                           (2048, 40, 24, 12, 20)])
def test_unions_within_4_se(n, a, s, theta, M):
    p = T.union_false_match_probability(n, a, s, theta, M)
    assert 1e-4 <= p <= 0.5
    r = mc.union_false_match_rate(n, a, s, theta, M, N // 4, seed=3)
    assert abs(r.z_score(p)) < 4, (r.p, p)
    p = T.union_segment_false_match_probability(n, a, s, theta, M)
    r = mc.union_segment_false_match_rate(n, a, s, theta, M, N // 4, seed=4)
    assert abs(r.z_score(p)) < 4, (r.p, p)


def test_numpy_backend_agrees():
    """The plain-NumPy twin estimates the same probability."""
    p = T.false_match_probability(300, 128, 24, 12)
    r = mc.false_match_rate(300, 128, 24, 12, 50_000, seed=5, backend="numpy")
    assert abs(r.z_score(p)) < 4


def test_seeded_and_se():
    r1 = mc.false_match_rate(300, 128, 24, 12, 10_000, seed=7)
    r2 = mc.false_match_rate(300, 128, 24, 12, 10_000, seed=7)
    assert r1 == r2
    assert r1.se == pytest.approx(np.sqrt(r1.p * (1 - r1.p) / 10_000))


def test_bad_input():
    with pytest.raises(BiosimError, match="^theta"):
        mc.false_match_rate(300, 128, 24, 25, 100)
    with pytest.raises(BiosimError, match="^v"):
        mc.false_negative_rate(300, 128, 24, 12, -1, 100)
    with pytest.raises(BiosimError, match="^n_samples"):
        mc.false_match_rate(300, 128, 24, 12, 0)
    with pytest.raises(BiosimError, match="^backend"):
        mc.false_match_rate(300, 128, 24, 12, 10, backend="cuda")
