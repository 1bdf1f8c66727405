#!/usr/bin/env python3
"""Writes Tests/Fixtures/augment/geometry/: reference outputs of CoDE's resizing/padding/cropping ops.

DEV-ONLY. The Swift tests (``TrainingTests.AugmentationGeometryTests``) read the committed output and
never run Python.

Operations, called as upstream's ``MassiveTransform`` calls them (augly 1.0.0, torchvision, Pillow):
* ``resample``: Pillow ``img.resize((w, h), f)`` for f in BILINEAR, BICUBIC, LANCZOS and a set of
  target sizes per input (up, down, mixed, one axis only, identity, shapes where Pillow 13 runs the
  vertical pass first) — the primitive the ops below use;
* op 2  ``change_aspect_ratio(ratio)``: ``new_w = int(sqrt(ratio*w*h))``, ``new_h = int(w*h/new_w)``,
  ``resize`` with Pillow's default (BICUBIC);
* op 3  ``pixelization(ratio)``: ``resize((int(w*r), int(h*r)))`` then back to ``(w, h)`` (BICUBIC);
* op 12 ``pad(w_factor=f, h_factor=f)``: ``int(f*W)`` black columns left and right, ``int(f*H)`` rows
  top and bottom;
* op 13 ``resize(width=int(v), height=int(v), resample=BICUBIC)``;
* op 14 torchvision ``RandomCrop(size, pad_if_needed=True)``: the padded image's size, and crops at
  fixed offsets (corners, middle) plus the offsets torch's RNG draws for seeds 0..2 (the full
  transform's output is checked against the crop at the recomputed offsets);
* op 15 ``scale(factor)``: ``resize((int(W*f), int(H*f)))``, LANCZOS if f < 1 else BILINEAR.

Levels are upstream's ``torch.linspace(min, max, 5)`` in float32 then ``.item()`` (recorded in the
manifest as Python floats); continuous parameters are fixed values plus a few ``random.Random(7)``
draws from upstream's ranges.

Inputs (``input_WxH.png``): deterministic RGB images (gradients, hard edges, saturated stripes that
make the Lanczos/bicubic lobes clip, a noisy patch; formula in ``make_input``). Outputs are stored as
SHA-256 digests of the uint8 HWC bytes plus per-channel sums (printed on mismatches), to keep the
fixtures small; ``--dump DIR`` also writes every output as PNG for debugging.

``--out DIR`` writes elsewhere (e.g. to compare another Pillow: ``PYTHONPATH=/tmp/pil10 python3 ...
--out /tmp/geometry10``, then compare the manifests' ``sha256`` fields).

Run from anywhere: ``python3 tools/reference/make_augmentation_geometry_fixtures.py``.
"""
import argparse
import hashlib
import json
import math
import os
import platform
import random
import sys
import types

import numpy as np

import augly_stubs  # noqa: E402

augly_stubs.install()  # before importing augly (see augly_stubs.py)
# The torchvision wheel's fake-kernel registrations fail next to the CPU torch build (see README).
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import PIL  # noqa: E402
from PIL import Image  # noqa: E402
import augly  # noqa: E402
import augly.image.functional as F  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from torchvision import transforms as T  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "augment", "geometry")

SIZES = [(37, 23), (23, 67), (101, 67), (300, 200)]
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}


def levels(lo, hi):
    return [v.item() for v in torch.linspace(lo, hi, 5)]


PAD_LEVELS = levels(0.01, 0.25)
RESIZE_LEVELS = levels(64, 512)
CROP_LEVELS = levels(64, 512)
SCALE_LEVELS = levels(0.5, 1.5)
_draws = random.Random(7)
ASPECT_RATIOS = [0.75, 1.0, 1.3, 2.0] + [_draws.random() * (2.0 - 0.75) + 0.75 for _ in range(3)]
PIXEL_RATIOS = [0.3, 0.45, 0.61, 1.0] + [_draws.random() * (1.0 - 0.3) + 0.3 for _ in range(3)]


