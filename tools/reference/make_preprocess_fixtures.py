#!/usr/bin/env python3
"""Writes Tests/Fixtures/preprocess/: reference outputs of Pillow / torchvision preprocessing.

DEV-ONLY. The Swift tests read the committed output and never run Python.

Output layout
-------------
* ``<source>.rgb``: raw uint8 RGB bytes, HWC, row-major, no header (sizes in the manifest).
  Only two "master" rasters are stored; every test image is a rectangle cut out of one of
  them, optionally transposed, so that the folder stays small (see ``images[].crop`` /
  ``images[].transpose`` in the manifest: ``img = src[y:y+h, x:x+w]``, then if ``transpose``
  ``img = img.transpose(1, 0, 2)`` (width and height swap)).
* ``manifest.json``: library versions, sources, and for every image:
  - ``sha256``: digest of the image's own raw bytes (lets the tests verify their loader);
  - ``resize``: ``Image.resize((w, h), Image.BICUBIC)`` for several targets (down, up,
    one axis only, identity, the torchvision ``Resize(248)`` size, and targets on both sides
    of Pillow 13's pass-order rule: vertical pass first iff the height shrinks by more than
    twice as many pixels as the width);
  - ``shorter_side``: ``transforms.Resize(n, BICUBIC)`` (shorter side -> n) for n in 248, 224;
  - ``center_crop_224``: ``transforms.CenterCrop(224)`` as uint8 HWC;
  - ``inference``: ``CenterCrop(224) + ToTensor + Normalize(ImageNet)`` float32 CHW bytes;
  - ``train_eval``: ``Resize(248, BICUBIC) + CenterCrop(224) + ToTensor + Normalize``.
  Every output carries ``width``/``height`` (where relevant), ``sha256`` of its bytes
  (uint8 HWC for images, float32 little-endian C-order for tensors) and per-channel
  ``sums`` (integers for uint8, float64 sums of the float32 values for tensors) which
  the tests print on a mismatch.

Run from the repository root: ``python3 tools/reference/make_preprocess_fixtures.py``.
"""
import hashlib
import json
import os
import platform
import sys
import types

import numpy as np

