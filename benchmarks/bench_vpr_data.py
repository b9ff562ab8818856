"""VPR data side: preprocessing throughput and the SAD similarity matrix at Nordland scale.

biosim (vectorised box-sum patch normalisation; numba SAD kernel) against straightforward NumPy
(per-image NaN-padded window nanmean/nanstd as in VPRSNN; chunked broadcasting for SAD), in one
process. Full: 3,300 references x 2,700 queries (VPRSNN's Nordland protocol); BIOSIM_BENCH_QUICK=1
uses 330 x 270. Also times the synthetic route (100 places, 2 and 5 conditions).
"""
import os
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from biosim.vpr.baselines import sad_similarity
from biosim.vpr.preprocess import patch_normalise, preprocess
from biosim.vpr.synthetic import CONDITIONS, render_route

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"
N_REF, N_QRY = (330, 270) if QUICK else (3300, 2700)


def naive_patch_normalise(imgs, patch=7):
    out = np.empty(imgs.shape, np.uint8)
    r = patch // 2
    for k, img in enumerate(imgs):
        pad = np.pad(img.astype(np.float64), r, constant_values=np.nan)
        win = sliding_window_view(pad, (patch, patch))
        mu, sd = np.nanmean(win, axis=(2, 3)), np.nanstd(win, axis=(2, 3))
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (img - mu) / sd
        x[np.isnan(x)] = 0.0
        out[k] = (255.0 * (1.0 + np.clip(x, -1, 1)) / 2.0).astype(np.uint8)
    return out


def naive_sad(a, b, chunk=64):
    a = a.reshape(len(a), -1).astype(np.int16)
    b = b.reshape(len(b), -1).astype(np.int16)
    out = np.empty((len(a), len(b)))
    for i in range(0, len(a), chunk):
        out[i:i + chunk] = -np.abs(a[i:i + chunk, None] - b[None]).mean(axis=2)
    return out


def best_of(f, *args, repeat=2):
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f(*args)
        t.append(time.perf_counter() - t0)
    return min(t), out


def main():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (N_REF + N_QRY, 32, 64)).astype(np.uint8)
    small = preprocess(raw, patch=None)  # 28x28 grey
    t_b, pn = best_of(patch_normalise, small)
    n_naive = min(len(small), 500)
    t_n, pn_naive = best_of(naive_patch_normalise, small[:n_naive])
    assert np.abs(pn[:n_naive].astype(int) - pn_naive).max() <= 1
    rate_b, rate_n = len(small) / t_b, n_naive / t_n
    print(f"patch normalisation 28x28: biosim {rate_b:,.0f} img/s, naive NumPy {rate_n:,.0f} "
          f"img/s, ratio {rate_b / rate_n:.1f}x")
    t_full, _ = best_of(preprocess, raw)
    print(f"full preprocessing 64x32 -> 28x28: {len(raw) / t_full:,.0f} img/s")

    ref, qry = pn[:N_REF], pn[N_REF:]
    sad_similarity(ref[:4], qry[:4])  # compile / load the numba cache
    t_b, s = best_of(sad_similarity, ref, qry, repeat=1)
    t_n, s_n = best_of(naive_sad, ref, qry, repeat=1)
    np.testing.assert_allclose(s, s_n)
    print(f"SAD similarity {N_REF} x {N_QRY}: biosim {t_b:.2f} s, naive NumPy {t_n:.2f} s, "
          f"ratio {t_n / t_b:.1f}x")
    for conds in (("summer", "winter"), CONDITIONS):
        t, _ = best_of(render_route, 100, conds)
        print(f"synthetic route, 100 places, {len(conds)} conditions: {t:.3f} s")


if __name__ == "__main__":
    main()
