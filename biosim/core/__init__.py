"""The common network/plasticity API shared by every model family."""
from biosim.core.validation import BiosimError

__all__ = ["BiosimError"]
