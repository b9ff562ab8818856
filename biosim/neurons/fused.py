"""The fused fast path of Izhikevich networks: one numba kernel runs many steps.

:meth:`Network.run` uses it when every population is an :class:`Izhikevich` and the network
holds nothing the kernel does not support (plasticity rules, callbacks, inputs other than
constant/step/array currents and Gaussian noise, monitors other than spikes/rate/state of
v, u, I, spikes and weights). It does, step for step, the same floating-point operations in
the same order as the generic loop of :class:`~biosim.core.Network` (steps 1-7 there), draws the
noise from each input's own stream in the same order, and leaves every object (state,
input buffers, activity, projection histories, noise buffers, monitors, ``step_count``)
as the generic loop would: the two paths give bit-identical spikes, and a run may switch
between them, or be checkpointed, at any step. After delivery the units are walked in blocks
of a noise stream's ``NOISE_BLOCK`` units (:class:`~biosim.core.inputs.GaussianNoise`): a
block's noise, inputs, update and spike scan run while its arrays are in the cache. With
``BIOSIM_THREADS=k`` networks of at least ``PARALLEL_MIN_UNITS`` units deliver spikes in k
of numba's threads (each on its own range of units) and run the blocks side by side (each
block its own noise streams): the same results for any number of threads.
"""
from __future__ import annotations

import os
import weakref
from contextlib import contextmanager
from typing import NamedTuple

import llvmlite.ir as ir
import numba
import numpy as np
from numba import get_num_threads, njit, prange, types
from numba.core import cgutils
from numba.core.cpu import CPUTargetOptions
from numba.extending import intrinsic, overload
from numba.np.arrayobj import populate_array

from biosim.core import inputs as _inputs
from biosim.core import validation as check
from biosim.core.fastrandom import fill_normal, normal
from biosim.core.jit import gc_paused
from biosim.core.inputs import ArrayCurrent, ConstantCurrent, GaussianNoise, StepCurrent
from biosim.core.monitors import RateMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from biosim.core.threads import keep_torch_threads
from biosim.neurons.izhikevich import Quadratic, izhikevich_update

#: state variables a fused StateMonitor can record, with their kernel codes
_VARS = {"v": 0, "u": 1, "I": 2, "spikes": 3, "activity": 3}
#: largest number of floats of input rows held per sub-chunk (bounds memory)
_MAX_INPUT_FLOATS = 1 << 22
#: networks of at least this many units (their arrays larger than a core's L2 cache) ask the
#: memory for a block's neuron arrays while its noise is drawn
_AHEAD_UNITS = 1 << 15
#: networks of at least this many units may run in threads (``BIOSIM_THREADS``); smaller
#: ones gain less than the per-step thread launch costs
PARALLEL_MIN_UNITS = 100_000


def _threads(n_units: int) -> int:
    """Threads for delivery, noise and neuron updates: ``BIOSIM_THREADS`` (default 1, an
    opt-in: on a machine busy with other work the per-step barriers made 2 threads 5x slower
    than one), at most numba's (``NUMBA_NUM_THREADS``), from ``PARALLEL_MIN_UNITS`` units on.
    Results are the same for any number."""
    value = os.environ.get("BIOSIM_THREADS", "1")
    try:
        want = int(value)
    except ValueError:
        want = 0
    if want < 1:
        check.fail("BIOSIM_THREADS", "an integer >= 1 (environment variable)", value)
    return min(want, get_num_threads()) if n_units >= PARALLEL_MIN_UNITS else 1


@contextmanager
def _numba_threads(n: int):
    """numba's thread count set to ``n`` (when > 1) for the block, then restored."""
    before = numba.get_num_threads()
    if n > 1 and n != before:
        numba.set_num_threads(n)
    try:
        yield
    finally:
        if numba.get_num_threads() != before:
            numba.set_num_threads(before)


class Cells(NamedTuple):
    """Every unit side by side, population after population (``pop_off``): state (mV, pA-like
    input ``I``), parameters ``a``-``d`` (``same[g]``: population g's a and b, and its c and
    d, are each one value, bit for bit), each population's quadratic coefficients and
    scheme."""
    v: np.ndarray
    u: np.ndarray
    I: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    quad: np.ndarray
    published: np.ndarray
    same: np.ndarray
    pop_off: np.ndarray
    dt: float


class Spikes(NamedTuple):
    """Recent spikes: ``ring[s % L]`` holds step s's (all units), ``fired[s % L, :n_fired[s %
    L]]`` their indices, ``last`` each unit's latest spike step."""
    ring: np.ndarray
    fired: np.ndarray
    n_fired: np.ndarray
    last: np.ndarray


class Synapses(NamedTuple):
    """Projection p: pre units ``pre[p]``.. (``npre[p]``), post units ``post[p]``..
    (``npost[p]``), delay ``delay[p]`` steps (< 0: one per synapse in ``syn_delay``); its
    weights, read in place, are the ``w_size[p]`` floats at address ``w_at[p]`` (dense: rows
    of npost; CSR: data); CSR rows ``ptr[ptr_off[p] + i]`` index its synapses, which start at
    ``syn_off[p]`` in ``posts`` and ``syn_delay``; in threads, thread t's part of CSR row r
    (``ptr_off[p] + i``) is its synapses ``split[t, r]`` to ``split[t + 1, r]``."""
    dense: np.ndarray
    pre: np.ndarray
    npre: np.ndarray
    post: np.ndarray
    npost: np.ndarray
    delay: np.ndarray
    w_at: np.ndarray
    w_size: np.ndarray
    ptr_off: np.ndarray
    syn_off: np.ndarray
    posts: np.ndarray
    ptr: np.ndarray
    syn_delay: np.ndarray
    split: np.ndarray


