#!/usr/bin/env python3
"""Synthetic benchmark inputs for scripts/bench (DEV-ONLY; needs Pillow, numpy and webdataset).

Writes, under --out (default bench-out/data, git-ignored; never commit what this makes):

  images/      --images mixed JPEG / PNG / WebP files of the D3 sizes (256x256, 512x512, 640x480, 640x360)
               for the end-to-end folder detection case
  shards/      --shards tar shards of --records D3-like records each, written with webdataset.TarWriter, with
               the fields upstream's wds_creation writes: caption.txt, gen_0..gen_3 and real images (JPEG or
               PNG, D3 sizes), url.txt; keys elsa_v2__train__<id>
  manifest.json  the parameters and the files, written last: scripts/bench regenerates the data when it is
               missing or was made with other parameters

The content is "photographic-ish" so that the codecs do realistic work: a smooth two-colour gradient, a few
soft shapes, low-frequency blotches and mild per-pixel noise. --variants distinct pictures per size are
synthesised and encoded once per format; the files draw from that pool (a decoder does the same work on a
repeated file, and synthesising 2,200 distinct pictures would take minutes). Deterministic (numpy
default_rng(seed)). Defaults: about 21 MB of images and 260 MB of shards, ~30 s on 2 cores.

Usage:
    python3 tools/make_bench_data.py [--out bench-out/data] [--images 200] [--shards 4] [--records 100]
                                     [--png-share 0.5] [--variants 24] [--seed 0] [--force] [--check]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO_ROOT = Path(__file__).resolve().parents[1]
D3_SIZES = [(256, 256), (512, 512), (640, 480), (640, 360)]
FORMAT_VERSION = 1


def synth_image(rng: np.random.Generator, width: int, height: int, noise: float = 1.5) -> Image.Image:
    """Gradient + shapes + low-frequency blotches + mild noise, RGB uint8."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * x + np.sin(angle) * y)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    img = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    # low-frequency blotches: coarse noise upsampled (bilinear through Pillow)
    coarse = rng.normal(0, 28, (max(2, height // 32), max(2, width // 32), 3)).astype(np.float32)
    blotch = np.stack([np.asarray(Image.fromarray(coarse[..., k]).resize((width, height), Image.BILINEAR))
                       for k in range(3)], axis=-1)
    img = np.clip(img + blotch, 0, 255).astype(np.uint8)
    pil = Image.fromarray(img, "RGB")
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = rng.uniform(-0.2, 1.0) * width, rng.uniform(-0.2, 1.0) * height
        w, h = rng.uniform(0.05, 0.5) * width, rng.uniform(0.05, 0.5) * height
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        box = [x0, y0, x0 + w, y0 + h]
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    pil = pil.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.6, 2.0))))
    arr = np.asarray(pil).astype(np.int16)
    arr = arr + rng.normal(0, noise, arr.shape).round().astype(np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpg":
        img.save(buf, "JPEG", quality=90)
    elif fmt == "png":
        img.save(buf, "PNG", compress_level=6)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=80)
    else:
        raise ValueError(fmt)
    return buf.getvalue()


class Pool:
    """`variants` distinct synthetic images per D3 size, each encoded once per format on first use: the
    shards and the folder draw their files from it (synthesising 2,000+ distinct images would take minutes;
    a decoder does the same work on a repeated file)."""

    def __init__(self, rng: np.random.Generator, variants: int):
        self.rng, self.variants = rng, variants
        self.raw: dict[tuple[int, int], list[Image.Image]] = {}
        self.encoded: dict[tuple, bytes] = {}

    def get(self, size: tuple[int, int], variant: int, fmt: str) -> bytes:
        raws = self.raw.setdefault(size, [])
        while len(raws) <= variant:
            raws.append(synth_image(self.rng, *size))
        key = (size, variant, fmt)
        if key not in self.encoded:
            self.encoded[key] = encode(raws[variant], fmt)
        return self.encoded[key]


def make_images(out: Path, count: int, rng: np.random.Generator, pool: Pool) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    names = []
    formats = ["jpg", "png", "webp"]
    for i in range(count):
        size = D3_SIZES[i % len(D3_SIZES)]
        fmt = formats[i % 3]
        name = f"img_{i:04d}.{fmt}"
        (out / name).write_bytes(pool.get(size, int(rng.integers(0, pool.variants)), fmt))
        names.append(name)
    return names


