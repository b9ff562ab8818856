"""Files: atomic writes, and the data-only format of every model file biosim writes.

A biosim file is JSON plus NumPy arrays: a network checkpoint is one ``.npz`` holding the
arrays and the JSON document (:func:`write_file`); a trained estimator is a folder with
``model.json`` and ``weights.npz`` (:func:`write_folder`). Arrays are read with
``allow_pickle=False``; loading never runs code from the file:

- the JSON holds plain values (numbers, strings, lists, dicts), references to arrays, the
  state of NumPy random generators and seed sequences, and biosim objects as
  ``{"class": "biosim.<module>.<Class>", "state": {...}}``. A class is rebuilt (without
  calling its constructor) only if it is defined in a ``biosim.`` module and is a data class
  (a subclass of Population, Projection, Weights, Rule, Input, Monitor, Network or
  Estimator, or marked with :func:`data_class`); no module outside ``biosim.`` is imported;
- numba kernels shipped with biosim are referenced by qualified name; a user's kernel (a
  ``LocalRule``), callback or own class (a Population, Rule, ... subclass of theirs) is saved
  by its name only and re-bound at load from an explicit mapping
  (``Network.load(path, rules={"name": kernel}, callbacks={...}, classes={...})``);
- shared objects stay shared (a projection's ``pre`` is the population object of the
  network) and array views stay views of the same memory, so a loaded network continues
  bit for bit.

Every file records its ``format`` and ``version``; reading checks both. Old pickle
checkpoints (checkpoint version 2 and older) are refused; :func:`convert_pickle_checkpoint`
converts one in a session that trusts the file.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from biosim.core.validation import BiosimError
from biosim.core.validation import fail as _bad

#: key of the JSON document inside a single-file ``.npz``
DOC_KEY = "__biosim__"
#: the array of weights.npz holding the token that model.json names (same save)
TOKEN_KEY = "__token__"
_NAME = re.compile(r"^biosim(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
_PICKLE_HINT = ("pickles can run code, so biosim no longer reads them; if you trust the file, "
                "convert it once with biosim.core.io.convert_pickle_checkpoint(old, new)")


# ------------------------------------------------------------------ atomic writes
@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    The temporary name holds the writer's process id: temporary files that killed writers
    left in that folder are removed at the first save there of the next process.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(path.parent.resolve())
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                   suffix=path.suffix)
    except OSError as e:  # name the user's path, not the temporary file
        raise BiosimError(f"path: cannot write {path} ({e.strerror or e})") from None
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; a saved file gets the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def output_dir(field: str, path) -> Path:
    """The folder ``path``, created with its parents; a BiosimError naming ``field`` and the
    path when it cannot be created or written."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BiosimError(f"{field}: cannot create folder {path} ({e.strerror or e})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise BiosimError(f"{field}: folder {path} is not writable")
    return path


_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK
_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}(?P<suffix>\.[^.]*)?")
_cleaned = set()  # folders this process has cleaned


def _remove_leftovers(folder):
    """Remove the temporary files that killed writers left in ``folder`` (once per process:
    a folder of many files is listed once, not at every save)."""
    from biosim.core.processes import pid_alive

    if folder in _cleaned:
        return
    _cleaned.add(folder)
    for entry in os.scandir(folder):
        m = _TEMP.fullmatch(entry.name)
        if m and m["name"].endswith(m["suffix"] or "") and not pid_alive(int(m["pid"])):
            Path(entry.path).unlink(missing_ok=True)


