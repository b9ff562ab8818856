"""The fused fast path of Izhikevich networks: one numba kernel runs many steps.

:meth:`Network.run` uses it when every population is an :class:`Izhikevich` and the network
holds nothing the kernel does not support (plasticity rules, callbacks, inputs other than
constant/step/array currents and Gaussian noise, monitors other than spikes/rate/state of
v, u, I, spikes and weights). It does, step for step, the same floating-point operations in the same
order as the generic loop of :class:`~biosim.core.Network` (steps 1-7 there), draws the
noise from each input's own stream in the same order, and leaves every object (state,
input buffers, activity, projection histories, noise buffers, monitors, ``step_count``)
as the generic loop would: the two paths give bit-identical spikes, and a run may switch
between them, or be checkpointed, at any step. With ``BIOSIM_THREADS=k`` networks of at
least ``PARALLEL_MIN_UNITS`` units deliver spikes and update neurons in k of numba's threads,
each thread on its own range of units: the same results for any number of threads.
"""
from __future__ import annotations

import os
import weakref

import numpy as np
from numba import get_num_threads, njit, prange

from biosim.core import validation as check
from biosim.core.fastrandom import normal
from biosim.core.inputs import ArrayCurrent, ConstantCurrent, GaussianNoise, StepCurrent
from biosim.core.monitors import RateMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from biosim.neurons.izhikevich import Quadratic, izhikevich_update

#: state variables a fused StateMonitor can record, with their kernel codes
_VARS = {"v": 0, "u": 1, "I": 2, "spikes": 3, "activity": 3}
#: largest number of floats of input rows held per sub-chunk (bounds memory)
_MAX_INPUT_FLOATS = 1 << 22
#: networks of at least this many units may run in threads (``BIOSIM_THREADS``); smaller
#: ones gain less than the per-step thread launch costs
PARALLEL_MIN_UNITS = 100_000


def _threads(n_units: int) -> int:
    """Threads for delivery and neuron updates: ``BIOSIM_THREADS`` (default 1, an opt-in: on
    a machine busy with other work the per-step barriers made 2 threads 5x slower than one),
    at most numba's (``NUMBA_NUM_THREADS``), from ``PARALLEL_MIN_UNITS`` units on. Results
    are the same for any number."""
    value = os.environ.get("BIOSIM_THREADS", "1")
    try:
        want = int(value)
    except ValueError:
        want = 0
    if want < 1:
        check.fail("BIOSIM_THREADS", "an integer >= 1 (environment variable)", value)
    return min(want, get_num_threads()) if n_units >= PARALLEL_MIN_UNITS else 1


