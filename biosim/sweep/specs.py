"""Sweeping the numeric fields of a model spec (``models/*.toml``)."""
from __future__ import annotations

import hashlib
import importlib
import json

from biosim.core.validation import BiosimError


class SpecFunction:
    """``fn(seed=s, **{"readout.eta": 1e-3, ...})`` -> metrics of the spec with those fields set.

    ``spec`` is a dict (from ``biosim.core.spec.load_spec``) or a path / model name.
    ``require``: metric names that must be among those ``evaluate`` returns (else the point
    fails with an error naming the metric). Picklable, so it runs on any backend.
    """

    def __init__(self, spec, require=()):
        module = importlib.import_module("biosim.core.spec")
        self.spec = spec if isinstance(spec, dict) else module.load_spec(spec)
        self.require = tuple(require)
        self._override, self._evaluate = module.override, module.evaluate
        digest = hashlib.sha1(json.dumps(self.spec, sort_keys=True, default=str).encode())
        self.sweep_id = f"spec:{digest.hexdigest()[:16]}"  # an edited spec is another sweep

    def with_fields(self, **fields) -> dict:
        """The spec with dotted ``fields`` set (BiosimError names an unknown/non-numeric one)."""
        spec = self.spec
        for field, value in fields.items():
            spec = self._override(spec, field, value)
        return spec

    def __call__(self, seed, **fields):
        metrics = self._evaluate(self.with_fields(**fields), seed)
        for name in self.require:
            if name not in metrics:
                raise BiosimError(f"metric {name!r}: expected one of the spec's metrics "
                                  f"({', '.join(metrics)})")
        return metrics
