#!/usr/bin/env python3
"""Writes Tests/Fixtures/augment/color/: Pillow references for CoDE's colour / overlay augmentations.

DEV-ONLY. The Swift tests read the committed output and never run Python.

The six augly 1.0.0 operations of upstream's ``MassiveTransform`` covered here (docs/upstream.md, Augmentations):

====  =====================  ===========================================================
  1   ``brightness``         ``ImageEnhance.Brightness(img).enhance(factor)``
  5   ``contrast``           ``ImageEnhance.Contrast(img).enhance(factor)``
  6   ``saturation``         ``ImageEnhance.Color(img).enhance(factor)``
 16   ``sharpen``            ``ImageEnhance.Sharpness(img).enhance(factor)``
 10   ``opacity``            RGBA copy, alpha mask ``uint8(255 * level)``, ``Image.composite`` over
                             ``(255, 255, 255, 0)``, back to RGB
 11   ``overlay_stripes``    ``compute_stripe_mask`` (horizontal, density 0.5), solid white ``paste``
====  =====================  ===========================================================

The outputs come from augly's own functions (``augly.image.functional``), imported with two stub
modules: augly 1.0.0 imports ``magic`` (python-magic, only for file-type checks of paths) and
``iopath`` (its path manager, only for reading/writing files); neither is used when a PIL image is
passed and no output path is given, so empty stand-ins are enough (installed with
``pip install augly==1.0.0 --no-deps``).

Output layout
-------------
* ``gen_<W>x<H>.rgb``: three generated sources (raw uint8 RGB, HWC, no header): gradients, waves,
  noise, saturated (0 / 255) blocks and a grey block, so that clipping, the interpolation and the
  extrapolation branches of ``ImagingBlend`` and every channel value are exercised.
* further sources are crops of the committed ``preprocess/photo_640x512.rgb``
  (``src[top:top+h, left:left+w]``): a 224×224 crop (CoDE's view size) and tiny crops (1×1 … 3×4)
  for the edge handling of the 3×3 SMOOTH filter (images narrower or lower than 3 are copied).
* ``manifest.json``:
  - ``levels``: upstream's discrete levels exactly as its ``MassiveTransform`` passes them:
    ``torch.linspace(min, max, 5)`` (float32), each ``.item()`` (the float32 value as a Python float);
  - ``sources``: name, file (relative to Tests/Fixtures), optional crop box, size, SHA-256 of the bytes,
    and ``gray_mean``: ``int(ImageStat.Stat(img.convert("L")).mean[0] + 0.5)`` (Contrast's grey level);
  - ``cases``: one per (source, op, parameter): ``op``, ``param`` (and ``density`` / ``opacity``
    for a few non-default stripe cases, applied with ``line_density`` / ``line_opacity``), the output's
    ``sha256`` (uint8 HWC bytes) and per-channel integer ``sums`` (printed by the tests on a mismatch);
  - ``stripe_masks``: augly's ``compute_stripe_mask(W, H, w, 0, 0.5)`` for many sizes (every square
    1…256 and some rectangles) and every stripe level plus 0, 0.5, 1 (``line_widths``): per size, one
    list per line width of the runs of masked rows ``[start, end, start, end, ...]`` (the mask of
    angle 0 is constant along each row, which the script asserts).
  - ``pillow_check``: the result of ``--compare-pillow`` when it was given (see below).

``--compare-pillow DIR`` re-runs the cases with the Pillow found in DIR (e.g. ``pip install --target
/tmp/pil10 pillow==10.0.1``, the version upstream pinned) and records which case digests differ.

Run from anywhere: ``python3 tools/reference/make_augmentation_color_fixtures.py [--compare-pillow DIR]``.
"""
import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

import augly_stubs

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
OUT = os.path.join(FIXTURES, "augment", "color")


augly_stubs.install()  # before importing augly (see augly_stubs.py)
import PIL  # noqa: E402
from PIL import Image, ImageStat  # noqa: E402
import augly  # noqa: E402
import augly.image.functional as F  # noqa: E402
from augly.image.utils import compute_stripe_mask  # noqa: E402


def sha(b):
    return hashlib.sha256(b).hexdigest()


def digest(img):
    assert img.mode == "RGB", img.mode
    a = np.asarray(img, dtype=np.uint8)
    return {"sha256": sha(a.tobytes()), "sums": [int(a[..., c].sum(dtype=np.int64)) for c in range(3)]}


