#!/usr/bin/env python3
"""Writes Tests/Fixtures/augment/spatial/: reference outputs of CoDE's spatial augly operations.

DEV-ONLY. The Swift tests (``TrainingTests.AugmentationSpatialTests``) read the committed output and
never run Python.

Operations, called exactly as augly 1.0.0 calls Pillow / numpy for upstream's ``MassiveTransform``:
* op 0  ``blur(radius)``            Pillow ``image.filter(ImageFilter.GaussianBlur(radius))``;
* op 4  ``rotate(degrees)``         Pillow ``rotate(degrees, expand=True)`` (NEAREST, black) + augly's
  centre crop of ``rotated_rect_with_max_area``;
* op 17 ``shuffle_pixels(factor, seed=42)``  ``np.random.seed(42)``, ``np.random.choice(H*W,
  int(factor*H*W), replace=False)``, ``np.random.shuffle`` of those pixels;
* op 18 ``skew(skew_factor)``       Pillow ``transform(size, AFFINE, (1, s, -s*H/2, 0, 1, 0), BILINEAR)``.

Inputs (``input_WxH.png``): deterministic RGB images (smooth gradients, hard edges, a noisy patch; formula
in ``make_input``) at odd sizes, plus tiny ones for edge cases (on a single row or pixel, augly's
``np.squeeze`` turns shuffle_pixels' result into an N×3 greyscale image, kept as augly returns it). Outputs: one PNG per case
(``<op>_<input>_<param>.png``), lossless, plus sweeps of 30 random radii and angles (upstream's ranges)
on two inputs stored as SHA-256 only (``file: null``). ``manifest.json`` lists every case (op, input, parameter,
output file, size, SHA-256 of the uint8 HWC bytes) and ``numpy``: legacy ``RandomState`` reference draws
(raw 32-bit words, ``random_sample`` bit patterns, ``randint``, ``permutation``, ``choice`` with and
without replacement, ``shuffle``) for several seeds, to test the Swift MT19937 port directly.

``--out DIR`` writes elsewhere (e.g. to compare another Pillow: ``PYTHONPATH=/tmp/pil10 python3 ...
--out /tmp/spatial10`` then diff the manifests' ``sha256`` fields).

Run from anywhere: ``python3 tools/reference/make_augmentation_spatial_fixtures.py``.
"""
import argparse
import hashlib
import json
import os
import platform
import sys

import numpy as np

import augly_stubs  # noqa: E402

augly_stubs.install()  # before importing augly (see augly_stubs.py)

import PIL  # noqa: E402
from PIL import Image  # noqa: E402
import augly  # noqa: E402
import augly.image.functional as F  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "augment", "spatial")

SIZES = [(37, 23), (64, 48), (101, 67)]
TINY = [(2, 3), (5, 4), (1, 1), (9, 1)]
BLUR_RADII = [0.1, 0.5, 1.0, 1.37, 2.0, 0.73]
ROTATION_DEGREES = [90.0, 123.4, 180.0, 211.7, 270.0, 135.0, 96.25, 249.9]
# torch.linspace(-1, 1, 5) and torch.linspace(0, 0.35, 5) in float32, then .item() (upstream's levels).
SKEW_LEVELS = [-1.0, -0.5, 0.0, 0.5, 1.0]
SHUFFLE_LEVELS = [0.0, 0.08749999850988388, 0.17499999701976776, 0.26249998807907104, 0.3499999940395355]


