"""Place-recognition datasets: a :class:`Traverse` (one pass along a route) and a
:class:`PlaceDataset` (reference traverse(s), a query traverse and the boolean ground truth).

Images are uint8 arrays (n, height, width) (grey) or (n, height, width, 3) (RGB) in traverse
order. Ground truth is reference x query, True where reference ``i`` shows query ``j``'s place.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from biosim.core.validation import fail, integer

__all__ = ["Traverse", "PlaceDataset", "same_index_ground_truth"]


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
    them all.
    """

    reference: Traverse
    query: Traverse
    ground_truth: np.ndarray
    extra_references: tuple = field(default_factory=tuple)

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