# torchvision's import touches torch's meta registrations, which fail on this CPU-only
# install; a stub module is enough for the transforms used here.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
import PIL  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms as T  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "preprocess")
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def photo_like(width, height, seed):
    """Gradients + low-frequency waves + shapes with hard edges + noise + a 1-px checkerboard."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.empty((height, width, 3), np.float64)
    img[..., 0] = 255.0 * x / max(width - 1, 1)
    img[..., 1] = 255.0 * y / max(height - 1, 1)
    img[..., 2] = 127.5 + 100.0 * np.sin(x / 23.0) * np.cos(y / 17.0)
    # Filled shapes with random colours (hard edges), including pure black and white.
    for i in range(40):
        colour = rng.integers(0, 256, 3).astype(np.float64)
        if i % 7 == 0:
            colour[:] = 0.0
        elif i % 7 == 1:
            colour[:] = 255.0
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        if i % 2 == 0:
            r = rng.uniform(5, 60)
            mask = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
        else:
            hw, hh = rng.uniform(3, 70), rng.uniform(3, 50)
            mask = (np.abs(x - cx) <= hw) & (np.abs(y - cy) <= hh)
        img[mask] = colour
    # One-pixel lines.
    for _ in range(12):
        colour = rng.integers(0, 256, 3)
        if rng.integers(0, 2):
            img[int(rng.integers(0, height)), :, :] = colour
        else:
            img[:, int(rng.integers(0, width)), :] = colour
    # Gaussian noise everywhere, strong uniform noise in one band.
    img += rng.normal(0.0, 6.0, img.shape)
    band = slice(height // 3, height // 3 + max(height // 10, 1))
    img[band, : width // 2] = rng.integers(0, 256, img[band, : width // 2].shape)
    # A black/white one-pixel checkerboard patch (maximal overshoot for the cubic kernel).
    cb_y, cb_x = int(height * 0.6), int(width * 0.55)
    patch = ((y[cb_y:cb_y + 40, cb_x:cb_x + 60] + x[cb_y:cb_y + 40, cb_x:cb_x + 60]) % 2) * 255.0
    img[cb_y:cb_y + 40, cb_x:cb_x + 60] = patch[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def pure_noise(width, height, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


SOURCES = {
    "photo_640x512": (640, 512, lambda: photo_like(640, 512, 20240611)),
    "noise_320x320": (320, 320, lambda: pure_noise(320, 320, 7)),
}

# name, source, (x, y, w, h), transpose
IMAGES = [
    ("photo_640x480", "photo_640x512", (0, 16, 640, 480), False),
    ("photo_640x360", "photo_640x512", (0, 70, 640, 360), False),
    ("photo_360x640", "photo_640x512", (0, 100, 640, 360), True),
    # Portrait, height > 2 x width and wider than 248: Resize(248) shrinks the height by more
    # than twice as many pixels as the width, so Pillow 13 runs the vertical pass first.
    ("photo_260x600", "photo_640x512", (20, 120, 600, 260), True),
    ("noise_250x320", "noise_320x320", (0, 30, 320, 250), True),
    ("photo_512x512", "photo_640x512", (64, 0, 512, 512), False),
    ("photo_256x256", "photo_640x512", (200, 150, 256, 256), False),
    ("photo_249x249", "photo_640x512", (301, 203, 249, 249), False),
    ("photo_248x248", "photo_640x512", (17, 33, 248, 248), False),
    ("photo_248x300", "photo_640x512", (330, 190, 248, 300), False),
    ("photo_247x250", "photo_640x512", (101, 251, 247, 250), False),
    ("photo_333x201", "photo_640x512", (250, 290, 333, 201), False),
    ("photo_231x229", "photo_640x512", (340, 260, 231, 229), False),
    ("photo_227x227", "photo_640x512", (330, 280, 227, 227), False),
    ("photo_226x226", "photo_640x512", (5, 280, 226, 226), False),
    ("photo_225x225", "photo_640x512", (320, 270, 225, 225), False),
    ("photo_225x227", "photo_640x512", (360, 250, 225, 227), False),
    ("photo_227x225", "photo_640x512", (140, 160, 227, 225), False),
    ("photo_224x224", "photo_640x512", (352, 288, 224, 224), False),
    ("photo_224x180", "photo_640x512", (60, 300, 224, 180), False),
    ("photo_300x200", "photo_640x512", (300, 290, 300, 200), False),
    ("photo_199x260", "photo_640x512", (330, 230, 199, 260), False),
    ("photo_150x100", "photo_640x512", (340, 300, 150, 100), False),
    ("photo_100x60", "photo_640x512", (345, 305, 100, 60), False),
    ("photo_1x300", "photo_640x512", (352, 150, 1, 300), False),
    ("photo_300x1", "photo_640x512", (200, 307, 300, 1), False),
    ("photo_2x2", "photo_640x512", (352, 307, 2, 2), False),
    ("noise_320x320", "noise_320x320", (0, 0, 320, 320), False),
    ("noise_256x256", "noise_320x320", (31, 17, 256, 256), False),
    ("noise_227x227", "noise_320x320", (40, 50, 227, 227), False),
    ("noise_225x225", "noise_320x320", (3, 90, 225, 225), False),
    ("noise_301x223", "noise_320x320", (7, 11, 223, 301), True),
    ("noise_250x249", "noise_320x320", (60, 61, 250, 249), False),
    ("noise_100x60", "noise_320x320", (200, 200, 100, 60), False),
    ("noise_2x2", "noise_320x320", (100, 100, 2, 2), False),
]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def u8_entry(arr: np.ndarray) -> dict:
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    arr = np.ascontiguousarray(arr)
    return {
        "width": int(arr.shape[1]),
        "height": int(arr.shape[0]),
        "sha256": sha(arr.tobytes()),
        "sums": [int(arr[..., c].sum(dtype=np.int64)) for c in range(3)],
    }


def tensor_entry(t: torch.Tensor) -> dict:
    a = t.detach().cpu().contiguous().numpy()
    assert a.dtype == np.float32 and a.shape[0] == 3
    a = a.astype("<f4", copy=False)
    return {
        "shape": list(a.shape),
        "sha256": sha(a.tobytes()),
        "sums": [float(a[c].astype(np.float64).sum()) for c in range(3)],
    }


def shorter_side_size(w, h, size):
    """torchvision Resize(int) output (w, h) for a PIL image."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    return (new_short, new_long) if w <= h else (new_long, new_short)


