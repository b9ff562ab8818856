"""Image preprocessing as in VPRSNN (Hussaini et al., RA-L 2022) and VPRTempo (Hines et al. 2024).

Pipeline: RGB -> grey (ITU-R 601 luma, Pillow's ``"L"``), optional gamma correction (VPRTempo),
bilinear resize (Pillow), patch normalisation (VPRSNN): every pixel is standardised by the mean and
standard deviation of the ``patch x patch`` window around it on a NaN-padded image (pixels outside
the image are ignored), NaN (a flat window) -> 0, clipped to [-1, 1] and stored back as uint8 by
``uint8(255 (1 + x) / 2)`` (truncation, as in the released code).

Sizes are ``(width, height)`` in pixels, as in Pillow and OpenCV. Pillow's bilinear filter
widens its support when shrinking (antialiasing), unlike OpenCV's ``INTER_LINEAR`` that VPRSNN
used, so resized pixels differ slightly from VPRSNN's; patch normalisation itself is identical.
"""
from __future__ import annotations

import numpy as np

from biosim.core.validation import fail, integer, number

__all__ = ["to_grey", "resize", "gamma_correct", "patch_normalise", "patch_normalise_float",
           "patch_normalise_torch", "preprocess"]


def _images(field: str, images) -> np.ndarray:
    """A stack (n, H, W) or (n, H, W, C); a list of equal-sized images is stacked."""
    if isinstance(images, (list, tuple)):
        if not images:
            fail(field, "at least one image", "an empty list")
        shapes = {np.shape(im) for im in images}
        if len(shapes) > 1:
            fail(field, "images of one size", f"sizes {sorted(shapes)}")
        images = np.stack([np.asarray(im) for im in images])
    a = np.asarray(images)
    if a.ndim not in (3, 4) or a.shape[0] == 0 or (a.ndim == 4 and a.shape[3] not in (1, 3, 4)):
        fail(field, "images of shape (n, height, width) or (n, height, width, 1|3|4), n >= 1",
             f"shape {a.shape}")
    if a.dtype.kind not in "uif" or (a.dtype.kind == "f" and not np.all(np.isfinite(a))):
        fail(field, "finite numeric pixels", f"dtype {a.dtype}")
    return a


def _size(size) -> tuple[int, int]:
    if not (isinstance(size, (tuple, list)) and len(size) == 2):
        fail("size", "(width, height) in pixels", size)
    return integer("size[0]", size[0], low=1), integer("size[1]", size[1], low=1)


def to_grey(images) -> np.ndarray:
    """Grey uint8 images (n, H, W) from grey or RGB(A) images (Pillow ``"L"``: 0.299 R + 0.587 G
    + 0.114 B, rounded)."""
    a = _images("images", images)
    if a.ndim == 3:
        return _as_uint8(a)
    if a.shape[3] == 1:
        return _as_uint8(a[..., 0])
    rgb = _as_uint8(a[..., :3]).astype(np.uint32)
    # Pillow's integer formula: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
    grey = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
    return grey.astype(np.uint8)


def _as_uint8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def resize(images, size=(28, 28)) -> np.ndarray:
    """Bilinear resize (Pillow ``Image.BILINEAR``) of grey images to ``size = (width, height)``."""
    from PIL import Image

    w, h = _size(size)
    a = to_grey(images)
    if a.shape[1:] == (h, w):
        return a.copy()
    out = np.empty((a.shape[0], h, w), np.uint8)
    for i, im in enumerate(a):
        out[i] = np.asarray(Image.fromarray(im).resize((w, h), Image.BILINEAR))
    return out


def gamma_correct(images, target: float = 0.5) -> np.ndarray:
    """VPRTempo's gamma correction of grey images: per image ``gamma = log(target * 255) /
    log(mean)`` and ``clip(x ** gamma, 0, 255)`` on raw grey levels, so that a pixel at the image
    mean maps to ``target * 255``. Rounded to uint8. Images with mean <= 1 are left unchanged
    (the log would be <= 0)."""
    target = number("gamma", target, low=0.0, low_open=True, high=1.0)
    a = to_grey(images).astype(np.float64)
    m = a.mean(axis=(1, 2), keepdims=True)
    ok = m > 1.0
    g = np.where(ok, np.log(target * 255.0) / np.log(np.where(ok, m, np.e)), 1.0)
    return np.clip(np.rint(a ** g), 0, 255).astype(np.uint8)


