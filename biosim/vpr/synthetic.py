"""A procedural route for place recognition that needs no download.

A camera looks sideways out of a vehicle driving along a road through a generated landscape:
a far mountain skyline (parallax 0.15), a mid-distance forest line (parallax 0.4) and, near the
road (parallax 1), buildings with windows, conifer and deciduous trees and poles. Place ``p`` is
the view at route position ``p * spacing``. Each condition is a separate traverse: the same
world, a different appearance and a small viewpoint jitter (shift along the road and up/down):

- ``summer``: bright sky, dark foliage, green (mid-grey) grass;
- ``autumn``: lighter, sparser deciduous crowns, duller light;
- ``winter``: overcast sky, snow on the ground, roofs and mountain tops, bare deciduous trees
  (a light grey mass of branches instead of dark foliage);
- ``night``: dark scene, lit windows and street lamps, strong sensor noise;
- ``rain``: dark overcast, low contrast, rain streaks, blur and noise.

Difficulty (tested): on 100 places, SAD on patch-normalised 28x28 images with a summer reference
reaches Recall@1 in [0.3, 0.7] against winter and night (seeds 0-3: winter 0.38-0.54, night
0.49-0.59, autumn 0.61-0.73, rain 0.69-0.84; chance 0.01), and sequence matching over 5 places
raises it (to 0.69-0.98). Viewpoint jitter and the appearance change make it hard; the same
condition twice without jitter is > 0.9.

Frames are rendered at twice the output size and averaged down 2 x 2. All places and
conditions of one seed come from one ``SeedSequence``: a condition's traverse does not depend on
which other conditions are asked for.
"""
from __future__ import annotations

import numpy as np

from biosim.core.io import atomic_path
from biosim.core.validation import fail, integer, number
from biosim.vpr.datasets import PlaceDataset, Traverse, same_index_ground_truth

__all__ = ["CONDITIONS", "render_route", "synthetic_route", "write_route"]

CONDITIONS = ("summer", "autumn", "winter", "night", "rain")

# grey levels (0-255) per condition
_PALETTE = {
    #          sky top, sky bottom, mountain, snowcap, forest, grass, road, wall lo, wall hi,
    #          roof, window, tree crown, trunk, conifer, pole, lamp
    "summer": (150, 215, 120, 150, 70, 110, 90, 120, 200, 80, 40, 60, 50, 45, 60, 60),
    "autumn": (160, 195, 115, 140, 95, 120, 95, 110, 185, 75, 50, 130, 45, 50, 55, 55),
    "winter": (175, 195, 140, 235, 90, 230, 110, 120, 190, 225, 45, 110, 55, 80, 70, 70),
    "night":  (35, 60, 20, 24, 14, 18, 24, 22, 38, 16, 200, 12, 10, 12, 20, 240),
    "rain":   (115, 135, 105, 115, 70, 85, 75, 90, 140, 65, 45, 55, 40, 45, 55, 55),
}
_NOISE = {"summer": 3.0, "autumn": 4.0, "winter": 4.0, "night": 10.0, "rain": 8.0}
_SCALE = 2  # render at 2x, then average 2 x 2 blocks


def _smooth_noise(rng, n: int, scale: float) -> np.ndarray:
    """1-d value noise of length n with features ~``scale`` px, zero mean, unit std."""
    k = max(int(n / scale) + 3, 4)
    v = rng.standard_normal(k)
    x = np.linspace(0, k - 3, n)
    i = x.astype(int)
    f = x - i
    f = f * f * (3 - 2 * f)
    out = v[i] * (1 - f) + v[i + 1] * f
    return (out - out.mean()) / (out.std() + 1e-12)


