"""Kuramoto phase oscillators (classic, Sakaguchi, network-coupled) and AKOrN vector
oscillators (Miyato et al., ICLR 2025)."""
from biosim.oscillators.analysis import (critical_coupling, local_order_parameter,
                                         lorentzian_r, order_parameter, phase_locking_value,
                                         ring_order_parameter, self_consistent_r)
from biosim.oscillators.kuramoto import (KuramotoPopulation, KuramotoResult,
                                         natural_frequencies, simulate)

__all__ = ["natural_frequencies", "simulate", "KuramotoResult", "KuramotoPopulation",
           "order_parameter",
           "local_order_parameter", "ring_order_parameter", "phase_locking_value",
           "critical_coupling", "self_consistent_r", "lorentzian_r"]
