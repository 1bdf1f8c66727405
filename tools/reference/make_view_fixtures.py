#!/usr/bin/env python3
"""Writes Tests/Fixtures/views/views.json: reference digests for CoDE's training views.

DEV-ONLY. The Swift tests read the committed output and never run Python.

Sources (already committed, nothing new is stored): ``Tests/Fixtures/preprocess/photo_640x512.rgb``
(raw RGB) and ``Tests/Fixtures/images/bmp_24_227x301.bmp`` (lossless; Pillow ``convert("RGB")``).

For each source and each fixed crop box ``(top, left, height, width)`` (torchvision's ``i, j, h, w``):
* ``crop``: Pillow ``img.crop((left, top, left + width, top + height)).resize((224, 224), BICUBIC)``
  (what ``torchvision.transforms.functional.resized_crop`` does on PIL images), uint8 HWC;
* ``view``: that image through ``Resize(248, BICUBIC) + CenterCrop(224) + ToTensor() +
  Normalize(ImageNet)`` (torchvision), float32 CHW;
* ``hflip`` / ``grayscale``: the 224×224 crop after ``transpose(FLIP_LEFT_RIGHT)`` /
  ``convert("L").convert("RGB")`` (augly's hflip / grayscale(luminosity)), uint8, and the same
  tail as ``view`` applied to it (``hflip_view`` / ``grayscale_view``);
* ``jpeg`` (first two boxes of each source): augly's ``encoding_quality``, i.e. Pillow
  ``save(buf, "JPEG", quality=q)`` then ``Image.open(buf).convert("RGB")``, for q = 40 and 100: the
  SHA-256 of the encoded bytes and the decoded uint8 digest.
Each entry stores ``sha256`` (of the bytes: uint8 HWC or float32 little-endian C-order) and
per-channel ``sums`` (int for uint8, float64 sum of the float32 values), printed on mismatches.

``fallback``: torchvision ``RandomResizedCrop.get_params`` with ``scale=(5, 6)`` (a target area larger
than the image, so all ten tries fail) → its deterministic centred fallback box, for several sizes.

``grayscale_formula``: checked here over all 2^24 RGB colours: Pillow's ``convert("L")`` equals
``(19595 R + 38470 G + 7471 B + 32768) >> 16``.

Run from the repository root or anywhere: ``python3 tools/reference/make_view_fixtures.py``.
"""
import hashlib
import io
import json
import os
import platform
import sys
import types

import numpy as np

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
import PIL  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms as T  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "views")
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

TAIL = T.Compose([T.Resize(248, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                  T.Normalize(MEAN, STD)])


def sha(b):
    return hashlib.sha256(b).hexdigest()


def u8_entry(img):
    a = np.asarray(img, dtype=np.uint8)
    return {"width": a.shape[1], "height": a.shape[0], "sha256": sha(a.tobytes()),
            "sums": [int(a[..., c].sum(dtype=np.int64)) for c in range(3)]}


def tensor_entry(t):
    a = t.detach().numpy().astype("<f4")
    return {"shape": list(a.shape), "sha256": sha(a.tobytes()),
            "sums": [float(a[c].astype(np.float64).sum()) for c in range(3)]}


def check_grayscale_formula():
    v = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], axis=-1).astype(np.uint8).reshape(4096, 4096, 3)
    pil = np.asarray(Image.fromarray(rgb, "RGB").convert("L"), dtype=np.uint32).reshape(-1)
    r, g, b = [rgb.reshape(-1, 3)[:, c].astype(np.uint32) for c in range(3)]
    mine = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16
    mismatches = int((pil != mine).sum())
    assert mismatches == 0, f"grayscale formula differs from Pillow on {mismatches} colours"
    return {"colours_checked": 1 << 24, "mismatches": mismatches,
            "formula": "(19595*R + 38470*G + 7471*B + 32768) >> 16"}


def main():
    os.makedirs(OUT, exist_ok=True)
    photo_bytes = open(os.path.join(ROOT, "Tests", "Fixtures", "preprocess", "photo_640x512.rgb"), "rb").read()
    photo = Image.fromarray(np.frombuffer(photo_bytes, np.uint8).reshape(512, 640, 3), "RGB")
    bmp_path = os.path.join(ROOT, "Tests", "Fixtures", "images", "bmp_24_227x301.bmp")
    bmp = Image.open(bmp_path).convert("RGB")
    sources = [
        ("photo_640x512", "preprocess/photo_640x512.rgb", photo, [
            (0, 0, 512, 640), (100, 150, 300, 250), (10, 20, 15, 20), (50, 60, 224, 224),
            (0, 600, 512, 40), (400, 500, 112, 140), (5, 5, 1, 1), (3, 0, 509, 383),
        ]),
        ("bmp_24_227x301", "images/bmp_24_227x301.bmp", bmp, [
            (0, 0, 301, 227), (37, 0, 227, 227), (100, 30, 90, 120), (250, 200, 51, 27),
        ]),
    ]
    out_sources = []
    for name, path, img, boxes in sources:
        entries = []
        for (top, left, h, w) in boxes:
            crop = img.crop((left, top, left + w, top + h)).resize((224, 224), Image.BICUBIC)
            flip = crop.transpose(Image.FLIP_LEFT_RIGHT)
            gray = crop.convert("L").convert("RGB")
            jpeg = {}
            if len(entries) < 2:
                for q in (40, 100):
                    buf = io.BytesIO()
                    crop.save(buf, "JPEG", quality=q)
                    data = buf.getvalue()
                    jpeg[str(q)] = {"encoded_sha256": sha(data), "decoded": u8_entry(Image.open(io.BytesIO(data)).convert("RGB"))}
            entries.append({
                "jpeg": jpeg,
                "box": {"top": top, "left": left, "height": h, "width": w},
                "crop": u8_entry(crop), "view": tensor_entry(TAIL(crop)),
                "hflip": u8_entry(flip), "hflip_view": tensor_entry(TAIL(flip)),
                "grayscale": u8_entry(gray), "grayscale_view": tensor_entry(TAIL(gray)),
            })
        out_sources.append({"name": name, "file": path, "width": img.width, "height": img.height,
                            "rgb_sha256": sha(np.asarray(img, dtype=np.uint8).tobytes()), "boxes": entries})
    fallback = []
    for (w, h) in [(1000, 10), (10, 1000), (1, 1), (3, 7), (7, 3), (640, 512), (227, 301), (100, 200), (2, 1),
                   (4, 3), (3, 4), (301, 227)]:
        dummy = Image.new("RGB", (w, h))
        i, j, hh, ww = T.RandomResizedCrop.get_params(dummy, scale=[5.0, 6.0], ratio=[3.0 / 4.0, 4.0 / 3.0])
        fallback.append({"width": w, "height": h, "box": {"top": i, "left": j, "height": hh, "width": ww}})
    doc = {
        "generator": "tools/reference/make_view_fixtures.py",
        "versions": {"python": platform.python_version(), "Pillow": PIL.__version__, "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": np.__version__},
        "tail": "Resize(248, BICUBIC) + CenterCrop(224) + ToTensor() + Normalize(ImageNet)",
        "grayscale_formula": check_grayscale_formula(),
        "sources": out_sources,
        "fallback": fallback,
    }
    with open(os.path.join(OUT, "views.json"), "w") as f:
        json.dump(doc, f, indent=1)
    print("wrote", os.path.join(OUT, "views.json"))


if __name__ == "__main__":
    main()