class _World:
    """Geometry of the landscape (condition independent), in render pixels."""

    def __init__(self, rng, length: int, h: int):
        self.h = h
        self.horizon = int(0.62 * h)
        self.road = int(0.86 * h)
        far_len = int(0.15 * length) + 8 * h
        mid_len = int(0.4 * length) + 8 * h
        self.far = self.horizon - h * (0.22 + 0.10 * _smooth_noise(rng, far_len, 1.2 * h)
                                       + 0.04 * _smooth_noise(rng, far_len, 0.3 * h))
        self.mid = self.horizon - h * (0.06 + 0.05 * np.abs(_smooth_noise(rng, mid_len, 0.12 * h))
                                       + 0.04 * _smooth_noise(rng, mid_len, 0.8 * h))
        n_len = length + 8 * h
        self.near_len = n_len
        # objects along the road: kind 0 building, 1 conifer, 2 deciduous, 3 pole
        objs = []
        x = 0.0
        while x < n_len - 2 * h:
            kind = rng.choice(4, p=(0.3, 0.3, 0.3, 0.1))
            if kind == 0:
                w = rng.uniform(0.5, 1.6) * h
                objs.append((0, x, w, rng.uniform(0.25, 0.6) * h, rng.uniform(0, 1),
                             rng.integers(0, 2), rng.integers(1, 4)))
            elif kind in (1, 2):
                w = rng.uniform(0.2, 0.5) * h
                objs.append((kind, x, w, rng.uniform(0.3, 0.7) * h, 0, 0, 0))
            else:
                w = 0.04 * h
                objs.append((3, x, w, rng.uniform(0.5, 0.65) * h, 0, 0, 0))
            x += w + rng.exponential(0.25 * h)
        self.objects = objs

    def layers(self, cond: str, rng):
        """Grey value and coverage of the near layer, plus far and mid layer images."""
        (sky0, sky1, mount, cap, forest, grass, road, wall0, wall1, roof, window, crown,
         trunk, conifer, pole, lamp) = _PALETTE[cond]
        h = self.h
        rows = np.arange(h)[:, None]
        sky = np.linspace(sky0, sky1, h)[:, None]
        far = np.where(rows >= self.far[None, :], mount, sky)
        if cond in ("winter", "summer", "autumn"):
            capline = self.far + 0.06 * h
            far = np.where((rows >= self.far[None, :]) & (rows < capline[None, :])
                           & (self.far[None, :] < self.horizon - 0.25 * h), cap, far)
        mid = np.where(rows >= self.mid[None, :], forest, np.nan)
        near = np.full((h, self.near_len), np.nan)
        for kind, x0, w, ht, shade, roof_kind, floors in self.objects:
            a, b = int(x0), int(x0 + w)
            top = int(self.road - ht)
            if kind == 0:
                near[top:self.road, a:b] = wall0 + shade * (wall1 - wall0)
                rh = int(0.25 * ht)
                if roof_kind:  # pitched roof
                    xs = np.arange(a, b)
                    peak = top - rh * (1 - np.abs((xs - (a + b) / 2) / (w / 2 + 1e-9)))
                    m = (rows >= peak[None, :]) & (rows < top)
                    near[:, a:b] = np.where(m, roof, near[:, a:b])
                else:
                    near[max(top - 2, 0):top + 1, a:b] = roof
                fh = (self.road - top) / floors
                for f in range(floors):
                    y = int(top + (f + 0.3) * fh)
                    for xw in np.arange(a + 0.15 * w, b - 0.15 * w, 0.3 * h):
                        lit = cond != "night" or rng.random() < 0.6
                        near[y:y + max(int(0.35 * fh), 2), int(xw):int(xw) + max(int(0.12 * h), 2)] = (
                            window if lit else wall0)
            elif kind == 1:  # conifer: a triangle
                xs = np.arange(a, b)
                c = (a + b) / 2
                tip = top + (ht * np.abs(xs - c) / (w / 2 + 1e-9))
                m = (rows >= tip[None, :]) & (rows < self.road)
                near[:, a:b] = np.where(m, conifer, near[:, a:b])
            elif kind == 2:  # deciduous: trunk and a round crown
                c = int((a + b) / 2)
                near[int(self.road - 0.6 * ht):self.road, c - 1:c + 2] = trunk
                xs = np.arange(a, b)[None, :]
                cy = self.road - 0.65 * ht
                r = w / 2
                m = (xs - (a + b) / 2) ** 2 + (rows - cy) ** 2 <= r * r
                near[:, a:b] = np.where(m, crown, near[:, a:b])
            else:  # pole with a lamp
                near[top:self.road, a:a + 2] = pole
                near[top:top + 2, a - 2:a + 4] = lamp
        near[self.road:] = road
        near[self.horizon:self.road] = np.where(np.isnan(near[self.horizon:self.road]), grass,
                                                near[self.horizon:self.road])
        return far, mid, near


def _cut(layer: np.ndarray, start: np.ndarray, w: int) -> np.ndarray:
    """Frames (n, H, w) from a strip (H, L) starting at columns ``start`` (n,)."""
    idx = start[:, None] + np.arange(w)[None, :]
    return np.moveaxis(layer[:, idx], 1, 0)