def make_shards(out: Path, shards: int, records: int, png_share: float, rng: np.random.Generator,
                pool: Pool) -> list[str]:
    import webdataset as wds

    out.mkdir(parents=True, exist_ok=True)
    names = []
    words = ("a photo of a cat on a sofa, a red car parked near the sea, portrait of an old man, mountain "
             "lake at sunset, a bowl of fruit on a wooden table, city street at night with neon lights").split()

    def image(fmt: str) -> bytes:
        return pool.get(D3_SIZES[int(rng.integers(0, len(D3_SIZES)))], int(rng.integers(0, pool.variants)), fmt)

    for s in range(shards):
        name = f"d3-bench-{s:06d}.tar"
        tmp = out / (name + ".tmp")
        with open(tmp, "wb") as f:
            writer = wds.TarWriter(f, encoder=False)
            for r in range(records):
                rid = s * records + r
                sample = {"__key__": f"elsa_v2__train__{rid:08d}"}
                caption = " ".join(words[int(i)] for i in rng.integers(0, len(words), int(rng.integers(6, 16))))
                sample["caption.txt"] = caption.encode()
                # generated images: PNG (the generators' output) or JPEG; real: JPEG (LAION)
                for k in range(4):
                    fmt = "png" if rng.random() < png_share else "jpg"
                    sample[f"gen_{k}.{fmt}"] = image(fmt)
                sample["real.jpg"] = image("jpg")
                sample["url.txt"] = f"https://example.com/laion/{rid:08d}.jpg".encode()
                writer.write(sample)
            writer.close()
        os.replace(tmp, out / name)
        names.append(name)
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO_ROOT / "bench-out" / "data"))
    ap.add_argument("--images", type=int, default=200, help="images in the folder case")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--records", type=int, default=100, help="records per shard")
    ap.add_argument("--png-share", type=float, default=0.5, help="share of generated images stored as PNG")
    ap.add_argument("--variants", type=int, default=24, help="distinct images per D3 size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="regenerate even if the manifest matches")
    ap.add_argument("--check", action="store_true",
                    help="only check: exit 0 when the data exists with these parameters, 1 otherwise")
    args = ap.parse_args()

    out = Path(args.out)
    params = {"format_version": FORMAT_VERSION, "images": args.images, "shards": args.shards,
              "records": args.records, "png_share": args.png_share, "variants": args.variants,
              "seed": args.seed}
    manifest_path = out / "manifest.json"
    if not args.force and manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
            if old.get("parameters") == params and all((out / p).exists() for p in old.get("files", [])):
                if not args.check:
                    print(f"make_bench_data: {out} is up to date", file=sys.stderr)
                sys.exit(0)
        except (OSError, ValueError):
            pass
    if args.check:
        sys.exit(1)

    if manifest_path.exists():
        manifest_path.unlink()
    for sub in ("images", "shards"):
        shutil.rmtree(out / sub, ignore_errors=True)
    rng = np.random.default_rng(args.seed)
    print(f"make_bench_data: {args.images} images, {args.shards} shards x {args.records} records -> {out}",
          file=sys.stderr)
    pool = Pool(rng, args.variants)
    images = make_images(out / "images", args.images, rng, pool)
    shards = make_shards(out / "shards", args.shards, args.records, args.png_share, rng, pool)
    files = [f"images/{n}" for n in images] + [f"shards/{n}" for n in shards]
    sizes = {"images_bytes": sum((out / f).stat().st_size for f in files if f.startswith("images/")),
             "shards_bytes": sum((out / f).stat().st_size for f in files if f.startswith("shards/"))}
    manifest_path.write_text(json.dumps({"parameters": params, **sizes, "files": files}, indent=1) + "\n")
    print(f"make_bench_data: images {sizes['images_bytes'] / 1e6:.1f} MB, shards {sizes['shards_bytes'] / 1e6:.1f} MB",
          file=sys.stderr)


if __name__ == "__main__":
    main()
