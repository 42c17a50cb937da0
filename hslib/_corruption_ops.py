"""Vectorised building blocks of the common corruptions (private; the corruptions themselves and their
documentation live in :mod:`hslib.corruptions`).

Written from ``docs/corruptions.md`` (section numbers refer to it).  Batches are NumPy arrays
(N, S, S[, C]), channel-last.  Everything works on the whole batch at once, except the two library calls
that only exist per image: OpenCV's Canny + distance transform in spatter (``spatter_relief``); Pillow's
JPEG codec is called per image in :mod:`hslib.corruptions`.
"""
from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

F32 = np.float32

# ImageMagick's 16-bit -> 8-bit reduction in motion blur and snow (spec 2.9 step 5).  False (default):
# floor(Q/257), as ImageMagick >= 6.9.10-69 (Oct 2019) does: what the original scripts compute today, e.g.
# for the paper's corrupted *training* sets, which no release contains, and what the spec's reference
# archive holds.  True: round(Q/257), as the older builds behind the released 2018/2019 test sets did.
# The two differ by 1/255 on about half of the values.
IM_ROUND_TO_NEAREST = False

FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")  # frost6 never drawn


# ----------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------

def gaussian(a: np.ndarray, sigma: float, truncate: float = 4.0, mode: str = "nearest") -> np.ndarray:
    """G(sigma, truncate, border) over axes 1 and 2 of a batch (N, S, S[, C]) (spec section 0)."""
    sig = [0.0] * a.ndim
    sig[1] = sig[2] = sigma
    return ndimage.gaussian_filter(a, sig, mode=mode, truncate=truncate)


