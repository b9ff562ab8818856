"""Files are data: every load/read entry point of the package, found automatically, refuses
crafted files with a code payload (a one-line BiosimError) and runs nothing.

Payloads: a pickle whose loading creates a file; NumPy object arrays (.npy, .npz) that do
the same with ``allow_pickle=True``; biosim documents (network file, estimator folder) with
the right format and version that name ``os.system`` / ``builtins.open`` as a class or
kernel; a model folder whose ``model.json`` is a pickle. Each payload is first checked to
be live (unpickling it does create the file), so the test can fail.
"""
import inspect
import json
import pickle
import re
import sys

import numpy as np
import pytest

import biosim
from biosim.core import io
from biosim.core.estimator import Estimator, all_estimators
from biosim.core.network import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from biosim.core.validation import BiosimError

#: names of file-reading entry points
LOADER = re.compile(r"^(load|read|restore|open)(_.*)?$|^from_(file|folder|path)$")
#: required arguments that are not paths, by name
NOT_PATHS = {"n_reference": 3, "n_query": 3, "fmt": CHECKPOINT_FORMAT,
             "version": CHECKPOINT_VERSION}


class _Payload:
    """Unpickling calls ``open(marker, "w")``: it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def entry_points():
    """``(name, function)`` of every public loader in biosim (all modules imported)."""
    estimators = all_estimators(import_all=True)
    found = {}
    for modname in sorted(m for m in sys.modules if m.startswith("biosim.")):
        for name, obj in vars(sys.modules[modname]).items():
            if inspect.isfunction(obj) and obj.__module__ == modname and LOADER.match(name):
                found[f"{modname}.{name}"] = obj
            if inspect.isclass(obj) and obj.__module__ == modname:
                for attr, member in vars(obj).items():
                    if isinstance(member, (classmethod, staticmethod)) and LOADER.match(attr):
                        found[f"{modname}.{obj.__qualname__}.{attr}"] = getattr(obj, attr)
    for cls in estimators:  # inherited Estimator.load, once per class
        found[f"{cls.__module__}.{cls.__qualname__}.load"] = cls.load
    return sorted(found.items())


def _doc(fmt, version, data):
    return {"format": fmt, "version": version, "biosim": biosim.__version__, "data": data}


def _evil_data(marker):
    return {"$": "dict", "id": 0, "items": {
        "params": {"$": "object", "class": "os.system", "id": 1,
                   "state": {"command": f"touch {marker}"}},
        "state": {"$": "object", "class": "builtins.open", "id": 2,
                  "state": {"file": str(marker), "mode": "w"}},
        "k": {"$": "kernel", "name": "os.system"}}}


@pytest.fixture(scope="module")
def payloads(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("payloads")
    marker = tmp / "PWNED"
    evil = _Payload(marker)
    files = {}
    files["pickle"] = tmp / "evil.pkl"
    files["pickle"].write_bytes(pickle.dumps(evil))
    files["npy"] = tmp / "evil.npy"
    np.save(files["npy"], np.array([evil, 1], dtype=object), allow_pickle=True)
    files["npz"] = tmp / "evil.npz"
    np.savez(files["npz"], a0=np.array([evil, 1], dtype=object))
    # the payloads are live: loading them the unsafe way does create the marker
    for load in (lambda: pickle.loads(files["pickle"].read_bytes()),
                 lambda: np.load(files["npy"], allow_pickle=True),
                 lambda: np.load(files["npz"], allow_pickle=True)["a0"]):
        load()
        assert marker.exists()
        marker.unlink()
    # a network file with the right header naming os.system
    files["network_json"] = tmp / "evil_net.npz"
    text = json.dumps(_doc(CHECKPOINT_FORMAT, CHECKPOINT_VERSION, _evil_data(marker)))
    np.savez(files["network_json"], **{io.DOC_KEY: np.frombuffer(text.encode(), np.uint8)})
    # the same header, with a pickled object array beside it
    files["network_npz"] = tmp / "evil_net2.npz"
    ok = json.dumps(_doc(CHECKPOINT_FORMAT, CHECKPOINT_VERSION, {"$": "array", "id": 0}))
    np.savez(files["network_npz"], **{io.DOC_KEY: np.frombuffer(ok.encode(), np.uint8),
                                      "a0": np.array([evil, 1], dtype=object)})
    # a model folder whose model.json and weights.npz are pickles
    files["folder_pickles"] = tmp / "evil_folder"
    files["folder_pickles"].mkdir()
    (files["folder_pickles"] / "model.json").write_bytes(pickle.dumps(evil))
    (files["folder_pickles"] / "weights.npz").write_bytes(files["npz"].read_bytes())
    return marker, files


def _folder(tmp, fmt, version, data, arrays):
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "model.json").write_text(json.dumps(_doc(fmt, version, data)))
    np.savez(tmp / "weights.npz", **arrays)
    return tmp


def _cases(name, fn, marker, files, tmp):
    """The payload paths to try on one entry point (format-specific ones where it reads a
    biosim format)."""
    paths = [files[k] for k in ("pickle", "npy", "npz", "network_json", "network_npz",
                                "folder_pickles")]
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Estimator):
        fmt, version = owner.format_name(), owner._format_version
    else:
        fmt, version = CHECKPOINT_FORMAT, CHECKPOINT_VERSION
    evil_obj = np.array([_Payload(marker), 1], dtype=object)
    paths.append(_folder(tmp / f"{name}_json", fmt, version, _evil_data(marker), {}))
    paths.append(_folder(tmp / f"{name}_npz", fmt, version, {"$": "array", "id": 0},
                         {"a0": evil_obj}))
    return paths


def _call(fn, path):
    args = {}
    for p in inspect.signature(fn).parameters.values():
        if p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        args[p.name] = [path] if p.name == "files" else NOT_PATHS.get(p.name, path)
    return fn(**args)


def test_every_loader_refuses_code_payloads(payloads, tmp_path):
    marker, files = payloads
    points = entry_points()
    names = [n for n, _ in points]
    # the search finds the loaders we know of (and every new one without a list)
    for known in ("biosim.core.network.Network.load", "biosim.core.io.read_file",
                  "biosim.vpr.recognizer.SpikingPlaceRecognizer.load",
                  "biosim.memory.coyac.CoyacLearner.load", "biosim.sweep.runner.load"):
        assert known in names
    accepted = []
    for name, fn in points:
        for path in _cases(name.replace(".", "_"), fn, marker, files, tmp_path):
            try:
                _call(fn, path)
            except BiosimError as e:
                assert "\n" not in str(e), f"{name}({path.name}): not one line"
            except Exception as e:  # noqa: BLE001 - refused, but not with a one-line error
                accepted.append(f"{name}({path.name}): {type(e).__name__}: {e}")
            else:
                accepted.append(f"{name}({path.name}) accepted the file")
            assert not marker.exists(), f"{name}({path.name}) ran the payload"
    assert not accepted, "\n".join(accepted)
