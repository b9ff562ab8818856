"""Izhikevich reservoirs that learn "what" and "when": error-modulated, attention-gated
three-factor readouts (on the core ``ThreeFactor`` rule), FORCE as the baseline, the
what/when prediction task and its metrics. ``kind = "what_when"`` specs are run by
:func:`evaluate_spec`."""
from biosim.reservoir import metrics
from biosim.reservoir.experiment import run_force, run_three_factor
from biosim.reservoir.force import FORCE, RLS
from biosim.reservoir.network import LinearReadout, ReservoirPopulation, Targets, Teacher
from biosim.reservoir.readout import ThreeFactorReadout
from biosim.reservoir.reservoir import Reservoir
from biosim.reservoir.spec import build, evaluate_spec, validate_spec
from biosim.reservoir.task import Trial, WhatWhenTask

__all__ = ["metrics", "Reservoir", "ReservoirPopulation", "LinearReadout", "Teacher", "Targets",
           "ThreeFactorReadout",
           "FORCE", "RLS", "WhatWhenTask", "Trial",
           "run_three_factor", "run_force", "build", "evaluate_spec", "validate_spec"]
