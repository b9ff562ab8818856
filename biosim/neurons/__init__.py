"""Neuron models: Izhikevich (2003) with the named presets, and LIF; their spec models
(``model = "izhikevich"`` / ``"lif"``, registered with core by :mod:`biosim.neurons.spec`)
and the Brian2 export ``to_brian2(net)`` (:mod:`biosim.neurons.brian2_export`; brian2 is
imported when it is called)."""
from biosim.neurons import spec as _spec  # noqa: F401  (registers the spec models)
from biosim.neurons.brian2_export import to_brian2
from biosim.neurons.izhikevich import PRESETS, Izhikevich
from biosim.neurons.lif import LIF

__all__ = ["Izhikevich", "LIF", "PRESETS", "to_brian2"]
