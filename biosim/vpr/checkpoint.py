"""Training checkpoints of the spiking place recogniser: written after every epoch, read to
resume an interrupted ``fit`` (or ``biosim vpr train``) where it stopped.

A checkpoint is a model folder (``model.json`` + ``weights.npz``, data only, see
:func:`biosim.core.io.write_folder`). A new one is written beside the old one
(``NAME.new``) and swapped in by two renames, so a kill at any moment leaves a complete
checkpoint: the new one, the old one, or (between the renames) the old one as ``NAME.old``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from biosim.core import io
from biosim.core.random import generator_state, set_generator_state
from biosim.core.validation import BiosimError, fail

FORMAT = "biosim.vpr.TrainingCheckpoint"
VERSION = 1


class TrainingCheckpoint:
    """The checkpoint folder ``path`` of one training run, identified by ``key`` (a digest of
    the parameters and references: a checkpoint of another run is refused, not resumed)."""

    def __init__(self, path, key: str):
        self.path = Path(path)
        self.key = key
        self.extra = {}   # what the caller stored beside the network (write(extra=))
        self._new = self.path.with_name(self.path.name + ".new")
        self._old = self.path.with_name(self.path.name + ".old")

    def resume(self, net, rng) -> int:
        """Load the latest checkpoint into ``net`` and ``rng``; returns its epoch (0: none)."""
        if self._new.exists():  # a write that did not finish
            shutil.rmtree(self._new)
        if not self.path.exists() and self._old.exists():  # killed between the renames
            os.replace(self._old, self.path)
        if not self.path.exists():
            return 0
        try:
            saved = io.read_folder(self.path, FORMAT, VERSION)
        except BiosimError as e:
            raise BiosimError(f"checkpoint: {self.path} cannot be resumed ({e}); delete it to "
                              "start over") from None
        if saved.get("key") != self.key:
            fail("checkpoint", "a checkpoint of this model's parameters and references "
                 "(delete it to start over)", str(self.path))
        net.set_training_state(saved["net"])
        set_generator_state(rng, saved["rng"])
        self.extra = saved.get("extra", {})
        return int(saved["epoch"])

    def write(self, epoch: int, net, rng, extra: dict | None = None) -> None:
        """Checkpoint after ``epoch`` epochs: the network's training state, ``rng`` and
        ``extra`` (data the caller accumulates during training; :attr:`extra` after
        :meth:`resume`)."""
        if self._new.exists():
            shutil.rmtree(self._new)
        io.write_folder(self._new, FORMAT, VERSION, {"key": self.key, "epoch": epoch,
                                                     "net": net.training_state(),
                                                     "rng": generator_state(rng),
                                                     "extra": extra or {}})
        if self.path.exists():
            os.replace(self.path, self._old)
        os.replace(self._new, self.path)
        if self._old.exists():
            shutil.rmtree(self._old)

    def remove(self) -> None:
        """Delete the checkpoint (after the finished model is saved)."""
        for p in (self.path, self._new, self._old):
            if p.exists():
                shutil.rmtree(p)