def render_route(n_places: int = 100, conditions=("summer", "winter"), seed=0, size=(64, 32),
                 spacing: float = 1.3, jitter: float = 0.015) -> dict:
    """Render the route: ``{condition: uint8 images (n_places, height, width)}``.

    ``size = (width, height)`` in pixels; ``spacing`` is the distance between places in frame
    widths of the near layer (< 1 makes neighbouring frames overlap); ``jitter`` is the std of
    the per-frame viewpoint shift along the road, in frame widths (plus up/down by up to 1 px).
    """
    n_places = integer("n_places", n_places, low=1)
    w = integer("size[0]", size[0], low=8) if len(size) == 2 else fail("size", "(width, height)")
    h = integer("size[1]", size[1], low=8)
    spacing = number("spacing", spacing, low=0.0, low_open=True)
    jitter = number("jitter", jitter, low=0.0)
    conditions = tuple(conditions)
    for c in conditions:
        if c not in CONDITIONS:
            fail("conditions", "names from " + ", ".join(CONDITIONS), c)
    if len(set(conditions)) != len(conditions) or not conditions:
        fail("conditions", "distinct condition names", conditions)
    W, H = w * _SCALE, h * _SCALE
    step = spacing * W
    length = int(np.ceil((n_places - 1) * step + W)) + 1
    root = np.random.SeedSequence(seed)
    world = _World(np.random.default_rng(root.spawn(1)[0]), length, H)
    margin = 4 * H
    out = {}
    for c in conditions:
        rng = np.random.default_rng(np.random.SeedSequence(root.entropy,
                                                           spawn_key=(1 + CONDITIONS.index(c),)))
        far, mid, near = world.layers(c, rng)
        pos = margin + np.arange(n_places) * step + rng.normal(0, jitter * W, n_places)
        pos = np.clip(pos, W, world.near_len - 2 * W)
        frames = _cut(far, (0.15 * pos).astype(int), W)
        m = _cut(mid, (0.4 * pos).astype(int), W)
        frames = np.where(np.isnan(m), frames, m)
        nr = _cut(near, pos.astype(int), W)
        frames = np.where(np.isnan(nr), frames, nr)
        dy = rng.integers(-_SCALE, _SCALE + 1, n_places)
        frames = np.stack([np.roll(f, d, axis=0) for f, d in zip(frames, dy)])
        frames = _weather(frames, c, rng)
        frames = frames.reshape(n_places, h, _SCALE, w, _SCALE).mean(axis=(2, 4))
        frames = frames * rng.uniform(0.85, 1.15, (n_places, 1, 1))  # exposure
        frames = frames + rng.normal(0, _NOISE[c], frames.shape)
        out[c] = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    return out


def _weather(frames: np.ndarray, cond: str, rng) -> np.ndarray:
    if cond == "rain":
        streak = rng.random(frames.shape[::2]) < 0.04  # (n, W) columns with streaks
        frames = frames + 25 * streak[:, None, :] * (rng.random(frames.shape) < 0.5)
        frames = (frames + np.roll(frames, 1, 1) + np.roll(frames, 1, 2)) / 3  # blur
    return frames


def synthetic_route(n_places: int = 100, conditions=("summer", "winter"), seed=0,
                    size=(64, 32), tolerance: int = 0, **kwargs) -> PlaceDataset:
    """A :class:`PlaceDataset` from :func:`render_route`: the last condition is the query, the
    first the reference, any in between are ``extra_references``; ground truth by place index
    within ``tolerance`` places. ``kwargs`` go to :func:`render_route`."""
    conditions = tuple(conditions)
    if len(conditions) < 2:
        fail("conditions", "at least two conditions (reference(s), then the query)", conditions)
    images = render_route(n_places, conditions, seed, size, **kwargs)
    ids = np.arange(n_places)
    trav = [Traverse(images[c], ids, c) for c in conditions]
    return PlaceDataset(trav[0], trav[-1], same_index_ground_truth(n_places, n_places, tolerance),
                        tuple(trav[1:-1]))


def write_route(out, n_places: int = 100, conditions=("summer", "winter"), seed=0,
                size=(64, 32), **kwargs) -> dict:
    """Write :func:`render_route` as PNG folders ``out/<condition>/place-00000.png`` (one file a
    place, sorted = place order), readable by
    :func:`biosim.vpr.datasets.load_folder_dataset` with ground truth ``"same"``. Returns
    ``{condition: folder}``."""
    from pathlib import Path

    from PIL import Image

    images = render_route(n_places, conditions, seed, size, **kwargs)
    folders = {}
    for c, imgs in images.items():
        folder = Path(out) / c
        for i, im in enumerate(imgs):
            with atomic_path(folder / f"place-{i:05d}.png") as tmp:
                Image.fromarray(im).save(tmp, format="PNG")
        folders[c] = folder
    return folders