def resize_targets(w, h):
    cand = [
        shorter_side_size(w, h, 248),
        (224, 224),
        (w, h),                                    # identity (Pillow copies)
        (max(1, (2 * w) // 3), max(1, (3 * h) // 5)),  # mild downscale
        (max(1, w // 7), max(1, h // 5)),          # strong downscale (wide support)
        (w + w // 3 + 1, h + h // 4 + 1),          # upscale
        (max(1, w // 2 + 3), h),                   # horizontal pass only
        (w, max(1, h // 2 + 1)),                   # vertical pass only
        (3 * w + 1, max(1, h // 3)),               # up in x, down in y
        (max(1, w - 3), max(1, h - 7)),            # tiny downscale, vertical pass first
        (max(1, w - 7), max(1, h - 3)),            # tiny downscale, horizontal pass first
        (max(1, w // 2), max(1, (h + 1) // 5)),    # vertical first if h shrinks > 2x as much
        (max(1, w - 5), max(1, h - 10)),           # on the rule's boundary: horizontal first
        (max(1, w - 5), max(1, h - 11)),           # just past it: vertical first
    ]
    out = []
    for t in cand:
        if t not in out:
            out.append(t)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".rgb") or f == "manifest.json":
            os.remove(os.path.join(OUT, f))

    normalize = T.Normalize(MEAN, STD)
    inference = T.Compose([T.CenterCrop(224), T.ToTensor(), normalize])
    train_eval = T.Compose([
        T.Resize(248, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(224), T.ToTensor(), normalize,
    ])

    sources = {}
    rasters = {}
    for name, (w, h, make) in SOURCES.items():
        arr = make()
        assert arr.shape == (h, w, 3)
        rasters[name] = arr
        with open(os.path.join(OUT, name + ".rgb"), "wb") as f:
            f.write(arr.tobytes())
        sources[name] = {"file": name + ".rgb", "width": w, "height": h, "sha256": sha(arr.tobytes())}

    images = []
    for name, src, (x, y, w, h), transpose in IMAGES:
        arr = rasters[src][y:y + h, x:x + w]
        if transpose:
            arr = arr.transpose(1, 0, 2)
        arr = np.ascontiguousarray(arr)
        assert arr.shape[:2] == (h if not transpose else w, w if not transpose else h)
        pil = Image.fromarray(arr, "RGB")
        W, H = pil.size
        entry = {"name": name, "source": src, "crop": [x, y, w, h], "transpose": transpose}
        entry.update(u8_entry(arr))
        entry["resize"] = [u8_entry(np.asarray(pil.resize(t, Image.BICUBIC))) for t in resize_targets(W, H)]
        shorter = []
        for n in (248, 224):
            e = u8_entry(np.asarray(T.Resize(n, interpolation=T.InterpolationMode.BICUBIC)(pil)))
            e["size"] = n
            shorter.append(e)
        entry["shorter_side"] = shorter
        entry["center_crop_224"] = u8_entry(np.asarray(T.CenterCrop(224)(pil)))
        entry["inference"] = tensor_entry(inference(pil))
        entry["train_eval"] = tensor_entry(train_eval(pil))
        images.append(entry)

    manifest = {
        "generator": "tools/reference/make_preprocess_fixtures.py",
        "versions": {
            "python": platform.python_version(),
            "Pillow": PIL.__version__,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "numpy": np.__version__,
        },
        "normalization": {"mean": MEAN, "std": STD},
        "sources": sources,
        "images": images,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(images)} images to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
