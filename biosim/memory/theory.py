"""Closed forms for binary Hebbian associative memories.

Sources: Gripon & Berrou (2011), "Sparse neural networks with large learning diversity"
(density, one-iteration error, efficiency); Aliabadi et al. (2014) (sparse clusters);
Willshaw, Buneman & Longuet-Higgins (1969) (density of a clipped Hebbian matrix);
Amit, Gutfreund & Sompolinsky (1985) and Hertz, Krogh & Palmer (1991, sec. 2.2) (Hopfield
capacity ~0.138 n and the one-step bit error Q(sqrt(n / P))).
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from biosim.core import validation as v

#: Hopfield storage capacity in patterns per neuron (Amit, Gutfreund & Sompolinsky 1985).
HOPFIELD_ALPHA_C = 0.138


def _cl(c, l):
    return v.integer("c", c, low=2), v.integer("l", l, low=2)


def clique_density(M, c, l):
    """Fraction of the c (c - 1) l^2 / 2 possible inter-cluster connections that are set
    after storing M uniform random messages: d = 1 - (1 - 1/l^2)^M (Gripon & Berrou 2011)."""
    c, l = _cl(c, l)
    M = v.array("M", M, low=0)
    return 1.0 - (1.0 - 1.0 / l**2) ** M


def sparse_clique_density(M, c, chi, l):
    """Density when each message uses c of chi clusters (Aliabadi et al. 2014):
    d = 1 - (1 - c (c - 1) / (chi (chi - 1) l^2))^M."""
    c, l = _cl(c, l)
    chi = v.integer("chi", chi, low=c)
    M = v.array("M", M, low=0)
    return 1.0 - (1.0 - c * (c - 1) / (chi * (chi - 1) * l**2)) ** M


def one_iteration_error(M, c, l, n_erased):
    """Probability that one sum-of-sum iteration (gamma >= 1) does not return exactly the stored
    message when n_erased clusters are unknown: P_e = 1 - (1 - d^(c - c_e))^(c_e (l - 1))."""
    c, l = _cl(c, l)
    ce = v.integer("n_erased", n_erased, low=0, high=c - 1)
    d = clique_density(M, c, l)
    return 1.0 - (1.0 - d ** (c - ce)) ** (ce * (l - 1))


def clique_efficiency(M, c, l):
    """Stored bits per bit of binary weights: eta = M c log2(l) / (c (c - 1) l^2 / 2)."""
    c, l = _cl(c, l)
    M = v.array("M", M, low=0)
    return M * c * np.log2(l) / (c * (c - 1) * l**2 / 2)


def willshaw_density(M, n, k):
    """Expected fraction of off-diagonal weights set after storing M random patterns with
    exactly k of n units active: d = 1 - (1 - k (k - 1) / (n (n - 1)))^M."""
    n = v.integer("n", n, low=2)
    k = v.integer("k", k, low=1, high=n)
    M = v.array("M", M, low=0)
    return 1.0 - (1.0 - k * (k - 1) / (n * (n - 1))) ** M


def willshaw_false_positive(M, n, k, k_cue):
    """Probability that a unit outside a stored pattern reaches the threshold k_cue when the
    cue holds k_cue units of that pattern. Given the N ~ Binomial(M - 1, k / n) other patterns
    through the unit, each cue unit is connected with probability 1 - (1 - (k-1)/(n-1))^N:
    p = E[(1 - (1 - (k - 1)/(n - 1))^N)^k_cue]. (The classic approximation d^k_cue ignores
    the common N and is a few % to tens of % low.)"""
    from scipy.stats import binom

    n = v.integer("n", n, low=2)
    k = v.integer("k", k, low=1, high=n)
    k_cue = v.integer("k_cue", k_cue, low=1, high=k)
    M = v.integer("M", M, low=1)
    N = np.arange(M)
    return float(np.sum(binom.pmf(N, M - 1, k / n)
                        * (1.0 - (1.0 - (k - 1) / (n - 1)) ** N) ** k_cue))


def hopfield_capacity(n):
    """Number of random +-1 patterns a Hopfield network of n neurons stores: ~0.138 n."""
    return HOPFIELD_ALPHA_C * v.integer("n", n, low=1)


def hopfield_bit_error(P, n):
    """One-step bit error of a Hopfield network started at a stored pattern, large-n Gaussian
    crosstalk: Q(sqrt(n / P)) (Hertz, Krogh & Palmer 1991, eq. 2.17)."""
    n = v.integer("n", n, low=1)
    P = v.array("P", P, low=1)
    return 1.0 - ndtr(np.sqrt(n / P))


def quantized_noise_rates(sigma, threshold=0.5):
    """Insertion and erasure probabilities of thresholded Gaussian synaptic noise (Coyac et al.
    2017): a unit with input x in {0, 1} plus N(0, sigma^2) is active when the sum >= threshold.
    Returns (p_insert, p_erase) = (Q(threshold / sigma), Phi((threshold - 1) / sigma))."""
    sigma = v.positive("sigma", sigma)
    threshold = v.number("threshold", threshold, low=0.0, high=1.0, low_open=True,
                         high_open=True)
    return float(1.0 - ndtr(threshold / sigma)), float(ndtr((threshold - 1.0) / sigma))


def one_iteration_error_conditional(M, c, l, n_erased):
    """One-iteration error without the independence approximation between the c - c_e edges
    of a wrong neuron: given the N ~ Binomial(M - 1, 1/l) other messages through it, each edge
    is present with probability 1 - (1 - 1/l)^N, so p = E[(1 - (1 - 1/l)^N)^(c - c_e)] and
    P_e = 1 - (1 - p)^(c_e (l - 1)). (Derived here; slightly above the classic formula.)"""
    from scipy.stats import binom

    c, l = _cl(c, l)
    ce = v.integer("n_erased", n_erased, low=0, high=c - 1)
    M = np.atleast_1d(v.array("M", M, low=1)).astype(np.int64)
    out = np.empty(M.shape)
    for idx, m in enumerate(M):
        N = np.arange(m)
        p = np.sum(binom.pmf(N, m - 1, 1.0 / l) * (1.0 - (1.0 - 1.0 / l) ** N) ** (c - ce))
        out[idx] = 1.0 - (1.0 - p) ** (ce * (l - 1))
    return out