class Drive(NamedTuple):
    """The inputs of a chunk. Input q (``contig[q]``: its first unit when it feeds a whole
    population, else -1: its units in ascending order ``tgt_sorted``, entry ``order[i]`` of
    the input adding to unit ``tgt_sorted[i]``) adds row ``row[r, q]`` of its block of ``x`` (from
    ``base[q]``; noise: mean + std z, ``uniform[q]``: the same mean and std for every unit).
    Noise rows from ``avail[q]`` on are drawn in the kernel into ``z_new`` (units ``toff[q]``
    on), each block of ``width`` units from its own stream: ``state[soff[q] + block]``."""
    base: np.ndarray
    size: np.ndarray
    toff: np.ndarray
    tgt_sorted: np.ndarray
    order: np.ndarray
    contig: np.ndarray
    noise: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    uniform: np.ndarray
    row: np.ndarray
    x: np.ndarray
    avail: np.ndarray
    state: np.ndarray
    soff: np.ndarray
    width: int
    z_new: np.ndarray


class Records(NamedTuple):
    """What the monitors want: spikes of units with ``rec_spk`` (step offset, unit), spike
    counts per step and population, and state monitor columns (unit, variable code, every)."""
    rec_spk: np.ndarray
    spk_step: np.ndarray
    spk_idx: np.ndarray
    counts: np.ndarray
    sm_idx: np.ndarray
    sm_var: np.ndarray
    sm_every: np.ndarray
    sm_out: np.ndarray


#: CSR delivery asks the memory for the row of the spike this many places ahead in the list:
#: all of it for projections of at least ``_WHOLE_ROWS`` synapses (larger than a core's L2
#: cache: 10^4 x 100 and up, ~9-14% less time than its first line only), else its first line
_AHEAD = 2
_WHOLE_ROWS = 1 << 17


