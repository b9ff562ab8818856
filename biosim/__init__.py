"""biosim: spiking and bio-inspired neural simulation with one network/plasticity API.

Time is in ms, voltage in mV, rates in Hz. Model families live in subpackages
(``biosim.reservoir``, ``biosim.memory``, ``biosim.oscillators``, ``biosim.dendrites``,
``biosim.vpr``, ``biosim.sweep``); they are imported on first use so that
``import biosim`` stays fast and works without the optional extras.
"""
from __future__ import annotations

import importlib

from biosim.core import *  # noqa: F401,F403  (the common API)
from biosim.core import __all__ as _core_all
from biosim.core.validation import BiosimError

__version__ = "0.1.0"

_SUBPACKAGES = {"neurons", "reservoir", "memory", "oscillators", "dendrites", "vpr", "sweep",
                "plot", "cli"}
# names re-exported lazily from subpackages: name -> module
_LAZY = {
    "Izhikevich": "biosim.neurons",
    "LIF": "biosim.neurons",
    "load_model": "biosim.core.spec",
    "load_spec": "biosim.core.spec",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"biosim.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'biosim' has no attribute {name!r}")


__all__ = list(_core_all) + ["BiosimError", *_LAZY]
