"""Model folders of the place recognisers: ``model.json`` (format, version, parameters) and
``weights.npz``, written atomically; reading fails with one line for a missing, foreign,
other-version or damaged folder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from biosim.core.io import atomic_path, save_npz
from biosim.core.validation import fail


def write_model_folder(folder, fmt: str, version: int, arrays: dict, **meta) -> Path:
    folder = Path(folder)
    save_npz(folder / "weights.npz", **arrays)
    with atomic_path(folder / "model.json") as tmp:
        tmp.write_text(json.dumps({"format": fmt, "version": version, **meta}, indent=1))
    return folder


def read_model_folder(folder, fmt: str, version: int) -> tuple[dict, dict]:
    """``(meta, arrays)`` of a folder written by :func:`write_model_folder`."""
    folder = Path(folder)
    meta_path = folder / "model.json"
    if not meta_path.is_file():
        fail("model", "a model folder with model.json (from `biosim vpr train` or .save())",
             str(folder))
    try:
        meta = json.loads(meta_path.read_text())
    except (ValueError, UnicodeDecodeError):
        fail("model", "a readable model.json; the file is corrupted", str(meta_path))
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        fail("model", f"a {fmt} model", str(meta_path))
    if meta.get("version") != version:
        fail("model", f"version {version} (this biosim); retrain or use the biosim that "
             "wrote it", f"version {meta.get('version')!r}")
    try:
        with np.load(folder / "weights.npz") as z:
            arrays = {key: z[key] for key in z.files}
    except Exception as e:  # noqa: BLE001 - any damage in the file
        fail("model", f"an intact weights.npz; it is corrupted ({type(e).__name__}: {e})",
             str(folder))
    return meta, arrays
