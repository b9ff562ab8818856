"""Dendritic pattern detectors on sparse distributed representations (Ahmad & Hawkins 2016).

- :mod:`biosim.dendrites.sdr`: bit-packed SDRs (random, overlap, union, noise, conversions).
- :mod:`biosim.dendrites.theory`: exact false-match / false-negative / union error
  probabilities and the optimal NMDA threshold, vectorised over parameter grids.
- :mod:`biosim.dendrites.montecarlo`: numba Monte Carlo of the same errors, with standard errors.
- :mod:`biosim.dendrites.segments`: neurons with dendritic segments as a Population, and a
  synapse-growth plasticity rule.
- :mod:`biosim.dendrites.active`: active-dendrite network (PyTorch) and a continual-learning
  demo on permuted digits (Iyer et al. 2022).
"""
from biosim.dendrites.montecarlo import (MCResult, false_match_rate, false_negative_rate,
                                         union_false_match_rate,
                                         union_segment_false_match_rate)
from biosim.dendrites.segments import DendriticNeurons, SDRInput, SynapseGrowth
from biosim.dendrites.theory import (detection_error, expected_union_size,
                                     false_match_probability, false_negative_probability,
                                     hypergeom_tail, log_binom, optimal_threshold,
                                     union_false_match_probability,
                                     union_segment_false_match_probability,
                                     union_size_log_pmf)

__all__ = [
    "DendriticNeurons", "SDRInput", "SynapseGrowth", "MCResult", "false_match_rate",
    "false_negative_rate", "union_false_match_rate",
    "union_segment_false_match_rate", "detection_error", "expected_union_size",
    "false_match_probability", "false_negative_probability", "hypergeom_tail", "log_binom",
    "optimal_threshold", "union_false_match_probability",
    "union_segment_false_match_probability", "union_size_log_pmf",
]
