"""Neurons with dendritic segments in a Network, learning by synapse growth, checked against
the closed-form error probabilities of Ahmad & Hawkins (2016)."""
import numpy as np
import pytest

import biosim as bs
from biosim.core.validation import BiosimError
from biosim.dendrites import sdr
from biosim.dendrites import theory as T
from biosim.dendrites.segments import DendriticNeurons, SDRInput, SynapseGrowth

n, a, s = 1024, 40, 20


def build(patterns, n_cells, theta, teach_cells, seed=0):
    """Each pattern is held 2 steps; step 2k+1 sees pattern k and teaches teach_cells[k]."""
    net = bs.Network(dt=1.0, seed=seed)
    inp = net.add(SDRInput(patterns, hold=2))
    cells = net.add(DendriticNeurons(n_cells, 1, theta))
    proj = net.connect(inp, cells, weight=0.0, target="overlap",
                       rule=SynapseGrowth(s, modulators="learn"))
    rows = [[-1] if k % 2 == 0 else [teach_cells[k // 2]] for k in range(2 * len(patterns))
            if k // 2 < len(teach_cells)]
    net.add(bs.ArrayCurrent(cells, cells.teach_table(rows), var="teach"))
    net.callback(lambda net: net.modulators.__setitem__("learn", cells.inputs["teach"] > 0))
    mon = net.monitor(cells, "nmda")
    net.run(2.0 * len(patterns))
    return cells, proj, mon.values[1::2]


def test_storage_noise_and_false_matches_match_theory():
    P, R, Q, theta, v = 200, 3, 200, 4, 32
    stored = sdr.random_sdrs(n, a, P, seed=1)
    noisy = sdr.add_noise(np.repeat(stored, R, axis=0), n, v, seed=2)
    novel = sdr.random_sdrs(n, a, Q, seed=3)
    patterns = sdr.unpack(np.concatenate([stored, noisy, novel]), n)
    cells, proj, fired = build(patterns, P, theta, list(range(P)))
    W = proj.W
    # every segment holds exactly s synapses, all on its own pattern
    assert np.all(W.sum(0) == s)
    assert np.all((W.T > 0) <= sdr.unpack(stored, n))
    # noisy copies: misses follow the false-negative probability
    own = fired[P:P + P * R][np.arange(P * R), np.repeat(np.arange(P), R)]
    p_fn = T.false_negative_probability(a, s, theta, v)
    se = np.sqrt(p_fn * (1 - p_fn) / own.size)
    assert abs((1 - own.mean()) - p_fn) < 4 * se
    # novel inputs: each (segment, input) pair matches with the false-match probability
    fm = fired[P + P * R:]
    p_fp = T.false_match_probability(n, a, s, theta)
    se = np.sqrt(p_fp * (1 - p_fp) / fm.size)
    assert abs(fm.mean() - p_fp) < 4 * se
    assert cells.predicted_cells.shape == (P,)


def test_union_segments_match_theory():
    """A segment taught M patterns stores the union of M s-subsamples; its false-match rate
    is the union-segment probability (exact union-size mixture)."""
    C, M, Q, theta = 50, 5, 300, 7
    stored = sdr.random_sdrs(n, a, C * M, seed=4)
    novel = sdr.random_sdrs(n, a, Q, seed=5)
    patterns = sdr.unpack(np.concatenate([stored, novel, stored]), n)
    teach = [k % C for k in range(C * M)]
    _, proj, fired = build(patterns, C, theta, teach, seed=6)
    assert np.all(proj.W.sum(0) <= M * s) and np.all(proj.W.sum(0) > s)
    fm = fired[C * M:C * M + Q]
    p = T.union_segment_false_match_probability(n, a, s, theta, M)
    se = np.sqrt(p * (1 - p) / fm.size)
    assert abs(fm.mean() - p) < 4 * se
    # the stored patterns themselves are all recognised by their cell
    rec = fired[C * M + Q:][np.arange(C * M), teach]
    assert rec.all()


def test_rule_apply_on_matrix_and_silent_cell_gets_segment():
    W = np.zeros((10, 3))
    pre = np.zeros(10)
    pre[[1, 3, 5, 7]] = 1
    rule = SynapseGrowth(2)
    with pytest.raises(BiosimError, match="^rng"):  # no unseeded fallback
        rule.apply(W, pre, [0, 1, 0])
    rule.initialize(np.random.default_rng(0))
    rule.apply(W, pre, [0, 1, 0])
    assert W[:, 1].sum() == 2 and set(np.flatnonzero(W[:, 1])) <= {1, 3, 5, 7}
    assert W[:, [0, 2]].sum() == 0
    pop = DendriticNeurons(2, 3, theta=2)
    pop.inputs["teach"][3:6] = 1.0
    with pytest.raises(BiosimError, match="^rng"):
        pop.step(0.0, 1.0)
    pop.initialize(np.random.default_rng(0))
    pop.inputs["teach"][3:6] = 1.0
    pop.step(0.0, 1.0)
    assert pop.activity[:3].sum() == 0 and pop.activity[3:].sum() == 1


def test_bad_input():
    with pytest.raises(BiosimError, match="^theta"):
        DendriticNeurons(3, 2, theta=0)
    with pytest.raises(BiosimError, match="^s"):
        SynapseGrowth(0)
    with pytest.raises(BiosimError, match="^cells_per_step"):
        DendriticNeurons(3, 2, theta=1).teach_table([[5]])
