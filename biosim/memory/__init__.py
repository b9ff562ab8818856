"""Hebbian associative memories: Willshaw networks, Gripon-Berrou clustered-clique networks,
noise channels, the Coyac et al. learning process under an energy limit, and closed forms."""
from biosim.memory import noise, theory
from biosim.memory.cliques import CliqueNetwork, decode

__all__ = ["CliqueNetwork", "decode", "noise", "theory"]
