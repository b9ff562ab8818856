"""Neuron models: Izhikevich (2003) with the named presets, and LIF."""
from biosim.neurons.izhikevich import PRESETS, Izhikevich
from biosim.neurons.lif import LIF

__all__ = ["Izhikevich", "LIF", "PRESETS"]