def save_npz(path, **arrays) -> None:
    """``np.savez_compressed`` written atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


# ------------------------------------------------------------------ data classes
def data_class(cls):
    """Class decorator: instances of ``cls`` (a class of a ``biosim.`` module) may be saved
    in and rebuilt from biosim files (its ``__dict__`` is the saved state)."""
    cls.__biosim_data__ = True
    return cls


def _bases(user: bool = False):
    """The data classes' bases; ``user``: those a user's own class may extend (given back by
    name at load)."""
    from biosim.core.estimator import Estimator
    from biosim.core.inputs import Input
    from biosim.core.monitors import Monitor
    from biosim.core.network import Network
    from biosim.core.plasticity import Rule
    from biosim.core.population import Population
    from biosim.core.projection import Projection, Weights

    bases = (Population, Projection, Weights, Rule, Input, Monitor)
    return bases if user else bases + (Network, Estimator)


def _is_data_class(cls) -> bool:
    return (isinstance(cls, type) and cls.__module__.startswith("biosim.")
            and (getattr(cls, "__biosim_data__", False) or issubclass(cls, _bases())))


def _qualname(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _resolve(name: str, field: str):
    """The top-level attribute ``name`` = ``biosim.<module>.<attr>``; imports only biosim."""
    if not isinstance(name, str) or not _NAME.match(name):
        _bad(field, "the name of a biosim class or kernel (biosim.<module>.<name>)", name)
    module, _, attr = name.rpartition(".")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        _bad(field, "the name of a biosim class or kernel (biosim.<module>.<name>)", name)
    return getattr(mod, attr, None)


def _is_kernel(x) -> bool:
    return hasattr(x, "py_func") and type(x).__module__.startswith("numba")


# ------------------------------------------------------------------ encoding
class _Encoder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.memo: dict[int, int] = {}
        self.keep: list = []  # keeps encoded objects alive so that ids stay unique

    def _new_id(self, x) -> int:
        n = len(self.keep)
        self.memo[id(x)] = n
        self.keep.append(x)
        return n

    def __call__(self, x, path: str):
        t = type(x)
        if x is None or t in (bool, int, float, str):
            return x
        if id(x) in self.memo:
            return {"$": "ref", "id": self.memo[id(x)]}
        if t is list:
            if self._packable(x):
                return self._pack(x)
            n = self._new_id(x)
            return {"$": "list", "id": n,
                    "items": [self(v, f"{path}[{k}]") for k, v in enumerate(x)]}
        if t is tuple:
            return {"$": "tuple", "items": [self(v, f"{path}[{k}]") for k, v in enumerate(x)]}
        if t in (set, frozenset):
            return {"$": t.__name__, "items": [self(v, f"{path}[...]") for v in x]}
        if t is dict:
            n = self._new_id(x)
            if all(type(k) is str for k in x):
                return {"$": "dict", "id": n,
                        "items": {k: self(v, f"{path}[{k!r}]") for k, v in x.items()}}
            return {"$": "dict", "id": n, "pairs": [[self(k, f"{path}.key"),
                                                      self(v, f"{path}[{k!r}]")]
                                                     for k, v in x.items()]}
        if t is complex:
            return {"$": "complex", "re": x.real, "im": x.imag}
        if t is np.ndarray:
            return self._array(x, path)
        if isinstance(x, np.generic):
            if x.dtype.hasobject:
                _bad(path, "data (numbers, arrays, biosim objects)", type(x).__name__)
            n = self._new_id(x)
            self.arrays[f"s{n}"] = np.asarray(x)
            return {"$": "scalar", "id": n}
        if isinstance(x, np.dtype):
            return {"$": "dtype", "str": self._dtype(x, path)}
        if isinstance(x, type) and issubclass(x, np.generic):
            return {"$": "nptype", "str": self._dtype(np.dtype(x), path)}
        if t is np.random.Generator:
            n = self._new_id(x)
            return {"$": "generator", "id": n, "state": self(x.bit_generator.state, path)}
        if t is np.random.SeedSequence:
            n = self._new_id(x)
            return {"$": "seedseq", "id": n, "entropy": self(x.entropy, path),
                    "spawn_key": self(tuple(x.spawn_key), path), "pool_size": x.pool_size,
                    "n_children_spawned": x.n_children_spawned}
        if _is_kernel(x):
            name = _qualname(x.py_func)
            if name.startswith("biosim.") and _resolve_quiet(name) is x:
                return {"$": "kernel", "name": name}
            return {"$": "function", "role": "rules", "name": x.py_func.__name__}
        if callable(x) and hasattr(x, "__code__"):
            return {"$": "function", "role": "callbacks", "name": x.__name__}
        if _is_data_class(t) and hasattr(x, "__dict__") and not x.__class__.__qualname__.count("."):
            n = self._new_id(x)
            skip = getattr(x, "_transient", ())
            state = {k: self(v, f"{path}.{k}") for k, v in vars(x).items() if k not in skip}
            return {"$": "object", "id": n, "class": _qualname(t), "state": state}
        if isinstance(x, _bases(user=True)) and hasattr(x, "__dict__"):  # a user's class
            n = self._new_id(x)
            state = {k: self(v, f"{path}.{k}") for k, v in vars(x).items()}
            return {"$": "object", "id": n, "user_class": t.__name__, "state": state}
        _bad(path, "data (numbers, strings, arrays, random generators, biosim objects)",
             f"a {t.__module__}.{t.__qualname__}")

    def _packable(self, x) -> bool:
        """A list of >= 2 arrays of one plain dtype that nothing else refers to (a monitor's
        records): saved as one array, not one per element."""
        if len(x) < 2 or type(x[0]) is not np.ndarray:
            return False
        dt = x[0].dtype
        if dt.hasobject or dt.kind == "V":
            return False
        for v in x:
            if type(v) is not np.ndarray or v.dtype != dt or id(v) in self.memo:
                return False
            root = v
            while isinstance(root.base, np.ndarray):
                root = root.base
            if id(root) in self.memo:
                return False
        return True

    def _pack(self, x):
        n = self._new_id(x)
        ids = [self._new_id(v) for v in x]
        self.arrays[f"a{n}"] = np.concatenate([v.reshape(-1) for v in x])
        return {"$": "arrays", "id": n, "ids": ids, "shapes": [list(v.shape) for v in x]}

    def _dtype(self, dt, path):
        if dt.hasobject or dt.kind == "V":
            _bad(path, "a plain NumPy dtype (no objects)", str(dt))
        return dt.str

    def _array(self, x, path):
        self._dtype(x.dtype, path)
        root = x
        while isinstance(root.base, np.ndarray):
            root = root.base
        if root is x or type(root) is not np.ndarray:
            n = self._new_id(x)
            self.arrays[f"a{n}"] = x
            return {"$": "array", "id": n}
        base = self(root, path + ".base")  # views keep sharing memory with their base
        n = self._new_id(x)
        offset = (x.__array_interface__["data"][0] - root.__array_interface__["data"][0])
        return {"$": "view", "id": n, "base": base, "offset": int(offset),
                "shape": list(x.shape), "strides": list(x.strides), "dtype": x.dtype.str}


def _resolve_quiet(name):
    try:
        return _resolve(name, "kernel")
    except BiosimError:
        return None


# ------------------------------------------------------------------ decoding
class _Decoder:
    def __init__(self, arrays, functions):
        self.arrays = arrays
        self.functions = functions or {}
        self.memo: dict[int, object] = {}

    def _put(self, n, obj, path):
        if not isinstance(n, int) or n in self.memo:
            _bad(path, "a new object id", n)
        self.memo[n] = obj
        return obj

    def _user(self, role, name, path):
        """A function or class of the user's, given by name at load (never from the file)."""
        if not isinstance(name, str):
            _bad(path, "a name", name)
        found = (self.functions.get(role) or {}).get(name)
        if found is None:
            what = {"rules": "kernel", "callbacks": "function", "classes": "class"}[role]
            raise BiosimError(f"{role}: the file needs the {what} {name!r} (at {path}); "
                              f"pass load(..., {role}={{{name!r}: {name}}})")
        return found

    def _array(self, key, path):
        if key not in self.arrays:
            _bad(path, f"array {key!r} in the file", "no such array")
        return self.arrays[key]

    def __call__(self, d, path: str):
        if d is None or type(d) in (bool, int, float, str):
            return d
        if type(d) is list:  # written as tagged lists; accept plain ones
            return [self(v, f"{path}[{k}]") for k, v in enumerate(d)]
        if type(d) is not dict or not isinstance(d.get("$"), str):
            _bad(path, "a tagged value", type(d).__name__)
        tag = d["$"]
        if tag == "ref":
            if d.get("id") not in self.memo:
                _bad(path, "a reference to an earlier object", d.get("id"))
            return self.memo[d["id"]]
        if tag == "list":
            out = self._put(d.get("id"), [], path)
            out.extend(self(v, f"{path}[{k}]") for k, v in enumerate(_list(d, "items", path)))
            return out
        if tag == "tuple":
            return tuple(self(v, f"{path}[{k}]") for k, v in enumerate(_list(d, "items", path)))
        if tag in ("set", "frozenset"):
            items = [self(v, path) for v in _list(d, "items", path)]
            return set(items) if tag == "set" else frozenset(items)
        if tag == "dict":
            out = self._put(d.get("id"), {}, path)
            if "items" in d:
                items = d["items"]
                if type(items) is not dict:
                    _bad(path, "a dict of items", type(items).__name__)
                for k, v in items.items():
                    out[k] = self(v, f"{path}[{k!r}]")
            else:
                for pair in _list(d, "pairs", path):
                    if type(pair) is not list or len(pair) != 2:
                        _bad(path, "[key, value] pairs", pair)
                    out[self(pair[0], path)] = self(pair[1], path)
            return out
        if tag == "complex":
            return complex(_num(d, "re", path), _num(d, "im", path))
        if tag == "array":
            return self._put(d.get("id"), self._array(f"a{d.get('id')}", path), path)
        if tag == "arrays":
            out = self._put(d.get("id"), [], path)
            flat = self._array(f"a{d.get('id')}", path)
            shapes, ids = _list(d, "shapes", path), _list(d, "ids", path)
            try:
                sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
                if len(ids) != len(shapes) or sum(sizes) != flat.size or flat.ndim != 1:
                    raise ValueError("sizes do not add up")
                parts = np.split(flat, np.cumsum(sizes)[:-1])
                out.extend(self._put(i, p.reshape(s).copy(), path)
                           for i, p, s in zip(ids, parts, shapes))
            except (TypeError, ValueError) as e:
                _bad(path, "a list of arrays that fits its data", str(e))
            return out
        if tag == "scalar":
            return self._put(d.get("id"), self._array(f"s{d.get('id')}", path)[()], path)
        if tag == "view":
            base = self(d.get("base"), path + ".base")
            if type(base) is not np.ndarray:
                _bad(path + ".base", "an array", type(base).__name__)
            try:
                view = np.ndarray(tuple(d["shape"]), _dtype(d["dtype"], path), buffer=base,
                                  offset=d["offset"], strides=tuple(d["strides"]))
            except (KeyError, TypeError, ValueError) as e:
                _bad(path, "a view inside its base array", str(e))
            return self._put(d.get("id"), view, path)
        if tag == "dtype":
            return _dtype(d.get("str"), path)
        if tag == "nptype":
            return _dtype(d.get("str"), path).type
        if tag == "generator":
            state = self(d.get("state"), path + ".state")
            name = state.get("bit_generator") if type(state) is dict else None
            if name not in _BIT_GENERATORS:
                _bad(path, f"a NumPy bit generator ({', '.join(_BIT_GENERATORS)})", name)
            bg = getattr(np.random, name)()
            try:
                bg.state = state
            except (TypeError, ValueError, KeyError) as e:
                _bad(path, f"a valid {name} state", str(e))
            return self._put(d.get("id"), np.random.Generator(bg), path)
        if tag == "seedseq":
            try:
                ss = np.random.SeedSequence(self(d.get("entropy"), path),
                                            spawn_key=self(d.get("spawn_key"), path),
                                            pool_size=d.get("pool_size"),
                                            n_children_spawned=d.get("n_children_spawned"))
            except (TypeError, ValueError) as e:
                _bad(path, "a valid SeedSequence", str(e))
            return self._put(d.get("id"), ss, path)
        if tag == "kernel":
            k = _resolve(d.get("name"), path)
            if not _is_kernel(k) or _qualname(k.py_func) != d["name"]:
                _bad(path, "a numba kernel of biosim", d.get("name"))
            return k
        if tag == "function":
            role, name = d.get("role"), d.get("name")
            if role not in ("rules", "callbacks"):
                _bad(path + ".role", "'rules' or 'callbacks'", role)
            fn = self._user(role, name, path)
            if role == "rules" and not _is_kernel(fn):
                _bad(f"{role}[{name!r}]", "a numba @njit kernel", fn)
            if role == "callbacks" and not callable(fn):
                _bad(f"{role}[{name!r}]", "a callable", fn)
            return fn
        if tag == "object":
            if "user_class" in d:
                cls = self._user("classes", d["user_class"], path)
                if not (isinstance(cls, type) and issubclass(cls, _bases(user=True))):
                    _bad(f"classes[{d['user_class']!r}]", "a subclass of a biosim Population, "
                         "Projection, Rule, Input or Monitor", cls)
            else:
                cls = _resolve(d.get("class"), path + ".class")
                if not _is_data_class(cls) or _qualname(cls) != d["class"]:
                    _bad(path + ".class", "a biosim data class (Population, Projection, Rule, "
                         "Input, Monitor, Network, Estimator, ...)", d.get("class"))
            obj = self._put(d.get("id"), cls.__new__(cls), path)
            state = d.get("state")
            if type(state) is not dict:
                _bad(path + ".state", "a dict of attributes", type(state).__name__)
            for k, v in state.items():
                if not _IDENT.match(k):
                    _bad(path + ".state", "attribute names", k)
                obj.__dict__[k] = self(v, f"{path}.{k}")
            return obj
        _bad(path, "a known value tag", tag)