def _box_sum(x: np.ndarray, r: int) -> np.ndarray:
    """Sum over the (2r+1) x (2r+1) window around every pixel of (n, H, W); zero padding."""
    n, h, w = x.shape
    c = np.zeros((n, h + 2 * r + 1, w + 2 * r + 1))
    c[:, r + 1:r + 1 + h, r + 1:r + 1 + w] = x
    c = c.cumsum(1).cumsum(2)
    k = 2 * r + 1
    return c[:, k:, k:] - c[:, :-k, k:] - c[:, k:, :-k] + c[:, :-k, :-k]


def patch_normalise_float(images, patch: int = 7) -> np.ndarray:
    """Patch-normalised images as float64 in [-1, 1] (before the uint8 rescaling).

    ``patch`` (odd, pixels) is the window side; the window is clipped at the image border
    (VPRSNN's NaN padding with nanmean/nanstd, population std). Vectorised with box sums.
    """
    patch = integer("patch", patch, low=1)
    if patch % 2 == 0:
        fail("patch", "an odd window side in pixels", patch)
    a = _images("images", images)
    if a.ndim != 3:
        fail("images", "grey images (n, height, width); call to_grey first", f"shape {a.shape}")
    x = a.astype(np.float64)
    x = x - x.mean(axis=(1, 2), keepdims=True)  # centring keeps the sums well conditioned
    r = patch // 2
    count = _box_sum(np.ones((1,) + x.shape[1:]), r)
    mean = _box_sum(x, r) / count
    var = np.maximum(_box_sum(x * x, r) / count - mean * mean, 0.0)
    std = np.sqrt(var)
    scale = np.abs(x).max(axis=(1, 2), keepdims=True) + 1.0
    flat = std <= 1e-12 * scale  # a flat window: nanstd 0 -> NaN -> 0
    out = np.where(flat, 0.0, (x - mean) / np.where(flat, 1.0, std))
    return np.clip(out, -1.0, 1.0)


def patch_normalise(images, patch: int = 7) -> np.ndarray:
    """VPRSNN patch normalisation of grey images (n, H, W) -> uint8 (n, H, W)."""
    return (255.0 * (1.0 + patch_normalise_float(images, patch)) / 2.0).astype(np.uint8)


def patch_normalise_torch(images, patch: int = 7):
    """The same patch normalisation in torch (float tensors in [-1, 1], any device).

    ``images``: tensor or array (n, H, W). Returns a float64 tensor (n, H, W) in [-1, 1].
    """
    import torch
    import torch.nn.functional as F

    patch = integer("patch", patch, low=1)
    if patch % 2 == 0:
        fail("patch", "an odd window side in pixels", patch)
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    if x.ndim != 3:
        fail("images", "grey images (n, height, width)", f"shape {tuple(x.shape)}")
    x = x.to(torch.float64)
    x = x - x.mean(dim=(1, 2), keepdim=True)
    r = patch // 2
    x4 = x[:, None]
    ones = torch.ones_like(x4[:1])

    def box(t):
        return F.avg_pool2d(t, patch, stride=1, padding=r, count_include_pad=True) * patch**2

    count = box(ones)
    mean = box(x4) / count
    var = torch.clamp(box(x4 * x4) / count - mean * mean, min=0.0)
    std = torch.sqrt(var)
    scale = x4.abs().amax(dim=(2, 3), keepdim=True) + 1.0
    flat = std <= 1e-12 * scale
    out = torch.where(flat, torch.zeros_like(x4), (x4 - mean) / torch.where(flat, 1.0, std))
    return torch.clamp(out, -1.0, 1.0)[:, 0]


def preprocess(images, size=(28, 28), patch: int | None = 7, gamma: float | None = None
               ) -> np.ndarray:
    """Grey, optional VPRTempo gamma correction (``gamma`` = target level of the mean pixel as
    a fraction of 255, VPRTempo uses 0.5), bilinear resize to ``size = (width, height)``, VPRSNN
    patch normalisation (``patch=None`` skips it). Returns uint8 (n, height, width)."""
    a = to_grey(images)
    if gamma is not None:
        a = gamma_correct(a, gamma)
    a = resize(a, size)
    if patch is not None:
        a = patch_normalise(a, patch)
    return a
