"""Fast seeded random numbers for numba kernels: xoshiro256++ and ziggurat normals.

The generator is xoshiro256++ (Blackman & Vigna, "Scrambled linear pseudorandom number
generators", ACM TOMS 2021): 256 bits of state held in a ``uint64[4]`` array, seeded from a
NumPy ``Generator`` (:func:`seed_state`), so every random thing still takes a seed and the
same seed gives the same numbers. Standard normals come from the ziggurat method of Marsaglia
& Tsang ("The ziggurat method for generating random variables", J. Stat. Softw. 5(8), 2000)
with 256 layers, one 64-bit output per draw on the fast path (~99% of draws): 8 bits pick
the layer, 1 bit the sign, 52 bits the abscissa. Draws are strictly sequential, so the
numbers do not depend on how a stream is cut into arrays.

The ziggurat tables are built once at import (:func:`_ziggurat`, plain Python floats):
layer 0 is the base strip (the rectangle under f(r) plus the tail beyond r, width v / f(r)),
layers 1..255 the rectangles [0, x_i] x [f(x_i), f(x_{i+1})] with x_1 = r and
f(x_{i+1}) = f(x_i) + v / x_i, x_256 = 0, f(x) = exp(-x^2 / 2); r is found by bisection so
that the 256 layers have equal area v and close exactly at the top (r = 3.6541528853610088,
as in the paper).

Kernels call :func:`normal` (inlined) with the state in four local variables; Python code
calls :func:`fill_normal` on an array. Kernels that hand the stream to helpers carry it as a
value, a tuple ``st`` of the four words (:func:`load` from the array, :func:`store` back):
``x, st = bounded(st, b)`` is a uniform integer below b (Lemire's multiply-shift without
modulo bias, "Fast random integer generation in an interval", ACM TOMACS 2019) and
``u, st = uniform(st)`` a float in [0, 1). This is the one generator of every numba kernel
that draws.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

#: number of ziggurat layers
N_LAYERS = 256


def _ziggurat(n: int = N_LAYERS):
    """(r, v, x[0..n]) of the n-layer ziggurat of exp(-x^2/2) (see the module docstring)."""
    def f(x):
        return math.exp(-0.5 * x * x)

    def layers(r):
        v = r * f(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
        x = [v / f(r), r]
        for _ in range(n - 2):
            y = f(x[-1]) + v / x[-1]
            if y >= 1.0:  # r too small: the layers reach the top too early
                return v, x, -1.0
            x.append(math.sqrt(-2.0 * math.log(y)))
        return v, x, x[-1] * (1.0 - f(x[-1])) - v  # top layer's area minus v

    lo, hi = 2.0, 5.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if layers(mid)[2] > 0 else (mid, hi)
    v, x, _ = layers(hi)
    return hi, v, np.array(x + [0.0])


ZIGGURAT_R, ZIGGURAT_V, _X = _ziggurat()
#: fast-accept thresholds: rabs < _K[i] means rabs * _W[i] < x_{i+1}
_K = np.array([int(_X[i + 1] / _X[i] * 2.0**52) for i in range(N_LAYERS)], np.uint64)
#: layer widths per unit of the 52-bit abscissa
_W = _X[:N_LAYERS] * 2.0**-52
#: f(x_i), i = 0..256
_F = np.exp(-0.5 * _X * _X)
_INV_R = 1.0 / ZIGGURAT_R

_U1, _U8, _U11, _U12 = np.uint64(1), np.uint64(8), np.uint64(11), np.uint64(12)
_U17, _U23, _U41, _U45, _U19 = (np.uint64(17), np.uint64(23), np.uint64(41), np.uint64(45),
                                np.uint64(19))
_LOW8 = np.uint64(0xFF)
_U32, _LOW32, _TWO32 = np.uint64(32), np.uint64(0xFFFFFFFF), np.uint64(1 << 32)


def seed_state(rng: np.random.Generator) -> np.ndarray:
    """A new xoshiro256++ state (``uint64[4]``, never all zero) drawn from ``rng``."""
    while True:
        s = rng.integers(0, 2**64, 4, dtype=np.uint64)
        if s.any():
            return s


@njit(cache=True, inline="always")
def next_uint64(s0, s1, s2, s3):
    """One xoshiro256++ step: (output, s0, s1, s2, s3), all uint64."""
    t = s0 + s3
    out = ((t << _U23) | (t >> _U41)) + s0
    t = s1 << _U17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _U45) | (s3 >> _U19)
    return out, s0, s1, s2, s3


@njit(cache=True, inline="always")
def load(state):
    """The stream in ``state`` (``uint64[4]``) as a tuple of four uint64, a value that kernels
    pass through :func:`bounded` and :func:`uniform` (in registers, no memory traffic)."""
    return state[0], state[1], state[2], state[3]


@njit(cache=True, inline="always")
def store(state, st) -> None:
    """Write the tuple ``st`` back into the ``uint64[4]`` array ``state``."""
    state[0], state[1], state[2], state[3] = st[0], st[1], st[2], st[3]


@njit(cache=True, inline="always")
def bounded(st, bound):
    """(a uniform integer in [0, bound), next st), 0 < bound < 2**32: the top 32 bits of an
    output times bound (Lemire 2019), redrawn only when the low half falls below
    2**32 mod bound."""
    b = np.uint64(bound)
    r, s0, s1, s2, s3 = next_uint64(st[0], st[1], st[2], st[3])
    m = (r >> _U32) * b
    low = m & _LOW32
    if low < b:
        t = (_TWO32 - b) % b
        while low < t:
            r, s0, s1, s2, s3 = next_uint64(s0, s1, s2, s3)
            m = (r >> _U32) * b
            low = m & _LOW32
    return np.int64(m >> _U32), (s0, s1, s2, s3)


@njit(cache=True, inline="always")
def uniform(st):
    """(a float in [0, 1) from the top 53 bits of one output, next st)."""
    r, s0, s1, s2, s3 = next_uint64(st[0], st[1], st[2], st[3])
    return np.float64(r >> _U11) * 2.0**-53, (s0, s1, s2, s3)


@njit(cache=True)
def partial_shuffle(st, a, k, m):
    """Fisher-Yates steps on ``a[:k]``: afterwards ``a[:m]`` is a uniform random m-subset of
    the first k entries, in random order. Returns the advanced stream."""
    for j in range(m):
        q, st = bounded(st, k - j)
        q += j
        a[j], a[q] = a[q], a[j]
    return st


@njit(cache=True, inline="always")
def _unit(r):
    """A float in (0, 1] from the top 53 bits of r."""
    return (np.float64(r >> _U11) + 1.0) * 2.0**-53


@njit(cache=True)
def _slow(r, s0, s1, s2, s3):
    """The rare paths of :func:`normal` for output r (a wedge or the tail); the draw then
    continues as in :func:`normal` (returns (z or nan to retry, s0, s1, s2, s3))."""
    i = r & _LOW8
    rabs = r >> _U12
    x = np.float64(rabs) * _W[i]
    neg = (r >> _U8) & _U1
    if i == 0:  # the tail beyond r (Marsaglia 1964)
        while True:
            u, s0, s1, s2, s3 = next_uint64(s0, s1, s2, s3)
            xx = -math.log(_unit(u)) * _INV_R
            u, s0, s1, s2, s3 = next_uint64(s0, s1, s2, s3)
            if -2.0 * math.log(_unit(u)) > xx * xx:
                x = ZIGGURAT_R + xx
                return (-x if neg else x), s0, s1, s2, s3
    u, s0, s1, s2, s3 = next_uint64(s0, s1, s2, s3)
    y = _F[i] + (_unit(u) - 2.0**-53) * (_F[i + 1] - _F[i])  # uniform in [f(x_i), f(x_i+1))
    if y < math.exp(-0.5 * x * x):
        return (-x if neg else x), s0, s1, s2, s3
    return np.nan, s0, s1, s2, s3


@njit(cache=True, inline="always")
def normal(s0, s1, s2, s3):
    """One standard normal: (z, s0, s1, s2, s3); the state in four uint64 locals."""
    while True:
        r, s0, s1, s2, s3 = next_uint64(s0, s1, s2, s3)
        i = r & _LOW8
        rabs = r >> _U12
        if rabs < _K[i]:
            x = np.float64(rabs) * _W[i]
            return (-x if (r >> _U8) & _U1 else x), s0, s1, s2, s3
        z, s0, s1, s2, s3 = _slow(r, s0, s1, s2, s3)
        if not math.isnan(z):
            return z, s0, s1, s2, s3


@njit(cache=True, nogil=True)
def fill_normal(state, out):
    """Fill the 1-d float64 array ``out`` with standard normals, advancing ``state``."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for k in range(out.size):
        out[k], s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@njit(cache=True, nogil=True)