def _list(d, key, path):
    v = d.get(key)
    if type(v) is not list:
        _bad(f"{path}.{key}", "a list", type(v).__name__)
    return v


def _num(d, key, path):
    v = d.get(key)
    if type(v) not in (int, float):
        _bad(f"{path}.{key}", "a number", v)
    return v


def _dtype(s, path):
    try:
        dt = np.dtype(s) if isinstance(s, str) else None
    except TypeError:
        dt = None
    if dt is None or dt.hasobject or dt.kind == "V":
        _bad(path, "a plain NumPy dtype", s)
    return dt


# ------------------------------------------------------------------ documents
def to_data(obj, root: str = "model") -> tuple[dict, dict]:
    """``(document, arrays)``: a JSON-ready document and the arrays it refers to."""
    enc = _Encoder()
    doc = enc(obj, root)
    return doc, enc.arrays


def from_data(doc, arrays, functions=None, root: str = "model"):
    """Rebuild what :func:`to_data` wrote. ``functions``: ``{"rules": {name: kernel},
    "callbacks": {name: fn}, "classes": {name: cls}}`` for the user's functions and classes
    the document names."""
    try:
        return _Decoder(arrays, functions)(doc, root)
    except RecursionError:
        _bad(root, "a document of reasonable depth", "too deeply nested")
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
        if isinstance(e, BiosimError):
            raise
        raise BiosimError(f"{root}: the file's document is corrupted "
                          f"({type(e).__name__}: {e})") from None


