#!/usr/bin/env python3
"""Write the Pillow-corpus conformance table under Tests/Fixtures/pillow-corpus/ (dev-only).

Every file of Pillow's own test images (the `Tests/images` folder of the Pillow 13.0.0 sdist) whose
content is JPEG, PNG, BMP, GIF, TIFF or WebP -- decided by the magic numbers our decoder sniffs
(`Sources/Imaging/ImageFormat.swift`), never by the extension -- is a conformance case. For each one
`expected.json` records the file (its path under Tests/images), its size and SHA-256, and what
Pillow 13.0.0 makes of it:

  - `Image.open(p).convert("RGB")` succeeds (first frame): width, height, Pillow's mode and the
    SHA-256 of the RGB bytes (uint8 HWC, C order);
  - it raises: the exception type and message (the file's path replaced by its corpus name); for
    the few files in REPAIRS, whose defect lies outside the pixel data, also Pillow's pixels of the
    repaired file (`pillow_after_repair`), which our decoder must give.

The images themselves are copied to `images/` (same relative paths), except the files listed in
LEFT_OUT (too large for the repository; still described in the table, with the reason), together
with Pillow's LICENSE and the bmpsuite's public-domain note (the only licence notes inside
Tests/images: nothing there is under other terms). Files of other formats are ignored. Everything is deterministic: the table is sorted by file name and has no
timestamps.

`variants.json` and `variants/` do the same for TIFF layouts that Pillow's corpus covers only in
part: every combination of pixel layout (1/4/8/12/16/32-bit grey, signed and float, grey+alpha,
RGB(A/a/X) 8/16-bit, palette 4/8-bit and palette+alpha, CMYK 8/16-bit), compression (none, LZW and
deflate with and without predictor, PackBits, LZMA, ZSTD, JPEG, WebP, CCITT G3/G4 for bilevel),
storage (strips, separate planes, tiles, tiles of separate planes) and byte order (both for samples
wider than a byte). The base images come from make_image_fixtures.write_tiff, the combinations from
`tiffcp` (Debian's libtiff-tools; combinations it refuses to write are skipped). A few files are
written directly: 16-bit separate planes (tiffcp cannot make them), separate planes whose
unspecified extra plane has byte count 0, 12-bit corner cases, and LERC.

Usage (from anywhere):
    pip download --no-deps --no-binary Pillow Pillow==13.0.0 -d /tmp/pillow-sdist
    tar xzf /tmp/pillow-sdist/pillow-13.0.0.tar.gz -C /tmp/pillow-sdist
    python3 tools/reference/make_pillow_corpus_fixtures.py /tmp/pillow-sdist/pillow-13.0.0
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "pillow-corpus"
IMAGES = OUT / "images"
VARIANTS = OUT / "variants"

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


def png_without(data: bytes, chunk_types: set[bytes]) -> bytes:
    """The PNG with every chunk of the given types removed."""
    out, position = bytearray(data[:8]), 8
    while position + 8 <= len(data):
        length = struct.unpack(">I", data[position:position + 4])[0]
        if data[position + 4:position + 8] not in chunk_types:
            out += data[position:position + 12 + length]
        position += 12 + length
    return bytes(out)


def tiff_with_short_planar_tag(data: bytes) -> bytes:
    """The TIFF with its first directory's PlanarConfiguration entry stored as SHORT (same value)."""
    e = "<" if data[:2] == b"II" else ">"
    out = bytearray(data)
    ifd = struct.unpack(e + "I", data[4:8])[0]
    for i in range(struct.unpack(e + "H", data[ifd:ifd + 2])[0]):
        at = ifd + 2 + 12 * i
        tag, kind, count = struct.unpack(e + "HHI", data[at:at + 8])
        if tag == 284 and count == 1:
            struct.pack_into(e + "HHIHH", out, at, 284, 3, 1, data[at + 8], 0)
    return bytes(out)


def webp_tiff_assembled(data: bytes) -> Image.Image:
    """A WebP-compressed TIFF (contiguous samples) put together from its strips or tiles, each decoded by
    Pillow's WebP decoder: libtiff's WebP codec stores every block as a complete WebP file."""
    with Image.open(io.BytesIO(data)) as tiff:
        tags, (width, height) = tiff.tag_v2, tiff.size
    if 322 in tags:
        block_width, block_height, offsets, counts = tags[322], tags[323], tags[324], tags[325]
    else:
        block_width, block_height, offsets, counts = width, tags.get(278, height), tags[273], tags[279]
    canvas = Image.new("RGB", (width, height))
    blocks = iter(zip(offsets, counts))
    for y in range(0, height, block_height):
        for x in range(0, width, block_width):
            offset, count = next(blocks)
            with Image.open(io.BytesIO(data[offset:offset + count])) as block:
                canvas.paste(block.convert("RGB"), (x, y))
    return canvas


