"""The common network/plasticity API shared by every model family."""
from biosim.core.jit import skip_blas_probe

skip_blas_probe()  # before any kernel loads (see biosim.core.jit)

from biosim.core.connectivity import (all_to_all, fixed_indegree, fixed_probability, normal,
                                      uniform)
from biosim.core.estimator import Estimator, all_estimators
from biosim.core.inputs import (ArrayCurrent, ConstantCurrent, GaussianNoise, Input,
                                PoissonInput, StepCurrent)
from biosim.core.monitors import (OrderParameterMonitor, RateMonitor, SpikeMonitor,
                                  StateMonitor, WeightMonitor)
from biosim.core.network import Network
from biosim.core.plasticity import (STDP, ClippedHebbian, Hebbian, LocalRule, Oja, Rule,
                                    ThreeFactor, TripletSTDP, normalize_incoming)
from biosim.core.population import PoissonGroup, Population, SpikeGenerator
from biosim.core.projection import Projection, Weights
from biosim.core.random import make_rng
from biosim.core.validation import BiosimError, BiosimWarning

__all__ = [
    "Network", "Population", "PoissonGroup", "SpikeGenerator", "Projection", "Weights",
    "all_to_all", "fixed_probability", "fixed_indegree", "uniform", "normal",
    "Input", "ConstantCurrent", "StepCurrent", "ArrayCurrent", "GaussianNoise", "PoissonInput",
    "SpikeMonitor", "StateMonitor", "RateMonitor", "OrderParameterMonitor", "WeightMonitor",
    "Rule", "LocalRule", "Hebbian", "Oja", "STDP", "ThreeFactor", "ClippedHebbian",
    "TripletSTDP", "normalize_incoming",
    "make_rng", "BiosimError", "BiosimWarning", "Estimator", "all_estimators",
]
