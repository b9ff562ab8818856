"""Izhikevich reservoirs with three-factor and FORCE readouts, and the what/when task."""