def _header(fmt, version, doc) -> dict:
    from biosim import __version__

    return {"format": fmt, "version": version, "biosim": __version__, "data": doc}


def _check_header(meta, fmt, version, where):
    if not isinstance(meta, dict) or "format" not in meta:
        raise BiosimError(f"format: {where} has no biosim header (expected a {fmt} file)")
    if meta["format"] != fmt:
        raise BiosimError(f"format: expected a {fmt} file, got a {meta['format']!r} file "
                          f"({where})")
    versions = version if isinstance(version, tuple) else (version,)
    if meta.get("version") not in versions:
        raise BiosimError(f"version: expected version {' or '.join(map(str, versions))} of "
                          f"{fmt} (this biosim; use "
                          f"the biosim that wrote it), got version {meta.get('version')!r} "
                          f"({where})")


def _sniff(path: Path, fmt: str) -> None:
    """Refuse missing files, pickles and non-zip files with one line."""
    if not path.is_file():
        raise BiosimError(f"path: no {fmt} file at {path}")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:1] == b"\x80" or head[:1] in (b"(", b"c", b"}", b"]"):
        raise BiosimError(f"path: {path} is an old pickle checkpoint: "
                          + _PICKLE_HINT)
    if head[:2] != b"PK":
        raise BiosimError(f"path: {path} is not a biosim file (expected a {fmt} .npz)")


