"""Place-recognition datasets: a :class:`Traverse` (one pass along a route) and a
:class:`PlaceDataset` (reference traverse(s), a query traverse and the boolean ground truth).

Images are uint8 arrays (n, height, width) (grey) or (n, height, width, 3) (RGB) in traverse
order. Ground truth is reference x query, True where reference ``i`` shows query ``j``'s place.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biosim.core.validation import choice, fail, integer, number

__all__ = ["Traverse", "PlaceDataset", "same_index_ground_truth", "IMAGE_EXTENSIONS",
           "read_names", "list_images", "load_images", "select_frames", "load_traverse",
           "load_ground_truth", "distance_ground_truth", "dark_frames", "drop_dark_places",
           "load_folder_dataset", "load_nordland", "nordland_root", "load_robotcar",
           "load_st_lucia"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass
class Traverse:
    """One pass along a route.

    images: uint8 (n, H, W) or (n, H, W, 3); place_ids: int (n,) (place index along the route);
    positions: optional (n, 2) metric coordinates (m), e.g. northing/easting; timestamps:
    optional (n,) in s; files: optional source file names; name: e.g. the season.
    """

    images: np.ndarray
    place_ids: np.ndarray
    name: str = ""
    positions: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    files: list[str] | None = None

    def __post_init__(self):
        self.images = np.asarray(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4):
            fail(f"{self.name or 'traverse'}.images", "uint8 images (n, H, W) or (n, H, W, 3)",
                 f"{self.images.dtype} array of shape {self.images.shape}")
        n = len(self.images)
        self.place_ids = np.asarray(self.place_ids, dtype=np.int64)
        if self.place_ids.shape != (n,):
            fail(f"{self.name or 'traverse'}.place_ids", f"{n} place ids",
                 f"shape {self.place_ids.shape}")
        for key, shape in (("positions", (n, 2)), ("timestamps", (n,))):
            v = getattr(self, key)
            if v is not None:
                v = np.asarray(v, dtype=np.float64)
                if v.shape != shape:
                    fail(f"{self.name or 'traverse'}.{key}", f"shape {shape}", f"shape {v.shape}")
                setattr(self, key, v)
        if self.files is not None and len(self.files) != n:
            fail(f"{self.name or 'traverse'}.files", f"{n} file names", len(self.files))

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index) -> "Traverse":
        """The frames at ``index`` (a slice, an index array or a boolean mask), in that order."""
        idx = np.arange(len(self))[index]
        return Traverse(self.images[idx], self.place_ids[idx], self.name,
                        None if self.positions is None else self.positions[idx],
                        None if self.timestamps is None else self.timestamps[idx],
                        None if self.files is None else [self.files[i] for i in idx])


@dataclass
class PlaceDataset:
    """Reference traverse(s), a query traverse and the ground truth (n_reference, n_query).

    ``extra_references`` are further traverses of the reference places (same length, same
    place order as ``reference``), e.g. VPRSNN's second training traverse; ``references`` lists
    them all. ``notes`` records what a loader did, e.g. ``notes["dropped_dark"]``: the file
    names of the places dropped as tunnel frames.
    """

    reference: Traverse
    query: Traverse
    ground_truth: np.ndarray
    extra_references: tuple = field(default_factory=tuple)
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        g = np.asarray(self.ground_truth)
        shape = (len(self.reference), len(self.query))
        if g.shape != shape:
            fail("ground_truth", f"a boolean matrix of shape {shape} (reference x query)",
                 f"shape {g.shape}")
        self.ground_truth = g.astype(bool)
        self.extra_references = tuple(self.extra_references)
        for t in self.extra_references:
            if not np.array_equal(t.place_ids, self.reference.place_ids):
                fail(f"extra_references[{t.name}]", "the reference's places in the same order",
                     f"{len(t)} frames with other place ids")

    @property
    def references(self) -> tuple:
        return (self.reference, *self.extra_references)


def same_index_ground_truth(n_reference: int, n_query: int, tolerance: int = 0) -> np.ndarray:
    """Ground truth where query ``j`` matches references ``j - tolerance .. j + tolerance``
    (both traverses sampled at the same places, in the same order)."""
    n_reference = integer("n_reference", n_reference, low=1)
    n_query = integer("n_query", n_query, low=1)
    tolerance = integer("tolerance", tolerance, low=0)
    i = np.arange(n_reference)[:, None]
    j = np.arange(n_query)[None, :]
    return np.abs(i - j) <= tolerance


# ---------------------------------------------------------------------------- files and images


def read_names(path) -> list[str]:
    """Image names from a text file (one a line) or a CSV file (first column; a header row whose
    first cell is not an image name is skipped). Blank lines are ignored."""
    path = Path(path)
    if not path.is_file():
        fail(f"names ({path})", "an existing text or CSV file of image names", "no such file")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            if path.suffix.lower() == ".csv":
                rows = [r[0].strip() for r in csv.reader(f) if r and r[0].strip()]
                if rows and not rows[0].lower().endswith(IMAGE_EXTENSIONS):
                    rows = rows[1:]
            else:
                rows = [line.strip() for line in f if line.strip()]
    except UnicodeDecodeError:
        fail(f"names ({path})", "a UTF-8 text or CSV file of image names", "a binary file")
    if not rows:
        fail(f"names ({path})", "at least one image name", "an empty file")
    return rows


def list_images(folder, names=None) -> list[Path]:
    """The image files of ``folder``: sorted by name, or in the order of ``names`` (a list, or a
    text/CSV file read by :func:`read_names`). A listed entry is looked up relative to
    ``folder``, then by its base name (lists such as VPRSNN's carry their own folder prefix)."""
    folder = Path(folder)
    if not folder.is_dir():
        fail(f"folder ({folder})", "an existing folder of images", "no such folder")
    if names is None:
        files = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            fail(f"folder ({folder})", "at least one image (" + ", ".join(IMAGE_EXTENSIONS) + ")",
                 "an empty folder")
        return files
    if isinstance(names, (str, Path)):
        names = read_names(names)
    files = []
    for n in names:
        p = folder / n
        if not p.is_file():
            p = folder / Path(n).name
        if not p.is_file():
            fail(f"names ({folder / n})", f"files that exist in {folder}", "no such file")
        files.append(p)
    if not files:
        fail("names", "at least one image name", "an empty list")
    return files


def load_images(files, mode: str = "L") -> np.ndarray:
    """Read image files into one uint8 array: (n, H, W) for ``mode="L"`` (grey, Pillow's luma)
    or (n, H, W, 3) for ``"RGB"``. Every image must have the size of the first."""
    from PIL import Image

    choice("mode", mode, ("L", "RGB"))
    files = [Path(f) for f in files]
    if not files:
        fail("files", "at least one image file", "none")
    out = None
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                a = _pixels(im, mode, f)
        except FileNotFoundError:
            fail(str(f), "an existing image file", "no such file")
        except (OSError, SyntaxError, ValueError) as e:
            fail(str(f), "a readable image", f"an unreadable or truncated file ({e})")
        if out is None:
            out = np.empty((len(files),) + a.shape, np.uint8)
        elif a.shape != out.shape[1:]:
            fail(str(f), f"an image of {out.shape[2]}x{out.shape[1]} pixels like {files[0].name}",
                 f"{a.shape[1]}x{a.shape[0]}")
        out[i] = a
    return out


def _pixels(im, mode, f) -> np.ndarray:
    """uint8 pixels of an opened image; 16-bit grey is scaled (v / 257), not clipped at 255
    as Pillow's ``convert`` does."""
    if im.mode.startswith("I;16"):
        a = np.round(np.asarray(im, np.float64) / 257.0).astype(np.uint8)
        return a if mode == "L" else np.repeat(a[..., None], 3, axis=-1)
    if im.mode in ("I", "F"):
        fail(str(f), "an image of 8 or 16 bits per channel", f"{im.mode!r} (32-bit) pixels")
    return np.asarray(im.convert(mode))


def select_frames(n: int, every: int = 1, offset: int = 0, count: int | None = None) -> np.ndarray:
    """Indices of the frames kept from a list of ``n``: every ``every``-th (indices divisible by
    ``every``, as VPRSNN's ``skip``), then ``offset`` of those skipped, then at most ``count``.
    Nordland's 27,592-name speed-filtered list with every=8 keeps 3,449 frames (0, 8, 16, ...)."""
    n = integer("n", n, low=0)
    every = integer("every", every, low=1)
    offset = integer("offset", offset, low=0)
    idx = np.arange(0, n, every)[offset:]
    if count is not None:
        idx = idx[:integer("count", count, low=1)]
    if idx.size == 0:
        fail("offset", f"fewer than {len(range(0, n, every))} kept frames", offset)
    return idx


def load_traverse(folder, names=None, every: int = 1, offset: int = 0, count: int | None = None,
                  name: str | None = None, mode: str = "L") -> Traverse:
    """A :class:`Traverse` from a folder (see :func:`list_images`, :func:`select_frames`).
    Place ids are the positions 0, 1, ... in the kept sequence."""
    files = list_images(folder, names)
    idx = select_frames(len(files), every, offset, count)
    files = [files[i] for i in idx]
    images = load_images(files, mode)
    return Traverse(images, np.arange(len(files)), name if name is not None else Path(folder).name,
                    files=[f.name for f in files])


# ---------------------------------------------------------------------------- ground truth


def load_ground_truth(spec, n_reference: int, n_query: int, tolerance: int = 0,
                      one_based: bool = False, match_value=None) -> np.ndarray:
    """A boolean ground truth (n_reference, n_query) from:

    - ``"same"``: query j matches references j - tolerance .. j + tolerance (needs equal lengths);
    - a ``.npy`` matrix (bool, or numbers where ``match_value`` marks a match, e.g. 0 for St
      Lucia's published matrix);
    - a ``.csv`` of rows ``query, reference[, tolerance]`` (a header row is skipped; indices
      1-based when ``one_based``, as in OpenSeqSLAM2 files): query matches references within the
      row's tolerance (else ``tolerance``);
    - an array of that shape.
    """
    shape = (integer("n_reference", n_reference, low=1), integer("n_query", n_query, low=1))
    tolerance = integer("tolerance", tolerance, low=0)
    if isinstance(spec, str) and spec == "same":
        if shape[0] != shape[1]:
            fail("ground_truth", "a reference and a query of the same length for 'same'",
                 f"{shape[0]} reference and {shape[1]} query frames")
        return same_index_ground_truth(*shape, tolerance)
    field_ = "ground_truth"
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        field_ = f"ground_truth ({path})"
        if not path.is_file():
            fail(f"ground_truth ({path})", "an existing .npy or .csv file, or 'same'", "no such file")
        if path.suffix.lower() == ".npy":
            try:
                g = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as e:
                fail(field_, "a readable .npy matrix", f"an unreadable file ({e})")
        elif path.suffix.lower() == ".csv":
            return _csv_ground_truth(path, shape, tolerance, one_based)
        else:
            fail(f"ground_truth ({path})", "a .npy or .csv file, or 'same'", f"suffix {path.suffix!r}")
    else:
        g = np.asarray(spec)
    if g.shape != shape:
        fail(field_, f"a ground-truth matrix of shape {shape} (reference x query)",
             f"shape {g.shape}")
    if match_value is not None:
        return g == match_value
    if g.dtype != bool and not np.isin(g, (0, 1)).all():
        fail(field_, "a boolean (or 0/1) matrix; pass match_value for other codes", "other values")
    return g.astype(bool)


def _csv_ground_truth(path: Path, shape, tolerance: int, one_based: bool) -> np.ndarray:
    g = np.zeros(shape, bool)
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    base = 1 if one_based else 0
    for k, r in enumerate(rows):
        try:
            vals = [int(float(c)) for c in r[:3]]
        except ValueError:
            if k == 0:
                continue  # header
            fail(f"{path} row {k + 1}", "integers: query, reference[, tolerance]", r)
        if len(vals) < 2:
            fail(f"{path} row {k + 1}", "integers: query, reference[, tolerance]", r)
        q, ref = vals[0] - base, vals[1] - base
        tol = vals[2] if len(vals) > 2 else tolerance
        if not (0 <= q < shape[1] and 0 <= ref < shape[0]):
            fail(f"{path} row {k + 1}", f"query < {shape[1]} and reference < {shape[0]}"
                 + (" (1-based)" if one_based else " (0-based)"), r)
        g[max(ref - tol, 0):ref + tol + 1, q] = True
    return g


def distance_ground_truth(reference_positions, query_positions, threshold: float = 25.0
                          ) -> np.ndarray:
    """True where a reference lies within ``threshold`` metres of a query (positions (n, 2) in
    m, e.g. northing/easting)."""
    r = np.asarray(reference_positions, float)
    q = np.asarray(query_positions, float)
    threshold = number("threshold", threshold, low=0.0)
    d = np.sqrt(((r[:, None, :] - q[None, :, :]) ** 2).sum(-1))
    return d <= threshold


# ---------------------------------------------------------------------------- tunnel frames


def dark_frames(images, threshold: float = 20.0) -> np.ndarray:
    """Frames whose mean grey level (0-255) is below ``threshold``: Nordland's tunnel frames.
    After patch normalisation such a frame is amplified sensor noise and can match almost any
    query, so pipelines drop these places. Boolean (n,)."""
    a = np.asarray(images)
    if a.ndim == 4:
        a = a.mean(axis=3)
    threshold = number("threshold", threshold, low=0.0)
    return a.reshape(len(a), -1).mean(axis=1) < threshold


def _dark_places(traverses, threshold: float) -> np.ndarray:
    """Places dark in any of ``traverses`` (same places, same order). Boolean (n,)."""
    dark = np.zeros(len(traverses[0]), bool)
    for t in traverses:
        dark |= dark_frames(t.images, threshold)
    return dark


def drop_dark_places(dataset: PlaceDataset, threshold: float = 20.0) -> PlaceDataset:
    """Drop the places that are dark (:func:`dark_frames`) in any traverse of a dataset whose
    traverses show the same places in the same order (e.g. Nordland). The dropped reference file
    names (or indices) go to ``notes["dropped_dark"]``."""
    travs = (*dataset.references, dataset.query)
    n = len(dataset.reference)
    if any(len(t) != n for t in travs):
        fail("dataset", "traverses of equal length (the same places in the same order)",
             [len(t) for t in travs])
    dark = _dark_places(travs, threshold)
    keep = ~dark
    r = dataset.reference
    dropped = [r.files[i] for i in np.flatnonzero(dark)] if r.files else np.flatnonzero(dark)
    notes = dict(dataset.notes, dropped_dark=list(dropped))
    return PlaceDataset(r.subset(keep), dataset.query.subset(keep),
                        dataset.ground_truth[np.ix_(keep, keep)],
                        tuple(t.subset(keep) for t in dataset.extra_references), notes)


# ---------------------------------------------------------------------------- datasets


def load_folder_dataset(reference, query, ground_truth="same", tolerance: int = 0,
                        reference_names=None, query_names=None, one_based: bool = False,
                        every: int = 1, mode: str = "L") -> PlaceDataset:
    """Generic layout: two image folders (sorted, or listed by ``*_names``) and a ground truth
    (see :func:`load_ground_truth`)."""
    r = load_traverse(reference, reference_names, every, mode=mode)
    q = load_traverse(query, query_names, every, mode=mode)
    g = load_ground_truth(ground_truth, len(r), len(q), tolerance, one_based)
    return PlaceDataset(r, q, g)


def nordland_root() -> Path:
    """Where the Nordland frames are: ``$BIOSIM_NORDLAND``, else
    ``../shared/data/nordland_trimmed`` seen from the working directory or from the source
    checkout (the layout of this project's machines)."""
    env = os.environ.get("BIOSIM_NORDLAND")
    if env:
        return Path(env)
    tail = Path("shared", "data", "nordland_trimmed")
    candidates = [Path.cwd().parent / tail, Path(__file__).resolve().parents[3] / tail]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def load_nordland(root, reference="spring", query="winter", extra_references=(),
                  names=None, every: int = 1, offset: int = 0, count: int | None = None,
                  tolerance: int = 0, drop_dark: float | None = None, mode: str = "L"
                  ) -> PlaceDataset:
    """Nordland as researchers download it: ``root/<season>/images-NNNNN.png`` (one folder per
    season, the same file names in each), read in place.

    Frames are chosen in this order: ``names`` (a list or a text/CSV file, e.g. VPRSNN's
    speed-filtered ``nordland_imageNames_spring.txt``; only base names are used), then every
    ``every``-th frame (``every=8`` for the 3,300-place protocol), then -- with ``drop_dark``
    (a mean grey level 0-255, e.g. 20) -- the tunnel places are dropped (:func:`dark_frames` in
    any season), and last a contiguous block of ``count`` places starting ``offset`` places in.
    So a block always holds ``count`` lit places. ``notes["dropped_dark"]`` lists the file
    names of every dark place dropped before the block was cut, ``notes["dark_in_block"]``
    those that lay inside the block's span. Ground truth: the same place within ``tolerance``.
    """
    root = Path(root)
    if not root.is_dir():
        fail(f"root ({root})", "the Nordland folder with one sub-folder per season", "no such folder")
    if names is not None:
        names = [Path(n).name for n in (read_names(names) if isinstance(names, (str, Path))
                                        else names)]
    seasons = (reference, *extra_references, query)
    block = {} if drop_dark is not None else {"offset": offset, "count": count}
    travs = [load_traverse(root / s, names, every, name=s, mode=mode, **block) for s in seasons]
    for t in travs[1:]:
        if t.files != travs[0].files:
            fail(f"{root / t.name}", f"the same file names as {root / travs[0].name}",
                 f"{len(t)} frames with other names")
    n = len(travs[0])
    if drop_dark is None:
        if count is not None and n < count:
            fail("count", f"at most {n} places after offset {offset} (every {every})", count)
        return PlaceDataset(travs[0], travs[-1], same_index_ground_truth(n, n, tolerance),
                            tuple(travs[1:-1]))
    dark = _dark_places(travs, drop_dark)
    lit = np.flatnonzero(~dark)
    if lit.size == 0:
        fail("drop_dark", f"a threshold that keeps some of the {n} places", drop_dark)
    idx = lit[select_frames(lit.size, 1, offset, count)]
    if count is not None and idx.size < count:
        fail("count", f"at most {idx.size} lit places after offset {offset} "
             f"({n - lit.size} dark places dropped)", count)
    files = travs[0].files
    notes = {"dropped_dark": [files[i] for i in np.flatnonzero(dark)],
             "dark_in_block": [files[i] for i in np.flatnonzero(dark[idx[0]:idx[-1]]) + idx[0]]}
    return PlaceDataset(travs[0].subset(idx), travs[-1].subset(idx),
                        same_index_ground_truth(idx.size, idx.size, tolerance),
                        tuple(t.subset(idx) for t in travs[1:-1]), notes)


def _poses(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """timestamp, northing, easting columns of a RobotCar-style CSV (by header name)."""
    if not Path(path).is_file():
        fail(f"poses ({path})", "an existing CSV file with timestamp, northing, easting", "no such file")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        fail(str(path), "a header and at least one row", f"{len(rows)} rows")
    head = [h.strip().lower() for h in rows[0]]
    try:
        cols = [head.index(c) for c in ("timestamp", "northing", "easting")]
    except ValueError:
        fail(str(path), "columns timestamp, northing, easting", rows[0])
    try:
        a = np.array([[float(r[c]) for c in cols] for r in rows[1:] if r], float)
    except (ValueError, IndexError):
        fail(str(path), "numbers in timestamp, northing, easting", "a malformed row")
    order = np.argsort(a[:, 0])
    return a[order, 0], a[order][:, 1:]


def _robotcar_traverse(folder, poses, every: int, name: str, mode: str) -> Traverse:
    files = list_images(folder)
    try:
        stamps = np.array([int(f.stem) for f in files])
    except ValueError:
        fail(f"folder ({folder})", "image names that are timestamps in us (1418381798113072.png)",
             files[0].name)
    order = np.argsort(stamps, kind="stable")[select_frames(len(files), every)]
    files = [files[i] for i in order]
    ts, ne = _poses(poses)
    pos = np.column_stack([np.interp(stamps[order], ts, ne[:, 0]),
                           np.interp(stamps[order], ts, ne[:, 1])])
    return Traverse(load_images(files, mode), np.arange(len(files)), name, pos,
                    stamps[order] * 1e-6, [f.name for f in files])


def load_robotcar(reference, query, reference_poses, query_poses, threshold: float = 25.0,
                  every: int = 1, mode: str = "L") -> PlaceDataset:
    """Oxford RobotCar: image folders named by timestamp (us) and pose CSVs (``gps/ins.csv``
    style: columns timestamp (us), northing, easting in m). Positions are interpolated at the
    image timestamps; ground truth: within ``threshold`` m."""
    r = _robotcar_traverse(reference, reference_poses, every, "reference", mode)
    q = _robotcar_traverse(query, query_poses, every, "query", mode)
    return PlaceDataset(r, q, distance_ground_truth(r.positions, q.positions, threshold))


def load_st_lucia(reference, query, ground_truth, reference_names=None, query_names=None,
                  mode: str = "L") -> PlaceDataset:
    """St Lucia as published with VPRSNN: reference and query image folders (or name lists)
    and an integer ``.npy`` ground truth (n_reference, n_query) in which **0 marks a match**
    (e.g. ``St_Lucia_gt_boolean_matrix.npy``, 500 x 1037)."""
    r = load_traverse(reference, reference_names, mode=mode)
    q = load_traverse(query, query_names, mode=mode)
    return PlaceDataset(r, q, load_ground_truth(ground_truth, len(r), len(q), match_value=0))