def make_input(w, h):
    """Smooth gradients + a hard-edged disc and bars + a noisy patch (numpy default_rng(w*1000+h))."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255.0 * x / max(w - 1, 1)
    g = 255.0 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin((x + 2 * y) / 3.0)
    img = np.stack([r, g, b], axis=-1)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.25) ** 2
    img[disc] = [250, 20, 90]
    img[:, (np.arange(w) % 9) == 4] = [10, 240, 30]
    rng = np.random.default_rng(w * 1000 + h)
    ph, pw = max(h // 4, 1), max(w // 4, 1)
    img[h - ph:, :pw] = rng.integers(0, 256, size=(ph, pw, 3))
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def param_tag(v):
    return ("%g" % v).replace("-", "m").replace(".", "p")


def manifest_text(manifest):
    """JSON with one input, case or seed's draws per line (compact, and diffs stay readable)."""
    parts = []
    for key, value in manifest.items():
        if isinstance(value, list):
            body = ",\n".join("  " + json.dumps(item) for item in value)
            parts.append(f" {json.dumps(key)}: [\n{body}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def numpy_reference():
    out = []
    for seed in (42, 0, 1, 2**32 - 1, [1, 2, 3], [0x123, 0x234, 0x345, 0x456]):
        rs = np.random.RandomState(seed)
        entry = {"seed": seed}
        # rng == 0xFFFFFFFF → one raw 32-bit word each.
        # 700 words cross MT19937's first state regeneration (624 words); other seeds: 40.
        count = 700 if seed == 42 else 40
        entry["raw32"] = [int(v) for v in rs.randint(0, 2**32, size=count, dtype=np.uint64)]
        entry["random_sample_bits"] = [int(v) for v in rs.random_sample(9).view(np.uint64)]
        entry["randint_0_1000"] = [int(v) for v in rs.randint(0, 1000, size=20)]
        entry["randint_m5_17"] = [int(v) for v in rs.randint(-5, 17, size=20)]
        entry["randint_0_2pow33"] = [int(v) for v in rs.randint(0, 2**33 + 5, size=5)]
        entry["permutation_10"] = [int(v) for v in rs.permutation(10)]
        entry["permutation_1000_head"] = [int(v) for v in rs.permutation(1000)[:50]]
        entry["choice_1000_37_noreplace"] = [int(v) for v in rs.choice(1000, 37, replace=False)]
        entry["choice_50_12_replace"] = [int(v) for v in rs.choice(50, 12)]
        rows = np.arange(30).reshape(10, 3)
        rs.shuffle(rows)
        entry["shuffle_rows_10x3"] = [int(v) for v in rows[:, 0] // 3]
        entry["after_raw32"] = [int(v) for v in rs.randint(0, 2**32, size=5, dtype=np.uint64)]
        out.append(entry)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        if f.endswith(".png") or f == "manifest.json":
            os.remove(os.path.join(args.out, f))

    inputs, cases = [], []

    def save(name, img):
        img.save(os.path.join(args.out, name), optimize=True)

    def record(op, inp, param, img, store=True):
        a = np.asarray(img, dtype=np.uint8).reshape(img.height, img.width, 3)
        assert img.mode == "RGB", (op, inp, param, img.mode)
        name = f"{op}_{inp}_{param_tag(param)}.png"
        # Identical outputs are stored once (e.g. skew 0, shuffle 0: the input itself).
        same = [c for c in cases if c["sha256"] == sha(a.tobytes())]
        if a.size == 0 or not store:
            name = None  # an empty image (tiny inputs at some angles) or a sweep case: size and sha256 only
        elif same:
            name = same[0]["file"]
        elif np.array_equal(a, np.asarray(images[inp])):
            name = f"input_{inp}.png"
        else:
            save(name, img)
        cases.append({"op": op, "input": inp, "param": param, "file": name, "width": a.shape[1],
                      "height": a.shape[0], "sha256": sha(a.tobytes())})

    images = {}
    for (w, h) in SIZES + TINY:
        key = f"{w}x{h}"
        img = make_input(w, h)
        images[key] = img
        save(f"input_{key}.png", img)
        inputs.append({"name": key, "file": f"input_{key}.png", "width": w, "height": h,
                       "sha256": sha(np.asarray(img).tobytes())})

    for key, img in images.items():
        for r in BLUR_RADII:
            record("blur", key, r, F.blur(img, radius=r))
        for d in ROTATION_DEGREES:
            try:
                out = F.rotate(img, degrees=d)
            except Exception as e:  # noqa: BLE001  (tiny images: Pillow may refuse the crop box)
                print(f"rotate {key} {d}: {type(e).__name__}: {e}")
                continue
            record("rotate", key, d, out)
        for s in SKEW_LEVELS:
            record("skew", key, s, F.skew(img, skew_factor=s))
        for f in SHUFFLE_LEVELS:
            record("shuffle", key, f, F.shuffle_pixels(img, factor=f, seed=42))

    # Sweeps (sha256 only): upstream's random ranges at 30 draws each (numpy default_rng(2024)).
    sweep = np.random.default_rng(2024)
    for key in ("101x67", "37x23"):
        for r in sweep.uniform(0.1, 2.0, size=30):
            record("blur", key, float(r), F.blur(images[key], radius=float(r)), store=False)
        for d in sweep.uniform(90.0, 270.0, size=30):
            record("rotate", key, float(d), F.rotate(images[key], degrees=float(d)), store=False)

    manifest = {
        "description": "augly 1.0.0 blur / rotate / skew / shuffle_pixels(seed=42) on RGB inputs; outputs lossless PNG, "
                       "sha256 of uint8 HWC bytes. numpy: legacy RandomState reference draws.",
        "versions": {"python": platform.python_version(), "pillow": PIL.__version__, "numpy": np.__version__,
                     "augly": getattr(augly, "__version__", "1.0.0")},
        "inputs": inputs,
        "cases": cases,
        "numpy": numpy_reference(),
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as fh:
        fh.write(manifest_text(manifest))
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"{len(cases)} cases, {len(inputs)} inputs, {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