# Files Pillow refuses for a reason outside their pixel data, and how to get its pixels anyway: the
# decode we give is checked against Pillow's on the repaired data.
REPAIRS = {
    "images/apng/chunk_no_fctl.png": (
        "APNG chunks (acTL, fcTL, fdAT) removed; Pillow then decodes the default image",
        lambda data: Image.open(io.BytesIO(png_without(data, {b"acTL", b"fcTL", b"fdAT"})))),
    "images/png_decompression_dos.png": (
        "zTXt chunks removed (Pillow refuses their decompressed size); the image data is untouched",
        lambda data: Image.open(io.BytesIO(png_without(data, {b"zTXt"})))),
    "images/tiff_tiled_jpeg_oob_read.tif": (
        "PlanarConfiguration retyped from BYTE to SHORT (same value 1), as libtiff reads it",
        lambda data: Image.open(io.BytesIO(tiff_with_short_planar_tag(data)))),
    "images/hopper_webp.tif": ("strips decoded by Pillow's WebP decoder and assembled", webp_tiff_assembled),
}
WEBP_VARIANTS = ("variants/rgb8/webp-strips.tif", "variants/rgb8/webp-tiles.tif",
                 "variants/rgba8/webp-strips.tif", "variants/rgba8/webp-tiles.tif")
REPAIRS.update({name: ("strips or tiles decoded by Pillow's WebP decoder and assembled", webp_tiff_assembled)
                for name in WEBP_VARIANTS})


def sniff(head: bytes) -> str | None:
    for fmt, parts in SIGNATURES:
        if all(head[offset:offset + len(magic)] == magic for offset, magic in parts):
            return fmt
    return None


def rgb_digest(image: Image.Image) -> dict:
    """Size, mode and SHA-256 of the RGB bytes of image.convert("RGB")."""
    mode = image.mode
    rgb = image.convert("RGB")
    pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    return {"width": rgb.width, "height": rgb.height, "mode": mode,
            "rgb_sha256": hashlib.sha256(pixels.tobytes()).hexdigest()}


