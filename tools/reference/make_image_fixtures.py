#!/usr/bin/env python3
"""Write the image-decoding fixtures under Tests/Fixtures/images/ (dev-only).

Every good image is described in manifest.json by what Pillow makes of it:
`Image.open(p)` mode and size, and the SHA-256 of `np.asarray(Image.open(p).convert("RGB"))`
(uint8 HWC, C order) with per-channel sums. For the preprocessing tests it also records the
SHA-256 of the float32 C-order bytes of two torchvision tensors built from that RGB image:
  (a) CenterCrop(224) -> ToTensor -> Normalize            (the released inference protocol)
  (b) Resize(248, BICUBIC) -> CenterCrop(224) -> ToTensor -> Normalize   (train/eval protocol)
with each tensor's per-channel mean for diagnosis. Bad inputs live in bad/ with the failure
kind the Swift decoder must report.

Most files are written by small encoders in this script (PNG, BMP, GIF, TIFF) so that every
colour type, bit depth and layout can be chosen exactly; JPEG, WebP and some PNG/GIF/TIFF files
come from Pillow's own encoders. Everything is deterministic (fixed seeds, no timestamps).

Usage: python3 tools/reference/make_image_fixtures.py   (from the repository root)
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

# torchvision's compiled ops here are a CUDA build; its meta registrations fail to import on CPU.
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import torch  # noqa: E402
import torchvision  # noqa: E402
from torchvision import transforms as T  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "images"
BAD = OUT / "bad"

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
PATH_A = T.Compose([T.CenterCrop(224), T.ToTensor(), T.Normalize(mean=MEAN, std=STD)])
PATH_B = T.Compose([
    T.Resize(248, interpolation=T.InterpolationMode.BICUBIC),
    T.CenterCrop(224), T.ToTensor(), T.Normalize(mean=MEAN, std=STD),
])


# --------------------------------------------------------------------------------------------
# Content: smooth gradients + shapes + mild noise, so that the files look photographic-ish.
# --------------------------------------------------------------------------------------------

def photo(w: int, h: int, seed: int, noise: float = 3.0) -> np.ndarray:
    """uint8 HxWx3 image: gradients, a few discs and boxes, gaussian noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx / max(w - 1, 1), yy / max(h - 1, 1)
    f = rng.uniform(0.5, 2.5, 6)
    p = rng.uniform(0, 2 * np.pi, 6)
    img = np.stack([
        120 + 90 * np.sin(2 * np.pi * f[0] * u + p[0]) * np.cos(np.pi * f[1] * v + p[1]),
        110 + 80 * np.cos(2 * np.pi * f[2] * (u + v) / 2 + p[2]) + 30 * v,
        100 + 70 * np.sin(2 * np.pi * f[4] * v + p[4]) + 50 * u * np.cos(p[5]),
    ], axis=-1)
    for _ in range(4):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.08, 0.3) * min(w, h)
        col = rng.uniform(0, 255, 3)
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[disc] = 0.35 * img[disc] + 0.65 * col
    for _ in range(2):
        x0, y0 = int(rng.uniform(0, w * 0.7)), int(rng.uniform(0, h * 0.7))
        x1, y1 = x0 + int(rng.uniform(0.1, 0.3) * w) + 1, y0 + int(rng.uniform(0.1, 0.3) * h) + 1
        img[y0:y1, x0:x1] = rng.uniform(0, 255, 3)
    if noise > 0:
        img = img + rng.normal(0, noise, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def gray(w: int, h: int, seed: int, noise: float = 2.0) -> np.ndarray:
    rgb = photo(w, h, seed, noise).astype(np.float64)
    return np.clip(np.rint(rgb @ [0.299, 0.587, 0.114]), 0, 255).astype(np.uint8)


def alpha(w: int, h: int, seed: int) -> np.ndarray:
    """uint8 HxW alpha with fully transparent, fully opaque and partial regions."""
    rng = np.random.default_rng(seed + 1000)
    yy, xx = np.mgrid[0:h, 0:w]
    a = (255 * (xx / max(w - 1, 1))).astype(np.int64)
    a[(yy % 7) == 0] = 0
    a[: max(1, h // 5)] = 255
    a = a + rng.integers(-3, 4, a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


def wide16(w: int, h: int, seed: int) -> np.ndarray:
    """uint16 HxW covering the whole range, with a band of small values (< 256)."""
    g = gray(w, h, seed).astype(np.int64)
    rng = np.random.default_rng(seed + 7)
    v = g * 257 + rng.integers(0, 257, g.shape)
    band = slice(0, max(1, h // 3))
    v[band] = g[band]          # values below 256: the low byte matters here
    v[-1, :] = 256             # first value that saturates
    return np.clip(v, 0, 65535).astype(np.uint16)


def quantize(rgb: np.ndarray, colors: int) -> tuple[np.ndarray, np.ndarray]:
    """Palette image via Pillow's median cut (deterministic): (indices HxW, palette Nx3)."""
    q = Image.fromarray(rgb).quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                                      dither=Image.Dither.NONE)
    idx = np.asarray(q).copy()
    pal = np.asarray(q.getpalette()[: 3 * colors], dtype=np.uint8).reshape(-1, 3)
    return idx, pal


def palette_of(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3), dtype=np.uint8)


def index_field(w: int, h: int, n: int, seed: int) -> np.ndarray:
    """Indices 0..n-1 laid out in smooth bands plus noise."""
    g = gray(w, h, seed, noise=0).astype(np.int64)
    rng = np.random.default_rng(seed + 3)
    idx = (g * n) // 256 + (rng.random(g.shape) < 0.05)
    return np.clip(idx, 0, n - 1).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# PNG writer: any colour type / bit depth, optional Adam7, rotating filter types.
# --------------------------------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _pack_samples(samples: np.ndarray, bits: int) -> bytes:
    """samples: HxWxC (or HxW) ints -> packed rows (each row padded to a byte)."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    h, w, c = samples.shape
    flat = samples.reshape(h, w * c).astype(np.uint32)
    if bits == 16:
        return flat.astype(">u2").tobytes()
    if bits == 8:
        return flat.astype(np.uint8).tobytes()
    if bits == 12:  # two samples in three bytes, most significant bits first
        n = w * c
        pairs = np.zeros((h, n + n % 2), dtype=np.uint32)
        pairs[:, :n] = flat
        a, b = pairs[:, 0::2], pairs[:, 1::2]
        packed = np.stack([a >> 4, ((a & 15) << 4) | (b >> 8), b & 255], axis=2).reshape(h, -1)
        return packed[:, : (12 * n + 7) // 8].astype(np.uint8).tobytes()
    per = 8 // bits
    padded_w = -(-(w * c) // per) * per
    buf = np.zeros((h, padded_w), dtype=np.uint32)
    buf[:, : w * c] = flat
    buf = buf.reshape(h, padded_w // per, per)
    shifts = np.array([8 - bits * (i + 1) for i in range(per)], dtype=np.uint32)
    return (buf << shifts).sum(axis=2).astype(np.uint8).tobytes()


def _png_filter(raw: bytes, rows: int, stride: int, bpp: int, first_filter: int) -> bytes:
    out = bytearray()
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(rows):
        line = np.frombuffer(raw[y * stride:(y + 1) * stride], dtype=np.uint8).astype(np.int64)
        ftype = (first_filter + y) % 5
        left = np.concatenate([np.zeros(bpp, np.int64), line[:-bpp]]) if stride > bpp else np.zeros(stride, np.int64)
        upleft = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]]) if stride > bpp else np.zeros(stride, np.int64)
        if ftype == 0:
            f = line
        elif ftype == 1:
            f = line - left
        elif ftype == 2:
            f = line - prev
        elif ftype == 3:
            f = line - (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
            f = line - pred
        out.append(ftype)
        out += (f & 0xFF).astype(np.uint8).tobytes()
        prev = line
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path: Path, samples: np.ndarray, color_type: int, bits: int, *, palette=None,
              trns: bytes | None = None, interlace: bool = False, extra: list[tuple[bytes, bytes]] = (),
              width: int | None = None, height: int | None = None, idat_split: int = 0) -> None:
    if samples.ndim == 2:
        samples = samples[:, :, None]
    h, w, c = samples.shape
    bpp = max(1, c * bits // 8)
    ihdr = struct.pack(">IIBBBBB", width or w, height or h, bits, color_type, 0, 0, 1 if interlace else 0)
    body = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for i, (x0, y0, dx, dy) in enumerate(passes):
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        raw = _pack_samples(sub, bits)
        stride = len(raw) // sub.shape[0]
        body += _png_filter(raw, sub.shape[0], stride, bpp, i)
    z = zlib.compress(body, 9)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
    for kind, payload in extra:
        data += _png_chunk(kind, payload)
    if palette is not None:
        data += _png_chunk(b"PLTE", np.asarray(palette, dtype=np.uint8).tobytes())
    if trns is not None:
        data += _png_chunk(b"tRNS", trns)
    if idat_split:
        for k in range(0, len(z), idat_split):
            data += _png_chunk(b"IDAT", z[k:k + idat_split])
    else:
        data += _png_chunk(b"IDAT", z)
    data += _png_chunk(b"IEND", b"")
    path.write_bytes(data)


# --------------------------------------------------------------------------------------------
# BMP writer: core/info/v4/v5 headers, 1/4/8/16/24/32 bits, bitfields, top-down, RLE8/RLE4.
# --------------------------------------------------------------------------------------------

def _rle8_rows(idx: np.ndarray) -> bytes:
    out = bytearray()
    for row in idx[::-1]:                       # bottom-up
        row = [int(v) for v in row]
        i, n = 0, len(row)
        while i < n:
            j = i
            while j < n and j - i < 255 and row[j] == row[i]:
                j += 1
            if j - i >= 2 or n - i < 3:
                out += bytes([j - i, row[i]])
                i = j
                continue
            k = i                                 # literal run until the next repeat
            while k < n and k - i < 255 and not (k + 1 < n and row[k] == row[k + 1]):
                k += 1
            if k - i < 3:
                out += bytes([1, row[i]])
                i += 1
                continue
            out += bytes([0, k - i]) + bytes(row[i:k])
            if (k - i) % 2:
                out.append(0)
            i = k
        out += b"\x00\x00"
    out[-2:] = b"\x00\x01"                       # last end-of-line becomes end-of-bitmap
    return bytes(out)


def _rle4_rows(idx: np.ndarray) -> bytes:
    out = bytearray()
    for row in idx[::-1]:
        row = [int(v) for v in row]
        i, n = 0, len(row)
        while i < n:
            j = i
            while j < n and j - i < 255 and row[j] == row[i]:
                j += 1
            if j - i >= 3 or n - i < 4:
                cnt = j - i if j - i >= 3 else 1
                out += bytes([cnt, (row[i] << 4) | row[i]])
                i += cnt
                continue
            k = min(n, i + 7 + (i % 3))           # absolute run of a few pixels
            lit = row[i:k]
            out += bytes([0, len(lit)])
            packed = bytearray()
            for a in range(0, len(lit), 2):
                hi = lit[a]
                lo = lit[a + 1] if a + 1 < len(lit) else 0
                packed.append((hi << 4) | lo)
            if len(packed) % 2:
                packed.append(0)
            out += packed
            i = k
        out += b"\x00\x00"
    out[-2:] = b"\x00\x01"
    return bytes(out)


def write_bmp(path: Path, pixels: np.ndarray, bits: int, *, header: int = 40, palette=None,
              compression: int = 0, masks: tuple[int, ...] | None = None, top_down: bool = False,
              colors_used: int | None = None, x_byte: int = 0) -> None:
    """pixels: HxW indices (bits <= 8) or HxWx3/4 RGB(A) (16/24/32 bits)."""
    h, w = pixels.shape[:2]
    pal_bytes = b""
    if palette is not None:
        pal = np.asarray(palette, dtype=np.uint8)
        if header == 12:
            pal_bytes = pal[:, ::-1].tobytes()
        else:
            pal_bytes = np.concatenate([pal[:, ::-1], np.zeros((len(pal), 1), np.uint8)], axis=1).tobytes()
    if compression == 1:
        data = _rle8_rows(pixels)
    elif compression == 2:
        data = _rle4_rows(pixels)
    else:
        stride = ((w * bits + 31) // 32) * 4
        rows = []
        for row in pixels:
            if bits <= 8:
                rb = _pack_samples(row[None, :], bits)
            elif bits == 16:
                r, g, b = (row[:, 0].astype(np.uint32), row[:, 1].astype(np.uint32), row[:, 2].astype(np.uint32))
                if masks == (0xF800, 0x7E0, 0x1F):
                    v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
                else:
                    v = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3) | (x_byte << 15)
                rb = v.astype("<u2").tobytes()
            elif bits == 24:
                rb = row[:, ::-1].astype(np.uint8).tobytes()
            else:
                rgba = row if row.shape[1] == 4 else np.concatenate([row, np.full((w, 1), x_byte, np.uint8)], axis=1)
                if masks is None or masks[:3] == (0xFF0000, 0xFF00, 0xFF):
                    order = [2, 1, 0, 3]                      # B G R A/X
                elif masks[:3] == (0xFF000000, 0xFF0000, 0xFF00):
                    order = [3, 2, 1, 0]                      # X/A B G R
                else:
                    raise ValueError(masks)
                rb = rgba[:, order].astype(np.uint8).tobytes()
            rows.append(rb + b"\x00" * (stride - len(rb)))
        data = b"".join(rows if top_down else rows[::-1])
    mask_bytes = b""
    if header == 12:
        dib = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        hh = -h if top_down else h
        ncol = colors_used if colors_used is not None else (len(palette) if palette is not None else 0)
        dib = struct.pack("<IiiHHIIiiII", header, w, hh, 1, bits, compression, len(data), 2835, 2835, ncol, 0)
        if header >= 52 and masks is not None:
            m = list(masks) + [0] * (4 - len(masks))
            dib += struct.pack("<IIII", *m)[: (16 if header >= 56 else 12)]
        elif header >= 52:
            dib += b"\x00" * (16 if header >= 56 else 12)
        elif compression == 3:
            mask_bytes = struct.pack("<III", *masks[:3])
        dib += b"\x00" * (header - len(dib))
    offset = 14 + len(dib) + len(mask_bytes) + len(pal_bytes)
    head = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
    path.write_bytes(head + dib + mask_bytes + pal_bytes + data)


# --------------------------------------------------------------------------------------------
# GIF writer: LZW encoder, logical screen + frame rectangles, palettes, GCE, interlace.
# --------------------------------------------------------------------------------------------

def lzw_encode(indices: bytes, min_code: int) -> bytes:
    clear, eoi = 1 << min_code, (1 << min_code) + 1
    out = bytearray()
    acc, nacc = 0, 0

    def put(code: int, width: int) -> None:
        nonlocal acc, nacc
        acc |= code << nacc
        nacc += width
        while nacc >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nacc -= 8

    width = min_code + 1
    table: dict[tuple[int, int], int] = {}
    next_code = eoi + 1
    put(clear, width)
    prefix = indices[0]
    for k in indices[1:]:
        key = (prefix, k)
        if key in table:
            prefix = table[key]
            continue
        put(prefix, width)
        table[key] = next_code
        next_code += 1
        if next_code > (1 << width) and width < 12:
            width += 1
        if next_code >= 4095:
            put(clear, width)
            table.clear()
            next_code = eoi + 1
            width = min_code + 1
        prefix = k
    put(prefix, width)
    put(eoi, width)
    if nacc:
        out.append(acc & 0xFF)
    return bytes(out)


def _sub_blocks(data: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out.append(len(chunk))
        out += chunk
    out.append(0)
    return bytes(out)


def _color_table(pal: np.ndarray) -> tuple[bytes, int]:
    n = len(pal)
    bits = max(1, int(np.ceil(np.log2(max(n, 2)))))
    table = np.zeros((1 << bits, 3), np.uint8)
    table[:n] = pal
    return table.tobytes(), bits


def gif_frame(idx: np.ndarray, x: int, y: int, *, local_palette=None, interlace=False,
              transparency: int | None = None, disposal: int = 0, min_code: int | None = None) -> bytes:
    h, w = idx.shape
    out = bytearray()
    if transparency is not None or disposal:
        flags = (disposal << 2) | (1 if transparency is not None else 0)
        out += b"\x21\xF9\x04" + bytes([flags]) + struct.pack("<H", 10) + bytes([transparency or 0]) + b"\x00"
    flags = 0x40 if interlace else 0
    table = b""
    if local_palette is not None:
        table, bits = _color_table(np.asarray(local_palette, np.uint8))
        flags |= 0x80 | (bits - 1)
    out += b"\x2C" + struct.pack("<HHHH", x, y, w, h) + bytes([flags]) + table
    if interlace:
        order = list(range(0, h, 8)) + list(range(4, h, 8)) + list(range(2, h, 4)) + list(range(1, h, 2))
        rows = idx[order]
    else:
        rows = idx
    if min_code is None:
        min_code = max(2, int(np.ceil(np.log2(max(int(idx.max()) + 1, 2)))))
    out.append(min_code)
    out += _sub_blocks(lzw_encode(rows.astype(np.uint8).tobytes(), min_code))
    return bytes(out)


def write_gif(path: Path, screen: tuple[int, int], frames: list[bytes], *, global_palette=None,
              background: int = 0, version: bytes = b"GIF89a", comment: bytes | None = None) -> None:
    w, h = screen
    flags, table = 0, b""
    if global_palette is not None:
        table, bits = _color_table(np.asarray(global_palette, np.uint8))
        flags = 0x80 | ((bits - 1) << 4) | (bits - 1)
    data = version + struct.pack("<HH", w, h) + bytes([flags, background, 0]) + table
    if comment:
        data += b"\x21\xFE" + _sub_blocks(comment)
    for f in frames:
        data += f
    path.write_bytes(data + b"\x3B")


# --------------------------------------------------------------------------------------------
# TIFF writer: strips or tiles, contiguous or planar, none/deflate, any byte order.
# --------------------------------------------------------------------------------------------

def write_tiff(path: Path, samples: np.ndarray, *, bits: int, photometric: int, big_endian=False,
               compression: int = 1, tile: tuple[int, int] | None = None, planar: int = 1,
               rows_per_strip: int | None = None, extra_samples: tuple[int, ...] = (),
               colormap: np.ndarray | None = None, orientation: int | None = None,
               sample_format: int | None = None, fill_order: int | None = None,
               pages: list[np.ndarray] = (), empty_planes: tuple[int, ...] = ()) -> None:
    """A TIFF of `samples` (HxW or HxWxC; 32-bit samples keep their dtype's kind: int, uint or float).
    The strips of the planes in `empty_planes` (separate planes only) get offset 0 and byte count 0."""
    e = ">" if big_endian else "<"

    def encode_block(block: np.ndarray) -> bytes:
        if bits == 32:
            raw = block.reshape(block.shape[0], -1).astype(e + block.dtype.kind + "4").tobytes()
        elif bits == 16:
            raw = block.reshape(block.shape[0], -1).astype(e + "u2").tobytes()
        else:
            raw = _pack_samples(block, bits)
        if fill_order == 2 and bits < 8:
            raw = bytes(int(f"{b:08b}"[::-1], 2) for b in raw)
        return zlib.compress(raw, 9) if compression in (8, 32946) else raw

    images = [samples] + list(pages)
    body = bytearray(b"MM\x00\x2a" if big_endian else b"II\x2a\x00")
    body += struct.pack(e + "I", 0)                 # patched: first IFD offset
    ifd_link_pos = 4
    for img in images:
        if img.ndim == 2:
            img = img[:, :, None]
        h, w, spp = img.shape
        planes = [img] if planar == 1 else [img[:, :, k:k + 1] for k in range(spp)]
        offsets, counts = [], []
        for plane in planes:
            if tile:
                tw, th = tile
                for ty in range(0, h, th):
                    for tx in range(0, w, tw):
                        blk = np.zeros((th, tw, plane.shape[2]), dtype=plane.dtype)
                        part = plane[ty:ty + th, tx:tx + tw]
                        blk[: part.shape[0], : part.shape[1]] = part
                        enc = encode_block(blk)
                        offsets.append(len(body)); counts.append(len(enc)); body += enc
                        if len(body) % 2:
                            body += b"\x00"
            else:
                rps = rows_per_strip or h
                for y in range(0, h, rps):
                    if len(offsets) // -(-h // rps) in empty_planes:
                        offsets.append(0); counts.append(0)
                        continue
                    enc = encode_block(plane[y:y + rps])
                    offsets.append(len(body)); counts.append(len(enc)); body += enc
                    if len(body) % 2:
                        body += b"\x00"
        entries = {
            256: (4, [w]), 257: (4, [h]), 258: (3, [bits] * spp), 259: (3, [compression]),
            262: (3, [photometric]), 277: (3, [spp]), 284: (3, [planar]),
        }
        if tile:
            entries[322] = (4, [tile[0]]); entries[323] = (4, [tile[1]])
            entries[324] = (4, offsets); entries[325] = (4, counts)
        else:
            entries[273] = (4, offsets); entries[278] = (4, [rows_per_strip or h]); entries[279] = (4, counts)
        if extra_samples:
            entries[338] = (3, list(extra_samples))
        if colormap is not None:
            entries[320] = (3, [int(v) for v in np.asarray(colormap, np.uint16).T.reshape(-1)])
        if orientation is not None:
            entries[274] = (3, [orientation])
        if sample_format is not None:
            entries[339] = (3, [sample_format] * spp)
        if fill_order is not None:
            entries[266] = (3, [fill_order])
        entries[282] = (5, [(72, 1)]); entries[283] = (5, [(72, 1)]); entries[296] = (3, [2])
        if len(body) % 2:
            body += b"\x00"
        ifd_pos = len(body)
        struct.pack_into(e + "I", body, ifd_link_pos, ifd_pos)
        n = len(entries)
        ifd = bytearray(struct.pack(e + "H", n))
        overflow = bytearray()
        overflow_base = ifd_pos + 2 + 12 * n + 4
        for tag in sorted(entries):
            typ, vals = entries[tag]
            if typ == 3:
                payload = struct.pack(e + "H" * len(vals), *vals)
            elif typ == 4:
                payload = struct.pack(e + "I" * len(vals), *vals)
            else:
                payload = b"".join(struct.pack(e + "II", *v) for v in vals)
            count = len(vals)
            if len(payload) <= 4:
                ifd += struct.pack(e + "HHI", tag, typ, count) + payload + b"\x00" * (4 - len(payload))
            else:
                ifd += struct.pack(e + "HHII", tag, typ, count, overflow_base + len(overflow))
                overflow += payload
                if len(overflow) % 2:
                    overflow += b"\x00"
        ifd_link_pos = len(body) + len(ifd)
        ifd += struct.pack(e + "I", 0)
        body += ifd + overflow
    path.write_bytes(bytes(body))


# --------------------------------------------------------------------------------------------
# The fixture list
# --------------------------------------------------------------------------------------------

SIZES_JPEG = [(100, 80), (223, 150), (224, 224), (225, 225), (227, 301), (301, 227),
              (256, 256), (512, 512), (640, 360), (640, 480)]

notes: dict[str, str] = {}


def note(name: str, text: str) -> str:
    notes[name] = text
    return name


def make_jpeg(files: list[str]) -> None:
    exts = ["jpg", "JPG", "jpeg", "jpg", "JPEG", "jpg", "jpg", "jpg", "jpg", "jpg"]
    for i, (w, h) in enumerate(SIZES_JPEG):
        name = f"jpeg_rgb_{w}x{h}.{exts[i]}"
        q = 90 if w * h < 60000 else 75
        Image.fromarray(photo(w, h, 100 + i)).save(OUT / name, quality=q)
        files.append(note(name, f"baseline 4:2:0 quality {q}"))
    im = Image.fromarray(photo(320, 240, 130))
    im.save(OUT / "jpeg_progressive_320x240.jpg", quality=85, progressive=True)
    files.append(note("jpeg_progressive_320x240.jpg", "progressive"))
    im.save(OUT / "jpeg_444_optimized_320x240.jpg", quality=92, subsampling=0, optimize=True)
    files.append(note("jpeg_444_optimized_320x240.jpg", "4:4:4, optimized Huffman tables"))
    Image.fromarray(photo(161, 97, 131)).save(OUT / "jpeg_422_restart_161x97.jpg", quality=88, subsampling=1,
                                              restart_marker_blocks=3)
    files.append(note("jpeg_422_restart_161x97.jpg", "4:2:2, restart markers every 3 MCUs, odd size"))
    Image.fromarray(gray(150, 100, 132)).save(OUT / "jpeg_gray_150x100.jpg", quality=90)
    files.append(note("jpeg_gray_150x100.jpg", "grayscale (mode L)"))
    Image.fromarray(gray(97, 61, 133)).save(OUT / "jpeg_gray_progressive_97x61.jpg", quality=80, progressive=True)
    files.append(note("jpeg_gray_progressive_97x61.jpg", "grayscale progressive"))
    cmyk = Image.fromarray(photo(120, 90, 134)).convert("CMYK")
    cmyk.save(OUT / "jpeg_cmyk_adobe_120x90.jpg", quality=90)
    files.append(note("jpeg_cmyk_adobe_120x90.jpg", "CMYK with Adobe APP14 (inverted CMYK)"))
    cmyk.save(OUT / "jpeg_cmyk_progressive_120x90.jpg", quality=85, progressive=True)
    files.append(note("jpeg_cmyk_progressive_120x90.jpg", "CMYK progressive"))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo(160, 120, 135)).save(OUT / "jpeg_exif_orientation6_160x120.jpg", quality=90, exif=exif)
    files.append(note("jpeg_exif_orientation6_160x120.jpg", "EXIF orientation 6: Pillow does not rotate on open"))
    Image.fromarray(photo(1, 1, 136)).save(OUT / "jpeg_tiny_1x1.jpg", quality=90)
    files.append(note("jpeg_tiny_1x1.jpg", "1x1"))
    # a PNG whose extension says JPEG: must be decoded by content
    Image.fromarray(photo(90, 70, 137)).save(OUT / "png_named_as.jpg", format="PNG")
    files.append(note("png_named_as.jpg", "a PNG file named .jpg (sniffing by content)"))


def make_png(files: list[str]) -> None:
    def add(name, text):
        files.append(note(name, text))

    Image.fromarray(photo(224, 224, 200, noise=1.5)).save(OUT / "png_pillow_rgb_224x224.png", optimize=False)
    add("png_pillow_rgb_224x224.png", "RGB written by Pillow")
    rgba = np.dstack([photo(225, 225, 201, noise=1.0), alpha(225, 225, 201)])
    Image.fromarray(rgba, "RGBA").save(OUT / "png_pillow_rgba_225x225.PNG")
    add("png_pillow_rgba_225x225.PNG", "RGBA written by Pillow, alpha dropped")
    w, h = 61, 43
    g = gray(w, h, 210)
    write_png(OUT / "png_gray1_61x43.png", (g > 127).astype(np.uint8), 0, 1)
    add("png_gray1_61x43.png", "1-bit grey (mode 1)")
    write_png(OUT / "png_gray2_61x43.png", g >> 6, 0, 2)
    add("png_gray2_61x43.png", "2-bit grey (L, x0x55)")
    write_png(OUT / "png_gray4_61x43.png", g >> 4, 0, 4)
    add("png_gray4_61x43.png", "4-bit grey (L, x0x11)")
    write_png(OUT / "png_gray8_61x43.png", g, 0, 8, extra=[(b"gAMA", struct.pack(">I", 45455))])
    add("png_gray8_61x43.png", "8-bit grey with gAMA (ignored)")
    write_png(OUT / "png_gray8_trns_61x43.png", g, 0, 8, trns=struct.pack(">H", int(g[0, 0])))
    add("png_gray8_trns_61x43.png", "8-bit grey with tRNS")
    g16 = wide16(w, h, 211)
    write_png(OUT / "png_gray16_61x43.png", g16, 0, 16)
    add("png_gray16_61x43.png", "16-bit grey: Pillow I;16, RGB = min(value, 255)")
    write_png(OUT / "png_gray16_trns_interlaced_61x43.png", g16, 0, 16, trns=struct.pack(">H", 300), interlace=True)
    add("png_gray16_trns_interlaced_61x43.png", "16-bit grey, tRNS, Adam7")
    a = alpha(w, h, 212)
    write_png(OUT / "png_la8_61x43.png", np.dstack([g, a]), 4, 8)
    add("png_la8_61x43.png", "grey+alpha 8-bit (LA)")
    la16 = np.dstack([g16, a.astype(np.uint16) * 257])
    write_png(OUT / "png_la16_61x43.png", la16, 4, 16)
    add("png_la16_61x43.png", "grey+alpha 16-bit (RGBA via LA;16B, MSB)")
    rgb = photo(w, h, 213)
    write_png(OUT / "png_rgb8_filters_61x43.png", rgb, 2, 8,
              extra=[(b"sRGB", b"\x00"), (b"cHRM", b"\x00" * 32)], idat_split=500)
    add("png_rgb8_filters_61x43.png", "RGB 8-bit, all filter types, split IDAT, sRGB/cHRM")
    rng = np.random.default_rng(214)
    rgb16 = rgb.astype(np.uint16) * 256 + rng.integers(0, 256, rgb.shape)
    write_png(OUT / "png_rgb16_61x43.png", rgb16, 2, 16, trns=struct.pack(">HHH", 1, 2, 3))
    add("png_rgb16_61x43.png", "RGB 16-bit (MSB kept), tRNS")
    rgba16 = np.dstack([rgb16, a.astype(np.uint16) * 257])
    write_png(OUT / "png_rgba16_interlaced_61x43.png", rgba16, 6, 16, interlace=True)
    add("png_rgba16_interlaced_61x43.png", "RGBA 16-bit, Adam7")
    write_png(OUT / "png_rgba8_61x43.png", np.dstack([rgb, a]), 6, 8)
    add("png_rgba8_61x43.png", "RGBA 8-bit")
    write_png(OUT / "png_rgb8_interlaced_227x301.png", photo(227, 301, 215, noise=0.8), 2, 8, interlace=True)
    add("png_rgb8_interlaced_227x301.png", "RGB 8-bit Adam7, odd size")
    write_png(OUT / "png_gray1_interlaced_13x11.png", (gray(13, 11, 216) > 100).astype(np.uint8), 0, 1, interlace=True)
    add("png_gray1_interlaced_13x11.png", "1-bit grey Adam7, tiny")
    for bits in (1, 2, 4, 8):
        n = 1 << bits
        idx = index_field(w, h, n, 220 + bits)
        pal = palette_of(n, 230 + bits)
        write_png(OUT / f"png_p{bits}_61x43.png", idx, 3, bits, palette=pal)
        add(f"png_p{bits}_61x43.png", f"palette {bits}-bit")
    idx = index_field(w, h, 16, 240)
    write_png(OUT / "png_p4_trns_interlaced_61x43.png", idx, 3, 4, palette=palette_of(16, 241),
              trns=bytes([0, 128, 255, 7]), interlace=True)
    add("png_p4_trns_interlaced_61x43.png", "palette 4-bit, tRNS alpha table, Adam7")
    idx = index_field(w, h, 256, 242)
    write_png(OUT / "png_p8_trns_single_61x43.png", idx, 3, 8, palette=palette_of(256, 243),
              trns=b"\xff" * 5 + b"\x00")
    add("png_p8_trns_single_61x43.png", "palette 8-bit, single transparent index")
    idx8 = index_field(w, h, 200, 244)
    write_png(OUT / "png_p8_short_palette_61x43.png", idx8, 3, 8, palette=palette_of(150, 245))
    add("png_p8_short_palette_61x43.png", "palette of 150 entries, indices up to 199 (black beyond)")
    idx, pal = quantize(photo(256, 256, 246, noise=0), 64)
    Image.fromarray(idx, "P").save(OUT / "png_pillow_p_256x256.png")
    im = Image.open(OUT / "png_pillow_p_256x256.png")
    im.putpalette(pal.reshape(-1).tolist())
    im.save(OUT / "png_pillow_p_256x256.png")
    add("png_pillow_p_256x256.png", "palette image written by Pillow")
    write_png(OUT / "png_rgb8_1x1.png", photo(1, 1, 247), 2, 8)
    add("png_rgb8_1x1.png", "1x1")
    good = bytearray((OUT / "png_rgb8_filters_61x43.png").read_bytes())
    at = good.index(b"IDAT")
    good[at + 4 + struct.unpack(">I", good[at - 4:at])[0]] ^= 0xFF     # first IDAT's CRC
    (OUT / "png_bad_idat_crc_61x43.png").write_bytes(bytes(good[:-12]))  # ... and no IEND
    add("png_bad_idat_crc_61x43.png", "IDAT CRC wrong and IEND missing: Pillow ignores both")


def make_bmp(files: list[str]) -> None:
    def add(name, text):
        files.append(note(name, text))

    write_bmp(OUT / "bmp_24_227x301.bmp", photo(227, 301, 300), 24)
    add("bmp_24_227x301.bmp", "24-bit bottom-up, odd width (row padding)")
    write_bmp(OUT / "bmp_24_topdown_100x80.BMP", photo(100, 80, 301), 24, top_down=True)
    add("bmp_24_topdown_100x80.BMP", "24-bit top-down (negative height)")
    w, h = 45, 31
    rgb = photo(w, h, 302)
    write_bmp(OUT / "bmp_32_rgb_45x31.bmp", rgb, 32, x_byte=0x5A)
    add("bmp_32_rgb_45x31.bmp", "32-bit BI_RGB, junk X byte ignored")
    a = alpha(w, h, 303)
    write_bmp(OUT / "bmp_32_bitfields_bgra_v5_45x31.bmp", np.dstack([rgb, a]), 32, header=124, compression=3,
              masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000))
    add("bmp_32_bitfields_bgra_v5_45x31.bmp", "32-bit BI_BITFIELDS BGRA, V5 header (RGBA, alpha dropped)")
    write_bmp(OUT / "bmp_32_bitfields_xbgr_v4_45x31.bmp", rgb, 32, header=108, compression=3,
              masks=(0xFF000000, 0xFF0000, 0xFF00, 0), x_byte=0x33)
    add("bmp_32_bitfields_xbgr_v4_45x31.bmp", "32-bit BI_BITFIELDS XBGR, V4 header")
    write_bmp(OUT / "bmp_16_555_45x31.bmp", rgb, 16, x_byte=1)
    add("bmp_16_555_45x31.bmp", "16-bit BI_RGB 5-5-5 (v*255//31)")
    write_bmp(OUT / "bmp_16_565_bitfields_45x31.bmp", rgb, 16, compression=3, masks=(0xF800, 0x7E0, 0x1F))
    add("bmp_16_565_bitfields_45x31.bmp", "16-bit BI_BITFIELDS 5-6-5, 40-byte header + masks")
    write_bmp(OUT / "bmp_16_555_bitfields_v5_45x31.bmp", rgb, 16, header=124, compression=3,
              masks=(0x7C00, 0x3E0, 0x1F, 0))
    add("bmp_16_555_bitfields_v5_45x31.bmp", "16-bit BI_BITFIELDS 5-5-5, V5 header")
    idx, pal = quantize(photo(w, h, 304, noise=0), 256)
    write_bmp(OUT / "bmp_8_palette_45x31.bmp", idx, 8, palette=pal)
    add("bmp_8_palette_45x31.bmp", "8-bit palette")
    write_bmp(OUT / "bmp_8_gray_45x31.bmp", gray(w, h, 305), 8, palette=np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1))
    add("bmp_8_gray_45x31.bmp", "8-bit identity grey palette (Pillow mode L)")
    idx = index_field(w, h, 120, 306)
    write_bmp(OUT / "bmp_8_short_palette_45x31.bmp", idx, 8, palette=palette_of(100, 307), colors_used=100)
    add("bmp_8_short_palette_45x31.bmp", "8-bit with 100 palette entries, indices up to 119")
    write_bmp(OUT / "bmp_4_palette_45x31.bmp", index_field(w, h, 16, 308), 4, palette=palette_of(16, 309))
    add("bmp_4_palette_45x31.bmp", "4-bit palette")
    write_bmp(OUT / "bmp_1_palette_45x31.bmp", index_field(w, h, 2, 310), 1, palette=[[200, 30, 40], [10, 220, 90]])
    add("bmp_1_palette_45x31.bmp", "1-bit two-colour palette (P)")
    write_bmp(OUT / "bmp_1_bw_45x31.bmp", index_field(w, h, 2, 311), 1, palette=[[0, 0, 0], [255, 255, 255]])
    add("bmp_1_bw_45x31.bmp", "1-bit black/white palette (Pillow mode 1)")
    idx, pal = quantize(photo(64, 48, 312, noise=0), 32)
    write_bmp(OUT / "bmp_rle8_64x48.bmp", idx, 8, palette=pal, compression=1)
    add("bmp_rle8_64x48.bmp", "RLE8")
    write_bmp(OUT / "bmp_rle4_63x47.bmp", index_field(63, 47, 16, 313), 4, palette=palette_of(16, 314), compression=2)
    add("bmp_rle4_63x47.bmp", "RLE4, odd size")
    write_bmp(OUT / "bmp_os2_24_45x31.bmp", rgb, 24, header=12)
    add("bmp_os2_24_45x31.bmp", "OS/2 core header (12 bytes), 24-bit")
    write_bmp(OUT / "bmp_os2_8_45x31.bmp", idx[:31, :45], 8, header=12, palette=palette_of(256, 315))
    add("bmp_os2_8_45x31.bmp", "OS/2 core header, 8-bit with BGR triples palette")
    write_bmp(OUT / "bmp_8_bw_palette_30x5.bmp", index_field(30, 5, 2, 316), 8, palette=[[0, 0, 0], [255, 255, 255]])
    add("bmp_8_bw_palette_30x5.bmp", "8-bit data with a black/white 2-entry palette: Pillow reads it as 1-bit")
    write_bmp(OUT / "bmp_rle8_bw_20x10.bmp", index_field(20, 10, 2, 317), 8, palette=[[0, 0, 0], [255, 255, 255]],
              compression=1, colors_used=2)
    add("bmp_rle8_bw_20x10.bmp", "RLE8 with a black/white palette (mode 1)")


def make_gif(files: list[str]) -> None:
    def add(name, text):
        files.append(note(name, text))

    idx, pal = quantize(photo(224, 224, 400, noise=0), 200)
    Image.fromarray(idx, "P").save(OUT / "gif_pillow_224x224.gif")
    im = Image.open(OUT / "gif_pillow_224x224.gif")
    im.putpalette(pal.reshape(-1).tolist())
    im.save(OUT / "gif_pillow_224x224.gif")
    add("gif_pillow_224x224.gif", "written by Pillow (interlaced)")
    idx, pal = quantize(photo(100, 80, 401, noise=0), 60)
    write_gif(OUT / "gif_global_100x80.GIF", (100, 80), [gif_frame(idx, 0, 0)], global_palette=pal)
    add("gif_global_100x80.GIF", "global palette, one full frame")
    idx, pal = quantize(photo(101, 67, 402, noise=0), 128)
    write_gif(OUT / "gif_interlaced_101x67.gif", (101, 67), [gif_frame(idx, 0, 0, interlace=True)], global_palette=pal)
    add("gif_interlaced_101x67.gif", "interlaced")
    fidx, _ = quantize(photo(40, 30, 403, noise=0), 16)
    pal = palette_of(16, 404)
    write_gif(OUT / "gif_offset_frame_64x48.gif", (64, 48), [gif_frame(fidx, 10, 8)], global_palette=pal, background=5)
    add("gif_offset_frame_64x48.gif", "40x30 frame at (10,8) in a 64x48 screen; outside = index 0 (background ignored)")
    write_gif(OUT / "gif_offset_frame_transparent_64x48.gif", (64, 48), [gif_frame(fidx, 10, 8, transparency=7)],
              global_palette=pal, background=5)
    add("gif_offset_frame_transparent_64x48.gif", "same with transparency index 7: outside = index 7")
    write_gif(OUT / "gif_local_palette_64x48.gif", (64, 48), [gif_frame(fidx, 3, 2, local_palette=palette_of(16, 405))],
              global_palette=pal, background=2)
    add("gif_local_palette_64x48.gif", "local palette overrides global")
    write_gif(OUT / "gif_local_only_40x30.gif", (40, 30), [gif_frame(fidx, 0, 0, local_palette=palette_of(16, 406))])
    add("gif_local_only_40x30.gif", "no global palette, local palette only")
    gidx = gray(50, 40, 407, noise=0)
    ident = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1)
    write_gif(OUT / "gif_gray_identity_50x40.gif", (50, 40), [gif_frame(gidx, 0, 0, min_code=8)], global_palette=ident)
    add("gif_gray_identity_50x40.gif", "identity grey palette: Pillow mode L")
    write_gif(OUT / "gif_nopalette_50x40.gif", (50, 40), [gif_frame(gidx, 0, 0, min_code=8)], version=b"GIF87a")
    add("gif_nopalette_50x40.gif", "GIF87a without any palette: Pillow mode L")
    f2, _ = quantize(photo(40, 30, 408, noise=0), 16)
    write_gif(OUT / "gif_animated_64x48.gif", (64, 48),
              [b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00", gif_frame(fidx, 0, 0, disposal=2, transparency=3),
               gif_frame(f2, 20, 10, disposal=1)], global_palette=pal, comment=b"fixture")
    add("gif_animated_64x48.gif", "two frames: the first is returned; comment + NETSCAPE extensions")
    write_gif(OUT / "gif_frame_exceeds_screen_30x20.gif", (30, 20), [gif_frame(fidx, 5, 4)], global_palette=pal)
    add("gif_frame_exceeds_screen_30x20.gif", "frame extends past the logical screen: Pillow enlarges to 45x34")
    write_gif(OUT / "gif_nopalette_offset_transparent_50x40.gif", (50, 40),
              [gif_frame(fidx, 5, 6, transparency=9)])
    add("gif_nopalette_offset_transparent_50x40.gif", "no palette (L), frame offset, transparency 9 fills outside")
    write_gif(OUT / "gif_gce_without_transparency_50x40.gif", (50, 40), [gif_frame(fidx, 5, 6, disposal=2)],
              global_palette=pal, background=3)
    add("gif_gce_without_transparency_50x40.gif", "GCE without the transparency flag: outside = index 0")
    whole = (OUT / "gif_global_100x80.GIF").read_bytes()
    (OUT / "gif_unterminated_100x80.gif").write_bytes(whole[:-2])
    add("gif_unterminated_100x80.gif", "image data without its block terminator and trailer (Pillow decodes it)")
    small = index_field(33, 21, 8, 409)
    write_gif(OUT / "gif_small_palette_33x21.gif", (33, 21), [gif_frame(small, 0, 0)],
              global_palette=palette_of(4, 410))
    add("gif_small_palette_33x21.gif", "4-entry palette, indices up to 7 (black beyond)")


def make_tiff(files: list[str]) -> None:
    def add(name, text):
        files.append(note(name, text))

    rgb = photo(160, 120, 500)
    for comp, tag in [(None, "raw"), ("tiff_lzw", "lzw"), ("tiff_deflate", "deflate"), ("packbits", "packbits"),
                      ("jpeg", "jpeg")]:
        name = f"tiff_rgb_{tag}_160x120.tif"
        Image.fromarray(rgb).save(OUT / name, compression=comp)
        add(name, f"RGB, {tag} (Pillow)")
    Image.fromarray(photo(225, 225, 501, noise=1)).save(OUT / "tiff_rgb_lzw_225x225.TIFF", compression="tiff_lzw")
    add("tiff_rgb_lzw_225x225.TIFF", "RGB LZW, 225x225")
    w, h = 57, 41
    rgb = photo(w, h, 502)
    a = alpha(w, h, 503)
    g = gray(w, h, 504)
    Image.fromarray(np.dstack([rgb, a]), "RGBA").save(OUT / "tiff_rgba_lzw_57x41.tif", compression="tiff_lzw")
    add("tiff_rgba_lzw_57x41.tif", "RGBA unassociated alpha (ExtraSamples=2), alpha dropped")
    Image.fromarray(g).save(OUT / "tiff_l_deflate_57x41.tif", compression="tiff_deflate")
    add("tiff_l_deflate_57x41.tif", "L, deflate")
    Image.fromarray(g > 120).save(OUT / "tiff_1_group4_57x41.tif", compression="group4")
    add("tiff_1_group4_57x41.tif", "1-bit, CCITT group 4")
    Image.fromarray(g > 90).save(OUT / "tiff_1_raw_57x41.tif")
    add("tiff_1_raw_57x41.tif", "1-bit, uncompressed")
    idx, pal = quantize(photo(w, h, 505, noise=0), 64)
    pim = Image.fromarray(idx, "P")
    pim.putpalette(pal.reshape(-1).tolist())
    pim.save(OUT / "tiff_p_lzw_57x41.tif", compression="tiff_lzw")
    add("tiff_p_lzw_57x41.tif", "palette (colormap // 256)")
    Image.fromarray(rgb).convert("CMYK").save(OUT / "tiff_cmyk_lzw_57x41.tif", compression="tiff_lzw")
    add("tiff_cmyk_lzw_57x41.tif", "CMYK (not inverted)")
    Image.fromarray(wide16(w, h, 506)).save(OUT / "tiff_i16_deflate_57x41.tif", compression="tiff_deflate")
    add("tiff_i16_deflate_57x41.tif", "16-bit grey little-endian (I;16), RGB = min(value, 255)")
    Image.fromarray(np.dstack([g, a]), "LA").save(OUT / "tiff_la_57x41.tif", compression="tiff_lzw")
    add("tiff_la_57x41.tif", "grey+alpha")
    Image.fromarray(rgb).convert("YCbCr").save(OUT / "tiff_ycbcr_jpeg_57x41.tif", compression="jpeg")
    add("tiff_ycbcr_jpeg_57x41.tif", "YCbCr JPEG-in-TIFF (libjpeg converts to RGB)")
    Image.fromarray(photo(64, 48, 507)).save(OUT / "tiff_multipage_64x48.tif", save_all=True, compression="tiff_lzw",
                                            append_images=[Image.fromarray(photo(64, 48, 508))])
    add("tiff_multipage_64x48.tif", "two pages: the first is returned")
    # hand-written layouts
    write_tiff(OUT / "tiff_rgb_tiled_deflate_100x80.tif", photo(100, 80, 510), bits=8, photometric=2,
               compression=8, tile=(32, 48))
    add("tiff_rgb_tiled_deflate_100x80.tif", "tiled 32x48 (partial edge tiles), deflate")
    write_tiff(OUT / "tiff_rgb_planar_57x41.tif", rgb, bits=8, photometric=2, planar=2, rows_per_strip=16)
    add("tiff_rgb_planar_57x41.tif", "planar configuration 2 (separate planes), strips of 16 rows")
    rng = np.random.default_rng(511)
    rgb16 = rgb.astype(np.uint16) * 256 + rng.integers(0, 256, rgb.shape)
    write_tiff(OUT / "tiff_rgb16_be_57x41.tif", rgb16, bits=16, photometric=2, big_endian=True, compression=8)
    add("tiff_rgb16_be_57x41.tif", "RGB 16-bit big-endian (MM), MSB kept")
    write_tiff(OUT / "tiff_i16_be_57x41.tif", wide16(w, h, 512), bits=16, photometric=1, big_endian=True)
    add("tiff_i16_be_57x41.tif", "16-bit grey big-endian (Pillow I;16B)")
    pre = (rgb.astype(np.uint32) * a[:, :, None] + 127) // 255
    write_tiff(OUT / "tiff_rgba_associated_57x41.tif", np.dstack([pre.astype(np.uint8), a]), bits=8, photometric=2,
               extra_samples=(1,), compression=8)
    add("tiff_rgba_associated_57x41.tif", "associated alpha (ExtraSamples=1): Pillow un-premultiplies")
    write_tiff(OUT / "tiff_l_miniswhite_57x41.tif", g, bits=8, photometric=0)
    add("tiff_l_miniswhite_57x41.tif", "8-bit WhiteIsZero (inverted)")
    write_tiff(OUT / "tiff_l4_57x41.tif", g >> 4, bits=4, photometric=1, compression=8)
    add("tiff_l4_57x41.tif", "4-bit grey")
    write_tiff(OUT / "tiff_1_fillorder2_57x41.tif", (g > 100).astype(np.uint8), bits=1, photometric=1, fill_order=2)
    add("tiff_1_fillorder2_57x41.tif", "1-bit, FillOrder=2")
    cmap = np.zeros((16, 3), np.uint16)
    cmap[:] = palette_of(16, 513).astype(np.uint16) * 257
    write_tiff(OUT / "tiff_p4_57x41.tif", index_field(w, h, 16, 514), bits=4, photometric=3, colormap=cmap)
    add("tiff_p4_57x41.tif", "4-bit palette")
    write_tiff(OUT / "tiff_orientation6_57x41.tif", rgb, bits=8, photometric=2, orientation=6)
    add("tiff_orientation6_57x41.tif", "Orientation=6: Pillow transposes TIFFs on load (41x57 result)")
    write_tiff(OUT / "tiff_orientation3_be_57x41.tif", g, bits=8, photometric=1, orientation=3, big_endian=True)
    add("tiff_orientation3_be_57x41.tif", "Orientation=3 (rotate 180), big-endian")
    small = photo(13, 7, 515)
    for o in (2, 4, 5, 7, 8):
        write_tiff(OUT / f"tiff_orientation{o}_13x7.tif", small, bits=8, photometric=2, orientation=o)
        add(f"tiff_orientation{o}_13x7.tif", f"Orientation={o}")
    Image.fromarray(photo(30, 20, 516)).convert("YCbCr").save(OUT / "tiff_ycbcr_lzw_30x20.tif", compression="tiff_lzw")
    add("tiff_ycbcr_lzw_30x20.tif", "YCbCr LZW: libtiff's TIFFRGBAImage conversion, as Pillow's libtiff decoder")
    Image.fromarray(photo(30, 20, 517)).save(OUT / "tiff_lzw_predictor_30x20.tif", compression="tiff_lzw",
                                             tiffinfo={317: 2})
    add("tiff_lzw_predictor_30x20.tif", "LZW with horizontal predictor")
    rng = np.random.default_rng(518)
    write_tiff(OUT / "tiff_cmyk16_20x10.tif", rng.integers(0, 65536, (10, 20, 4)).astype(np.uint16), bits=16,
               photometric=5)
    add("tiff_cmyk16_20x10.tif", "CMYK 16-bit (MSB)")
    signed = (wide16(20, 10, 519).astype(np.int32) - 30000).astype(np.int16).view(np.uint16)
    write_tiff(OUT / "tiff_i16_signed_20x10.tif", signed, bits=16, photometric=1, sample_format=2)
    add("tiff_i16_signed_20x10.tif", "signed 16-bit grey (Pillow I via I;16S): clipped to 0...255")
    write_tiff(OUT / "tiff_l2_miniswhite_20x10.tif", gray(20, 10, 520) >> 6, bits=2, photometric=0)
    add("tiff_l2_miniswhite_20x10.tif", "2-bit WhiteIsZero")
    write_tiff(OUT / "tiff_i16_miniswhite_20x10.tif", wide16(20, 10, 521), bits=16, photometric=0)
    add("tiff_i16_miniswhite_20x10.tif", "16-bit WhiteIsZero little-endian: Pillow reads I;16 without inversion")
    write_tiff(OUT / "tiff_rgba16_associated_20x10.tif", rng.integers(0, 65536, (10, 20, 4)).astype(np.uint16),
               bits=16, photometric=2, extra_samples=(1,))
    add("tiff_rgba16_associated_20x10.tif", "16-bit associated alpha: un-premultiplied on the MSBs")
    cmap = rng.integers(0, 65536, (256, 3))
    write_tiff(OUT / "tiff_pa_20x10.tif", np.dstack([index_field(20, 10, 256, 522), index_field(20, 10, 256, 523)]),
               bits=8, photometric=3, extra_samples=(2,), colormap=cmap)
    add("tiff_pa_20x10.tif", "palette + alpha (PA)")


def make_webp(files: list[str]) -> None:
    def add(name, text):
        files.append(note(name, text))

    Image.fromarray(photo(224, 224, 600)).save(OUT / "webp_lossy_224x224.webp", quality=80)
    add("webp_lossy_224x224.webp", "lossy VP8")
    Image.fromarray(photo(640, 360, 601)).save(OUT / "webp_lossy_640x360.WEBP", quality=75)
    add("webp_lossy_640x360.WEBP", "lossy VP8, D3 size")
    Image.fromarray(photo(227, 301, 602)).save(OUT / "webp_lossy_227x301.webp", quality=85)
    add("webp_lossy_227x301.webp", "lossy VP8, odd size")
    Image.fromarray(photo(100, 80, 603)).save(OUT / "webp_lossless_100x80.webp", lossless=True)
    add("webp_lossless_100x80.webp", "lossless VP8L")
    rgba = np.dstack([photo(97, 61, 604), alpha(97, 61, 604)])
    Image.fromarray(rgba, "RGBA").save(OUT / "webp_lossy_alpha_97x61.webp", quality=80)
    add("webp_lossy_alpha_97x61.webp", "lossy with ALPH chunk (VP8X), alpha dropped")
    Image.fromarray(rgba, "RGBA").save(OUT / "webp_lossless_alpha_97x61.webp", lossless=True)
    add("webp_lossless_alpha_97x61.webp", "lossless with alpha, alpha dropped")
    Image.fromarray(rgba, "RGBA").save(OUT / "webp_lossless_alpha_exact_97x61.webp", lossless=True, exact=True)
    add("webp_lossless_alpha_exact_97x61.webp", "lossless with alpha, exact RGB under transparent pixels")
    frames = [Image.fromarray(photo(64, 48, s)) for s in (605, 606)]
    frames[0].save(OUT / "webp_animated_64x48.webp", save_all=True, append_images=frames[1:], duration=100,
                   lossless=True)
    add("webp_animated_64x48.webp", "animated (lossless): first frame")
    frames = [Image.fromarray(np.dstack([photo(64, 48, s), alpha(64, 48, s)]), "RGBA") for s in (607, 608)]
    frames[0].save(OUT / "webp_animated_alpha_64x48.webp", save_all=True, append_images=frames[1:], duration=100,
                   quality=80)
    add("webp_animated_alpha_64x48.webp", "animated (lossy + alpha): first frame")
    # A hand-made animation whose first frame covers only part of the canvas.
    buf = io.BytesIO()
    Image.fromarray(photo(40, 30, 609)).save(buf, "WEBP", lossless=True)
    still = buf.getvalue()
    frame_payload = still[12:]                                   # the VP8L chunk
    def chunk(tag: bytes, data: bytes) -> bytes:
        return tag + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    def u24(v: int) -> bytes:
        return struct.pack("<I", v)[:3]
    vp8x = bytes([0x02 | 0x10, 0, 0, 0]) + u24(64 - 1) + u24(48 - 1)
    anim = struct.pack("<IH", 0xFF102030, 0)
    anmf = u24(8 // 2) + u24(6 // 2) + u24(40 - 1) + u24(30 - 1) + u24(100) + bytes([0]) + frame_payload
    body = b"WEBP" + chunk(b"VP8X", vp8x) + chunk(b"ANIM", anim) + chunk(b"ANMF", anmf)
    (OUT / "webp_animated_offset_64x48.webp").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    add("webp_animated_offset_64x48.webp", "animation whose first frame is 40x30 at (8,6): transparent black around")


def make_bad() -> dict[str, str]:
    BAD.mkdir(parents=True, exist_ok=True)
    kinds = {}
    src = (OUT / "jpeg_rgb_224x224.jpeg").read_bytes()
    (BAD / "truncated.jpg").write_bytes(src[: len(src) // 2])
    kinds["truncated.jpg"] = "truncated"
    rng = np.random.default_rng(900)
    (BAD / "random_bytes.png").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    kinds["random_bytes.png"] = "unrecognized"
    (BAD / "empty.jpg").write_bytes(b"")
    kinds["empty.jpg"] = "empty"
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    (BAD / "huge_header.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""))
    kinds["huge_header.png"] = "too_large"
    png = (OUT / "png_pillow_rgb_224x224.png").read_bytes()
    (BAD / "truncated.png").write_bytes(png[: len(png) * 2 // 3])
    kinds["truncated.png"] = "truncated"
    gif = (OUT / "gif_global_100x80.GIF").read_bytes()
    (BAD / "truncated.gif").write_bytes(gif[: len(gif) // 2])
    kinds["truncated.gif"] = "truncated"
    bmp = (OUT / "bmp_24_227x301.bmp").read_bytes()
    (BAD / "truncated.bmp").write_bytes(bmp[: len(bmp) // 2])
    kinds["truncated.bmp"] = "truncated"
    (BAD / "text.gif").write_bytes(b"this is not an image\n")
    kinds["text.gif"] = "unrecognized"
    webp = (OUT / "webp_lossy_224x224.webp").read_bytes()
    (BAD / "truncated.webp").write_bytes(webp[: len(webp) // 2])
    kinds["truncated.webp"] = "truncated"
    tif = (OUT / "tiff_rgb_lzw_160x120.tif").read_bytes()
    (BAD / "truncated.tif").write_bytes(tif[: len(tif) // 2])
    kinds["truncated.tif"] = "truncated"
    idx, pal = quantize(photo(40, 30, 910, noise=0), 16)
    half = idx.astype(np.uint8).tobytes()[: 40 * 15]
    frame = b"\x2C" + struct.pack("<HHHH", 0, 0, 40, 30) + b"\x00\x04" + _sub_blocks(lzw_encode(half, 4))
    write_gif(BAD / "lzw_ends_early.gif", (40, 30), [frame], global_palette=pal)
    kinds["lzw_ends_early.gif"] = "truncated"
    pal16 = np.concatenate([palette_of(16, 911)[:, ::-1], np.zeros((16, 1), np.uint8)], axis=1).tobytes()
    rle = bytes([5, 1, 0, 1])                                  # 5 pixels, then end of bitmap
    dib = struct.pack("<IiiHHIIiiII", 40, 12, 6, 1, 8, 1, len(rle), 0, 0, 16, 0)
    off = 14 + 40 + len(pal16)
    (BAD / "rle_ends_early.bmp").write_bytes(b"BM" + struct.pack("<IHHI", off + len(rle), 0, 0, off) + dib + pal16 + rle)
    kinds["rle_ends_early.bmp"] = "corrupt"
    crc = bytearray((OUT / "png_rgb8_filters_61x43.png").read_bytes())
    crc[crc.index(b"sRGB") + 4] ^= 0xFF                        # sRGB payload no longer matches its CRC
    (BAD / "header_crc.png").write_bytes(bytes(crc))
    kinds["header_crc.png"] = "corrupt"
    return kinds


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------

def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def describe(name: str) -> dict:
    path = OUT / name
    with Image.open(path) as im:
        fmt, mode, size = im.format, im.mode, im.size
        rgb_im = im.convert("RGB")
    arr = np.ascontiguousarray(np.asarray(rgb_im, dtype=np.uint8))
    assert arr.shape == (size[1], size[0], 3), (name, arr.shape, size)
    entry = {
        "file": name,
        "format": {"JPEG": "jpeg", "PNG": "png", "BMP": "bmp", "GIF": "gif", "TIFF": "tiff", "WEBP": "webp",
                   "MPO": "jpeg"}[fmt],
        "pillow_mode": mode,
        "width": size[0],
        "height": size[1],
        "rgb_sha256": sha256(arr.tobytes()),
        "rgb_channel_sums": [int(arr[:, :, c].sum(dtype=np.int64)) for c in range(3)],
        "note": notes.get(name, ""),
        "pillow_identical_expected": True,
    }
    for key, tf in (("center_crop_224", PATH_A), ("resize_248_bicubic_center_crop_224", PATH_B)):
        t = tf(rgb_im)
        a = np.ascontiguousarray(t.numpy().astype(np.float32))
        entry[key] = {
            "shape": list(a.shape),
            "sha256": sha256(a.tobytes()),
            "channel_means": [float(a[c].astype(np.float64).mean()) for c in range(3)],
        }
    return entry


def pillow_failure(path: Path) -> str:
    """What Pillow raises for a bad input (for the record; the Swift tests check `failure`)."""
    try:
        with Image.open(path) as im:
            im.convert("RGB")
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        return f"{type(e).__name__}: {e}".replace(str(path), path.name)
    raise AssertionError(f"{path} decodes in Pillow")


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    files: list[str] = []
    make_jpeg(files)
    make_png(files)
    make_bmp(files)
    make_gif(files)
    make_tiff(files)
    make_webp(files)
    bad = make_bad()
    leftovers = sorted(set(os.listdir(OUT)) - set(files) - {"bad"})
    for extra in leftovers:                       # scratch files written on the way
        (OUT / extra).unlink()
    manifest = {
        "generator": "tools/reference/make_image_fixtures.py",
        "versions": {"pillow": PIL.__version__, "numpy": np.__version__, "torch": torch.__version__,
                     "torchvision": torchvision.__version__},
        "semantics": "np.asarray(Image.open(p).convert('RGB')); tensors: torchvision transforms on that image",
        "images": [describe(n) for n in sorted(files)],
        "bad": [{"file": f"bad/{k}", "failure": v, "pillow": pillow_failure(BAD / k)} for k, v in sorted(bad.items())],
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(files)} images, {len(bad)} bad files, {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
