"""Tests for hslib.corruptions (spec: docs/corruptions.md; section numbers refer to it).

Real images: scikit-learn's bundled digits (always available) and the Tiny-ImageNet subset found by the
``shared_data`` fixture (skipped with a reason when absent), at 64 x 64 and downscaled to 32 x 32.
"""
from __future__ import annotations

import colorsys
import io
import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage
from sklearn.datasets import load_digits

from hslib import _corruption_ops as ops
from hslib import corruptions as C
from hslib.corruptions import BENCHMARK, EXTRA, NAMES, SEVERITIES, corrupt, params

# Corruptions that draw random numbers (module docstring, "Randomness").
RANDOM = {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur",
          "snow", "frost", "fog", "elastic_transform", "spatter"}


# ----------------------------------------------------------------------------------------------------
# Real-image fixtures
# ----------------------------------------------------------------------------------------------------

def _digits(n: int, size: int, offset: int = 0) -> torch.Tensor:
    """Digits 0..16 -> 0..255, 8 x 8 upsampled bilinearly to size x size, as a float tensor n x 1 x S x S."""
    d = torch.from_numpy(load_digits().images[offset:offset + n]).float() * (255.0 / 16.0)
    return F.interpolate(d[:, None], size=(size, size), mode="bilinear", align_corners=False)


def _u8(t: torch.Tensor) -> torch.Tensor:
    return t.round().clamp(0, 255).to(torch.uint8)


def digits_grey(n: int, size: int) -> torch.Tensor:
    """Digits replicated to RGB (grey images, as hslib's digits dataset holds them)."""
    return _u8(_digits(n, size)).repeat(1, 3, 1, 1)


def digits_colour(n: int, size: int) -> torch.Tensor:
    """Colour images made of real data: three different digits as the R, G and B channels."""
    return _u8(torch.cat([_digits(n, size, k * n) for k in range(3)], dim=1))