def make_input(w, h):
    """Gradients + a hard-edged disc + saturated bars + a noisy patch (numpy default_rng(w*1000+h))."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255.0 * x / max(w - 1, 1)
    g = 255.0 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin((x + 2 * y) / 3.0)
    img = np.stack([r, g, b], axis=-1)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.25) ** 2
    img[disc] = [250, 20, 90]
    img[:, (np.arange(w) % 7) == 3] = [255, 255, 0]
    img[(np.arange(h) % 11) == 5, :] = [0, 0, 255]
    rng = np.random.default_rng(w * 1000 + h)
    ph, pw = max(h // 3, 1), max(w // 3, 1)
    img[h - ph:, :pw] = rng.integers(0, 256, size=(ph, pw, 3))
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def resample_targets(w, h):
    return [
        (2 * w + 1, 3 * h - 2),       # up both
        (w // 2, h // 3),             # down both
        (w + 13, h // 2),             # wider, shorter: vertical pass first in Pillow 13
        (w // 2, h + 9),              # narrower, taller
        (w, h // 2 + 1),              # vertical only
        (w * 3 // 2, h),              # horizontal only
        (w - 3, h - 7),               # slightly smaller
        (3, 2),                       # tiny
        (w, h),                       # identity
    ]


class Writer:
    def __init__(self, dump):
        self.dump = dump

    def entry(self, img, tag):
        a = np.asarray(img.convert("RGB"), dtype=np.uint8)
        if self.dump:
            img.save(os.path.join(self.dump, tag + ".png"))
        return {
            "width": img.size[0],
            "height": img.size[1],
            "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
            "sums": [int(a[..., c].sum()) for c in range(3)],
        }


def torch_crop_offsets(seed, padded_size, size):
    """(top, left) as torchvision's RandomCrop.get_params draws them after torch.manual_seed(seed)."""
    pw, ph = padded_size
    if pw == size and ph == size:
        return 0, 0
    torch.manual_seed(seed)
    i = torch.randint(0, ph - size + 1, size=(1,)).item()
    j = torch.randint(0, pw - size + 1, size=(1,)).item()
    return i, j


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--dump", default=None, help="also write every output as PNG here")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
    wr = Writer(args.dump)

    inputs, cases = [], []

    def add(op, name, param, img, extra=None):
        tag = f"{op}_{name}_{param}"
        case = {"op": op, "input": name, "param": param}
        case.update(extra or {})
        case["output"] = wr.entry(img, tag)
        cases.append(case)

    for (w, h) in SIZES:
        name = f"{w}x{h}"
        img = make_input(w, h)
        fname = f"input_{name}.png"
        img.save(os.path.join(args.out, fname), optimize=True)
        a = np.asarray(img)
        inputs.append({"name": name, "file": fname, "width": w, "height": h,
                       "sha256": hashlib.sha256(a.tobytes()).hexdigest()})

        for fname_, f in FILTERS.items():
            for (tw, th) in resample_targets(w, h):
                add("resample", name, f"{fname_}_{tw}x{th}", img.resize((tw, th), f),
                    {"filter": fname_, "target": [tw, th]})

        for r in ASPECT_RATIOS:
            out = F.change_aspect_ratio(img, ratio=r)
            nw = int(math.sqrt(r * w * h))
            assert out.size == (nw, int(w * h / nw))
            add("aspect_ratio", name, repr(r), out, {"value": r})

        for r in PIXEL_RATIOS:
            out = F.pixelization(img, ratio=r)
            add("pixelization", name, repr(r), out,
                {"value": r, "intermediate": [int(w * r), int(h * r)]})

        for f in PAD_LEVELS:
            out = F.pad(img, w_factor=f, h_factor=f)
            assert out.size == (w + 2 * int(f * w), h + 2 * int(f * h))
            add("pad", name, repr(f), out, {"value": f})

        for v in RESIZE_LEVELS:
            out = F.resize(img, width=int(v), height=int(v), resample=Image.BICUBIC)
            add("resize", name, repr(v), out, {"value": v})

        for v in CROP_LEVELS:
            size = int(v)
            t = T.RandomCrop(size=v, pad_if_needed=True)
            pw = w + 2 * (size - w) if w < size else w
            ph = h + 2 * (size - h) if h < size else h
            padded = img
            if w < size:
                padded = T.functional.pad(padded, [size - w, 0])
            if h < size:
                padded = T.functional.pad(padded, [0, size - h])
            assert padded.size == (pw, ph)
            pa = np.asarray(padded)
            offsets = {(0, 0), (ph - size, pw - size), ((ph - size) // 2, (pw - size) // 3)}
            for seed in range(3):
                torch.manual_seed(seed)
                full = np.asarray(t(img))
                i, j = torch_crop_offsets(seed, (pw, ph), size)
                assert np.array_equal(full, pa[i:i + size, j:j + size]), (name, size, seed)
                offsets.add((i, j))
            for (i, j) in sorted(offsets):
                out = Image.fromarray(np.ascontiguousarray(pa[i:i + size, j:j + size]))
                add("random_crop", name, f"{size}_{i}_{j}", out,
                    {"value": v, "padded": [pw, ph], "top": i, "left": j})

        for f in SCALE_LEVELS:
            out = F.scale(img, factor=f)
            assert out.size == (int(w * f), int(h * f))
            add("scale", name, repr(f), out, {"value": f})

    doc = {
        "description": "Reference outputs of upstream MassiveTransform ops 2, 3, 12, 13, 14, 15 and of "
                       "Pillow's resize with BILINEAR/BICUBIC/LANCZOS; written by "
                       "tools/reference/make_augmentation_geometry_fixtures.py",
        "levels": {"pad": PAD_LEVELS, "resize": RESIZE_LEVELS, "random_crop": CROP_LEVELS,
                   "scale": SCALE_LEVELS},
        "inputs": inputs,
        "cases": cases,
        "versions": {"python": platform.python_version(), "Pillow": PIL.__version__,
                     "augly": getattr(augly, "__version__", "1.0.0"), "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": np.__version__},
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    print(f"{len(cases)} cases, {len(inputs)} inputs -> {args.out}")


if __name__ == "__main__":
    main()