def fill_normal_blocks(states, out, width):
    """Fill the 2-d ``out`` (rows x units) with standard normals, row after row: units
    ``b * width`` to ``(b + 1) * width`` from the stream ``states[b]`` (one row of ``states``
    per block of units; one stream: as :func:`fill_normal` on the whole array)."""
    for r in range(out.shape[0]):
        for b in range(states.shape[0]):
            fill_normal(states[b], out[r, b * width:(b + 1) * width])


#: the jump polynomial of xoshiro256 (Blackman & Vigna's reference code): 2^128 outputs ahead
_JUMP = np.array([0x180EC6D33CFD0ABA, 0xD5A61266F0C9392C, 0xA9582618E03FC9AA,
                  0x39ABDC4529B1661C], np.uint64)


@njit(cache=True)
def jump(state) -> None:
    """Advance ``state`` (``uint64[4]``) by 2^128 outputs: streams jumped 0, 1, 2, ... times
    from one state are 2^128 outputs apart (they never overlap in practice)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    t0 = t1 = t2 = t3 = np.uint64(0)
    for i in range(4):
        for bit in range(64):
            if (_JUMP[i] >> np.uint64(bit)) & _U1:
                t0 ^= s0
                t1 ^= s1
                t2 ^= s2
                t3 ^= s3
            _, s0, s1, s2, s3 = next_uint64(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = t0, t1, t2, t3


def streams(state: np.ndarray, n: int) -> np.ndarray:
    """``n`` streams (``uint64[n, 4]``): row 0 is ``state``, row b that state jumped b times."""
    out = np.empty((max(n, 1), 4), np.uint64)
    out[0] = state
    for b in range(1, n):
        out[b] = out[b - 1]
        jump(out[b])
    return out


@njit(cache=True, nogil=True)
def fill_uint64(state, out):
    """Fill the 1-d uint64 array ``out`` with raw xoshiro256++ outputs, advancing ``state``."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for k in range(out.size):
        out[k], s0, s1, s2, s3 = next_uint64(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


def standard_normal(state: np.ndarray, shape) -> np.ndarray:
    """A new float64 array of ``shape`` standard normals, advancing ``state``."""
    out = np.empty(shape)
    fill_normal(state, out.reshape(-1))
    return out


@njit(cache=True)
def poisson_steps(st, rates, dt, n_steps, ids, ptr, tmp_step, tmp_id):
    """Spike trains of ``n_steps`` steps of ``dt`` ms at ``rates`` Hz: each unit fires in a
    step with probability ``rate * dt / 1000``, drawn as geometric gaps between its spikes
    (one uniform a spike; at probability >= 1 every step, without draws), unit after unit.
    Returns the advanced stream ``st``; the units firing in step s are
    ``ids[ptr[s]:ptr[s + 1]]`` (``ptr``: n_steps + 1 entries; ``ids``, ``tmp_step``,
    ``tmp_id``: room for every spike, e.g. units x n_steps)."""
    n = 0
    for i in range(rates.size):
        p = rates[i] * dt * 1e-3
        if p <= 0.0:
            continue
        s = -1
        while True:
            if p >= 1.0:
                s += 1
            else:
                u, st = uniform(st)
                s += 1 + int(math.floor(math.log(1.0 - u) / math.log1p(-p)))
            if s >= n_steps:
                break
            tmp_step[n] = s
            tmp_id[n] = i
            n += 1
    bucket_by_step(n, n_steps, tmp_step, tmp_id, ids, ptr)
    return st


@njit(cache=True)
def bucket_by_step(n, n_steps, tmp_step, tmp_id, ids, ptr):
    """Group the ``n`` spikes (``tmp_step[m]``, ``tmp_id[m]``) by step, unit order kept: the
    units firing in step s become ``ids[ptr[s]:ptr[s + 1]]``."""
    ptr[:] = 0
    for m in range(n):
        ptr[tmp_step[m] + 1] += 1
    for s in range(n_steps):
        ptr[s + 1] += ptr[s]
    fill = ptr[:-1].copy()
    for m in range(n):
        ids[fill[tmp_step[m]]] = tmp_id[m]
        fill[tmp_step[m]] += 1


@njit(cache=True)
def draw_poisson_steps(state, rates, dt, n_steps, ids, ptr, tmp_step, tmp_id):
    """:func:`poisson_steps` on the stream in the array ``state`` (advanced in place)."""
    store(state, poisson_steps(load(state), rates, dt, n_steps, ids, ptr, tmp_step, tmp_id))