def pillow_outcome(path: Path, name: str) -> dict:
    """What Image.open(path).convert("RGB") gives (first frame), or the exception it raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return {"ok": True, **rgb_digest(image)}
    except Exception as error:  # noqa: BLE001 -- every failure is an expected outcome here
        message = str(error).replace(str(path), name)
        return {"ok": False, "error": f"{type(error).__name__}: {message}"}


def describe(path: Path, name: str, fmt: str, key: str) -> dict:
    """One case: the file, Pillow's outcome, and (for REPAIRS[key]) Pillow's pixels of the repaired file."""
    data = path.read_bytes()
    case = {"file": name, "format": fmt, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "pillow": pillow_outcome(path, name)}
    if key in REPAIRS:
        how, repaired = REPAIRS[key]
        assert not case["pillow"]["ok"], f"{key}: Pillow decodes it; no repair needed"
        with repaired(data) as image:
            case["pillow_after_repair"] = {"how": how, **rgb_digest(image)}
    return case


def write_table(path: Path, table: dict) -> None:
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(table, indent=1) + "\n")
    os.replace(temporary, path)


def make_variants() -> list[dict]:
    """TIFF variants: base images by write_tiff, re-encoded by tiffcp (see the module docstring)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_image_fixtures as fx  # noqa: E402 -- dev-only helpers (imports torch; slow but harmless)

    if shutil.which("tiffcp") is None:
        sys.exit("tiffcp not found (apt-get install libtiff-tools)")
    if VARIANTS.exists():
        shutil.rmtree(VARIANTS)
    base_dir = VARIANTS / "base"
    base_dir.mkdir(parents=True)
    w, h = 37, 23
    rgb, g, a = fx.photo(w, h, 801), fx.gray(w, h, 802), fx.alpha(w, h, 803)
    pre = (rgb.astype(np.uint16) * a[:, :, None].astype(np.uint16) // 255).astype(np.uint8)
    rng = np.random.default_rng(804)
    wide = fx.wide16(w, h, 805)
    cmap = rng.integers(0, 65536, (256, 3))
    signed16 = (wide.astype(np.int32) - 30000).astype(np.int16).view(np.uint16)
    int32 = (fx.wide16(w, h, 806).astype(np.int64) * 40000 - 2**31 + rng.integers(0, 40000, (h, w))).astype(np.int32)
    int32[:4] = rng.integers(-50, 300, (4, w))
    float32 = (g.astype(np.float32) * 1.37 - 40.0 + rng.random((h, w), dtype=np.float32)).astype(np.float32)
    float32[0, :6] = [np.nan, np.inf, -np.inf, 254.999, 255.0, -0.5]
    twelve = (fx.wide16(w, h, 807) >> 4).astype(np.uint16)
    twelve[: h // 2] = g[: h // 2]
    # name: (samples, write_tiff arguments, wide samples)
    bases = {
        "bilevel": ((g > 120).astype(np.uint8), dict(bits=1, photometric=1), False),
        "bilevel-miniswhite": ((g > 120).astype(np.uint8), dict(bits=1, photometric=0), False),
        "grey4": (g >> 4, dict(bits=4, photometric=1), False),
        "grey8": (g, dict(bits=8, photometric=1), False),
        "grey8-miniswhite": (g, dict(bits=8, photometric=0), False),
        "grey12": (twelve, dict(bits=12, photometric=1), True),
        "grey16": (wide, dict(bits=16, photometric=1), True),
        "grey16-signed": (signed16, dict(bits=16, photometric=1, sample_format=2), True),
        "grey32-signed": (int32, dict(bits=32, photometric=1, sample_format=2), True),
        "grey32-float": (float32, dict(bits=32, photometric=1, sample_format=3), True),
        "grey-alpha": (np.dstack([g, a]), dict(bits=8, photometric=1, extra_samples=(2,)), False),
        "grey-extra": (np.dstack([g, a]), dict(bits=8, photometric=1, extra_samples=(0,)), False),
        "rgb8": (rgb, dict(bits=8, photometric=2), False),
        "rgba8": (np.dstack([rgb, a]), dict(bits=8, photometric=2, extra_samples=(2,)), False),
        "rgba8-associated": (np.dstack([pre, a]), dict(bits=8, photometric=2, extra_samples=(1,)), False),
        "rgbx8": (np.dstack([rgb, a]), dict(bits=8, photometric=2, extra_samples=(0,)), False),
        "rgb16": (rng.integers(0, 65536, (h, w, 3)).astype(np.uint16), dict(bits=16, photometric=2), True),
        "rgba16": (rng.integers(0, 65536, (h, w, 4)).astype(np.uint16),
                   dict(bits=16, photometric=2, extra_samples=(2,)), True),
        "palette4": (fx.index_field(w, h, 16, 808), dict(bits=4, photometric=3, colormap=cmap[:16]), False),
        "palette8": (fx.index_field(w, h, 256, 809), dict(bits=8, photometric=3, colormap=cmap), False),
        "palette-alpha": (np.dstack([fx.index_field(w, h, 256, 810), a]),
                          dict(bits=8, photometric=3, extra_samples=(2,), colormap=cmap), False),
        "cmyk8": (rng.integers(0, 256, (h, w, 4)).astype(np.uint8), dict(bits=8, photometric=5), False),
        "cmyk16": (rng.integers(0, 65536, (h, w, 4)).astype(np.uint16), dict(bits=16, photometric=5), True),
    }
    codecs = ["none", "lzw", "lzw:2", "zip", "zip:2", "packbits", "lzma", "zstd"]
    storages = {"strips": ["-s", "-r", "7"], "planar": ["-p", "separate", "-s", "-r", "7"],
                "tiles": ["-t", "-w", "16", "-l", "16"], "planar-tiles": ["-p", "separate", "-t", "-w", "16", "-l", "16"]}
    names = []
    for base, (samples, args, wide_samples) in bases.items():
        source = base_dir / f"{base}.tif"
        fx.write_tiff(source, samples, **args)
        extra = {"bilevel": ["g3", "g4"], "bilevel-miniswhite": ["g3", "g4"], "grey8": ["jpeg"],
                 "rgb8": ["jpeg", "jpeg:r", "webp"], "rgba8": ["webp"], "grey32-float": ["zip:3"]}.get(base, [])
        planes = samples.shape[2] if samples.ndim == 3 else 1
        for codec in codecs + extra:
            for storage, storage_args in storages.items():
                if storage.startswith("planar") and planes == 1:
                    continue
                for order in (["-L", "-B"] if wide_samples else ["-L"]):
                    name = f"{base}/{codec.replace(':', '-')}-{storage}{'-be' if order == '-B' else ''}.tif"
                    target = VARIANTS / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    done = subprocess.run(["tiffcp", order, "-c", codec, *storage_args, str(source), str(target)],
                                          capture_output=True)
                    if done.returncode != 0 or not target.exists():
                        target.unlink(missing_ok=True)
                        continue
                    names.append(name)
    # Hand-made: separate planes whose trailing unspecified extra plane is absent (byte count 0).
    special = VARIANTS / "special"
    special.mkdir()
    ga, rgbx = np.dstack([g, a]), np.dstack([rgb, a])
    for name, samples, args in [
        ("grey-extra-empty-plane-deflate.tif", ga, dict(bits=8, photometric=1, extra_samples=(0,), compression=8)),
        ("grey-extra-empty-plane-raw.tif", ga, dict(bits=8, photometric=1, extra_samples=(0,))),
        ("rgb-extra-empty-plane-deflate.tif", rgbx, dict(bits=8, photometric=2, extra_samples=(0,), compression=8)),
        ("rgb16-extra-empty-plane-deflate-be.tif", np.dstack([rng.integers(0, 65536, (h, w, 3)), wide]).astype(np.uint16),
         dict(bits=16, photometric=2, extra_samples=(0,), compression=8, big_endian=True)),
        ("rgba-extra-empty-plane-deflate.tif", np.dstack([rgb, a, a]),
         dict(bits=8, photometric=2, extra_samples=(2, 0), compression=8)),
    ]:
        fx.write_tiff(special / name, samples, planar=2, rows_per_strip=7, empty_planes=(samples.shape[2] - 1,), **args)
        names.append(f"special/{name}")
    for name, samples, args in [
        ("grey12-odd-width-deflate.tif", twelve[:, :35], dict(bits=12, photometric=1, compression=8, rows_per_strip=5)),
        ("grey12-fillorder2.tif", twelve, dict(bits=12, photometric=1, fill_order=2)),
        ("grey12-miniswhite.tif", twelve, dict(bits=12, photometric=0)),
        ("grey12-one-column.tif", twelve[:, :1], dict(bits=12, photometric=1)),
    ]:
        fx.write_tiff(special / name, samples, **args)
        names.append(f"special/{name}")
    # tiffcp cannot turn 16-bit samples into separate planes: write those directly.
    for base in ("rgb16", "rgba16", "cmyk16"):
        samples, args, _ = bases[base]
        for compression, codec in ((1, "none"), (8, "zip")):
            for tile, storage in ((None, "planar"), ((16, 16), "planar-tiles")):
                for big_endian in (False, True):
                    name = f"{base}/{codec}-{storage}{'-be' if big_endian else ''}.tif"
                    fx.write_tiff(VARIANTS / name, samples, planar=2, compression=compression, tile=tile,
                                  rows_per_strip=None if tile else 7, big_endian=big_endian, **args)
                    names.append(name)
    lerc = special / "rgb8-lerc.tif"
    if subprocess.run(["tiffcp", "-c", "lerc", str(base_dir / "rgb8.tif"), str(lerc)], capture_output=True).returncode == 0:
        names.append("special/rgb8-lerc.tif")
    shutil.rmtree(base_dir)
    cases = []
    for name in sorted(names):
        cases.append(describe(VARIANTS / name, name, "tiff", "variants/" + name))
        print(f"variants/{name}: {cases[-1]['pillow'].get('error', 'ok')}", flush=True)
    return cases


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
        case = describe(path, name, fmt, "images/" + name)
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
    write_table(OUT / "expected.json", table)
    committed = sum(c["bytes"] for c in cases if "left_out" not in c)
    print(f"{len(cases)} cases ({formats}); {committed / 1e6:.1f} MB committed, {len(LEFT_OUT)} left out")

    variants = make_variants()
    tiffcp = subprocess.run(["tiffcp"], capture_output=True, text=True).stderr.splitlines()[0]
    write_table(OUT / "variants.json", {"source": "made by make_pillow_corpus_fixtures.py with " + tiffcp,
                                        "versions": table["versions"], "cases": variants})
    print(f"{len(variants)} TIFF variants, {sum(c['bytes'] for c in variants) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
