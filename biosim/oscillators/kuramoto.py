"""Kuramoto phase oscillators: one numba right-hand side, frequency distributions, the
population and the simulator built on it.

The model (Kuramoto 1975; Sakaguchi & Kuramoto 1986 for the phase lag ``alpha``)::

    dtheta_i/dt = omega_i + K r sin(psi - theta_i - alpha)
                          + sum_j W[j, i] sin(theta_j - theta_i - alpha) + sigma xi_i(t)

where ``r e^{i psi} = (1/N) sum_j e^{i theta_j}`` is the mean field (so the global term
equals ``(K/N) sum_j sin(theta_j - theta_i - alpha)`` computed in O(N)), ``W`` is an optional
coupling matrix in the projection convention (shape (n_pre, n_post), dense or CSR with rows =
pre units) and ``xi`` is white noise (Euler-Maruyama, ``dtheta += sigma sqrt(dt) N(0, 1)``).
The matrix term costs two products ``W^T cos(theta)``, ``W^T sin(theta)`` instead of N^2 sines.

Time is in model units (ms inside a :class:`biosim.Network`); frequencies in rad per time
unit; ``sigma`` in rad per sqrt(time unit).
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import llvmlite.ir as ir
import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from biosim.core import validation as check
from biosim.core.monitors import OrderParameterMonitor, StateMonitor
from biosim.core.network import Network
from biosim.core.population import Population
from biosim.core.random import make_rng

__all__ = ["natural_frequencies", "simulate", "KuramotoResult", "KuramotoPopulation",
           "coupling_arrays"]

# coupling kinds understood by the kernels. The sparse kinds hold the matrix in blocks of
# ``block`` source units (see :func:`_blocked`); _CSR1: every weight of row i is a whole
# multiple of one number data[i] (equal weights, K/k_i normalisations, repeated edges), so
# the kernel reads source indices only, the multiple m as m copies of the index
_NONE, _DENSE, _CSR, _CSR1 = 0, 1, 2, 3
#: most source units per block: 2-byte local indices (1 + j - b block: 0 is a zero row, see
#: :func:`_blocked`), a table (cos, sin) of at most 1 MiB, which stays in a core's L2 cache
#: while the rows gather from it (at 10^5 units, 2 blocks: ~0.5 ns per neighbour, 1 block
#: with 4-byte indices: ~0.85 ns; 3 or more: more, shorter segments, slower). More than
#: ``_MAX_BLOCKS`` blocks only while their segments hold 4 entries or more on average (10^6 x
#: 100 in 16 blocks: 5.4 s for 5 RK4 steps, one block 13 s); else one block with 4-byte
#: indices: the segment pointers grow as blocks x n (10^7 x 10 in blocks: a 12 GB index)
_BLOCK = (1 << 16) - 1
_MAX_BLOCKS = 2
#: largest whole multiple stored as repeated indices (_CSR1)
_MAX_REPEAT = 8


# ---------------------------------------------------------------- sincos
# sin and cos together, branch-free so that LLVM vectorises the loops that call it (libm's
# sin/cos are scalar calls): Cody-Waite reduction by pi/2 in three parts and the fdlibm
# kernel polynomials on [-pi/4, pi/4]; |error| < 4e-16 for |x| <= 1e6 (larger phases are
# reduced mod 2 pi by _wrap_large).
_PIO2_1, _PIO2_2, _PIO2_3 = 1.57079632673412561417e+00, 6.07710050630396597660e-11, \
    2.02226624879595063154e-21
_S = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
      2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_C = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
      -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)


@njit(inline="always")
def _sincos(x):
    k = math.floor(x * 0.63661977236758134308 + 0.5)
    r = ((x - k * _PIO2_1) - k * _PIO2_2) - k * _PIO2_3
    z = r * r
    s = r + r * z * (_S[0] + z * (_S[1] + z * (_S[2] + z * (_S[3] + z * (_S[4] + z * _S[5])))))
    c = 1.0 - 0.5 * z + z * z * (_C[0] + z * (_C[1] + z * (_C[2] + z * (_C[3] + z * (
        _C[4] + z * _C[5])))))
    h = k * 0.5
    odd = h != math.floor(h)
    q = k * 0.25 - math.floor(k * 0.25)            # quadrant / 4: 0, .25, .5, .75
    ss = c if odd else s
    cc = s if odd else c
    ss = -ss if q >= 0.5 else ss
    cc = -cc if (q == 0.25 or q == 0.5) else cc
    return ss, cc


@njit(cache=True)
def _wrap_large(theta):
    """Reduce phases mod 2 pi once any exceeds 1e6 rad (where _sincos loses accuracy);
    phases stay unwrapped below that."""
    big = False
    for i in range(theta.size):
        if abs(theta[i]) > 1e6:
            big = True
    if big:
        for i in range(theta.size):
            theta[i] -= 2.0 * math.pi * math.floor(theta[i] / (2.0 * math.pi) + 0.5)


@njit(cache=True, inline="always")
def _sums(cb, sb):
    """(sum cb, sum sb) in four interleaved partial sums: one sum is a chain of dependent
    adds (4 cycles each, 0.15 ms at 10^5 units)."""
    c0 = c1 = c2 = c3 = s0 = s1 = s2 = s3 = 0.0
    m = cb.size // 4 * 4
    for i in range(0, m, 4):
        c0 += cb[i]
        c1 += cb[i + 1]
        c2 += cb[i + 2]
        c3 += cb[i + 3]
        s0 += sb[i]
        s1 += sb[i + 1]
        s2 += sb[i + 2]
        s3 += sb[i + 3]
    for i in range(m, cb.size):
        c0 += cb[i]
        s0 += sb[i]
    return (c0 + c1) + (c2 + c3), (s0 + s1) + (s2 + s3)


@njit(cache=True, inline="always")
def _unit_vectors(theta, cb, sb, sums=True):
    """cb, sb = cos, sin of the phases; returns their sums (or zeros when not ``sums``)."""
    for i in range(theta.size):
        sb[i], cb[i] = _sincos(theta[i])
    return _sums(cb, sb) if sums else (0.0, 0.0)


# ---------------------------------------------------------------- sparse gather
def _pair_sum_codegen(weighted):
    def codegen(context, builder, sig, args):
        f64, i64, i32 = ir.DoubleType(), ir.IntType(64), ir.IntType(32)
        v2 = ir.VectorType(f64, 2)
        table = context.make_array(sig.args[0])(context, builder, args[0])
        loc = context.make_array(sig.args[1])(context, builder, args[1]).data
        w = context.make_array(sig.args[2])(context, builder, args[2]).data if weighted else None
        pairs = builder.bitcast(table.data, v2.as_pointer())
        start, stop = args[-2], args[-1]

        def term(k):   # the table's row loc[k] as <cos, sin> (times the weight w[k])
            j = builder.zext(builder.load(builder.gep(loc, [k], inbounds=True)), i64)
            v = builder.load(builder.gep(pairs, [j], inbounds=True), align=8)
            if not weighted:
                return v
            wk = builder.load(builder.gep(w, [k], inbounds=True))
            ws = builder.insert_element(ir.Constant(v2, None), wk, i32(0))
            ws = builder.shuffle_vector(ws, ir.Constant(v2, None),
                                        ir.Constant(ir.VectorType(i32, 2), [0, 0]))
            return builder.fmul(ws, v)

        fn, entry = builder.function, builder.block
        head4, body4, head1, body1, done = (fn.append_basic_block(f"pairsum.{b}") for b in
                                            ("head4", "body4", "head1", "body1", "done"))
        zero = ir.Constant(v2, [0.0, 0.0])
        builder.branch(head4)
        builder.position_at_end(head4)     # 4 independent sums while 4 terms are left
        k = builder.phi(i64)
        acc = [builder.phi(v2) for _ in range(4)]
        k4 = builder.add(k, i64(4))
        builder.cbranch(builder.icmp_unsigned("<=", k4, stop), body4, head1)
        builder.position_at_end(body4)
        new = [builder.fadd(a, term(builder.add(k, i64(u)))) for u, a in enumerate(acc)]
        builder.branch(head4)
        k.add_incoming(start, entry)
        k.add_incoming(k4, body4)
        for a, x in zip(acc, new):
            a.add_incoming(zero, entry)
            a.add_incoming(x, body4)
        builder.position_at_end(head1)     # the last 0-3 terms into the first sum
        k1, a1 = builder.phi(i64), builder.phi(v2)
        builder.cbranch(builder.icmp_unsigned("<", k1, stop), body1, done)
        builder.position_at_end(body1)
        k1.add_incoming(k, head4)
        k1.add_incoming(builder.add(k1, i64(1)), body1)
        a1.add_incoming(acc[0], head4)
        a1.add_incoming(builder.fadd(a1, term(k1)), body1)
        builder.branch(head1)
        builder.position_at_end(done)
        total = builder.fadd(builder.fadd(a1, acc[1]), builder.fadd(acc[2], acc[3]))
        return context.make_tuple(builder, sig.return_type,
                                  [builder.extract_element(total, i32(c)) for c in (0, 1)])
    return codegen


@intrinsic
def _pair_sum(typingctx, table, loc, start, stop):
    """sum over k in [start, stop) of ``table[loc[k]]`` (table: (m, 2) float64, C order) as
    (sum cos, sum sin): one 16-byte load and one two-lane add per term, in four independent
    sums ((s0 + s1) + (s2 + s3)). numba emits neither (its SLP vectoriser is off): this is
    1.3-1.7x faster per neighbour than the scalar loop. ``start``, ``stop``: uint64."""
    return (types.UniTuple(types.float64, 2)(table, loc, start, stop),
            _pair_sum_codegen(False))


@intrinsic
def _pair_sum_w(typingctx, table, loc, w, start, stop):
    """:func:`_pair_sum` of ``w[k] * table[loc[k]]``."""
    return (types.UniTuple(types.float64, 2)(table, loc, w, start, stop),
            _pair_sum_codegen(True))


# ---------------------------------------------------------------- kernels
class Params(NamedTuple):
    """What the kernels read (fixed during a run): natural frequencies ``omega`` (rad per time
    unit), global coupling ``K``, cos and sin of the phase lag, the population's own coupling
    matrix (``kind``, ``block`` and the arrays of :func:`coupling_arrays`), the step ``dt``,
    ``rk4`` (else Euler) and the noise scale ``sq`` = sigma sqrt(dt)."""

    omega: np.ndarray
    K: float
    ca: float
    sa: float
    kind: int
    W: np.ndarray
    data: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    block: int
    dt: float
    rk4: bool
    sq: float


@njit(cache=True)
def rhs(theta, p, Fx, Fy, cb, sb, table, acc, out, known):
    """out = dtheta/dt at phases ``theta``: omega + the global term + the matrix term + the
    external field F = (Fx, Fy) (one value per unit, held fixed over the step: what
    projections deliver, sum_j W[j, i] (cos theta_j, sin theta_j); empty arrays: none).
    cb, sb: cos, sin of ``theta``, computed here unless ``known`` (they already hold them);
    table, acc: scratch for the sparse path: for each block of source units a zero row, then
    their cos and sin side by side (one gather fetches both), (blocks (block + 1), 2); the row
    sums (n, 2)."""
    n = theta.size
    ca, sa = p.ca, p.sa
    if known:
        sc, ss = _sums(cb, sb) if p.K != 0.0 else (0.0, 0.0)
    else:
        sc, ss = _unit_vectors(theta, cb, sb, p.K != 0.0)   # (the sums only for K)
    # global term K r sin(psi - theta_i - alpha) = K (Y cos(theta_i + a) - X sin(theta_i + a))
    X = p.K * sc / n
    Y = p.K * ss / n
    field = Fx.size > 0
    kind = p.kind
    if kind == _DENSE:
        W = p.W
        for i in range(n):
            out[i] = 0.0
        sx = np.zeros(n)
        for j in range(n):
            cj = cb[j]
            sj = sb[j]
            for i in range(n):
                w = W[j, i]
                sx[i] += w * cj
                out[i] += w * sj
        for i in range(n):
            c = cb[i] * ca - sb[i] * sa      # cos(theta_i + alpha)
            s = sb[i] * ca + cb[i] * sa      # sin(theta_i + alpha)
            gx = X + sx[i] + (Fx[i] if field else 0.0)
            gy = Y + out[i] + (Fy[i] if field else 0.0)
            out[i] = p.omega[i] + gy * c - gx * s
    elif kind == _CSR or kind == _CSR1:
        # rows = post units, gathered block by block of source units (the block's table of
        # cos, sin stays in cache)
        data, indptr, loc, bs = p.data, p.indptr, p.indices, p.block
        nb = (n + bs - 1) // bs
        for b in range(nb):
            for j in range(b * bs, min(n, b * bs + bs)):
                table[j + b + 1, 0] = cb[j]
                table[j + b + 1, 1] = sb[j]
        for b in range(nb):
            t = table[b * (bs + 1):]
            seg = indptr[b * n:]
            for i in range(n):
                a, e = np.uintp(seg[i]), np.uintp(seg[i + 1])
                if kind == _CSR1:
                    x, y = _pair_sum(t, loc, a, e)
                else:
                    x, y = _pair_sum_w(t, loc, data, a, e)
                if b == 0:
                    acc[i, 0] = x
                    acc[i, 1] = y
                else:
                    acc[i, 0] += x
                    acc[i, 1] += y
        for i in range(n):
            w = data[i] if kind == _CSR1 else 1.0
            c = cb[i] * ca - sb[i] * sa
            s = sb[i] * ca + cb[i] * sa
            gx = X + w * acc[i, 0] + (Fx[i] if field else 0.0)
            gy = Y + w * acc[i, 1] + (Fy[i] if field else 0.0)
            out[i] = p.omega[i] + gy * c - gx * s
    elif field:
        for i in range(n):
            c = cb[i] * ca - sb[i] * sa
            s = sb[i] * ca + cb[i] * sa
            out[i] = p.omega[i] + (Y + Fy[i]) * c - (X + Fx[i]) * s
    else:  # the mean field alone: a branch-free loop that LLVM vectorises
        omega = p.omega
        for i in range(n):
            c = cb[i] * ca - sb[i] * sa
            s = sb[i] * ca + cb[i] * sa
            out[i] = omega[i] + Y * c - X * s


@njit(cache=True)
def advance(theta, p, Fx, Fy, noise, activity, z_out, theta_out, step0, every):
    """Advance ``theta`` in place by ``z_out.shape[0]`` steps (RK4 or Euler, then
    ``sq * noise[step]``, noise of shape (steps, n) or (0, 0)); after each step write the
    unit vectors into ``activity`` (n, 2) and their mean into ``z_out[step]``, and, at the
    steps ``step0 + step`` that are multiples of ``every``, the phases into the next row of
    ``theta_out`` (when it has rows). Returns the rows written."""
    n = theta.size
    cb = np.empty(n)
    sb = np.empty(n)
    sparse = p.kind >= _CSR
    table = np.zeros(((n + p.block - 1) // p.block * (p.block + 1) if sparse else 0, 2))
    acc = np.empty((n if sparse else 0, 2))
    k1 = np.empty(n)
    k2 = np.empty(n) if p.rk4 else k1
    k3 = np.empty(n) if p.rk4 else k1
    k4 = np.empty(n) if p.rk4 else k1
    tmp = np.empty(n)
    dt = p.dt
    has_noise = noise.shape[0] > 0
    row = 0
    for step in range(z_out.shape[0]):
        # from the second step on, cb and sb hold the unit vectors of theta (end of the
        # previous step): the same numbers, one sincos pass fewer per step
        rhs(theta, p, Fx, Fy, cb, sb, table, acc, k1, step > 0)
        if p.rk4:
            for i in range(n):
                tmp[i] = theta[i] + 0.5 * dt * k1[i]
            rhs(tmp, p, Fx, Fy, cb, sb, table, acc, k2, False)
            for i in range(n):
                tmp[i] = theta[i] + 0.5 * dt * k2[i]
            rhs(tmp, p, Fx, Fy, cb, sb, table, acc, k3, False)
            for i in range(n):
                tmp[i] = theta[i] + dt * k3[i]
            rhs(tmp, p, Fx, Fy, cb, sb, table, acc, k4, False)
            for i in range(n):
                theta[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        else:
            for i in range(n):
                theta[i] += dt * k1[i]
        if has_noise:
            for i in range(n):
                theta[i] += p.sq * noise[step, i]
        _wrap_large(theta)
        sc, ss = _unit_vectors(theta, cb, sb)
        z_out[step, 0] = sc / n
        z_out[step, 1] = ss / n
        if theta_out.shape[0] > 0 and (step0 + step) % every == 0:
            theta_out[row, :] = theta
            row += 1
    for i in range(n):  # the unit vectors after the last step
        activity[i, 0] = cb[i]
        activity[i, 1] = sb[i]
    return row


def advance_numpy(theta, p, Fx, Fy, noise):
    """NumPy twin of :func:`advance` for one step (the reference the tests compare with):
    returns the new phases."""
    def f(th):
        c, s = np.cos(th), np.sin(th)
        ca, sa = c * p.ca - s * p.sa, s * p.ca + c * p.sa
        gx, gy = p.K * c.mean() + Fx, p.K * s.mean() + Fy
        if p.kind == _DENSE:
            gx, gy = gx + p.W.T @ c, gy + p.W.T @ s
        elif p.kind != _NONE:
            m = _coupling_matrix(p, th.size)
            gx, gy = gx + m @ c, gy + m @ s
        return p.omega + gy * ca - gx * sa

    if p.rk4:
        k1 = f(theta)
        k2 = f(theta + 0.5 * p.dt * k1)
        k3 = f(theta + 0.5 * p.dt * k2)
        k4 = f(theta + p.dt * k3)
        new = theta + p.dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    else:
        new = theta + p.dt * f(theta)
    return new + p.sq * noise if noise.size else new


# ---------------------------------------------------------------- frequencies
_DISTS = ("lorentzian", "gaussian", "uniform")


def natural_frequencies(n, dist="lorentzian", width=1.0, center=0.0, *, sample="random",
                        seed=None) -> np.ndarray:
    """Natural frequencies omega (rad per time unit) of ``n`` oscillators.

    ``dist``: ``"lorentzian"`` (Cauchy, half-width ``width`` = Delta), ``"gaussian"``
    (sd ``width`` = sigma) or ``"uniform"`` (on [center - width, center + width]).
    ``sample="random"`` draws from ``make_rng(seed)``; ``"quantile"`` takes the
    quantiles F^-1((k + 1/2) / n), k = 0..n-1 (sorted, no sampling noise: finite-size
    results then sit much closer to the N -> infinity theory), shuffled when ``seed`` is given.
    """
    n = check.integer("n", n, low=1)
    check.choice("dist", dist, _DISTS)
    width = check.positive("width", width)
    center = check.number("center", center)
    check.choice("sample", sample, ("random", "quantile"))
    if sample == "quantile":
        u = (np.arange(n) + 0.5) / n
        if dist == "lorentzian":
            w = np.tan(np.pi * (u - 0.5))
        elif dist == "gaussian":
            from scipy.special import ndtri

            w = ndtri(u)
        else:
            w = 2.0 * u - 1.0
        if seed is not None:
            make_rng(seed).shuffle(w)
    else:
        rng = make_rng(seed)
        if dist == "lorentzian":
            w = rng.standard_cauchy(n)
        elif dist == "gaussian":
            w = rng.standard_normal(n)
        else:
            w = rng.uniform(-1.0, 1.0, n)
    return center + width * w


# ---------------------------------------------------------------- coupling
def coupling_arrays(coupling, n):
    """(kind, block, W, data, indptr, indices) for the kernels from None, a dense (n, n) array
    or a scipy sparse matrix / :class:`biosim.core.projection.Weights`, both (n_pre, n_post);
    the kernels get a sparse matrix transposed (rows = post units) and cut into blocks of
    ``block`` source units (see :func:`_blocked`)."""
    empty_f, empty_i, empty_u = np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.uint16)
    if coupling is None:
        return _NONE, 1, np.zeros((0, 0)), empty_f, empty_i, empty_u
    if hasattr(coupling, "indptr") and hasattr(coupling, "indices"):
        if hasattr(coupling, "tocsr"):                       # scipy.sparse
            coupling = coupling.tocsr()
            shape = coupling.shape
        else:                                                # core Weights (CSR, rows = pre)
            shape = (coupling.n_pre, coupling.n_post)
        if shape != (n, n):
            check.fail("coupling", f"shape ({n}, {n})", f"shape {shape}")
        nb = -(-n // _BLOCK)
        blocked = nb <= _MAX_BLOCKS or len(coupling.indices) >= 4 * nb * n
        block = -(-n // nb) if blocked else n                # equal blocks of <= _BLOCK units
        index = np.zeros(0, np.uint16 if block <= _BLOCK else np.uint32)
        data = np.ascontiguousarray(coupling.data, dtype=float)
        one, finite, indptr, loc, w = _blocked(n, np.ascontiguousarray(coupling.indptr),
                                               np.ascontiguousarray(coupling.indices), data,
                                               block, index)
        if not finite:
            check.fail("coupling", "finite values (no NaN or inf)", "a non-finite entry")
        return _CSR1 if one else _CSR, block, np.zeros((0, 0)), w, indptr, loc
    if getattr(coupling, "dense", False) and hasattr(coupling, "W"):
        coupling = coupling.W
    W = check.array("coupling", coupling, shape=(n, n))
    return _DENSE, 1, np.ascontiguousarray(W), empty_f, empty_i, empty_u


@njit(cache=True, inline="always")
def _repeats(d, u):
    """m when weight d is m (0..8) times u exactly, else -1."""
    if d == u:
        return 1
    if d == 0.0:
        return 0
    r = d / u
    m = int(r + 0.5) if 0.5 <= r <= _MAX_REPEAT + 0.5 else -1
    return m if m >= 1 and m * u == d else -1


@njit(cache=True)
def _blocked(n, indptr, indices, data, bs, index):
    """The kernels' layout of a CSR matrix (n, n), rows = pre units: the transpose (rows = post
    units i) cut into blocks of ``bs`` source units j; segment s = b n + i holds the sources
    of row i in block b (ascending) as ``loc[indptr[s]:indptr[s + 1]] = 1 + j - b bs`` (of
    the dtype of ``index``, which holds bs)
    and zeros up to a whole multiple of 4 entries (the kernel's table has a zero row 0 in
    each block). Returns (one, finite, indptr, loc, w): ``one`` when every weight of row i is
    a whole multiple m (1..8) of one number w[i] (m copies of the index; zeros dropped): the
    same number for all rows, or each row's weights all equal; else w holds each entry's
    weight in the order of ``loc``. ``finite``: no NaN or inf among the weights.
    Unsigned indices in the loops over entries: numba adds a negative-index check to signed
    ones (2x the time of these loops)."""
    U = np.uintp
    nb = (n + bs - 1) // bs
    # one number u of which every weight is a whole multiple (1..8, or 0): the first weight
    # not 0, or a smaller one (u = 2 u' when the first was a repeated edge)
    u = 0.0
    for d in data:
        if d != 0.0:
            u = d
            break
    mult, same, tries, k = math.isfinite(u), True, 0, 0
    while mult and k < data.size:
        d = data[k]
        if _repeats(d, u) >= 0:
            same &= d == u
            k += 1
        elif 0.0 < abs(d) < abs(u) and tries < 3:
            u, same, tries, k = d, True, tries + 1, 0   # start again with u = d
        else:
            mult = False
    if mult and not same:  # m copies of an index cost m gathers: only while they are few
        copies = 0
        for d in data:
            copies += _repeats(d, u)
        mult = copies <= 1.25 * data.size
    same &= mult
    finite = mult or np.all(np.isfinite(data))
    # entries per segment (padded to whole multiples of 4 with index 0, the zero row: the
    # gather's loop then never runs its 1-3 last terms one by one, a mispredicted branch per
    # segment, 20% of the time at 50 entries a segment), then the entries in place
    seg = np.zeros(nb * n + 1, np.int64)
    for j in range(n):
        s0 = (j // bs) * n + 1
        for k in range(U(indptr[j]), U(indptr[j + 1])):
            seg[U(s0 + indices[k])] += 1 if same or not mult else _repeats(data[k], u)
    for s in range(nb * n):
        seg[s + 1] = seg[s] + ((seg[s + 1] + 3) & -4)
    pos = seg[:-1].copy()
    loc = np.zeros(seg[-1], index.dtype)
    w = np.zeros(0 if mult else seg[-1])
    for j in range(n):
        b = j // bs
        lj = j - b * bs + 1
        for k in range(U(indptr[j]), U(indptr[j + 1])):
            s = U(b * n + indices[k])
            for _ in range(1 if same or not mult else _repeats(data[k], u)):
                loc[U(pos[s])] = lj
                if not mult:
                    w[U(pos[s])] = data[k]
                pos[s] += 1
    if mult:
        return True, True, seg, loc, np.full(n, u)
    unit = np.zeros(n)                        # each row's weights all equal?
    seen = np.zeros(n, np.bool_)
    one = finite
    for b in range(nb):
        for i in range(n):
            for e in range(seg[b * n + i], seg[b * n + i + 1]):
                if loc[e] != 0:
                    if not seen[i]:
                        unit[i] = w[e]
                        seen[i] = True
                    one &= w[e] == unit[i]
    return one, finite, seg, loc, unit if one else w


def _coupling_matrix(p, n):
    """The kernels' sparse coupling as a scipy CSR matrix, rows = post units (the twin's)."""
    import scipy.sparse as sp

    nb = -(-n // p.block)
    counts = np.diff(p.indptr)
    rows = np.repeat(np.tile(np.arange(n), nb), counts)
    cols = p.indices - 1 + np.repeat(np.repeat(np.arange(nb) * p.block, n), counts)
    data = p.data[rows] if p.kind == _CSR1 else p.data
    real = p.indices > 0                     # not the padding
    rows, cols, data = rows[real], cols[real], data[real]
    return sp.csr_matrix((data, (rows, cols)), shape=(n, n))


# ---------------------------------------------------------------- population (Network API)
class KuramotoPopulation(Population):
    """N Kuramoto-Sakaguchi phase oscillators as a :class:`biosim.Population`.

    ``activity`` is the phase as unit vectors (cos theta, sin theta), shape (n, 2), so a
    projection delivers ``inputs["I"][i] = sum_j W[j, i] (cos theta_j, sin theta_j)`` and the
    oscillator adds ``I_y cos(theta_i + alpha) - I_x sin(theta_i + alpha)``
    = ``sum_j W[j, i] sin(theta_j - theta_i - alpha)`` to dtheta_i/dt. The global coupling
    ``K`` acts in O(N) through the mean field. ``coupling``: the population's own fixed
    coupling matrix W (n, n) in the projection convention (dense, scipy.sparse or a
    projection's :class:`~biosim.core.projection.Weights`), evaluated inside the step like
    ``K``, so RK4 stays fourth order with it; a projection instead carries plastic weights
    (a rule) or other populations' phases. ``omega``: natural frequencies (rad/ms, scalar or
    per unit; see :func:`natural_frequencies`); ``sigma``: phase noise (rad / sqrt(ms));
    ``theta0``: initial phases (default uniform on [0, 2 pi) from the network's seed).
    ``gain`` multiplies the projection input (e.g. k/N for weights K_ij of order 1, as in
    adaptive-coupling models). ``method="rk4"`` integrates the population's own terms to
    fourth order with the projection input held fixed over the step (the network delivers it
    once per step); with projections the result is first order in dt, exactly as
    ``"euler"``. State ``theta`` (rad); ``r`` and ``psi`` give the population's order
    parameter now, and ``net.monitor(pop, "r")`` (or ``"psi"``) records it over time.
    Activity kind: ``"phase"``. A network of one such population without projections,
    inputs or callbacks runs in one fused kernel (:meth:`fused_runner`), equal to the
    step-by-step loop.
    """

    activity_kinds = ("phase",)

    def __init__(self, n, omega=0.0, K=0.0, alpha=0.0, sigma=0.0, method="euler",
                 theta0=None, gain=1.0, coupling=None, name=None):
        super().__init__(n, name)
        self.omega = check.per_unit("omega", omega, self.n)
        self.K = check.number("K", K)
        self.alpha = check.number("alpha", alpha)
        self.sigma = check.nonnegative("sigma", sigma)
        self.method = check.choice("method", method, ("rk4", "euler"))
        self.gain = check.number("gain", gain)
        self.theta0 = None if theta0 is None else check.per_unit("theta0", theta0, self.n)
        # the coupling is kept as the kernels' arrays (data, saved with the network)
        (self.coupling_kind, self.coupling_block, self.coupling_W, self.coupling_data,
         self.coupling_indptr, self.coupling_indices) = coupling_arrays(coupling, self.n)
        self.inputs = {"I": np.zeros((self.n, 2))}
        self.activity = np.zeros((self.n, 2))
        self._rng = None

    def initialize(self, rng):
        self._rng = rng
        theta = self.theta0.copy() if self.theta0 is not None else rng.uniform(0, 2 * np.pi, self.n)
        self.state["theta"] = theta
        self.activity[:, 0] = np.cos(theta)
        self.activity[:, 1] = np.sin(theta)

    def params(self, dt: float) -> Params:
        """The kernels' record of this population's parameters for steps of ``dt``."""
        if not hasattr(self, "coupling_block"):
            self._blocked_coupling()
        return Params(self.omega, float(self.K), math.cos(self.alpha), math.sin(self.alpha),
                      int(self.coupling_kind), self.coupling_W, self.coupling_data,
                      self.coupling_indptr, self.coupling_indices, int(self.coupling_block),
                      float(dt),
                      self.method == "rk4", self.sigma * math.sqrt(dt))

    def _blocked_coupling(self):
        """A population saved by biosim 0.1.0 held its sparse coupling as one CSR matrix
        (rows = post units; _CSR1: one weight data[0]): the kernels' blocked layout of it."""
        kind, block = self.coupling_kind, 1
        if kind in (_CSR, _CSR1):
            import scipy.sparse as sp

            data = self.coupling_data
            if kind == _CSR1:
                data = np.full(self.coupling_indices.size, data[0])
            m = sp.csr_matrix((data, self.coupling_indices, self.coupling_indptr),
                              shape=(self.n, self.n))
            (kind, block, _, self.coupling_data, self.coupling_indptr,
             self.coupling_indices) = coupling_arrays(m.T.tocsr(), self.n)
        self.coupling_kind, self.coupling_block = kind, block

    def noise(self, n_steps: int) -> np.ndarray:
        """Standard normals for ``n_steps`` steps, (n_steps, n), drawn from the population's
        stream in step order (empty without noise)."""
        if self.sigma > 0:
            return self._rng.standard_normal((n_steps, self.n))
        return np.zeros((0, 0))

    def step(self, t, dt):
        I = self.inputs["I"] * self.gain if self.gain != 1.0 else self.inputs["I"]
        advance(self.state["theta"], self.params(dt), np.ascontiguousarray(I[:, 0]),
                np.ascontiguousarray(I[:, 1]), self.noise(1), self.activity, np.empty((1, 2)),
                _NO_ROWS, 0, 1)

    @classmethod
    def fused_runner(cls, net):
        """The whole run in :func:`advance` when the network is one population with order
        parameter and ``theta`` monitors only (else None: the generic loop)."""
        if len(net.populations) != 1 or net.projections or net.inputs or net.callbacks:
            return None
        pop = net.populations[0]
        order = [m for m in net.monitors if type(m) is OrderParameterMonitor
                 and m.indices is None]
        states = [m for m in net.monitors if type(m) is StateMonitor and m.var == "theta"]
        if len(order) + len(states) != len(net.monitors) or len(states) > 1:
            return None
        return _FusedRunner(net, pop, order, states[0] if states else None)

    @property
    def r(self) -> float:
        """Order parameter |mean e^{i theta}| of the population now."""
        return float(np.hypot(*self.activity.mean(axis=0)))

    @property
    def psi(self) -> float:
        """Mean phase (rad) of the population now."""
        m = self.activity.mean(axis=0)
        return float(np.arctan2(m[1], m[0]))


_NO_FIELD = np.zeros(0)
_NO_ROWS = np.zeros((0, 0))
#: noise drawn in blocks of about this many numbers
_NOISE_BLOCK = 1 << 22


class _FusedRunner:
    """``advance(n)`` runs n steps of a lone :class:`KuramotoPopulation` in the kernel and
    hands the records to the monitors through their public ``add``."""

    def __init__(self, net, pop, order, state):
        self.net, self.pop, self.order, self.state = net, pop, order, state

    def __call__(self, n_steps: int) -> None:
        net, pop, mon = self.net, self.pop, self.state
        p = pop.params(net.dt)
        block = max(1, min(n_steps, _NOISE_BLOCK // pop.n)) if pop.sigma > 0 else n_steps
        done = 0
        while done < n_steps:
            m = min(block, n_steps - done)
            now = net.step_count
            z = np.empty((m, 2))
            rows = 0
            if mon is not None:
                k = len(range(-now % mon.every, m, mon.every))
                theta_out = np.empty((k, pop.n))
                rows = advance(pop.state["theta"], p, _NO_FIELD, _NO_FIELD, pop.noise(m),
                               pop.activity, z, theta_out, now, mon.every)
            else:
                advance(pop.state["theta"], p, _NO_FIELD, _NO_FIELD, pop.noise(m),
                        pop.activity, z, _NO_ROWS, now, 1)
            t_end = (now + 1 + np.arange(m)) * net.dt  # the end of each step (ms)
            for om in self.order:
                keep = slice(-now % om.every, m, om.every)
                om.add(t_end[keep], z[keep])
            if mon is not None:
                steps = np.arange(-now % mon.every, m, mon.every)[:rows]
                for q, s in enumerate(steps):
                    mon.add(t_end[s], theta_out[q] if mon.indices is None
                            else theta_out[q, mon.indices])
            net.step_count = now + m
            done += m


# ---------------------------------------------------------------- simulator
class KuramotoResult:
    """What :func:`simulate` returns: ``t`` (time after each step), ``r`` and ``psi`` after
    each step, ``theta`` (final phases, rad) and ``phases`` (recorded phases, shape
    (n_records, N), or None)."""

    def __init__(self, t, r, psi, theta, phases):
        self.t, self.r, self.psi, self.theta, self.phases = t, r, psi, theta, phases

    def __repr__(self):
        return (f"KuramotoResult(N={self.theta.size}, steps={self.r.size}, "
                f"r_final={self.r[-1]:.4f})")


def simulate(theta0, omega, dt, n_steps, *, K=0.0, coupling=None, alpha=0.0, sigma=0.0,
             method="rk4", record_every=0, seed=None) -> KuramotoResult:
    """Integrate the Kuramoto-Sakaguchi model from phases ``theta0`` (rad): a
    :class:`biosim.Network` of one :class:`KuramotoPopulation` and its monitors, run by the
    fused kernel.

    ``omega``: natural frequencies (scalar or per unit); ``K``: global (all-to-all) coupling,
    computed in O(N) through the mean field; ``coupling``: optional extra coupling matrix
    W (n_pre, n_post): a dense array, a scipy.sparse matrix or a projection's
    :class:`~biosim.core.projection.Weights`, added as
    ``sum_j W[j, i] sin(theta_j - theta_i - alpha)`` (all-to-all W = K/N gives the same
    dynamics as ``K``); ``alpha``: Sakaguchi phase lag (rad); ``sigma``: phase-noise
    amplitude (rad / sqrt(time unit)), added after each deterministic step
    (Euler-Maruyama), drawn from the network's stream of ``seed``; ``method``: ``"rk4"`` or
    ``"euler"``; ``record_every``: store the phases after steps 1, 1 + record_every,
    1 + 2 record_every, ... (a state monitor's ``every``; 0: only the final phases). ``dt``
    and the returned times are in model time units.
    """
    theta = check.array("theta0", theta0, ndim=1)
    if theta.size == 0:
        check.fail("theta0", "at least one oscillator", "an empty array")
    dt = check.positive("dt", dt)
    n_steps = check.integer("n_steps", n_steps, low=1)
    every = check.integer("record_every", record_every, low=0)
    if isinstance(seed, np.random.Generator):  # a Network takes seeds, not Generators
        seed = np.random.SeedSequence(int(seed.integers(2**63)))
    with warnings.catch_warnings():  # model time units: any dt, any number of steps
        warnings.simplefilter("ignore", check.BiosimWarning)
        net = Network(dt=dt, seed=seed)
        pop = net.add(KuramotoPopulation(theta.size, omega=omega, K=K, alpha=alpha,
                                         sigma=sigma, method=method, theta0=theta,
                                         coupling=coupling, name="oscillators"))
        order = net.monitor(pop, "r")
        phases = net.monitor(pop, "theta", every=every) if every else None
        try:
            net.run(n_steps * dt, progress=False, fused=True)
        except check.BiosimError:
            if pop.nonfinite() is None:
                raise
            # once NaN, r and psi would look like numbers: the network stopped the run
            raise check.BiosimError(f"theta: the phases became non-finite by t = {net.t:g} "
                                    "(lower K, the coupling, omega or dt)") from None
    return KuramotoResult(order.t, order.r, order.psi, pop.state["theta"],
                          phases.values if every else None)
