"""The contract of every trainable model, in the spirit of scikit-learn's ``BaseEstimator``.

- The constructor stores its keyword arguments (validated, under the same names) and does
  no work; ``get_params``/``set_params`` are read from the ``__init__`` signature, so sweeps
  and :meth:`Estimator.clone` need nothing per class.
- What training learns ends in an underscore (``weights_``, ``places_``); the seed is
  resolved when training starts, so the same estimator trained twice gives the same model.
- ``est.save(folder)`` writes ``model.json`` + ``weights.npz`` (data only, see
  :mod:`biosim.core.io`); ``Cls.load(folder)`` rebuilds it with the constructor (checking the
  parameters) and checks the file's format and version.

Every subclass is found by :func:`all_estimators` (for the conformance suite).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import numpy as np

from biosim.core import io
from biosim.core.validation import BiosimError, fail

__all__ = ["Estimator", "all_estimators"]


class Estimator:
    """Base class of biosim's trainable models (see the module docstring).

    Subclasses may set ``_transient`` (attribute names not saved: caches rebuilt on demand),
    ``_format_version`` (bump when the saved attributes change) and override
    :meth:`_check_loaded` (consistency checks of a loaded model).
    """

    _transient: tuple[str, ...] = ()
    _format_version = 1

    # ---- parameters --------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = False) -> dict:
        """The constructor arguments, by name (``deep`` is accepted for scikit-learn
        compatibility; biosim estimators hold no nested estimators)."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params) -> "Estimator":
        """Change constructor arguments (validated as the constructor does); returns self."""
        names = self._param_names()
        for k in params:
            if k not in names:
                fail("set_params", f"parameters of {type(self).__name__}: {names}", k)
        checked = type(self)(**{**self.get_params(), **params})
        for k in params:
            setattr(self, k, getattr(checked, k))
        return self

    def clone(self) -> "Estimator":
        """A new, untrained estimator with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in
                    inspect.signature(type(self).__init__).parameters.values()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items()
                 if not _same(v, defaults.get(k, inspect.Parameter.empty))]
        return f"{type(self).__name__}({', '.join(shown)})"

    # ---- fitted state ------------------------------------------------------------------
    def fitted_attributes(self) -> list[str]:
        """Names of the learned attributes (ending in ``_``) set so far."""
        return [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]

    def _require_fitted(self, what: str, attribute: str) -> None:
        if getattr(self, attribute, None) is None:
            raise BiosimError(f"{type(self).__name__}: call fit (or load) before {what}")

    # ---- files -------------------------------------------------------------------------
    @classmethod
    def format_name(cls) -> str:
        """The ``format`` written in the model files of this class."""
        return cls.__dict__.get("_format") or f"{cls.__module__}.{cls.__qualname__}"

    def save(self, folder) -> Path:
        """Write ``model.json`` (format, version, parameters, learned state) and
        ``weights.npz`` into ``folder`` (created if needed), atomically; returns the folder."""
        params = self.get_params()
        skip = set(params) | set(self._transient)
        state = {k: v for k, v in vars(self).items() if k not in skip}
        return io.write_folder(folder, self.format_name(), self._format_version,
                               {"params": params, "state": state})

    @classmethod
    def load(cls, folder):
        """An estimator saved by :meth:`save`; one-line errors for a missing, foreign,
        other-version or damaged folder. Reading runs no code from the files."""
        try:
            doc = io.read_folder(folder, cls.format_name(), cls._format_version,
                                 legacy=cls._legacy_readers())
            params, state = doc["params"], doc["state"]
            model = cls(**params)
            if not isinstance(state, dict):
                raise TypeError("state is not a dict")
            model.__dict__.update(state)
            model._check_loaded()
        except BiosimError:
            raise
        except Exception as e:  # noqa: BLE001 - any damage in the files
            fail("model", "an intact model folder; it is corrupted "
                 f"({type(e).__name__}: {e})", str(folder))
        return model

    @classmethod
    def _legacy_readers(cls) -> dict:
        """``{old_version: reader(meta, arrays) -> {"params": ..., "state": ...}}`` for
        model folders of older layouts that this class still reads."""
        return {}

    def _check_loaded(self) -> None:
        """Raise if a loaded model's arrays are inconsistent (override per class)."""


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) else bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable values differ
        return False


def all_estimators(import_all: bool = True) -> list[type]:
    """Every public :class:`Estimator` subclass in biosim, sorted by qualified name. With
    ``import_all`` every biosim module is imported first (modules whose optional
    dependencies are missing are skipped)."""
    if import_all:
        # walk the folder: core names no family (tests/test_import_graph.py)
        package = str(Path(__file__).resolve().parents[1])
        for info in pkgutil.walk_packages([package], "biosim."):
            try:
                importlib.import_module(info.name)
            except ImportError:
                continue
    found, stack = set(), [Estimator]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    public = [c for c in found if c.__module__.startswith("biosim.")
              and not c.__name__.startswith("_") and "<locals>" not in c.__qualname__]
    return sorted(public, key=lambda c: f"{c.__module__}.{c.__qualname__}")