def _read_npz(path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise BiosimError(f"path: {path} is corrupted ({type(e).__name__}: {e})") from None


def write_file(path, fmt: str, version: int, obj) -> Path:
    """Write ``obj`` to one ``.npz`` (arrays + the JSON document under ``__biosim__``),
    atomically."""
    doc, arrays = to_data(obj, fmt.rpartition(".")[2])
    text = json.dumps(_header(fmt, version, doc), separators=(",", ":"))
    arrays[DOC_KEY] = np.frombuffer(text.encode(), np.uint8)
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def read_file(path, fmt: str, version, functions=None):
    """Read a file written by :func:`write_file`; checks format and version (an int, or a
    tuple of the versions this biosim reads)."""
    path = Path(path)
    _sniff(path, fmt)
    arrays = _read_npz(path)
    raw = arrays.pop(DOC_KEY, None)
    if raw is None or raw.dtype != np.uint8:
        raise BiosimError(f"format: {path} is an .npz without a biosim header "
                          f"(expected a {fmt} file)")
    meta = _parse(bytes(raw), path)
    _check_header(meta, fmt, version, str(path))
    return from_data(meta.get("data"), arrays, functions, fmt.rpartition(".")[2])


def _parse(text: bytes, where):
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BiosimError(f"path: {where} is corrupted (unreadable JSON)") from None


def write_folder(folder, fmt: str, version: int, obj) -> Path:
    """Write ``obj`` as ``folder/model.json`` + ``folder/weights.npz``, atomically each. Both
    files carry the same random token: a save interrupted between the two leaves a folder
    that :func:`read_folder` refuses, never new weights read with an old model.json."""
    import secrets

    folder = Path(folder)
    doc, arrays = to_data(obj, fmt.rpartition(".")[2])
    token = secrets.token_hex(8)
    arrays[TOKEN_KEY] = np.frombuffer(token.encode(), np.uint8)
    save_npz(folder / "weights.npz", **arrays)
    with atomic_path(folder / "model.json") as tmp:
        tmp.write_text(json.dumps({**_header(fmt, version, doc), "token": token}, indent=1))
    return folder


def read_folder(folder, fmt: str, version: int, functions=None, legacy=None):
    """Read a folder written by :func:`write_folder`; checks format and version.
    ``legacy``: ``{old_version: reader(meta, arrays)}`` for folders of an older layout
    (also data: ``model.json`` and ``weights.npz``)."""
    folder = Path(folder)
    meta_path = folder / "model.json"
    if not meta_path.is_file():
        _bad("model", f"a model folder with model.json (from .save()) holding a {fmt}",
             str(folder))
    try:
        meta = json.loads(meta_path.read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError):
        _bad("model", "a readable model.json; the file is corrupted", str(meta_path))
    reader = (legacy or {}).get(meta.get("version")) if isinstance(meta, dict) else None
    if reader is None or meta.get("format") != fmt:
        _check_header(meta, fmt, version, str(meta_path))
    weights = folder / "weights.npz"
    if not weights.is_file():
        _bad("model", "weights.npz beside model.json", f"none in {folder}")
    with open(weights, "rb") as f:
        if f.read(2) != b"PK":
            _bad("model", "an intact weights.npz; it is corrupted", str(weights))
    arrays = _read_npz(weights)
    token = arrays.pop(TOKEN_KEY, None)
    if "token" in meta and (token is None or bytes(token).decode(errors="replace")
                            != meta["token"]):
        _bad("model", "model.json and weights.npz of the same save (a save was interrupted "
             "between them; save the model again)", str(folder))
    if reader is not None and meta.get("format") == fmt:
        return reader(meta, arrays)
    return from_data(meta.get("data"), arrays, functions, fmt.rpartition(".")[2])


# ------------------------------------------------------------------ old checkpoints
def convert_pickle_checkpoint(old, new) -> Path:
    """Convert an old pickle checkpoint (checkpoint version 2) into the data-only format.

    **Unpickling runs code from the file: call this only on files you trust** (e.g. ones you
    wrote yourself). A network with a ``LocalRule`` kernel or callbacks needs those functions
    importable in this session (as when it was saved), and they must be passed to
    ``Network.load(new, rules=..., callbacks=...)`` afterwards.
    """
    import pickle

    with open(old, "rb") as f:
        payload = pickle.load(f)  # noqa: S301 - documented: trusted files only
    if not isinstance(payload, dict) or "network" not in payload:
        _bad("old", "a biosim pickle checkpoint", str(old))
    payload["network"].save(new)
    return Path(new)
