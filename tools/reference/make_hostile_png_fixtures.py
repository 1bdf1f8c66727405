#!/usr/bin/env python3
"""Small PNGs with data past the image, and Pillow's decode of them (DEV-ONLY).

Writes Tests/Fixtures/hostile-png/:
  trailing_zlib.png        8-bit RGB; its zlib stream goes on for 16 MiB of zeros after the last row
  trailing_zlib_16bit.png  16-bit RGBA; the same, interlaced=no
  trailing_zlib_split.png  8-bit grey; the trailing zeros come in many small IDAT chunks
  after_iend.png           8-bit RGB; 4096 bytes of garbage after IEND
  expected.json            per file: Pillow's size, mode and SHA-256 of np.asarray(im.convert("RGB"))

Deterministic: pixels from numpy default_rng(11), zlib level 9.
"""
import hashlib
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "hostile-png"


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, bit_depth, color_type, samples, trailing=0, idat_size=1 << 16, tail=b""):
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row_bytes = width * channels * bit_depth // 8
    raw = b"".join(b"\0" + samples[y * row_bytes:(y + 1) * row_bytes] for y in range(height))
    compressor = zlib.compressobj(9)
    data = compressor.compress(raw) + compressor.compress(b"\0" * trailing) + compressor.flush()
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    for start in range(0, len(data), idat_size):
        out += chunk(b"IDAT", data[start:start + idat_size])
    return out + chunk(b"IEND", b"") + tail


def main():
    rng = np.random.default_rng(11)
    OUT.mkdir(parents=True, exist_ok=True)
    files = {
        "trailing_zlib.png": png(61, 43, 8, 2, rng.integers(0, 256, 61 * 43 * 3, dtype=np.uint8).tobytes(), trailing=16 << 20),
        "trailing_zlib_16bit.png": png(37, 29, 16, 6, rng.integers(0, 256, 37 * 29 * 8, dtype=np.uint8).tobytes(),
                                       trailing=16 << 20),
        "trailing_zlib_split.png": png(50, 40, 8, 0, rng.integers(0, 256, 50 * 40, dtype=np.uint8).tobytes(),
                                       trailing=4 << 20, idat_size=97),
        "after_iend.png": png(45, 31, 8, 2, rng.integers(0, 256, 45 * 31 * 3, dtype=np.uint8).tobytes(),
                              tail=rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()),
    }
    expected = {}
    for name, data in sorted(files.items()):
        (OUT / name).write_bytes(data)
        with Image.open(OUT / name) as image:
            rgb = np.asarray(image.convert("RGB"))
            expected[name] = {"width": image.width, "height": image.height, "mode": image.mode,
                              "rgb_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(), "bytes": len(data)}
    document = {"versions": {"pillow": PIL.__version__, "numpy": np.__version__}, "files": expected}
    (OUT / "expected.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
