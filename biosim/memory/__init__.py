"""Hebbian associative memories: Willshaw networks, Gripon-Berrou clustered-clique networks,
a Hopfield baseline, noise channels, the Coyac et al. learning process under an energy limit,
and closed forms (:mod:`biosim.memory.theory`)."""
from biosim.memory import noise, theory
from biosim.memory.cliques import CliqueNetwork, decode
from biosim.memory.coyac import CoyacLearner, connection_overlap
from biosim.memory.hopfield import HopfieldNetwork
from biosim.memory.population import ClusterWTA, MessageReplay, WillshawRetrieval
from biosim.memory.willshaw import WillshawMemory

__all__ = ["CliqueNetwork", "CoyacLearner", "HopfieldNetwork", "WillshawMemory",
           "ClusterWTA", "MessageReplay", "WillshawRetrieval",
           "connection_overlap", "decode", "noise", "theory"]
