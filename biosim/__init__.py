"""biosim: spiking and bio-inspired neural simulation with one network/plasticity API.

Time is in ms, voltage in mV, rates in Hz. The package has four layers, each importing only
from the layers below it (``tests/test_import_graph.py`` checks this):

1. ``biosim.core``: the network/plasticity API; it names no model family;
2. ``biosim.neurons``: the spiking neurons (Izhikevich, LIF) that families may build on;
3. the families ``biosim.reservoir``, ``biosim.memory``, ``biosim.oscillators``,
   ``biosim.dendrites``, ``biosim.vpr``, ``biosim.sweep``: none imports another;
4. the top: ``biosim.plot``, the command line (``biosim.cli``, ``biosim.spec_cli`` and each
   family's ``cli`` module), ``biosim.warmup`` (fills numba's cache at install) and this
   file.

Families that add spec models or kinds register them with :mod:`biosim.core.spec` when they
are imported; this file imports those (``neurons``, ``reservoir``) so that
``bs.load_model`` knows every model. The other families are imported on first use, so that
``import biosim`` stays fast and works without the optional extras.
"""
from __future__ import annotations

import importlib

import biosim.neurons  # noqa: F401  (registers the spec models izhikevich, lif)
import biosim.reservoir  # noqa: F401  (registers the spec kinds what_when, force_sine)
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
    "ClusterWTA": "biosim.memory",
    "MessageReplay": "biosim.memory",
    "WillshawRetrieval": "biosim.memory",
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
