#!/usr/bin/env python3
"""Write the Pillow-corpus conformance table under Tests/Fixtures/pillow-corpus/ (dev-only).

Every file of Pillow's own test images (the `Tests/images` folder of the Pillow 13.0.0 sdist) whose
content is JPEG, PNG, BMP, GIF, TIFF or WebP -- decided by the magic numbers our decoder sniffs
(`Sources/Imaging/ImageFormat.swift`), never by the extension -- is a conformance case. For each one
`expected.json` records the file (its path under Tests/images), its size and SHA-256, and what
Pillow 13.0.0 makes of it:

  - `Image.open(p).convert("RGB")` succeeds (first frame): width, height, Pillow's mode and the
    SHA-256 of the RGB bytes (uint8 HWC, C order);
  - it raises: the exception type and message (the file's path replaced by its corpus name).

The images themselves are copied to `images/` (same relative paths), except the files listed in
LEFT_OUT (too large for the repository; still described in the table, with the reason), together
with Pillow's LICENSE and the bmpsuite's public-domain note (the only licence notes inside
Tests/images: nothing there is under other terms). Files of other formats are ignored. Everything is deterministic: the table is sorted by file name and has no
timestamps.

Usage (from anywhere):
    pip download --no-deps --no-binary Pillow Pillow==13.0.0 -d /tmp/pillow-sdist
    tar xzf /tmp/pillow-sdist/pillow-13.0.0.tar.gz -C /tmp/pillow-sdist
    python3 tools/reference/make_pillow_corpus_fixtures.py /tmp/pillow-sdist/pillow-13.0.0
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "pillow-corpus"
IMAGES = OUT / "images"

# The magic numbers of Sources/Imaging/ImageFormat.swift: (format, [(offset, bytes), ...]).
SIGNATURES = [
    ("jpeg", [(0, b"\xff\xd8\xff")]),
    ("png", [(0, b"\x89PNG\r\n\x1a\n")]),
    ("gif", [(0, b"GIF87a")]),
    ("gif", [(0, b"GIF89a")]),
    ("bmp", [(0, b"BM")]),
    ("tiff", [(0, b"MM\x00\x2a")]),
    ("tiff", [(0, b"II\x2a\x00")]),
    ("tiff", [(0, b"MM\x2a\x00")]),
    ("tiff", [(0, b"II\x00\x2a")]),
    ("tiff", [(0, b"MM\x00\x2b")]),
    ("tiff", [(0, b"II\x2b\x00")]),
    ("webp", [(0, b"RIFF"), (8, b"WEBP"), (12, b"VP8 ")]),
    ("webp", [(0, b"RIFF"), (8, b"WEBP"), (12, b"VP8L")]),
    ("webp", [(0, b"RIFF"), (8, b"WEBP"), (12, b"VP8X")]),
]

# Left out of images/ to keep the committed corpus under ~25 MB (the rest is ~23 MB).
LEFT_OUT = {
    "fujifilm.mpo": "9.9 MB (a 2-frame MPO; its first frame is an ordinary baseline JPEG): too large to commit",
}


def sniff(head: bytes) -> str | None:
    for fmt, parts in SIGNATURES:
        if all(head[offset:offset + len(magic)] == magic for offset, magic in parts):
            return fmt
    return None


def pillow_outcome(path: Path, name: str) -> dict:
    """What Image.open(path).convert("RGB") gives (first frame), or the exception it raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                mode = image.mode
                rgb = image.convert("RGB")
        pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
        return {
            "ok": True,
            "width": rgb.width,
            "height": rgb.height,
            "mode": mode,
            "rgb_sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
        }
    except Exception as error:  # noqa: BLE001 -- every failure is an expected outcome here
        message = str(error).replace(str(path), name)
        return {"ok": False, "error": f"{type(error).__name__}: {message}"}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    source = Path(sys.argv[1]) / "Tests" / "images"
    if not source.is_dir():
        sys.exit(f"{source}: not a folder (give the root of the extracted Pillow sdist)")
    if PIL.__version__ != "13.0.0":
        sys.exit(f"Pillow {PIL.__version__} is installed; the table is for Pillow 13.0.0")

    if IMAGES.exists():
        shutil.rmtree(IMAGES)
    cases = []
    formats: dict[str, int] = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        name = path.relative_to(source).as_posix()
        data = path.read_bytes()
        fmt = sniff(data[:32])
        if fmt is None:
            continue
        formats[fmt] = formats.get(fmt, 0) + 1
        case = {
            "file": name,
            "format": fmt,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "pillow": pillow_outcome(path, name),
        }
        if name in LEFT_OUT:
            case["left_out"] = LEFT_OUT[name]
        else:
            target = IMAGES / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        cases.append(case)
        print(f"{name}: {case['pillow'].get('error', 'ok')}", flush=True)

    table = {
        "source": "Tests/images of the Pillow 13.0.0 sdist (pillow-13.0.0.tar.gz on PyPI)",
        "versions": {
            "pillow": PIL.__version__,
            "libjpeg-turbo": features.version("libjpeg_turbo") or "",
            "libtiff": features.version("libtiff") or "",
            "libwebp": features.version("webp") or "",
            "zlib-ng": features.version("zlib_ng") or "",
            "numpy": np.__version__,
        },
        "formats": dict(sorted(formats.items())),
        "cases": cases,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    # Pillow's licence travels with the copies; the bmpsuite files keep their public-domain notice.
    shutil.copyfile(source.parents[1] / "LICENSE", OUT / "LICENSE")
    shutil.copyfile(source / "bmp" / "README.txt", IMAGES / "bmp" / "README.txt")
    temporary = OUT / "expected.json.tmp"
    temporary.write_text(json.dumps(table, indent=1) + "\n")
    os.replace(temporary, OUT / "expected.json")
    committed = sum(c["bytes"] for c in cases if "left_out" not in c)
    print(f"{len(cases)} cases ({formats}); {committed / 1e6:.1f} MB committed, {len(LEFT_OUT)} left out")


if __name__ == "__main__":
    main()