@njit(cache=True, nogil=True)
def _lower_bound(x, lo, hi, value):
    """First index in [lo, hi) of sorted ``x`` with x >= value (hi if none)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if x[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _deliver_span(lo, hi, now, I, ring, fired_list, n_fired, last_spike, pj_dense, pj_pre,
                  pj_npre, pj_post, pj_npost, pj_delay, pj_w, pj_ptr, w_dense, csr_data,
                  csr_post, csr_ptr, syn_delay):
    """Step 2 for the units lo <= k < hi (global indices) only: each projection adds, spike by
    spike in ``fired_list`` order, synapse by synapse (CSR rows sorted by post unit, so a
    range of a row is found by bisection)."""
    L = ring.shape[0]
    for p in range(pj_dense.size):
        pre, npre, npost, p0 = pj_pre[p], pj_npre[p], pj_npost[p], pj_post[p]
        j0, j1 = max(lo - p0, 0), min(hi - p0, npost)  # this span, in post units
        if j0 >= j1:
            continue
        whole = j0 == 0 and j1 == npost
        Ip = I[p0:p0 + npost]
        if pj_delay[p] >= 0:
            row = (now - 1 - pj_delay[p]) % L
            fired = fired_list[row, :n_fired[row]]
            for k in fired:
                i = k - pre
                if i < 0 or i >= npre:
                    continue
                if pj_dense[p]:
                    w0 = pj_w[p] + i * npost
                    wr, Ir = w_dense[w0 + j0:w0 + j1], Ip[j0:j1]
                    for j in range(wr.size):  # from 0: no negative-index checks (vectorises)
                        Ir[j] += wr[j]
                else:
                    s0, s1 = csr_ptr[pj_ptr[p] + i], csr_ptr[pj_ptr[p] + i + 1]
                    if not whole:
                        s0 = _lower_bound(csr_post, s0, s1, j0)
                        s1 = _lower_bound(csr_post, s0, s1, j1)
                    for s in range(s0, s1):
                        Ip[csr_post[s]] += csr_data[s]
        else:
            for i in range(npre):
                if now - 1 - last_spike[pre + i] >= L:  # no spike in the window
                    continue
                s0, s1 = csr_ptr[pj_ptr[p] + i], csr_ptr[pj_ptr[p] + i + 1]
                if not whole:
                    s0 = _lower_bound(csr_post, s0, s1, j0)
                    s1 = _lower_bound(csr_post, s0, s1, j1)
                for s in range(s0, s1):
                    if ring[(now - 1 - syn_delay[s]) % L, pre + i]:
                        Ip[csr_post[s]] += csr_data[s]


@njit(cache=True, nogil=True, parallel=True)
def _deliver_threads(n_threads, now, I, ring, fired_list, n_fired, last_spike, pj_dense,
                     pj_pre, pj_npre, pj_post, pj_npost, pj_delay, pj_w, pj_ptr, w_dense,
                     csr_data, csr_post, csr_ptr, syn_delay):
    N = I.size
    for t in prange(n_threads):
        _deliver_span(t * N // n_threads, (t + 1) * N // n_threads, now, I, ring, fired_list,
                      n_fired, last_spike, pj_dense, pj_pre, pj_npre, pj_post, pj_npost,
                      pj_delay, pj_w, pj_ptr, w_dense, csr_data, csr_post, csr_ptr, syn_delay)


@njit(cache=True, nogil=True)
def _update_span(lo, hi, v, u, a, b, c, d, I, fr, dt, quad, published, pop_off):
    """Step 4 for the units lo <= k < hi (global indices), population by population."""
    for g in range(pop_off.size - 1):
        g0, g1 = max(pop_off[g], lo), min(pop_off[g + 1], hi)
        if g0 >= g1:
            continue
        pub = published[g]
        q = Quadratic(quad[g, 0], quad[g, 1], quad[g, 2], quad[g, 3], quad[g, 4], quad[g, 5])
        vg, ug, Ig, fg = v[g0:g1], u[g0:g1], I[g0:g1], fr[g0:g1]
        ag, bg, cg, dg = a[g0:g1], b[g0:g1], c[g0:g1], d[g0:g1]
        for k in range(vg.size):  # from 0: no negative-index checks, so it vectorises
            vg[k], ug[k], fg[k] = izhikevich_update(vg[k], ug[k], ag[k], bg[k], cg[k], dg[k],
                                                    Ig[k], dt, q, pub)


@njit(cache=True, nogil=True, parallel=True)
def _update_threads(n_threads, v, u, a, b, c, d, I, fr, dt, quad, published, pop_off):
    N = v.size
    for t in prange(n_threads):
        _update_span(t * N // n_threads, (t + 1) * N // n_threads, v, u, a, b, c, d, I, fr,
                     dt, quad, published, pop_off)


@njit(cache=True, nogil=True)
def _run_steps(n, now0, dt, v, u, a, b, c, d, quad, published, I, ring, fired_list,
               n_fired, last_spike, pj_dense, pj_pre, pj_npre, pj_post, pj_npost, pj_delay,
               pj_w, pj_ptr, w_dense, csr_data, csr_post, csr_ptr, syn_delay, in_base,
               in_size, in_toff, in_tgt, in_contig, in_noise, in_mean, in_std, in_row, x_in,
               in_avail, in_state, z_new, pop_off, rec_spk, spk_step, spk_idx, counts, sm_idx,
               sm_var, sm_every, sm_out, n_threads):
    """Run ``n`` steps from step ``now0`` (the order of ``Network.step``); returns the number
    of spikes written to ``spk_step``/``spk_idx`` (step offset, global unit index).
    ``n_threads`` > 1: delivery and the neuron updates run in that many threads, each on its
    own range of units (same operations in the same order per unit: same results).

    ``ring[s % L]`` holds the spikes of step s (all units), ``fired_list[s % L, :n_fired[s %
    L]]`` their indices, ``last_spike`` each unit's latest spike step. Projection p reads
    step ``now - 1 - delay`` (``pj_delay[p] < 0``: one delay per synapse in ``syn_delay``).
    Input q (``in_contig[q]``: its first unit when it feeds a whole population, else -1:
    units ``in_tgt``) adds row ``in_row[r, q]`` of its block of ``x_in`` (noise: mean +
    std z). Noise rows from ``in_avail[q]`` on are drawn here from the stream of state
    ``in_state[q]`` into ``z_new`` (units ``in_toff[q]`` on), at the steps where the row
    changes.
    """
    L = ring.shape[0]
    N = v.size
    n_spk = 0
    for r in range(n):
        now = now0 + r
        # 1. input buffers are zeroed
        I[:] = 0.0
        # 2. projections deliver, in the order added
        if n_threads == 1:
            _deliver_span(0, N, now, I, ring, fired_list, n_fired, last_spike, pj_dense,
                          pj_pre, pj_npre, pj_post, pj_npost, pj_delay, pj_w, pj_ptr, w_dense,
                          csr_data, csr_post, csr_ptr, syn_delay)
        else:
            _deliver_threads(n_threads, now, I, ring, fired_list, n_fired, last_spike,
                             pj_dense, pj_pre, pj_npre, pj_post, pj_npost, pj_delay, pj_w,
                             pj_ptr, w_dense, csr_data, csr_post, csr_ptr, syn_delay)
        # 3. inputs, in the order added
        for q in range(in_base.size):
            size, t0, row = in_size[q], in_toff[q], in_row[r, q]
            if in_noise[q] and row >= in_avail[q]:  # a row of the stream, drawn here
                x = z_new[t0:t0 + size]
                if r == 0 or row != in_row[r - 1, q]:
                    s0, s1, s2, s3 = in_state[q, 0], in_state[q, 1], in_state[q, 2], \
                        in_state[q, 3]
                    for j in range(size):
                        x[j], s0, s1, s2, s3 = normal(s0, s1, s2, s3)
                    in_state[q, 0], in_state[q, 1], in_state[q, 2], in_state[q, 3] = \
                        s0, s1, s2, s3
            else:
                x = x_in[in_base[q] + row * size:in_base[q] + (row + 1) * size]
            if in_contig[q] >= 0:  # all units of a population: contiguous
                Iq = I[in_contig[q]:in_contig[q] + size]
                if in_noise[q]:
                    mu, sd = in_mean[t0:t0 + size], in_std[t0:t0 + size]
                    for j in range(size):
                        Iq[j] += mu[j] + sd[j] * x[j]
                else:
                    for j in range(size):
                        Iq[j] += x[j]
            elif in_noise[q]:
                for j in range(size):
                    I[in_tgt[t0 + j]] += in_mean[t0 + j] + in_std[t0 + j] * x[j]
            else:
                for j in range(size):
                    I[in_tgt[t0 + j]] += x[j]
        # 4. populations step (a vectorisable loop per population, then the spike lists)
        slot = now % L
        fr = ring[slot]
        if n_threads == 1:
            _update_span(0, N, v, u, a, b, c, d, I, fr, dt, quad, published, pop_off)
        else:
            _update_threads(n_threads, v, u, a, b, c, d, I, fr, dt, quad, published,
                            pop_off)
        nf = 0
        for k in range(N):
            if fr[k]:
                fired_list[slot, nf] = k
                last_spike[k] = now
                nf += 1
                if rec_spk[k]:
                    spk_step[n_spk] = r
                    spk_idx[n_spk] = k
                    n_spk += 1
        n_fired[slot] = nf
        # 7. monitors
        for g in range(pop_off.size - 1):
            fg = fr[pop_off[g]:pop_off[g + 1]]
            cnt = 0
            for k in range(fg.size):
                cnt += fg[k]
            counts[r, g] = cnt
        for m in range(sm_idx.size):
            if now % sm_every[m] == 0:
                k, var = sm_idx[m], sm_var[m]
                if var == 0:
                    sm_out[r, m] = v[k]
                elif var == 1:
                    sm_out[r, m] = u[k]
                elif var == 2:
                    sm_out[r, m] = I[k]
                else:
                    sm_out[r, m] = ring[slot, k]
    return n_spk


#: per network: the CSR index arrays last seen and (their uint32 concatenation, whether every
#: row is sorted), so that repeated runs skip both (O(synapses)); weights are copied every
#: run (they may change in place), index arrays are not expected to (see Weights.col_syn)
_INDEX_CACHE = weakref.WeakKeyDictionary()


def _csr_indices(net, parts):
    """(post units of every CSR synapse as uint32, whether each row lists them sorted) for
    ``parts`` = [(indices, indptr), ...]; cached per network while the arrays are the same."""
    hit = _INDEX_CACHE.get(net)
    if hit is not None and len(hit[0]) == len(parts) and \
            all(a is b and p is q for (a, p), (b, q) in zip(hit[0], parts)):
        return hit[1], hit[2]
    posts = _cat([idx for idx, _ in parts], np.uint32)
    ok = True
    for idx, ptr in parts:
        d = np.diff(idx) >= 0
        starts = ptr[1:-1]
        d[starts[(starts > 0) & (starts < idx.size)] - 1] = True  # a row's first: no order
        ok = ok and bool(d.all())
    _INDEX_CACHE[net] = (list(parts), posts, ok)
    return posts, ok


def _weights(parts):
    """The CSR weights as one float64 array: the projection's own when there is one (the
    kernel then reads the live weights), else a copy."""
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], np.float64)
    return _cat(parts, np.float64)


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
        self.published = np.array([p.scheme == "published" for p in pops], np.bool_)
        # projections
        self.projections = projections
        self.L = 1 + max([pr.max_delay for pr in projections], default=0)
        dense, pre, npre, post, npost, delay, pw, pptr = ([] for _ in range(8))
        w_dense, data, posts, ptrs = [], [], [], []
        n_w = n_syn = n_ptr = 0
        for pr in projections:
            w = pr.weights
            dense.append(w.dense)
            pre.append(off[id(pr.pre)])
            npre.append(pr.pre.n)
            post.append(off[id(pr.post)])
            npost.append(pr.post.n)
            delay.append(int(pr.delay) if pr.delay.ndim == 0 else -1)
            pw.append(n_w)
            pptr.append(n_ptr)
            if w.dense:
                w_dense.append(w.W)
                n_w += w.W.size
            else:
                data.append(w.data)
                posts.append((w.indices, w.indptr))
                ptrs.append(w.indptr + n_syn)
                n_syn += w.data.size
                n_ptr += w.indptr.size
        i64 = np.int64
        csr_post, sorted_rows = _csr_indices(net, posts)
        self.pj = (np.array(dense, np.bool_), np.array(pre, i64), np.array(npre, i64),
                   np.array(post, i64), np.array(npost, i64), np.array(delay, i64),
                   np.array(pw, i64), np.array(pptr, i64), _cat(w_dense, np.float64),
                   _weights(data), csr_post, _cat(ptrs, i64),
                   self._syn_delays(projections))
        # threads split the units; a CSR row's range is found by bisection (rows sorted)
        self.n_threads = _threads(self.N) if sorted_rows else 1
        # inputs
        self.inputs = inputs
        self.in_size = np.array([q.size for q in inputs], i64)
        self.in_toff = np.concatenate([[0], np.cumsum(self.in_size)]).astype(i64)[:-1]
        self.in_tgt = _cat([off[id(q.target)] + (np.arange(q.size) if q.indices is None
                                                 else q.indices) for q in inputs], i64)
        self.in_contig = np.array([off[id(q.target)] if q.indices is None else -1
                                   for q in inputs], i64)
        self.in_noise = np.array([isinstance(q, GaussianNoise) for q in inputs], np.bool_)
        bc = lambda x, q: np.broadcast_to(x, (q.size,))  # noqa: E731
        self.in_mean = _cat([bc(getattr(q, "mean", 0.0), q) for q in inputs], np.float64)
        self.in_std = _cat([bc(getattr(q, "std", 0.0), q) for q in inputs], np.float64)
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
        per_step = max(1, int(self.in_size[~self.in_noise].sum()), int(self.rec_spk.sum()),
                       len(sm_idx))
        self.chunk = max(1, _MAX_INPUT_FLOATS // per_step)
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
        self.v = _cat([p.state["v"] for p in pops], np.float64)
        self.u = _cat([p.state["u"] for p in pops], np.float64)
        self.I = _cat([p.inputs["I"] for p in pops], np.float64)
        self.ring = np.zeros((self.L, self.N), np.uint8)
        for pr in self.projections:
            if pr.history is not None:
                o, Lp = self.pop_off[self.pop_index[id(pr.pre)]], pr.history.shape[0]
                for k in range(Lp):
                    s = now - 1 - k
                    self.ring[s % self.L, o:o + pr.pre.n] = pr.history[s % Lp]
        self.ring[(now - 1) % self.L] = _cat([p.activity for p in pops], np.uint8)
        self.fired_list = np.zeros((self.L, self.N), np.int64)
        self.n_fired = np.zeros(self.L, np.int64)
        for row in range(self.L):
            k = np.flatnonzero(self.ring[row])
            self.fired_list[row, :k.size], self.n_fired[row] = k, k.size
        self.last_spike = np.full(self.N, now - 1 - self.L, np.int64)
        for k in range(self.L, 0, -1):  # oldest first, so the latest step wins
            self.last_spike[self.ring[(now - k) % self.L] != 0] = now - k

    def _store(self):
        now = self.net.step_count
        last = self.ring[(now - 1) % self.L]
        for g, p in enumerate(self.pops):
            sl = slice(self.pop_off[g], self.pop_off[g + 1])
            p.state["v"][:], p.state["u"][:] = self.v[sl], self.u[sl]
            p.inputs["I"][:] = self.I[sl]
            p.activity[:] = last[sl]
        for pr in self.projections:
            if pr.history is not None:
                o, Lp = self.pop_off[self.pop_index[id(pr.pre)]], pr.history.shape[0]
                for k in range(Lp):
                    s = now - 1 - k
                    pr.history[s % Lp] = self.ring[s % self.L, o:o + pr.pre.n]

    # ------------------------------------------------------------ inputs of a chunk
    def _input_rows(self, now, n):
        """x_in (all rows flat), in_base, in_row (n, n_inputs), in_avail for steps now ..
        now+n-1, and per noise input (q, rows redrawn, rows taken from its buffer). x_in
        holds a noise input's current z (when not redrawn at ``now``) and the rows left in
        its buffer that these steps use; the kernel draws the rest."""
        steps = np.arange(now, now + n)
        fills, in_row = [], np.zeros((n, len(self.inputs)), np.int64)
        in_avail, noise = np.zeros(len(self.inputs), np.int64), []
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
                redraw = steps % inp.every == 0
                redraw[0] |= inp._current is None
                first = 0 if redraw[0] else 1  # row 0: the z of the current value
                n_new = int(redraw.sum())
                used = min(n_new, inp._buffer.shape[0] - inp._row)
                rows = inp._buffer[inp._row - first:inp._row + used]
                in_row[:, q] = np.cumsum(redraw) - 1 + first
                in_avail[q] = first + used
                noise.append((q, n_new, used))
            fills.append(rows)
        in_base = np.concatenate([[0], np.cumsum([f.size for f in fills])]).astype(np.int64)
        x_in = np.empty(in_base[-1])
        for f, lo, hi in zip(fills, in_base[:-1], in_base[1:]):
            x_in[lo:hi] = f.ravel()
        return x_in, in_base[:-1], in_row, in_avail, noise

    def _noise_done(self, noise, in_state, z_new):
        """Leave each noise input as ``draw()`` and ``values()`` would after these steps."""
        for q, n_new, used in noise:
            inp, t0 = self.inputs[q], self.in_toff[q]
            inp._state[:] = in_state[q]
            inp._row += used
            if n_new > used:  # rows drawn by the kernel: the buffer holds the last, used
                inp._buffer, inp._row = z_new[None, t0:t0 + inp.size].copy(), 1
            if n_new:
                inp._current = inp.mean + inp.std * inp._buffer[inp._row - 1]

    # ------------------------------------------------------------ running
    def __call__(self, n_steps: int) -> None:
        if n_steps <= 0:
            return
        net, dt = self.net, self.net.dt
        if not self._loaded:  # Network.run calls in chunks; nothing else moves the state
            self._load()
            self._loaded = True
        size = min(n_steps, self.chunk)
        if self._out is None or self._out[2].shape[0] < size:  # kept for the next chunk
            n_rec = int(self.rec_spk.sum())
            self._out = (np.empty(size * n_rec, np.int64), np.empty(size * n_rec, np.int64),
                         np.zeros((size, len(self.pops)), np.int64),
                         np.zeros((size, self.sm[0].size)))
        spk_step, spk_idx, counts, sm_out = self._out
        in_state = np.array([q._state if isinstance(q, GaussianNoise) else np.zeros(4)
                             for q in self.inputs], np.uint64).reshape(-1, 4)
        z_new = np.zeros(int(self.in_size.sum()))
        done = 0
        while done < n_steps:
            n = min(self.chunk, n_steps - done)
            now = net.step_count
            x_in, in_base, in_row, in_avail, noise = self._input_rows(now, n)
            n_spk = _run_steps(n, now, dt, self.v, self.u, self.a, self.b, self.c, self.d,
                               self.quad, self.published, self.I, self.ring,
                               self.fired_list, self.n_fired, self.last_spike, *self.pj,
                               in_base, self.in_size, self.in_toff, self.in_tgt, self.in_contig,
                               self.in_noise, self.in_mean, self.in_std, in_row, x_in,
                               in_avail, in_state, z_new, self.pop_off, self.rec_spk,
                               spk_step, spk_idx, counts, *self.sm, sm_out, self.n_threads)
            self._noise_done(noise, in_state, z_new)
            self._record(now, n, spk_step[:n_spk], spk_idx[:n_spk], counts[:n], sm_out[:n])
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
