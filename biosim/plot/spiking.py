"""Plots of spiking networks: raster, voltage traces, population rate, weights."""
__all__: list[str] = []