def _tiny(shared_data, n: int = 32) -> torch.Tensor:
    paths = sorted((shared_data / "tiny-imagenet-200" / "train").glob("*/images/*.JPEG"))
    assert paths, "the tiny-imagenet-200 fixture has no training images"
    picked = paths[:: max(1, len(paths) // n)][:n]
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in picked]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture
def tiny_sets(shared_data):
    t64 = _tiny(shared_data)
    t32 = _u8(F.interpolate(t64.float(), size=(32, 32), mode="bilinear", antialias=True, align_corners=False))
    return {"tiny64": t64, "tiny32": t32}


def _nhwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(0, 2, 3, 1).numpy()


def _dist(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute distance in uint8 units (NumPy: cheaper than torch's threaded kernels here)."""
    return float(np.abs(a.numpy().astype(np.int16) - b.numpy().astype(np.int16)).mean())


# ----------------------------------------------------------------------------------------------------
# Constants and parameter tables
# ----------------------------------------------------------------------------------------------------

def test_public_constants():
    assert NAMES == ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
                     "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
                     "elastic_transform", "pixelate", "jpeg_compression", "speckle_noise", "gaussian_blur",
                     "spatter", "saturate")
    assert BENCHMARK == NAMES[:15] and EXTRA == NAMES[15:] and len(EXTRA) == 4
    assert SEVERITIES == (1, 2, 3, 4, 5, 6)


def test_params_match_spec_tables():
    assert params("gaussian_noise", 32, 5) == 0.10 and params("gaussian_noise", 64, 5) == 0.18
    assert params("shot_noise", 32, 1) == 500 and params("shot_noise", 64, 5) == 15
    assert params("jpeg_compression", 32, 5) == 40 and params("jpeg_compression", 64, 5) == 25
    assert params("glass_blur", 64, 4) == C.Glass(0.7, 2, 1)
    assert params("defocus_blur", 32, 5) == C.Defocus(1.5, 0.1)
    assert params("motion_blur", 64, 5) == C.Motion(12, 3)
    assert params("snow", 64, 5) == C.Snow(0.3, 0.3, 1.25, 0.65, 14, 12, 0.6)
    assert params("frost", 32, 1) == C.Frost(1, 0.2, 0.2) and params("frost", 64, 1).texture_scale == 0.3
    assert params("fog", 32, 5) == C.Fog(1.5, 1.75, 32) and params("fog", 64, 1).mapsize == 64
    assert params("spatter", 32, 3) == C.Spatter(0.65, 0.3, 1, 0.69, 0.5, False)
    assert params("spatter", 64, 4).mud and not params("spatter", 64, 3).mud
    assert params("saturate", 64, 5) == C.Saturate(30, 0.2)
    # Derived quantities quoted by the spec.
    assert [params("pixelate", 32, k).side for k in range(1, 6)] == [30, 28, 27, 24, 20]
    assert [params("pixelate", 64, k).side for k in range(1, 6)] == [57, 51, 44, 38, 32]
    assert [len(params("zoom_blur", 32, k).factors) for k in range(1, 6)] == [7, 12, 16, 21, 26]
    assert np.allclose(params("elastic_transform", 32, 2), (1.6, 6.4, 2.24))
    assert np.allclose(params("elastic_transform", 64, 5), (10.24, 1.92, 1.28))


def test_severity6_follows_the_documented_rules():
    geometric = {"shot_noise", "contrast"}
    for name in NAMES:
        for size in (32, 64):
            raw = C._TABLE[name][size]
            c4, c5, c6 = (np.atleast_1d(np.asarray(raw[k], dtype=float)) for k in (3, 4, 5))
            if name in geometric:
                expected = c5 * c5 / c4
            else:
                expected = c5 + (c5 - c4)
                if name == "defocus_blur":
                    expected[1] = c5[1]  # anti-alias sigma kept
                if name == "snow":
                    expected[2] = c5[2]  # flake zoom kept (linear would be < 1)
            assert np.allclose(c6, expected), (name, size, c6, expected)
    assert len(params("zoom_blur", 64, 6).factors) == 32  # 1.00 ... 1.31
    assert params("pixelate", 32, 6).side == 17 and params("pixelate", 64, 6).side == 25


# ----------------------------------------------------------------------------------------------------
# Every corruption x severity x size: shape, dtype, determinism, not the identity
# ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_determinism_and_effect(name, size):
    x = digits_colour(3, size)
    before = x.clone()
    for severity in SEVERITIES:
        y = corrupt(x, name, severity, seed=7)
        assert y.shape == x.shape and y.dtype == torch.uint8 and y.device.type == "cpu"
        assert torch.equal(y, corrupt(x, name, severity, seed=7)), "same seed must give the same output"
        assert not torch.equal(y, x), f"{name} s{severity} left real images unchanged"
        other = corrupt(x, name, severity, seed=8)
        assert torch.equal(y, other) != (name in RANDOM), "only random corruptions depend on the seed"
    assert torch.equal(x, before), "the input must not be modified"


def test_batch_edge_cases():
    x = digits_colour(2, 32)
    assert corrupt(x[:0], "fog", 3).shape == (0, 3, 32, 32)
    # A non-contiguous view gives the same result as its contiguous copy.
    view = digits_colour(2, 32).permute(0, 1, 3, 2)
    assert torch.equal(corrupt(view, "glass_blur", 5), corrupt(view.contiguous(), "glass_blur", 5))


def test_chunking_keeps_the_image_major_draw_layout(monkeypatch):
    # Module docstring: all random corruptions but snow and frost draw image by image, so chunk boundaries
    # do not change any image's result, and a prefix of the batch gives a prefix of the output.
    x = digits_colour(5, 32)
    whole = {n: corrupt(x, n, 4, seed=9) for n in sorted(RANDOM)}
    monkeypatch.setitem(C.CHUNK, 32, 2)
    for n, want in whole.items():
        got = corrupt(x, n, 4, seed=9)
        assert torch.equal(got, want) == (n not in {"snow", "frost"}), n
        if n not in {"snow", "frost"}:
            assert torch.equal(corrupt(x[:3], n, 4, seed=9), want[:3]), n


def test_global_rng_state_is_untouched():
    np.random.seed(1234)
    torch.manual_seed(1234)
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    x = digits_colour(2, 32)
    first = {n: corrupt(x, n, 3, seed=5) for n in sorted(RANDOM)}
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(np_state[1:3], after[1:3]))
    assert torch.equal(torch_state, torch.get_rng_state())
    np.random.seed(999)  # a different global seed must not change anything
    assert all(torch.equal(first[n], corrupt(x, n, 3, seed=5)) for n in first)


# ----------------------------------------------------------------------------------------------------
# Severity ordering on real images
# ----------------------------------------------------------------------------------------------------
# Mean absolute distance from the clean image grows with severity 1 -> 5, except where the source
# parameter lists are not monotone in that sense by design:
#   glass_blur  (32: (0.05,1,1) (0.25,1,1) (0.4,1,1) (0.25,1,2) (0.4,1,2); 64: ... (0.7,2,1) (0.9,2,2)): the
#               distance is set by the number/size of pixel shuffles; a larger sigma at the same shuffles
#               re-smooths towards the clean image and *lowers* it.  True: the two-pass severities are
#               farther than the one-pass ones (32), and severity 5 is the farthest (64).
#   motion_blur 32 x 32: s3 = (6, 2) and s4 = (8, 2) differ only by taps of weight < 1e-9, so they are
#               equal; the order is non-strict there.
#   frost       (a, b) = image and frost weights.  Lowering a darkens the image, which partly cancels the
#               added frost, so the pixel distance is not monotone.  True: the correlation with the clean
#               image falls with severity (b/a grows), with a small slack for 32 x 32 s3 -> s4 whose ratios
#               0.44 and 0.47 are almost equal; and severity 5 is farther than 1.
#   elastic     severity 1 is a pure affine warp (alpha = 0) with the largest affine range; later severities
#               trade affine range (0.08 S -> 0.03 S) for small local jitter, so the pixel distance *falls*.
#               True (and asserted): severity 1 is farther than severity 5.
#   spatter     s1-s3 are the water branch, s4-s5 the mud branch (a different effect).  True: each branch
#               is monotone.
#   saturate    (0.3,0) (0.1,0) then (1.5 or 2, 0) (..): desaturation first, then oversaturation.  True:
#               s1 < s2 and s3 < s4 < s5; on grey images s1-s3 are the identity (S = 0 stays 0).

def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over images of the Pearson correlation between two batches."""
    a, b = (t.numpy().reshape(len(t), -1).astype(np.float64) for t in (a, b))
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    return float(((a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))).mean())


def _check_severity_order(x: torch.Tensor, label: str) -> None:
    size = x.shape[-1]
    grey = bool((x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all())
    for name in NAMES:
        out = [None] + [corrupt(x, name, k, seed=3) for k in range(1, 6)]
        d = [None] + [_dist(y, x) for y in out[1:]]
        where = f"{name} on {label}: distances {[round(v, 2) for v in d[1:]]}"
        if name == "glass_blur":
            if size == 32:
                assert min(d[4], d[5]) > max(d[1], d[2], d[3]), where
            else:
                assert d[5] > max(d[1:5]), where
        elif name == "motion_blur" and size == 32:
            assert d[1] < d[2] < d[3] <= d[4] < d[5], where
        elif name == "frost":
            r = [_correlation(y, x) for y in out[1:]]
            assert all(r[k + 1] < r[k] + 2e-3 for k in range(4)) and r[4] < r[0], (where, r)
            assert d[5] > d[1], where
        elif name == "elastic_transform":
            assert d[1] > d[5], where
        elif name == "spatter":
            assert d[1] < d[2] < d[3] and d[4] < d[5], where
        elif name == "saturate":
            if grey:
                assert d[1] == d[2] == d[3] == 0 and 0 < d[4] < d[5], where
            else:
                assert d[1] < d[2] and d[3] < d[4] < d[5], where
        else:
            assert all(d[k] < d[k + 1] for k in range(1, 5)), where


def test_severity_order_digits_32():
    _check_severity_order(digits_grey(32, 32), "digits 32x32")


def test_severity_order_tiny_imagenet(tiny_sets):
    _check_severity_order(tiny_sets["tiny64"], "Tiny-ImageNet 64x64")
    _check_severity_order(tiny_sets["tiny32"], "Tiny-ImageNet downscaled to 32x32")


# ----------------------------------------------------------------------------------------------------
# Closed-form corruptions against their definitions
# ----------------------------------------------------------------------------------------------------

def _truncate(v: np.ndarray) -> np.ndarray:
    return (np.clip(v, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize("size", [32, 64])
def test_brightness_closed_form(size):
    # 2.13: with V = max(R,G,B), V' = min(V + c, 1): RGB' = RGB * V'/V (black -> grey V').  The module goes
    # through HSV and back, so float rounding may move a truncated value by 1 on a few per cent of values.
    x = digits_colour(4, size)
    xn = _nhwc(x) / 255.0
    v = xn.max(-1, keepdims=True)
    for k in SEVERITIES:
        v2 = np.minimum(v + params("brightness", size, k), 1)
        want = _truncate(np.where(v > 0, xn * v2 / np.where(v > 0, v, 1), v2))
        got = _nhwc(corrupt(x, "brightness", k))
        diff = np.abs(got.astype(int) - want)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.03, (k, diff.max(), (diff > 0).mean())


@pytest.mark.parametrize("size", [32, 64])
def test_contrast_closed_form(size):
    x = digits_colour(4, size)
    xn = _nhwc(x) / 255.0
    mean = xn.mean(axis=(1, 2), keepdims=True)  # per image and channel
    for k in SEVERITIES:
        want = _truncate((xn - mean) * params("contrast", size, k) + mean)
        assert np.array_equal(_nhwc(corrupt(x, "contrast", k)), want), k


@pytest.mark.parametrize("size", [32, 64])
def test_saturate_matches_colorsys(size):
    # 2.19 with the HSV model of the standard library (same model, independent code).  The two compute the
    # hue in different float orders, which the truncation can turn into 1 on a few per cent of values.
    x = digits_colour(2, size)
    flat = _nhwc(x).reshape(-1, 3) / 255.0
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in flat])
    for k in SEVERITIES:
        p = params("saturate", size, k)
        sat = np.clip(hsv[:, 1] * p.mult + p.add, 0, 1)
        want = _truncate(np.array([colorsys.hsv_to_rgb(h, s, v) for (h, _, v), s in zip(hsv, sat)]))
        got = _nhwc(corrupt(x, "saturate", k)).reshape(-1, 3)
        diff = np.abs(got.astype(int) - want)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.03, (k, diff.max(), (diff > 0).mean())
    grey = digits_grey(2, size)  # S = 0 and add = 0: severities 1-3 leave grey images unchanged
    assert all(torch.equal(corrupt(grey, "saturate", k), grey) for k in (1, 2, 3))


@pytest.mark.parametrize("size", [32, 64])
def test_pixelate_equals_pillow_box_down_up(size):
    x = digits_colour(3, size)
    for k in SEVERITIES:
        side = params("pixelate", size, k).side
        got = _nhwc(corrupt(x, "pixelate", k))
        for img, out in zip(_nhwc(x), got):
            want = Image.fromarray(img).resize((side, side), Image.BOX).resize((size, size), Image.BOX)
            assert np.array_equal(out, np.asarray(want)), (k, side)


@pytest.mark.parametrize("size", [32, 64])
def test_jpeg_equals_pillow_round_trip(size):
    x = digits_colour(3, size)
    for k in SEVERITIES:
        got = _nhwc(corrupt(x, "jpeg_compression", k))
        for img, out in zip(_nhwc(x), got):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, "JPEG", quality=params("jpeg_compression", size, k))
            assert np.array_equal(out, np.asarray(Image.open(buf).convert("RGB"))), k


def test_gaussian_noise_statistics_on_mid_grey():
    # x = 128/255 ~ 0.5 sits >= 5 sigma from both clip bounds for every 32 x 32 sigma (<= 0.11), so the
    # noise is unclipped.  Truncation to uint8 subtracts U(0,1) on average: mean 127.5 and variance
    # (255 sigma)^2 + 1/12.  With n = 49,152 values the standard error of the mean is 255 sigma / sqrt(n)
    # <= 0.13 and that of the sd about 0.3 %; the tolerances below are 5 standard errors and 2 %.
    x = torch.full((16, 3, 32, 32), 128, dtype=torch.uint8)
    for k in SEVERITIES:
        sigma = params("gaussian_noise", 32, k)
        y = corrupt(x, "gaussian_noise", k, seed=k).double()
        n = y.numel()
        assert abs(y.mean().item() - 127.5) < 5 * 255 * sigma / math.sqrt(n), k
        want_sd = math.sqrt((255 * sigma) ** 2 + 1 / 12)
        assert abs(y.std().item() / want_sd - 1) < 0.02, (k, y.std().item(), want_sd)


def test_impulse_noise_fractions_on_mid_grey():
    # 2.3: a value is hit with probability p, then salt (255) or pepper (0) with probability 1/2 each.
    x = torch.full((16, 3, 32, 32), 128, dtype=torch.uint8)
    for k in (1, 5):
        p = params("impulse_noise", 32, k)
        y = corrupt(x, "impulse_noise", k, seed=k)
        n = y.numel()
        for value in (0, 255):
            frac = (y == value).double().mean().item()
            assert abs(frac - p / 2) < 5 * math.sqrt(p / 2 / n), (k, value, frac)
        assert ((y == 0) | (y == 255) | (y == 128)).all()


def test_draws_follow_the_documented_layout():
    # Module docstring: gaussian noise draws normal(N, S, S, 3); impulse draws (N, 2, S, S, 3) uniforms.
    x = digits_colour(3, 32)
    xn = _nhwc(x) / 255.0
    noise = np.random.RandomState(11).normal(size=xn.shape, scale=params("gaussian_noise", 32, 2))
    assert np.array_equal(_nhwc(corrupt(x, "gaussian_noise", 2, seed=11)), _truncate(xn + noise))
    u = np.random.RandomState(4).random_sample((3, 2) + xn.shape[1:])
    p = params("impulse_noise", 32, 5)
    want = np.where(u[:, 0] < p, np.where(u[:, 1] < 0.5, 1.0, 0.0), xn)
    assert np.array_equal(_nhwc(corrupt(x, "impulse_noise", 5, seed=4)), _truncate(want))


# ----------------------------------------------------------------------------------------------------
# Vectorised building blocks against direct transcriptions of the spec
# ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("side,d", [(12, 1), (16, 2)])
def test_glass_shuffle_equals_sequential_loop(side, d):
    rng = np.random.RandomState(side)
    y = rng.randint(0, 256, (3, side, side, 3)).astype(np.uint8)
    n = side - 2 * d
    shifts = rng.randint(-d, d, size=(3, n, n, 2))
    fast = ops.glass_shuffle(y, shifts[..., 0], shifts[..., 1], d)
    for img, sh, out in zip(y, shifts, fast):
        z = img.copy()
        for a, h in enumerate(range(side - d, d, -1)):  # 2.6: descending rows, then columns; a copy
            for b, w in enumerate(range(side - d, d, -1)):
                dx, dy = sh[a, b]
                z[h, w] = z[h + dy, w + dx]
        assert np.array_equal(z, out)


@pytest.mark.parametrize("size", [32, 64])
def test_clipped_zoom_equals_scipy_zoom(size):
    a = np.random.RandomState(0).rand(2, size, size)
    for f in list(params("zoom_blur", size, 6).factors) + [1.75, 2.25]:
        ch = math.ceil(size / f)
        top = (size - ch) // 2
        for img, got in zip(a, ops.clipped_zoom(a, f)):
            z = ndimage.zoom(img[top:top + ch, top:top + ch], f, order=1)
            trim = (z.shape[0] - size) // 2
            assert np.allclose(got, z[trim:trim + size, trim:trim + size], atol=1e-12), f


def test_zoom_blur_equals_float32_accumulation():
    x = digits_colour(2, 32)
    p = params("zoom_blur", 32, 3)
    for img, got in zip(_nhwc(x), _nhwc(corrupt(x, "zoom_blur", 3))):
        xf = (img / 255.0).astype(np.float32)
        acc = np.zeros_like(xf)
        for f in p.factors:
            ch = math.ceil(32 / f)
            top = (32 - ch) // 2
            acc += ndimage.zoom(xf[top:top + ch, top:top + ch], (f, f, 1), order=1)[:32, :32]
        assert np.array_equal(got, np.uint8(np.clip((xf + acc) / np.float32(len(p.factors) + 1), 0, 1) * 255))


@pytest.mark.parametrize("to_nearest", [False, True])
def test_motion_blur_kernel_equals_per_pixel_loop(to_nearest, monkeypatch):
    monkeypatch.setattr(ops, "IM_ROUND_TO_NEAREST", to_nearest)
    img = np.random.RandomState(2).randint(0, 256, (3, 12, 12, 2)).astype(np.uint8)
    angles = np.array([0.0, 45.0, -31.7])
    radius, sigma = 6, 2.0
    got = ops.motion_blur_im(img, radius, sigma, angles)
    taps = 2 * math.ceil(radius) + 1
    w = np.exp(-np.arange(taps) ** 2 / (2 * sigma ** 2))
    w /= w.sum()
    for im, angle, out in zip(img, angles, got):
        t = math.radians(angle)
        want = np.zeros_like(im)
        for y in range(12):
            for x in range(12):
                acc = np.zeros(im.shape[-1])
                for i in range(taps):
                    yy = min(max(y + math.ceil(i * math.sin(t) - 0.5), 0), 11)
                    xx = min(max(x + math.ceil(i * math.cos(t) - 0.5), 0), 11)
                    acc += w[i] * 257.0 * im[yy, xx]
                quantum = np.minimum(np.floor(acc + 0.5), 65535)  # 16-bit, then 8-bit (2.9 step 5)
                want[y, x] = np.floor(quantum / 257 + (0.5 if to_nearest else 0.0))
        assert np.array_equal(out, want), angle


@pytest.mark.parametrize("mode,scipy_mode", [("half-symmetric", "reflect"), ("reflect101", "mirror")])
def test_bilinear_equals_map_coordinates(mode, scipy_mode):
    rng = np.random.RandomState(3)
    img = rng.rand(2, 16, 16, 3)
    rows, cols = rng.uniform(-20, 36, (2, 2, 16, 16))
    got = ops.bilinear(img, rows, cols, mode)
    for n in range(2):
        for c in range(3):
            want = ndimage.map_coordinates(img[n, ..., c], [rows[n], cols[n]], order=1, mode=scipy_mode)
            assert np.allclose(got[n, ..., c], want, atol=1e-12)


def test_elastic_affine_with_zero_jitter_is_identity():
    x = (digits_colour(2, 32).permute(0, 2, 3, 1).numpy() / 255.0).astype(np.float32)
    assert np.allclose(C._random_affine(x, np.zeros((2, 3, 2))), x, atol=1e-6)


def _plasma_reference(rng, mapsize: int, decay: float) -> np.ndarray:
    """Spec 2.12 one cell at a time (indices mod the map), drawing with the same legacy-RNG calls."""
    p, step, amp = np.zeros((mapsize, mapsize)), mapsize, 100.0
    while step >= 2:
        h, n = step // 2, mapsize // step

        def corner(i, j):
            return p[(i % n) * step, (j % n) * step]

        def centre(i, j):
            return p[(i % n) * step + h, (j % n) * step + h]

        cells = [(i, j) for i in range(n) for j in range(n)]
        u = amp * rng.uniform(-amp, amp, (n, n))
        for i, j in cells:
            square = corner(i, j) + corner(i + 1, j) + corner(i, j + 1) + corner(i + 1, j + 1)
            p[i * step + h, j * step + h] = square / 4 + u[i, j]
        u = amp * rng.uniform(-amp, amp, (n, n))
        for i, j in cells:  # horizontal edge midpoints
            diamond = centre(i - 1, j) + centre(i, j) + corner(i, j) + corner(i, j + 1)
            p[i * step, j * step + h] = diamond / 4 + u[i, j]
        u = amp * rng.uniform(-amp, amp, (n, n))
        for i, j in cells:  # vertical edge midpoints
            diamond = centre(i, j - 1) + centre(i, j) + corner(i, j) + corner(i + 1, j)
            p[i * step + h, j * step] = diamond / 4 + u[i, j]
        step, amp = h, amp / decay
    return (p - p.min()) / (p.max() - p.min())


def test_plasma_equals_direct_diamond_square():
    fast = ops.plasma(np.random.RandomState(5), 2, 16, 2.0)
    rng = np.random.RandomState(5)
    for got in fast:
        assert np.allclose(got, _plasma_reference(rng, 16, 2.0), atol=1e-12)


def test_spatter_relief_equals_opencv_pipeline():
    cv2 = pytest.importorskip("cv2")
    p = params("spatter", 32, 3)
    rng = np.random.RandomState(8)
    liquid = ops.gaussian(rng.normal(size=(6, 32, 32), loc=p.mean, scale=p.std), p.blur_sigma)
    liquid[liquid < p.threshold] = 0
    liquid8 = np.mod(np.floor(liquid * 255), 256).astype(np.uint8)
    got = ops.spatter_relief(liquid8)
    for l8, out in zip(liquid8, got):  # 2.18 steps 5.2-5.9 with the OpenCV calls the spec names
        d = cv2.distanceTransform(255 - cv2.Canny(l8, 50, 150), cv2.DIST_L2, 5)
        d = cv2.threshold(d, 20, 20, cv2.THRESH_TRUNC)[1]
        d = cv2.equalizeHist(cv2.blur(d, (3, 3)).astype(np.uint8))
        d = cv2.filter2D(d, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32))
        assert np.array_equal(out, cv2.blur(d, (3, 3)).astype(np.float32))


def test_frost_textures_found_without_importing_the_package():
    folder = ops.frost_dir()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("frost"))[:5] == sorted(ops.FROST_FILES)
    corrupt(digits_colour(1, 32), "frost", 1)
    assert "imagecorruptions" not in sys.modules


def test_missing_frost_textures_give_install_hint(monkeypatch):
    monkeypatch.setattr(ops.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install imagecorruptions-imaug"):
        ops.frost_dir()


# ----------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------

_GOOD = torch.zeros((2, 3, 32, 32), dtype=torch.uint8)


@pytest.mark.parametrize("images,name,severity,seed,word", [
    (_GOOD, "gaussian", 1, 0, "name"),
    (_GOOD, 3, 1, 0, "name"),
    (_GOOD, "fog", 0, 0, "severity"),
    (_GOOD, "fog", 7, 0, "severity"),
    (_GOOD, "fog", 2.0, 0, "severity"),
    (_GOOD, "fog", "3", 0, "severity"),
    (_GOOD.numpy(), "fog", 1, 0, "images"),
    (_GOOD.float(), "fog", 1, 0, "images"),
    (_GOOD[0], "fog", 1, 0, "images"),
    (_GOOD[:, :1], "fog", 1, 0, "images"),
    (torch.zeros((2, 3, 48, 48), dtype=torch.uint8), "fog", 1, 0, "images"),
    (torch.zeros((2, 3, 32, 64), dtype=torch.uint8), "fog", 1, 0, "images"),
    (_GOOD, "fog", 1, -1, "seed"),
    (_GOOD, "fog", 1, 0.5, "seed"),
])
def test_bad_input_raises_value_error_naming_the_parameter(images, name, severity, seed, word):
    with pytest.raises(ValueError, match=word):
        corrupt(images, name, severity, seed=seed)


def test_error_messages_list_the_allowed_values():
    with pytest.raises(ValueError) as err:
        corrupt(_GOOD, "gaussian", 1)
    assert all(n in str(err.value) for n in NAMES)
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 4, 5, 6\)"):
        corrupt(_GOOD, "fog", 9)
    with pytest.raises(ValueError, match=r"\(32, 64\)"):
        corrupt(torch.zeros((1, 3, 48, 48), dtype=torch.uint8), "fog", 1)
    with pytest.raises(ValueError, match="size"):
        params("fog", 48, 1)


def test_cited_spec_sections_exist_in_docs():
    """Every spec section the corruption modules cite ("section 0", "spec 2.9", "§3", "# 2.4", "(2.8)")
    is a numbered heading of docs/corruptions.md, so the citations cannot rot."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "corruptions.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#+\s+(\d+(?:\.\d+)?)[.\s]", doc, re.M))
    cite = re.compile(r"\bsections?\s+(\d+(?:\.\d+)?)|\bspec\s+(\d+(?:\.\d+)?)|§\s*(\d+(?:\.\d+)?)"
                      r"|#\s+(\d+\.\d+)\b(?!\.)|\((2\.\d+)(?=\)|\s+steps?\b)")
    cited = {}
    for module in (C, ops):
        for m in cite.finditer(Path(module.__file__).read_text(encoding="utf-8")):
            cited.setdefault(next(g for g in m.groups() if g), set()).add(Path(module.__file__).name)
    assert len(cited) >= 20, sorted(cited)  # the modules cite section 0, 1, 3 and all of 2.1-2.19
    missing = {number: files for number, files in cited.items() if number not in headings}
    assert not missing, f"sections cited but absent from docs/corruptions.md: {missing}"