@intrinsic
def _prefetch(typingctx, array, index):
    """Hint the CPU to fetch ``array[index]`` into the cache (LLVM's prefetch: no fault, no
    effect on results). Rows of large CSR matrices are scattered in memory: with the next
    rows already on their way, delivery waits less (1.6x per event at 10^5 x 100; whole rows
    rather than their first line: see ``_WHOLE_ROWS``)."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        # read, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(array, index), codegen


@intrinsic
def _floats_at(typingctx, address, size):
    """The ``size`` float64 at integer ``address``, as an array that owns nothing: the kernel
    reads each projection's own weight array in place (the runner keeps it alive), so a run
    copies no weights (0.8 GB at 10^6 x 100 in several projections) and sees what was written
    to them."""
    if not isinstance(address, types.Integer) or not isinstance(size, types.Integer):
        return None
    array = types.Array(types.float64, 1, "C")

    def codegen(context, builder, sig, args):
        out = context.make_array(array)(context, builder)
        itemsize = context.get_constant(types.intp, 8)
        data = builder.inttoptr(args[0], context.get_value_type(types.float64).as_pointer())
        populate_array(out, data=data, shape=[args[1]], strides=[itemsize],
                       itemsize=itemsize, meminfo=None)
        return out._getvalue()
    return array(address, size), codegen


#: the kernels of the step loop allocate nothing and keep no array beyond a call: they are
#: compiled without numba's reference counting (its private option ``_nrt``; an allocation
#: in them is then a compile error). Its atomic counts on each view and call were ~30% of
#: the time of a 1,000-unit network's step. (A numba without the option counts them.)
_KERNEL = dict(cache=True, nogil=True,
               **({"_nrt": False} if hasattr(CPUTargetOptions, "_nrt") else {}))


@njit(**_KERNEL)
def _lower_bound(x, lo, hi, value):
    """First index in [lo, hi) of sorted ``x`` with x >= value (hi if none)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if x[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(**_KERNEL, inline="always")
def _deliver_span(th, lo, hi, now, I, sp, syn):
    """Step 2 for the units lo <= k < hi (global indices) only, those of thread ``th`` (< 0:
    one thread): each projection adds, spike by spike in fired order, synapse by synapse
    (CSR rows sorted by post unit: a thread's part of a row is ``syn.split``'s)."""
    L = sp.ring.shape[0]
    for p in range(syn.dense.size):
        pre, npre, npost, p0 = syn.pre[p], syn.npre[p], syn.npost[p], syn.post[p]
        j0, j1 = max(lo - p0, 0), min(hi - p0, npost)  # this span, in post units
        if j0 >= j1:
            continue
        whole = j0 == 0 and j1 == npost
        Ip = I[p0:p0 + npost]
        w = _floats_at(syn.w_at[p], syn.w_size[p])
        s_p = syn.syn_off[p]
        posts = syn.posts[s_p:s_p + w.size]
        ptr = syn.ptr[syn.ptr_off[p]:syn.ptr_off[p] + npre + 1]
        if not whole and not syn.dense[p]:  # this thread's part of each row
            ptr = syn.split[th, syn.ptr_off[p]:syn.ptr_off[p] + npre + 1]
            end = syn.split[th + 1, syn.ptr_off[p]:syn.ptr_off[p] + npre + 1]
        else:
            end = ptr[1:]
        if syn.delay[p] >= 0:
            row = (now - 1 - syn.delay[p]) % L
            fired = sp.fired[row, :sp.n_fired[row]]
            for t in range(fired.size):
                i = fired[t] - pre
                if i < 0 or i >= npre:
                    continue
                if syn.dense[p]:
                    wr, Ir = w[i * npost + j0:i * npost + j1], Ip[j0:j1]
                    for j in range(wr.size):  # from 0: no negative-index checks (vectorises)
                        Ir[j] += wr[j]
                else:
                    if t + _AHEAD < fired.size:  # a later spike's row, fetched while this adds
                        i2 = min(max(fired[t + _AHEAD] - pre, 0), npre - 1)
                        s2 = ptr[i2]
                        if w.size < _WHOLE_ROWS:  # in the cache anyway: its first line only
                            _prefetch(posts, s2)
                            _prefetch(w, s2)
                        else:
                            for s in range(s2, end[i2] + 15, 16):  # each 64-byte line
                                _prefetch(posts, s)
                            for s in range(s2, end[i2] + 7, 8):
                                _prefetch(w, s)
                    for s in range(ptr[i], end[i]):
                        Ip[posts[s]] += w[s]
        else:
            delays = syn.syn_delay[s_p:s_p + w.size]
            for i in range(npre):
                if now - 1 - sp.last[pre + i] >= L:  # no spike in the window
                    continue
                for s in range(ptr[i], end[i]):
                    if sp.ring[(now - 1 - delays[s]) % L, pre + i]:
                        Ip[posts[s]] += w[s]


@njit(cache=True)
def _split_rows(bounds, syn):
    """``Synapses.split`` for threads on the units ``bounds[t]`` to ``bounds[t + 1]``."""
    split = np.zeros((bounds.size, syn.ptr.size), np.int64)
    for p in range(syn.dense.size):
        if syn.dense[p]:
            continue
        npre, npost, p0, po = syn.npre[p], syn.npost[p], syn.post[p], syn.ptr_off[p]
        ptr, posts = syn.ptr[po:po + npre + 1], syn.posts[syn.syn_off[p]:]
        for i in range(npre):
            for t in range(bounds.size):
                j = min(max(bounds[t] - p0, 0), npost)
                split[t, po + i] = _lower_bound(posts, ptr[i], ptr[i + 1], j)
    return split


@njit(**_KERNEL, parallel=True)
def _deliver_threads(n_threads, now, I, sp, syn):
    N = I.size
    for t in prange(n_threads):
        _deliver_span(t, t * N // n_threads, (t + 1) * N // n_threads, now, I, sp, syn)


@njit(**_KERNEL)
def _update_span(lo, hi, fr, cells):
    """Step 4 for the units lo <= k < hi (global indices), population by population."""
    pop_off, quad = cells.pop_off, cells.quad
    for g in range(pop_off.size - 1):
        g0, g1 = max(pop_off[g], lo), min(pop_off[g + 1], hi)
        if g0 >= g1:
            continue
        pub = cells.published[g]
        q = Quadratic(quad[g, 0], quad[g, 1], quad[g, 2], quad[g, 3], quad[g, 4], quad[g, 5])
        vg, ug, Ig, fg = cells.v[g0:g1], cells.u[g0:g1], cells.I[g0:g1], fr[g0:g1]
        ag, bg, cg, dg = cells.a[g0:g1], cells.b[g0:g1], cells.c[g0:g1], cells.d[g0:g1]
        dt = cells.dt
        # parameters alike in a population are read once (at 10^6 units the update is bound
        # by memory traffic)
        if cells.same[g, 0] and cells.same[g, 1]:  # (presets)
            _update_loop(vg, ug, ag[0], bg[0], cg[0], dg[0], Ig, fg, dt, q, pub)
        elif cells.same[g, 0]:  # (the 2003 excitatory units)
            _update_loop(vg, ug, ag[0], bg[0], cg, dg, Ig, fg, dt, q, pub)
        elif cells.same[g, 1]:  # (the 2003 inhibitory units)
            _update_loop(vg, ug, ag, bg, cg[0], dg[0], Ig, fg, dt, q, pub)
        else:
            _update_loop(vg, ug, ag, bg, cg, dg, Ig, fg, dt, q, pub)


@njit(**_KERNEL)
def _update_loop(v, u, a, b, c, d, I, fired, dt, q, pub):
    """Step 4 for one population's units; each of a-d an array or one value for all."""
    for k in range(v.size):  # from 0: no negative-index checks, so it vectorises
        v[k], u[k], fired[k] = izhikevich_update(v[k], u[k], _at(a, k), _at(b, k), _at(c, k),
                                                 _at(d, k), I[k], dt, q, pub)


def _at(x, k):
    """``x[k]``, or ``x`` when it is one number."""


@overload(_at, inline="always")
def _at_typed(x, k):
    if isinstance(x, types.Array):
        return lambda x, k: x[k]
    return lambda x, k: x


@njit(**_KERNEL)
def _run_steps(n, now0, cells, sp, syn, drive, rec, n_threads, blocks, zero_late, z, cnt):
    """Run ``n`` steps from step ``now0`` (the order of ``Network.step``); returns the number
    of spikes written to ``rec.spk_step``/``rec.spk_idx`` (step offset, global unit index).
    After delivery the units are walked in ``blocks`` (boundaries; at most ``drive.width``
    units, never inside a noise stream's units): a block's noise, inputs, update and spike
    scan run while its arrays are in the cache (each unit sees the same operations in the
    same order, each noise stream is drawn in the same order: the same numbers).
    ``zero_late``: a block zeroes its input buffers after the step (no monitor reads I; the
    last step leaves them). ``n_threads`` > 1: delivery runs in that many threads, each on
    its own range of units, and the blocks side by side in numba's threads (each block its
    own noise streams: the same results for any number of threads); ``z``: room for a
    block's normals that no later step reads; ``cnt``: room for each block's spike count."""
    I, ring = cells.I, sp.ring
    L = ring.shape[0]
    N = I.size
    nb = blocks.size - 1
    n_spk = 0
    scattered = False  # any noise of listed units (else no call per step for them)
    for q in range(drive.base.size):
        scattered |= drive.noise[q] and drive.contig[q] < 0
    for r in range(n):
        now = now0 + r
        # 1. input buffers are zeroed (zero_late: by the previous step's blocks)
        if r == 0 or not zero_late:
            I[:] = 0.0
        # 2. projections deliver, in the order added
        if n_threads == 1:
            _deliver_span(-1, 0, N, now, I, sp, syn)
        else:
            _deliver_threads(n_threads, now, I, sp, syn)
        # 3. inputs, in the order added (noise of listed units drawn first: stream order),
        # 4. the populations step, block by block: each block's spikes go to the start of
        # its own range of the list
        if scattered:
            _draw_scattered(r, n, drive)
        clear = zero_late and r < n - 1
        if n_threads == 1:
            for b in range(nb):
                _block(r, n, now, blocks[b], blocks[b + 1], cells, sp, drive, z, cnt, b, clear)
        else:
            _blocks_threads(r, n, now, cells, sp, drive, z[:0], cnt, blocks, clear)
        # the spike list in unit order, the recorded spikes and the counts (7.)
        slot = now % L
        fired = sp.fired[slot]
        nf = 0
        g = 0  # the population of unit k
        rec.counts[r, :] = 0
        for b in range(nb):
            lo = blocks[b]
            for i in range(cnt[b]):
                k = fired[lo + i]
                fired[nf] = k  # nf <= lo + i: moves forward only
                nf += 1
                if rec.rec_spk[k]:
                    rec.spk_step[n_spk] = r
                    rec.spk_idx[n_spk] = k
                    n_spk += 1
                while k >= cells.pop_off[g + 1]:
                    g += 1
                rec.counts[r, g] += 1
        sp.n_fired[slot] = nf
        # 7. state monitors
        _record(r, now, ring[slot], cells, rec)
    return n_spk


@njit(**_KERNEL, inline="always")
def _block(r, n, now, lo, hi, cells, sp, drive, z, cnt, b, clear):
    """Steps 3 and 4 for the units lo <= k < hi (one block): inputs, update, and the block's
    spikes, in unit order, to ``sp.fired[slot, lo:lo + cnt[b]]``."""
    slot = now % sp.ring.shape[0]
    fr = sp.ring[slot]
    _add_inputs(r, lo, hi, cells.I, drive, n, cells, z)
    _update_span(lo, hi, fr, cells)
    # (views first: numba's parallel loops lose stores to an indexed record field)
    fb, fired, last, Ib = fr[lo:hi], sp.fired[slot, lo:hi], sp.last[lo:hi], cells.I[lo:hi]
    m = 0
    for j in range(fb.size):  # from 0: no negative-index checks
        if fb[j]:
            fired[m] = lo + j
            last[j] = now
            m += 1
    cnt[b] = m
    if clear:
        for j in range(Ib.size):
            Ib[j] = 0.0


@njit(**_KERNEL, parallel=True)
def _blocks_threads(r, n, now, cells, sp, drive, z, cnt, blocks, clear):
    """:func:`_block` for every block, side by side in numba's threads (no room for
    normals, ``z`` empty: they go to ``z_new``)."""
    for b in prange(blocks.size - 1):
        _block(r, n, now, blocks[b], blocks[b + 1], cells, sp, drive, z, cnt, b, clear)


@njit(**_KERNEL, inline="always")
def _pop_of(pop_off, k):
    """The population of unit k."""
    return _lower_bound(pop_off, 0, pop_off.size, k + 1) - 1


@njit(**_KERNEL, inline="always")
def _redrawn(r, n, drive, q):
    """(input q draws its row of step offset r from its streams, a later step of the chunk
    reads that row again or the chunk ends with it: it goes to ``z_new``)."""
    row = drive.row[r, q]
    if not drive.noise[q] or row < drive.avail[q]:
        return False, False
    return r == 0 or row != drive.row[r - 1, q], r == n - 1 or drive.row[r + 1, q] == row


@njit(**_KERNEL)
def _draw_scattered(r, n, drive):
    """Step 3's draws of the noise inputs of listed units (``contig`` < 0), into ``z_new``
    before the blocks add them (each block of ``width`` entries from its own stream)."""
    w = drive.width
    for q in range(drive.base.size):
        if drive.contig[q] < 0 and _redrawn(r, n, drive, q)[0]:
            t0, size = drive.toff[q], drive.size[q]
            for s in range(-(-size // w)):
                fill_normal(drive.state[drive.soff[q] + s],
                            drive.z_new[t0 + s * w:t0 + min((s + 1) * w, size)])


@njit(**_KERNEL, inline="always")
def _add_inputs(r, lo, hi, I, drive, n, cells, z):
    """Step 3 at step offset r for the units lo <= k < hi: each input adds its row, in the
    order added (a whole population's noise is drawn here, each block of ``width`` units from
    its own stream)."""
    ahead = I.size >= _AHEAD_UNITS  # the block's neuron arrays are still to be asked for
    w = drive.width
    for q in range(drive.base.size):
        size, t0, row, c = drive.size[q], drive.toff[q], drive.row[r, q], drive.contig[q]
        noise = drive.noise[q]
        if c >= 0:  # all units of a population: entries j0..j1 are units c + j
            j0, j1 = max(lo - c, 0), min(hi - c, size)
        else:  # listed units, sorted (``order``): entries order[j0..j1]
            tgt = drive.tgt_sorted[t0:t0 + size]
            j0 = _lower_bound(tgt, 0, size, lo)
            j1 = _lower_bound(tgt, j0, size, hi)
        if j0 >= j1:
            continue
        mu, sd = drive.mean[t0:t0 + size], drive.std[t0:t0 + size]
        draw, keep = _redrawn(r, n, drive, q)
        if draw and c >= 0:
            while j0 < j1:  # stream by stream
                s = j0 // w
                e = min(j1, (s + 1) * w)
                _draw_add(drive.state[drive.soff[q] + s], I[c + j0:c + e], mu[j0:e],
                          sd[j0:e], drive.uniform[q], keep, drive.z_new[t0 + j0:t0 + e], z,
                          cells, c + j0, ahead)
                ahead = False
                j0 = e
            continue
        if noise and row >= drive.avail[q]:
            x = drive.z_new[t0:t0 + size]
        else:
            b0 = drive.base[q] + row * size
            x = drive.x[b0:b0 + size]
        if c >= 0:
            Iq, xq = I[c + j0:c + j1], x[j0:j1]
            if noise and drive.uniform[q]:  # two streams fewer
                m0, s0 = mu[0], sd[0]
                for j in range(Iq.size):
                    Iq[j] += m0 + s0 * xq[j]
            elif noise:
                muq, sdq = mu[j0:j1], sd[j0:j1]
                for j in range(Iq.size):
                    Iq[j] += muq[j] + sdq[j] * xq[j]
            else:
                for j in range(Iq.size):
                    Iq[j] += xq[j]
        else:
            order = drive.order[t0:t0 + size]
            for i in range(j0, j1):
                j = order[i]
                if noise:
                    I[tgt[i]] += mu[j] + sd[j] * x[j]
                else:
                    I[tgt[i]] += x[j]


@njit(**_KERNEL, inline="always")
def _draw_add(state, Iq, mu, sd, uniform, keep, zq, z, cells, k0, ahead):
    """Draw the next ``Iq.size`` normals z of the stream ``state`` and add mean + std z to
    ``Iq`` (z also to ``zq`` when ``keep``). ``ahead``: meanwhile ask the memory for the
    neuron arrays of these units (from unit k0): drawing is compute-bound and the update
    memory-bound, so the update then finds them in the cache."""
    z = zq if keep or z.size == 0 else z[:Iq.size]
    if ahead:
        same = cells.same[_pop_of(cells.pop_off, k0)]  # (those read once: not asked for)
        _fill_ahead(state, z, cells.v, cells.u, cells.v if same[0] else cells.a,
                    cells.v if same[0] else cells.b, cells.v if same[1] else cells.c,
                    cells.v if same[1] else cells.d, k0)
    else:
        fill_normal(state, z)
    if uniform:
        m0, sd0 = mu[0], sd[0]
        for j in range(Iq.size):
            Iq[j] += m0 + sd0 * z[j]
    else:
        for j in range(Iq.size):
            Iq[j] += mu[j] + sd[j] * z[j]


@njit(**_KERNEL)
def _fill_ahead(state, out, v, u, a, b, c, d, k0):
    """:func:`fill_normal`, asking for a 64-byte line of each array (from k0) every 8."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for j in range(out.size):
        if j & 7 == 0:
            k = k0 + j
            _prefetch(v, k)
            _prefetch(u, k)
            _prefetch(a, k)
            _prefetch(b, k)
            _prefetch(c, k)
            _prefetch(d, k)
        out[j], s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@njit(**_KERNEL, inline="always")
def _record(r, now, fr, cells, rec):
    """Step 7 at step offset r: the state monitors' values."""
    for m in range(rec.sm_idx.size):
        if now % rec.sm_every[m] == 0:
            k, var = rec.sm_idx[m], rec.sm_var[m]
            if var == 0:
                rec.sm_out[r, m] = cells.v[k]
            elif var == 1:
                rec.sm_out[r, m] = cells.u[k]
            elif var == 2:
                rec.sm_out[r, m] = cells.I[k]
            else:
                rec.sm_out[r, m] = fr[k]


#: per network: the CSR index arrays last seen and (their post units as one uint32 array,
#: their row pointers as one array, whether every row is sorted, the rows split for threads
#: by thread bounds and projection offsets), so that repeated runs skip all of them
#: (O(synapses)); index arrays are not expected to change in place (see Weights.col_syn),
#: weights may: the kernel reads them in place
_INDEX_CACHE = weakref.WeakKeyDictionary()


def _csr_indices(net, parts):
    """(post units of every CSR synapse as uint32, the row pointers one after the other,
    whether each row lists its posts sorted) for ``parts`` = [(indices, indptr), ...];
    cached per network while the arrays are the same."""
    hit = _INDEX_CACHE.get(net)
    if hit is not None and len(hit[0]) == len(parts) and \
            all(a is b and p is q for (a, p), (b, q) in zip(hit[0], parts)):
        return hit[1:4]
    posts = _cat([idx for idx, _ in parts], np.uint32)
    ok = True
    for idx, ptr in parts:
        d = np.diff(idx) >= 0
        starts = ptr[1:-1]
        d[starts[(starts > 0) & (starts < idx.size)] - 1] = True  # a row's first: no order
        ok = ok and bool(d.all())
    ptrs = _cat([ptr for _, ptr in parts], np.int64)
    _INDEX_CACHE[net] = (list(parts), posts, ptrs, ok, {})
    return posts, ptrs, ok


def _row_splits(net, bounds, syn):
    """:func:`_split_rows`, cached with the network's CSR indices (see ``_INDEX_CACHE``)."""
    splits = _INDEX_CACHE[net][4]
    key = (bounds.tobytes(), syn.pre.tobytes(), syn.post.tobytes(), syn.dense.tobytes())
    if key not in splits:
        splits.clear()  # (one split kept: up to 48 MB at 10^6 x 100 in 2 threads)
        splits[key] = _split_rows(bounds, syn)
    return splits[key]


def _alike(x) -> bool:
    """Every value of the float array ``x`` is its first, bit for bit (-0.0 is not 0.0)."""
    bits = x.view(np.int64)
    return bits.size == 0 or bool((bits == bits[0]).all())


def _cat(parts, dtype):
    return np.concatenate([np.asarray(x, dtype).ravel() for x in parts]) if parts \
        else np.zeros(0, dtype)


class _Runner:
    """Built once per ``Network.run`` by :func:`fused_runner`; ``advance(n)`` runs n steps."""

    def __init__(self, net, pops, projections, inputs, spike_mons, rate_mons, state_mons,
                 weight_mons=()):
        self.net, self.pops = net, pops
        sizes = [p.n for p in pops]
        self.pop_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        off = {id(p): int(o) for p, o in zip(pops, self.pop_off)}
        self.N = int(self.pop_off[-1])
        par = lambda k: _cat([p.params[k] for p in pops], np.float64)  # noqa: E731
        self.a, self.b, self.c, self.d = par("a"), par("b"), par("c"), par("d")
        self.quad = np.array([p.quadratic for p in pops], np.float64).reshape(-1, 6)

        self.same = np.array([[_alike(self.a[g]) and _alike(self.b[g]),
                               _alike(self.c[g]) and _alike(self.d[g])]
                              for g in map(slice, self.pop_off[:-1], self.pop_off[1:])],
                             np.bool_).reshape(-1, 2)
        self.published = np.array([p.scheme == "published" for p in pops], np.bool_)
        # projections
        self.projections = projections
        self.L = 1 + max([pr.max_delay for pr in projections], default=0)
        dense, pre, npre, post, npost, delay, ptr_off, syn_off = ([] for _ in range(8))
        # each projection's weights as float64 C-contiguous: its own array (read in place),
        # else a copy; kept here while the kernel reads them by address
        self.weights, parts = [], []
        n_syn = n_ptr = 0
        for pr in projections:
            w = pr.weights
            dense.append(w.dense)
            pre.append(off[id(pr.pre)])
            npre.append(pr.pre.n)
            post.append(off[id(pr.post)])
            npost.append(pr.post.n)
            delay.append(int(pr.delay) if pr.delay.ndim == 0 else -1)
            ptr_off.append(n_ptr)
            syn_off.append(n_syn)
            self.weights.append(np.ascontiguousarray(w.W if w.dense else w.data, np.float64))
            if not w.dense:
                parts.append((w.indices, w.indptr))
                n_syn += w.data.size
                n_ptr += w.indptr.size
        i64 = np.int64
        csr_post, csr_ptr, sorted_rows = _csr_indices(net, parts)
        self.syn = Synapses(np.array(dense, np.bool_), np.array(pre, i64),
                            np.array(npre, i64), np.array(post, i64), np.array(npost, i64),
                            np.array(delay, i64),
                            np.array([x.ctypes.data for x in self.weights], i64),
                            np.array([x.size for x in self.weights], i64),
                            np.array(ptr_off, i64), np.array(syn_off, i64), csr_post, csr_ptr,
                            self._syn_delays(projections), np.zeros((0, 0), i64))
        # threads split the units; each CSR row at the threads' bounds (rows sorted)
        self.n_threads = _threads(self.N) if sorted_rows else 1
        if self.n_threads > 1:
            bounds = np.arange(self.n_threads + 1) * self.N // self.n_threads
            self.syn = self.syn._replace(split=_row_splits(net, bounds, self.syn))
        # inputs
        self.inputs = inputs
        self.in_size = np.array([q.size for q in inputs], i64)
        self.in_toff = np.concatenate([[0], np.cumsum(self.in_size)]).astype(i64)[:-1]
        tgt = _cat([off[id(q.target)] + (np.arange(q.size) if q.indices is None
                                         else q.indices) for q in inputs], i64)
        self.in_order = _cat([np.argsort(t, kind="stable") for t in np.split(
            tgt, self.in_toff[1:])], i64)
        self.in_tgt_sorted = tgt[self.in_order + np.repeat(self.in_toff, self.in_size)]
        self.in_contig = np.array([off[id(q.target)] if q.indices is None else -1
                                   for q in inputs], i64)
        self.in_noise = np.array([isinstance(q, GaussianNoise) for q in inputs], np.bool_)
        bc = lambda x, q: np.broadcast_to(x, (q.size,))  # noqa: E731
        self.in_mean = _cat([bc(getattr(q, "mean", 0.0), q) for q in inputs], np.float64)
        self.in_std = _cat([bc(getattr(q, "std", 0.0), q) for q in inputs], np.float64)
        self.in_uniform = np.array([q.size > 0 and _alike(self.in_mean[t:t + q.size])
                                    and _alike(self.in_std[t:t + q.size])
                                    for q, t in zip(inputs, self.in_toff)], np.bool_)
        # monitors
        self.spike_mons, self.rate_mons, self.state_mons = spike_mons, rate_mons, state_mons
        self.weight_mons = weight_mons
        self.rec_spk = np.zeros(self.N, np.bool_)
        for m in spike_mons:
            self.rec_spk[off[id(m.source)]:off[id(m.source)] + m.source.n] = True
        self.pop_index = {id(p): g for g, p in enumerate(pops)}
        sm_idx, sm_var, sm_every, self.sm_cols = [], [], [], []
        for m in state_mons:
            idx = np.arange(m.source.n) if m.indices is None else m.indices
            self.sm_cols.append(slice(len(sm_idx), len(sm_idx) + idx.size))
            sm_idx.extend(off[id(m.source)] + idx)
            sm_var.extend([_VARS[m.var]] * idx.size)
            sm_every.extend([m.every] * idx.size)
        self.sm = (np.array(sm_idx, i64), np.array(sm_var, i64), np.array(sm_every, i64))
        # blocks of at most NOISE_BLOCK units, cut at every noise stream's bounds (each
        # population's start and every NOISE_BLOCK units into it); small populations share a
        # block (each call of the per-block code costs atomic reference counts)
        width = _inputs.NOISE_BLOCK
        cuts = np.unique(np.concatenate(
            [np.arange(lo, hi, width) for lo, hi in zip(self.pop_off[:-1], self.pop_off[1:])]
            + [self.pop_off[-1:]]))
        blocks, prev = [0], 0
        for c in cuts[1:]:
            if c - blocks[-1] > width:
                blocks.append(prev)
            prev = c
        self.blocks = np.array(blocks + [prev], i64)
        self._z = np.empty(width)  # a block's normals
        self._cnt = np.zeros(len(blocks), i64)  # spikes per block
        self.zero_late = _VARS["I"] not in sm_var
        per_step = max(1, int(self.in_size[~self.in_noise].sum()), int(self.rec_spk.sum()),
                       len(sm_idx))
        self.chunk = max(1, _MAX_INPUT_FLOATS // per_step)
        self._z_new = np.zeros(int(self.in_size.sum()))  # rows the kernel draws
        self._loaded, self._out = False, None

    @staticmethod
    def _syn_delays(projections):
        """One delay per CSR synapse when some projection has per-synapse delays (the
        kernel reads them only there), else nothing."""
        if all(pr.delay.ndim == 0 for pr in projections):
            return np.zeros(0, np.int64)
        return _cat([np.broadcast_to(pr.delay, pr.weights.data.shape)
                     for pr in projections if not pr.weights.dense], np.int64)

    # ------------------------------------------------------------ state in and out
    def _load(self):
        """The network's state as the kernel's arrays (the ring from the histories)."""
        pops, now = self.pops, self.net.step_count
        self.cells = Cells(_cat([p.state["v"] for p in pops], np.float64),
                           _cat([p.state["u"] for p in pops], np.float64),
                           _cat([p.inputs["I"] for p in pops], np.float64),
                           self.a, self.b, self.c, self.d, self.quad, self.published,
                           self.same, self.pop_off, float(self.net.dt))
        ring = np.zeros((self.L, self.N), np.uint8)
        for pr in self.projections:
            if pr.history is not None:
                o, Lp = self.pop_off[self.pop_index[id(pr.pre)]], pr.history.shape[0]
                for k in range(Lp):
                    s = now - 1 - k
                    ring[s % self.L, o:o + pr.pre.n] = pr.history[s % Lp]
        ring[(now - 1) % self.L] = _cat([p.activity for p in pops], np.uint8)
        fired, n_fired = np.zeros((self.L, self.N), np.int64), np.zeros(self.L, np.int64)
        for row in range(self.L):
            k = np.flatnonzero(ring[row])
            fired[row, :k.size], n_fired[row] = k, k.size
        last = np.full(self.N, now - 1 - self.L, np.int64)
        for k in range(self.L, 0, -1):  # oldest first, so the latest step wins
            last[ring[(now - k) % self.L] != 0] = now - k
        self.spikes = Spikes(ring, fired, n_fired, last)

    def _store(self):
        now = self.net.step_count
        cells, ring = self.cells, self.spikes.ring
        last = ring[(now - 1) % self.L]
        for g, p in enumerate(self.pops):
            sl = slice(self.pop_off[g], self.pop_off[g + 1])
            p.state["v"][:], p.state["u"][:] = cells.v[sl], cells.u[sl]
            p.inputs["I"][:] = cells.I[sl]
            p.activity[:] = last[sl]
        for pr in self.projections:
            if pr.history is not None:
                o, Lp = self.pop_off[self.pop_index[id(pr.pre)]], pr.history.shape[0]
                for k in range(Lp):
                    s = now - 1 - k
                    pr.history[s % Lp] = ring[s % self.L, o:o + pr.pre.n]

    # ------------------------------------------------------------ inputs of a chunk
    def _drive(self, now, n):
        """The inputs of steps now .. now+n-1 as a :class:`Drive`, and per noise input (q,
        rows it uses, number of streams). ``x`` holds a noise input's current z (when not
        redrawn at ``now``) and the rows already drawn that these steps use; the kernel draws
        the rest."""
        steps = np.arange(now, now + n)
        fills, in_row = [], np.zeros((n, len(self.inputs)), np.int64)
        in_avail, noise = np.zeros(len(self.inputs), np.int64), []
        in_state = [np.zeros((0, 4), np.uint64)] * len(self.inputs)
        dt = self.net.dt
        for q, inp in enumerate(self.inputs):
            if isinstance(inp, ConstantCurrent):
                rows = np.broadcast_to(inp.amplitude, (1, inp.size))
            elif isinstance(inp, ArrayCurrent):
                r0, nr = now // inp.every, inp.table.shape[0]
                want = steps // inp.every
                have = inp.table[min(r0, nr):min(want[-1] + 1, nr)]
                rows = np.concatenate([have, np.zeros((1,) + inp.table.shape[1:])])
                rows = np.broadcast_to(rows.reshape(len(rows), -1), (len(rows), inp.size))
                in_row[:, q] = np.minimum(want - r0, len(have)) if r0 < nr else 0
            elif isinstance(inp, StepCurrent):
                rows = np.array([np.broadcast_to(inp.values(s, s * dt, dt), (inp.size,))
                                 for s in steps.tolist()])
                in_row[:, q] = np.arange(n)
            else:  # GaussianNoise: the raw normals z; the kernel adds mean + std z
                current, ready, in_state[q] = inp.lend(n)
                redraw = steps % inp.every == 0
                redraw[0] |= current is None
                n_new = int(redraw.sum())
                used = min(n_new, len(ready))
                rows = ready[:used]
                if not redraw[0]:  # row 0: the z of the current value
                    rows = np.concatenate([current[None], rows])
                in_row[:, q] = np.cumsum(redraw) - redraw[0]
                in_avail[q] = len(rows)
                noise.append((q, n_new, len(in_state[q])))
            fills.append(rows)
        in_base = np.concatenate([[0], np.cumsum([f.size for f in fills])]).astype(np.int64)
        x_in = np.empty(in_base[-1])
        for f, lo, hi in zip(fills, in_base[:-1], in_base[1:]):
            x_in[lo:hi] = f.ravel()
        soff = np.cumsum([0] + [len(x) for x in in_state]).astype(np.int64)
        state = np.concatenate([np.zeros((0, 4), np.uint64), *in_state])
        drive = Drive(in_base[:-1], self.in_size, self.in_toff, self.in_tgt_sorted,
                      self.in_order, self.in_contig, self.in_noise, self.in_mean,
                      self.in_std, self.in_uniform, in_row, x_in, in_avail, state,
                      soff[:-1], _inputs.NOISE_BLOCK, self._z_new)
        return drive, noise

    # ------------------------------------------------------------ running
    def __call__(self, n_steps: int) -> None:
        if n_steps <= 0:
            return
        net = self.net
        if not self._loaded:  # Network.run calls in chunks; nothing else moves the state
            self._load()
            self._loaded = True
        size = min(n_steps, self.chunk)
        if self._out is None or self._out.counts.shape[0] < size:  # kept for the next chunk
            n_rec = int(self.rec_spk.sum())
            self._out = Records(self.rec_spk, np.empty(size * n_rec, np.int64),
                                np.empty(size * n_rec, np.int64),
                                np.zeros((size, len(self.pops)), np.int64), *self.sm,
                                np.zeros((size, self.sm[0].size)))
        out, done = self._out, 0
        while done < n_steps:
            n = min(self.chunk, n_steps - done)
            now = net.step_count
            drive, noise = self._drive(now, n)
            with keep_torch_threads(), _numba_threads(self.n_threads), gc_paused():
                n_spk = _run_steps(n, now, self.cells, self.spikes, self.syn, drive, out,
                                   self.n_threads, self.blocks, self.zero_late, self._z, self._cnt)
            for q, n_new, n_streams in noise:  # the noise inputs take their streams back
                t0, s0 = self.in_toff[q], drive.soff[q]
                self.inputs[q].settle(n_new, drive.state[s0:s0 + n_streams],
                                      drive.z_new[t0:t0 + drive.size[q]])
            self._record(now, n, out.spk_step[:n_spk], out.spk_idx[:n_spk], out.counts[:n],
                         out.sm_out[:n])
            net.step_count = now + n
            done += n
        self._store()

    def _record(self, now, n, steps, idx, counts, sm_out):
        dt = self.net.dt
        for m in self.spike_mons:
            g = self.pop_index[id(m.source)]
            lo, hi = self.pop_off[g], self.pop_off[g + 1]
            sel = (idx >= lo) & (idx < hi)
            m.add_block(steps[sel] + now, idx[sel] - lo, dt)
        for m in self.rate_mons:
            m.add_counts(counts[:, self.pop_index[id(m.source)]], dt)
        for m, cols in zip(self.state_mons, self.sm_cols):
            for r in range(n):
                if (now + r) % m.every == 0:
                    t = (now + r) * dt
                    x = sm_out[r, cols]
                    m.add(t + dt, x.astype(np.bool_) if _VARS[m.var] == 3 else x)
        for m in self.weight_mons:  # no rules here: the weights are those of every step
            for r in range(n):
                m.record(now + r, (now + r) * dt, dt)


def fused_runner(net):
    """``advance(n_steps)`` running ``net`` in the fused kernel, or None when the network
    holds something the kernel does not support (then the generic loop runs)."""
    from biosim.neurons.izhikevich import Izhikevich

    pops = net.populations
    if not pops or net.callbacks or not all(type(p) is Izhikevich for p in pops):
        return None
    for pr in net.projections:
        if pr.rule is not None or pr.target != "I":
            return None
        if pr.weights.dense and pr.max_delay > 0:
            return None  # the generic loop sums delayed dense input with BLAS (other order)
    for inp in net.inputs:
        if type(inp) not in (ConstantCurrent, ArrayCurrent, StepCurrent, GaussianNoise):
            return None
        if inp.var != "I" or (inp.indices is not None
                              and np.unique(inp.indices).size != inp.indices.size):
            return None  # repeated indices add once in the generic loop
    spike, rate, state, weight = [], [], [], []
    for m in net.monitors:
        if type(m) is SpikeMonitor:
            spike.append(m)
        elif type(m) is RateMonitor:
            rate.append(m)
        elif type(m) is StateMonitor and m.var in _VARS:
            state.append(m)
        elif type(m) is WeightMonitor:
            weight.append(m)
        else:
            return None
    return _Runner(net, pops, net.projections, net.inputs, spike, rate, state, weight)
