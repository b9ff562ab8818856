"""Preprocessing against direct computations (VPRSNN's patch normalisation, Pillow)."""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from biosim.core.validation import BiosimError
from biosim.vpr.preprocess import (gamma_correct, patch_normalise, patch_normalise_float,
                                   patch_normalise_torch, preprocess, resize, to_grey)


def direct_patch_normalise(img, patch):
    """VPRSNN (Hussaini et al. 2022, released code): NaN-pad, nanmean/nanstd over the window
    at every pixel, NaN -> 0, clip to [-1, 1]."""
    r = patch // 2
    pad = np.pad(img.astype(np.float64), r, constant_values=np.nan)
    win = sliding_window_view(pad, (patch, patch))
    mu = np.nanmean(win, axis=(2, 3))
    sd = np.nanstd(win, axis=(2, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (img - mu) / sd
    out[np.isnan(out)] = 0.0
    return np.clip(out, -1.0, 1.0)


@pytest.mark.parametrize("shape,patch", [((28, 28), 7), ((32, 64), 5), ((9, 13), 7), ((6, 5), 9)])
def test_patch_normalise_matches_direct_nan_padded_computation(shape, patch):
    """Direct per-pixel nanmean/nanstd over the padded window, to 1e-6 (issue acceptance)."""
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (3, *shape)).astype(np.uint8)
    imgs[0, :4, :4] = 17  # a flat corner: std 0 -> 0
    got = patch_normalise_float(imgs, patch)
    want = np.stack([direct_patch_normalise(im, patch) for im in imgs])
    np.testing.assert_allclose(got, want, atol=1e-6)
    u8 = patch_normalise(imgs, patch)
    ref = (255.0 * (1.0 + want) / 2.0).astype(np.uint8)
    assert u8.dtype == np.uint8
    assert np.abs(u8.astype(int) - ref).max() <= 1 and (u8 == ref).mean() > 0.99


def test_patch_normalise_float_images_and_flat_image():
    rng = np.random.default_rng(2)
    x = rng.normal(100, 30, (2, 20, 20))
    np.testing.assert_allclose(patch_normalise_float(x, 7),
                               np.stack([direct_patch_normalise(im, 7) for im in x]), atol=1e-6)
    assert (patch_normalise(np.full((1, 10, 10), 200, np.uint8)) == 127).all()


def test_torch_and_numpy_paths_agree():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (4, 28, 28)).astype(np.uint8)
    np.testing.assert_allclose(patch_normalise_torch(torch.as_tensor(x), 7).numpy(),
                               patch_normalise_float(x, 7), atol=1e-9)


def test_grey_and_resize_match_pillow():
    from PIL import Image

    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (2, 30, 50, 3)).astype(np.uint8)
    want = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in rgb])
    np.testing.assert_array_equal(to_grey(rgb), want)
    small = resize(rgb, (28, 14))
    assert small.shape == (2, 14, 28)
    want = np.asarray(Image.fromarray(want[0]).resize((28, 14), Image.BILINEAR))
    np.testing.assert_array_equal(small[0], want)
    out = preprocess(rgb)
    assert out.shape == (2, 28, 28) and out.dtype == np.uint8


def test_gamma_maps_the_mean_pixel_to_mid_grey():
    """VPRTempo: gamma = log(0.5 * 255) / log(mean), x ** gamma: a pixel at the mean -> 127.5."""
    img = np.array([[[20, 40, 60]]], np.uint8)  # mean 40
    out = gamma_correct(img, 0.5)
    g = np.log(127.5) / np.log(40.0)
    np.testing.assert_array_equal(out[0, 0], np.clip(np.rint(np.array([20, 40, 60]) ** g), 0, 255))
    assert out[0, 0, 1] in (127, 128)


def test_bad_input():
    with pytest.raises(BiosimError, match="patch"):
        patch_normalise(np.zeros((1, 8, 8), np.uint8), 4)
    with pytest.raises(BiosimError, match="images"):
        preprocess(np.zeros((8, 8), np.uint8))
    with pytest.raises(BiosimError, match="one size"):
        preprocess([np.zeros((8, 8), np.uint8), np.zeros((9, 8), np.uint8)])
    with pytest.raises(BiosimError, match="size"):
        preprocess(np.zeros((1, 8, 8), np.uint8), size=(0, 4))