def border_index(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Map integer indices outside [0, n) into it: 'edge', 'reflect101' or 'half-symmetric'."""
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    lo, hi = int(i.min()), int(i.max())
    if lo >= 0 and hi <= n - 1:
        return i
    if mode == "reflect101":  # ... c b | a b c ... (period 2n - 2)
        if n == 1:
            return np.zeros_like(i)
        if lo < -(n - 1) or hi > 2 * (n - 1):
            i = np.mod(i, 2 * n - 2)
        j = np.abs(i)
        return np.minimum(j, 2 * (n - 1) - j)
    if lo < -n or hi > 2 * n - 1:  # half-symmetric: ... b a | a b ... (period 2n)
        i = np.mod(i, 2 * n)
    j = np.where(i < 0, -1 - i, i)
    return np.minimum(j, 2 * n - 1 - j)


def correlate2d(a: np.ndarray, k: np.ndarray, mode: str) -> np.ndarray:
    """Correlate every image of a batch (N, S, S[, C]) with a small 2-D kernel, anchor at its centre.

    Shifted sums over a padded copy; zero taps are skipped.  ``mode`` is a ``np.pad`` mode
    ('reflect' = reflect101, 'edge').  Integer inputs with integer kernels stay exact (int64)."""
    kh, kw = k.shape
    rh, rw = kh // 2, kw // 2
    pad = [(0, 0), (rh, rh), (rw, rw)] + [(0, 0)] * (a.ndim - 3)
    p = np.pad(a, pad, mode=mode)
    s = a.shape[1]
    out = None
    for u in range(kh):
        for v in range(kw):
            if k[u, v] == 0:
                continue
            term = k[u, v] * p[:, u:u + s, v:v + a.shape[2]]
            out = term if out is None else out + term
    return out


def bilinear(img: np.ndarray, rows: np.ndarray, cols: np.ndarray, mode: str) -> np.ndarray:
    """Bilinear samples of a batch ``img`` (N, S, S, C) at per-image points ``rows``/``cols`` (N, S, S).

    Out-of-range neighbours are mapped by ``border_index`` (for linear interpolation this equals folding
    the coordinate itself, which is what SciPy's ``map_coordinates`` does).  Float64 result."""
    n, s, _, c = img.shape
    planes = np.ascontiguousarray(np.moveaxis(img, -1, 1)).reshape(-1)  # (N, C, S, S) flattened
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = (rows - r0)[:, None], (cols - c0)[:, None]
    r0, c0 = r0.astype(np.intp), c0.astype(np.intp)
    base = (np.arange(n) * (c * s * s)).reshape(n, 1, 1)
    ra, rb = border_index(r0, s, mode) * s + base, border_index(r0 + 1, s, mode) * s + base
    ca, cb = border_index(c0, s, mode), border_index(c0 + 1, s, mode)
    chan = (np.arange(c) * (s * s)).reshape(1, c, 1, 1)

    def at(r, col):
        return np.take(planes, (r + col)[:, None] + chan)

    top = at(ra, ca) * (1 - fc) + at(ra, cb) * fc
    bottom = at(rb, ca) * (1 - fc) + at(rb, cb) * fc
    return np.moveaxis(top * (1 - fr) + bottom * fr, 1, -1)


@functools.lru_cache(maxsize=None)
def zoom_matrix(s: int, f: float) -> np.ndarray:
    """The S x S matrix A with clipped_zoom(a, f) = A a A^T (spec section 0: crop, bilinear zoom, trim)."""
    ch = math.ceil(s / f)
    top = (s - ch) // 2
    m = round(ch * f)
    trim = (m - s) // 2
    o = np.arange(trim, trim + s, dtype=np.float64)
    src = o * ((ch - 1) / (m - 1))  # SciPy zoom, grid_mode=False: the last sample lands on ch - 1
    j = np.minimum(np.floor(src).astype(np.intp), ch - 1)
    frac = src - j
    a = np.zeros((s, s))
    rows = np.arange(s)
    np.add.at(a, (rows, top + j), 1 - frac)
    np.add.at(a, (rows, top + np.minimum(j + 1, ch - 1)), frac)
    a.setflags(write=False)
    return a


def clipped_zoom(a: np.ndarray, f: float) -> np.ndarray:
    """clipped_zoom of every image of a float batch (N, S, S), computed in float64."""
    z = zoom_matrix(a.shape[1], float(f))
    return np.matmul(np.matmul(z, a), z.T)


def motion_blur_im(img8: np.ndarray, radius: float, sigma: float, angles: np.ndarray) -> np.ndarray:
    """ImageMagick 6 ``MotionBlurImage`` on a uint8 batch (N, S, S, C), one angle (degrees) per image.

    Spec 2.9: K = 2*ceil(R) + 1 one-sided Gaussian taps, offsets rounded along the angle, edge border,
    16-bit quantum arithmetic, then the 8-bit reduction chosen by ``IM_ROUND_TO_NEAREST``."""
    n, s, _, c = img8.shape
    taps = 2 * math.ceil(radius) + 1
    i = np.arange(taps, dtype=np.float64)
    w = np.exp(-(i * i) / (2.0 * sigma * sigma))
    w /= w.sum()
    t = np.asarray(angles, dtype=np.float64)[:, None] * (math.pi / 180.0)
    dx = np.ceil(i * np.cos(t) - 0.5).astype(np.intp)  # (N, K), columns
    dy = np.ceil(i * np.sin(t) - 0.5).astype(np.intp)  # (N, K), rows
    planes = np.ascontiguousarray(np.moveaxis(img8, -1, 1)).reshape(-1)  # (N, C, S, S) flattened
    grid = np.arange(s)
    base = (np.arange(n) * (c * s * s))[:, None, None, None] + (np.arange(c) * (s * s))[None, :, None, None]
    acc = np.zeros((n, c, s, s))
    for k in range(taps):
        r = np.clip(grid + dy[:, k, None], 0, s - 1)[:, None, :, None]
        col = np.clip(grid + dx[:, k, None], 0, s - 1)[:, None, None, :]
        acc += (w[k] * 257.0) * np.take(planes, base + r * s + col)
    quantum = np.minimum(np.floor(acc + 0.5), 65535.0)
    if IM_ROUND_TO_NEAREST:
        out = np.floor(quantum / 257.0 + 0.5)
    else:
        out = np.floor(quantum / 257.0)
    return np.moveaxis(out.astype(np.uint8), 1, -1)


def rgb_to_hsv(x: np.ndarray) -> np.ndarray:
    """scikit-image's rgb2hsv conventions (spec 2.13), float64, channel-last."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = np.maximum(np.maximum(r, g), b)
    delta = v - np.minimum(np.minimum(r, g), b)
    flat = delta == 0
    safe = np.where(flat, 1.0, delta)
    out = np.empty(x.shape)
    out[..., 2] = v
    out[..., 1] = np.where(flat, 0.0, delta / np.where(v == 0, 1.0, v))
    h = (g - b) / safe  # R is the max; overridden below where G, then B, is the max
    h = np.where(g == v, 2.0 + (b - r) / safe, h)
    h = np.where(b == v, 4.0 + (r - g) / safe, h)
    out[..., 0] = np.where(flat, 0.0, (h / 6.0) % 1.0)
    return out


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Inverse of ``rgb_to_hsv`` (scikit-image's hsv2rgb, spec 2.13)."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    h6 = h * 6.0
    fl = np.floor(h6)
    f = h6 - fl
    i = fl.astype(np.intp) % 6
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    # sector i = 0..5 -> (R, G, B) = (v,t,p), (q,v,p), (p,v,t), (p,q,v), (t,p,v), (v,p,q)
    out = np.empty(hsv.shape)
    out[..., 0] = np.choose(i, (v, q, p, p, t, v))
    out[..., 1] = np.choose(i, (t, v, v, q, p, p))
    out[..., 2] = np.choose(i, (p, p, t, v, v, q))
    return out


@functools.lru_cache(maxsize=None)
def pil_box_weights(n_in: int, n_out: int) -> np.ndarray:
    """Pillow's BOX resampling weights for one axis as an (n_out, n_in) matrix of 22-bit fixed-point ints
    (spec 2.16): each output is the unweighted mean of the inputs whose centres fall in its footprint."""
    scale = n_in / n_out
    fs = max(scale, 1.0)
    support = 0.5 * fs
    w = np.zeros((n_out, n_in))
    for o in range(n_out):
        centre = (o + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n_in)
        for j in range(lo, hi):
            u = (j - centre + 0.5) / fs
            w[o, j] = 1.0 if -0.5 < u <= 0.5 else 0.0
        total = w[o].sum()
        if total:
            w[o] /= total
    fixed = np.floor(w * (1 << 22) + 0.5)
    fixed.setflags(write=False)
    return fixed


def pil_box_axis(a: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Resample one spatial axis of a uint8 batch with Pillow's BOX filter, rounding to uint8."""
    w = pil_box_weights(a.shape[axis], n_out)
    moved = np.moveaxis(a, axis, -1).astype(np.float64)  # exact: all sums stay below 2**53
    acc = moved @ w.T
    out = np.clip(np.floor((acc + (1 << 21)) / (1 << 22)), 0, 255).astype(np.uint8)
    return np.moveaxis(out, -1, axis)


def plasma(rng: np.random.RandomState, n: int, mapsize: int, decay: float) -> np.ndarray:
    """Toroidal diamond-square plasma fractals (N, M, M) normalised to [0, 1] (spec 2.12).

    The M*M - 1 uniforms of each image are drawn in one block, in the original's order."""
    u = rng.random_sample((n, mapsize * mapsize - 1))
    p = np.zeros((n, mapsize, mapsize))
    step, amp, pos = mapsize, 100.0, 0

    def noise(k: int) -> np.ndarray:
        nonlocal pos
        block = u[:, pos:pos + k * k].reshape(n, k, k)
        pos += k * k
        return amp * (-amp + (amp - -amp) * block)  # amp * uniform(-amp, amp)

    while step >= 2:
        h, k = step // 2, mapsize // step
        c = p[:, ::step, ::step].copy()
        pair = c + np.roll(c, -1, axis=1)
        p[:, h::step, h::step] = (pair + np.roll(pair, -1, axis=2)) / 4 + noise(k)
        d = p[:, h::step, h::step]
        corners_lr = c + np.roll(c, -1, axis=2)
        corners_ud = c + np.roll(c, -1, axis=1)
        p[:, ::step, h::step] = (np.roll(d, 1, axis=1) + d + corners_lr) / 4 + noise(k)
        p[:, h::step, ::step] = (np.roll(d, 1, axis=2) + d + corners_ud) / 4 + noise(k)
        step, amp = h, amp / decay
    lo = p.min(axis=(1, 2), keepdims=True)
    hi = p.max(axis=(1, 2), keepdims=True)
    return (p - lo) / (hi - lo)


def glass_shuffle(y8: np.ndarray, dx: np.ndarray, dy: np.ndarray, d: int) -> np.ndarray:
    """One glass-blur pass (spec 2.6) over a batch, vectorised.

    The original visits h, w = S-d ... d+1 in descending order and *copies* y[h+dy, w+dx] into y[h, w].
    A source that was visited earlier (row-major index larger, inside the visited square) already holds its
    new value; any other source still holds its old one.  So each pixel's final value is the old value at
    the end of a chain of "visited earlier" links, which pointer jumping resolves in O(log S) array steps.
    ``dx``, ``dy``: (N, n, n) shifts in visiting order (n = S - 2d)."""
    n_img, s = y8.shape[:2]
    hw = np.arange(s - d, d, -1)  # visiting order
    hh, ww = hw[:, None], hw[None, :]
    sh, sw = hh + dy, ww + dx
    inside = (sh >= d + 1) & (sh <= s - d) & (sw >= d + 1) & (sw <= s - d)
    later = (sh > hh) | ((sh == hh) & (sw > ww))
    base = (np.arange(n_img) * s)[:, None, None]
    target = np.arange(n_img * s * s).reshape(n_img, s, s)
    follow = np.zeros((n_img, s, s), dtype=bool)
    region = (slice(None), slice(s - d, d, -1), slice(s - d, d, -1))  # same visiting order as hw
    target[region] = (base + sh) * s + sw
    follow[region] = inside & later
    target, follow = target.ravel(), follow.ravel()
    active = np.flatnonzero(follow)
    while active.size:
        nxt = target[active]
        target[active] = target[nxt]
        follow[active] = follow[nxt]
        active = active[follow[active]]
    return y8.reshape(n_img * s * s, -1)[target].reshape(y8.shape)


def correlate1d_f32(a: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    """1-D correlation with reflect101 border, float32 result (OpenCV's separable filter on CV_32F)."""
    return ndimage.correlate1d(a.astype(F32), taps, axis=axis, mode="mirror", output=F32)


def box3(a: np.ndarray) -> np.ndarray:
    """Sum over the 3 x 3 neighbourhood of every pixel of a batch (N, S, S), reflect101 border."""
    return correlate2d(a, np.ones((3, 3), dtype=a.dtype), "reflect")


def equalize_hist(a8: np.ndarray) -> np.ndarray:
    """OpenCV ``equalizeHist`` of every image of a uint8 batch (N, S, S) (spec 2.18 step 5.7)."""
    n = a8.shape[0]
    total = a8[0].size
    hist = np.bincount((np.arange(n)[:, None] * 256 + a8.reshape(n, -1)).ravel(),
                       minlength=n * 256).reshape(n, 256)
    cum = np.cumsum(hist, axis=1)
    i0 = np.argmax(hist > 0, axis=1)
    rows = np.arange(n)
    denom = total - hist[rows, i0]
    scale = np.float32(255) / np.maximum(denom, 1).astype(F32)
    above = (cum - cum[rows, i0][:, None]).astype(F32)
    lut = np.clip(np.rint(above * scale[:, None]), 0, 255).astype(np.uint8)
    lut[np.arange(256)[None, :] <= i0[:, None]] = 0
    lut[denom == 0] = np.arange(256, dtype=np.uint8)  # a flat image is left unchanged
    return np.take_along_axis(lut, a8.reshape(n, -1).astype(np.intp), axis=1).reshape(a8.shape)


EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.int64)


def spatter_relief(liquid8: np.ndarray) -> np.ndarray:
    """The embossed distance-to-edge relief of spatter's water branch (spec 2.18 steps 5.2-5.9).

    Canny and the 5 x 5 chamfer distance transform are OpenCV calls, one image at a time; the remaining
    steps are vectorised re-implementations of OpenCV's threshold, blur, equalizeHist and filter2D."""
    cv2 = cv2_module()
    n = liquid8.shape[0]
    dist = np.empty(liquid8.shape, dtype=F32)
    for i in range(n):
        edges = cv2.Canny(np.ascontiguousarray(liquid8[i]), 50, 150)
        dist[i] = cv2.distanceTransform(255 - edges, cv2.DIST_L2, 5)
    dist = np.minimum(dist, F32(20))
    dist8 = (box3(dist.astype(np.float64)) * (1.0 / 9.0)).astype(F32).astype(np.uint8)
    dist8 = equalize_hist(dist8)
    embossed = np.clip(correlate2d(dist8.astype(np.int64), EMBOSS, "reflect"), 0, 255)
    return np.floor(box3(embossed) / 9.0 + 0.5).astype(F32)


def cv2_module():
    """OpenCV, imported lazily (used only by spatter's Canny/distance transform and frost's resize)."""
    try:
        import cv2
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("this corruption needs OpenCV (cv2): pip install opencv-python "
                          "(it comes with imagecorruptions-imaug)") from err
    return cv2


def frost_dir() -> Path:
    """The folder holding the frost textures of the installed imagecorruptions-imaug wheel.

    Found without importing that package (its import pulls heavy dependencies)."""
    spec = importlib.util.find_spec("imagecorruptions")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        folder = Path(root) / "frost"
        if all((folder / f).is_file() for f in FROST_FILES):
            return folder
    raise ImportError("the frost corruption reads its textures (frost1.png ... frost5.jpg) from the "
                      "imagecorruptions-imaug wheel, which was not found: pip install imagecorruptions-imaug")


@functools.lru_cache(maxsize=None)
def frost_texture(index: int, scale: float) -> np.ndarray:
    """Texture ``index`` (0-4) as RGB uint8, resized by ``scale`` with OpenCV bilinear (spec 2.11)."""
    with Image.open(frost_dir() / FROST_FILES[index]) as im:
        rgb = np.asarray(im.convert("RGB"))
    cv2 = cv2_module()
    out = cv2.resize(rgb, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    out.setflags(write=False)
    return out


def to_unit(x8: np.ndarray, dtype=np.float64) -> np.ndarray:
    return (x8 / 255.0).astype(dtype, copy=False)


def finish(x: np.ndarray) -> np.ndarray:
    """clip(x, 0, 1) * 255 in the dtype of x (the last step of most corruptions)."""
    return np.clip(x, 0, 1) * x.dtype.type(255)
