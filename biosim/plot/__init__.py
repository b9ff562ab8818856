"""Plots that return a matplotlib ``Axes``, one call away: ``bs.plot.raster(spikes)``.

One module per model family; matplotlib is imported inside each function.
"""
from biosim.plot.spiking import *  # noqa: F401,F403
from biosim.plot.sweep import *  # noqa: F401,F403
from biosim.plot.vpr import *  # noqa: F401,F403
from biosim.plot.dendrites import *  # noqa: F401,F403
from biosim.plot.oscillators import *  # noqa: F401,F403
from biosim.plot.memory import *  # noqa: F401,F403
from biosim.plot.reservoir import *  # noqa: F401,F403