def generated(width, height, seed):
    """Smooth gradients and waves, noise, saturated blocks and a flat grey block."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.empty((height, width, 3), np.float64)
    img[..., 0] = 280.0 * x / max(width - 1, 1) - 12.0
    img[..., 1] = 255.0 * (1.0 - y / max(height - 1, 1))
    img[..., 2] = 127.5 + 140.0 * np.sin(x / 5.0 + seed) * np.cos(y / 4.0)
    img += rng.normal(0.0, 18.0, img.shape)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    bw, bh = max(width // 6, 2), max(height // 5, 2)
    img[:bh, :bw] = 255                       # white block (top left)
    img[-bh:, -bw:] = 0                       # black block (bottom right)
    img[:bh, -bw:] = (255, 0, 128)            # saturated colour block
    img[-bh:, :bw] = 128                      # flat grey
    img[height // 2, :, :] = rng.integers(0, 256, (width, 3), dtype=np.uint8)   # one line of pure noise
    return img


def linspace_levels(lo, hi, steps=5):
    import torch
    return [t.item() for t in torch.linspace(lo, hi, steps)]


def runs(mask_rows):
    out, y = [], 0
    n = len(mask_rows)
    while y < n:
        if mask_rows[y]:
            start = y
            while y < n and mask_rows[y]:
                y += 1
            out += [start, y]
        else:
            y += 1
    return out


def build_sources():
    photo = np.fromfile(os.path.join(FIXTURES, "preprocess", "photo_640x512.rgb"), np.uint8).reshape(512, 640, 3)
    sources = []
    for (w, h, seed) in [(37, 23, 1), (64, 48, 2), (101, 67, 3)]:
        a = generated(w, h, seed)
        sources.append({"name": f"gen_{w}x{h}", "file": f"augment/color/gen_{w}x{h}.rgb", "array": a})
    for (top, left, h, w) in [(50, 60, 224, 224), (200, 300, 1, 1), (10, 10, 2, 2), (300, 123, 3, 3),
                              (40, 500, 1, 5), (7, 9, 2, 7), (60, 70, 4, 3)]:
        a = np.ascontiguousarray(photo[top:top + h, left:left + w])
        sources.append({"name": f"photo_crop_{w}x{h}_at_{left}_{top}", "file": "preprocess/photo_640x512.rgb",
                        "crop": {"top": top, "left": left, "height": h, "width": w}, "array": a})
    return sources


def cases_for(levels):
    """(op, parameter, extra kwargs) for every case: every level plus edge values."""
    out = []
    for f in [0.5, 0.5000000001, 0.61803398875, 0.75, 0.9999999, 1.0, 1.0000001, 1.25, 1.3, 1.5, 1.7, 1.999, 2.0,
              0.0, 0.2, 3.0]:
        out.append(("brightness", f, {}))
    for op in ("contrast", "saturation"):
        for f in levels[op] + [0.0, 0.3, 1.0, 1.1, 2.0, 3.5]:
            out.append((op, f, {}))
    for f in levels["sharpen"] + [0.0, 0.5, 1.0, 1.5, 2.5, 4.0]:
        out.append(("sharpen", f, {}))
    for f in levels["opacity"] + [0.0, 0.1, 0.55, 0.999]:
        out.append(("opacity", f, {}))
    for f in levels["overlay_stripes"] + [0.0, 0.5, 1.0]:
        out.append(("overlay_stripes", f, {}))
    out.append(("overlay_stripes", 0.2, {"density": 0.3}))
    out.append(("overlay_stripes", 0.125, {"density": 0.8, "opacity": 0.5}))
    out.append(("overlay_stripes", 0.35, {"opacity": 0.7}))
    return out


def apply(op, img, param, extra):
    if op == "brightness":
        return F.brightness(img, factor=param)
    if op == "contrast":
        return F.contrast(img, factor=param)
    if op == "saturation":
        return F.saturation(img, factor=param)
    if op == "sharpen":
        return F.sharpen(img, factor=param)
    if op == "opacity":
        return F.opacity(img, level=param)
    if op == "overlay_stripes":
        return F.overlay_stripes(img, line_width=param, line_density=extra.get("density", 0.5),
                                 line_opacity=extra.get("opacity", 1.0))
    raise ValueError(op)


def compute_cases(sources, levels):
    cases = []
    for src in sources:
        img = Image.fromarray(src["array"], "RGB")
        for (op, param, extra) in cases_for(levels):
            out = apply(op, img, param, extra)
            assert out.size == img.size and out.mode == "RGB"
            entry = {"source": src["name"], "op": op, "param": param}
            entry.update(extra)
            entry.update(digest(out))
            cases.append(entry)
    return cases


def stripe_masks(levels):
    masks = []
    sizes = [(s, s) for s in range(1, 257)] + [(224, 224), (37, 23), (64, 48), (101, 67), (23, 37), (300, 7),
                                                 (7, 300), (640, 512), (513, 1), (1, 513), (250, 249), (249, 250),
                                                 (448, 224), (224, 448)]
    widths = levels["overlay_stripes"] + [0.0, 0.5, 1.0]
    for (w, h) in sizes:
        per_width = []
        for lw in widths:
            m = compute_stripe_mask(src_w=w, src_h=h, line_width=lw, line_angle=0, line_density=0.5)
            assert m.shape == (h, w)
            assert (m == m[:, :1]).all(), "angle-0 stripe mask is not constant along rows"
            per_width.append(runs(m[:, 0].tolist()))
        masks.append({"width": w, "height": h, "runs": per_width})
    return {"line_widths": widths, "sizes": masks}


def emit(path, levels_path):
    """Computes the case digests with the Pillow on sys.path and writes them to `path` (subprocess mode)."""
    levels = json.load(open(levels_path))
    sources = build_sources()
    with open(path, "w") as f:
        json.dump({"Pillow": PIL.__version__, "cases": compute_cases(sources, levels)}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare-pillow", metavar="DIR", help="also run the cases with the Pillow installed in DIR")
    ap.add_argument("--emit", nargs=2, metavar=("OUT_JSON", "LEVELS_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.emit:
        emit(*args.emit)
        return

    import torch
    os.makedirs(OUT, exist_ok=True)
    levels = {
        "contrast": linspace_levels(0.5, 1.5),
        "saturation": linspace_levels(0.5, 1.5),
        "sharpen": linspace_levels(1.2, 2.0),
        "opacity": linspace_levels(0.2, 1.0),
        "overlay_stripes": linspace_levels(0.05, 0.35),
    }
    sources = build_sources()
    for src in sources:
        if "crop" not in src:
            src["array"].tofile(os.path.join(FIXTURES, src["file"]))
    cases = compute_cases(sources, levels)

    pillow_check = None
    if args.compare_pillow:
        with tempfile.TemporaryDirectory() as tmp:
            levels_path = os.path.join(tmp, "levels.json")
            with open(levels_path, "w") as f:
                json.dump(levels, f)
            out = os.path.join(tmp, "other.json")
            env = dict(os.environ, PYTHONPATH=os.path.abspath(args.compare_pillow))
            subprocess.run([sys.executable, os.path.abspath(__file__), "--emit", out, levels_path], env=env, check=True)
            other = json.load(open(out))
        differing = [{"source": a["source"], "op": a["op"], "param": a["param"]}
                     for a, b in zip(cases, other["cases"]) if a["sha256"] != b["sha256"]]
        assert len(other["cases"]) == len(cases)
        pillow_check = {"other_Pillow": other["Pillow"], "cases": len(cases), "differing": differing}
        print(f"Pillow {other['Pillow']} vs {PIL.__version__}: {len(differing)} of {len(cases)} cases differ")

    out_sources = []
    for src in sources:
        a = src["array"]
        gray = Image.fromarray(a, "RGB").convert("L")
        entry = {"name": src["name"], "file": src["file"], "width": a.shape[1], "height": a.shape[0],
                 "sha256": sha(a.tobytes()), "gray_mean": int(ImageStat.Stat(gray).mean[0] + 0.5)}
        if "crop" in src:
            entry["crop"] = src["crop"]
        out_sources.append(entry)

    doc = {
        "generator": "tools/reference/make_augmentation_color_fixtures.py",
        "versions": {"python": platform.python_version(), "Pillow": PIL.__version__, "numpy": np.__version__,
                     "augly": getattr(augly, "__version__", "1.0.0"), "torch": torch.__version__},
        "levels": levels,
        "sources": out_sources,
        "cases": cases,
        "stripe_masks": stripe_masks(levels),
        "pillow_check": pillow_check,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"wrote {len(cases)} cases, {len(doc['stripe_masks']['sizes'])} stripe mask sizes to {OUT}")


if __name__ == "__main__":
    main()
