#!/usr/bin/env python3
"""Reruns issue 11's attack categories against the release binary and prints one table per category.

Dev-only (Python 3 standard library only); never needed by CI or the tests. Every hostile input is
generated here from a seed and from the fixtures under Tests/Fixtures; every case runs in its own folder under
--work, and the script checks for each: a signal (crash), a timeout (hang), files created, changed or removed
outside the folder the command may write to (snapshots before and after), the peak RSS (wait4's ru_maxrss)
and the exit status. Categories: images, bombs, models, pickles, tars, bitflips, create, hub, configs, kills.

    swift build -c release
    python3 tools/attack/rerun.py --seed 1 --work /tmp/attack            # all categories
    python3 tools/attack/rerun.py --seed 1 --only images,bombs            # some of them

See tools/attack/README.md for what each category does and what counts as a failure.
"""
import argparse
import glob
import hashlib
import http.server
import io
import json
import os
import random
import shutil
import signal
import socket
import socketserver
import stat
import struct
import subprocess
import sys
import tarfile
import threading
import time
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
MODEL = os.path.join(FIXTURES, "models", "release-trained")
MARKER_NAME = "PWNED-MARKER"
STDIO = None  # a folder outside --work for the commands' stdout and stderr (set by main)


# ----------------------------------------------------------------------------------------------- running and checking

class Case:
    """What one run of the binary did."""

    def __init__(self, category, name):
        self.category, self.name = category, name
        self.rc = None          # exit status, or None when killed by a signal
        self.signal = None      # the signal that ended it (not counting our own kill after a timeout)
        self.hang = False       # ran past its timeout (then killed)
        self.rss_kb = 0         # peak resident set size, KiB
        self.outside = []       # paths created/changed/removed outside the allowed folder
        self.problems = []      # other failed expectations (wrong exit, dropped rows, marker created, ...)
        self.stdout = self.stderr = ""
        self.seconds = 0.0


def run(case, argv, timeout, env=None, cwd=None, kill_after=None):
    """Runs argv, recording exit, signal, timeout and peak RSS on `case`. `kill_after` (seconds) SIGKILLs the
    process on purpose (a kill test): that is neither a crash nor a hang.

    The command runs under GNU time, which reports its child's ru_maxrss: measured from this process, wait4's
    ru_maxrss would include the RSS of the forked Python before exec (Linux keeps the larger of the two)."""
    out_path = os.path.join(STDIO, "stdout")
    err_path = os.path.join(STDIO, "stderr")
    time_path = os.path.join(STDIO, "time")
    full_env = dict(os.environ)
    full_env.update(env or {})
    if os.path.exists(time_path):
        os.unlink(time_path)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M %x", "-o", time_path] + argv, stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, env=full_env, cwd=cwd, start_new_session=True)
        killed_on_purpose = False
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            elapsed = time.monotonic() - started
            if kill_after is not None and elapsed >= kill_after and not killed_on_purpose:
                os.killpg(p.pid, signal.SIGKILL)
                killed_on_purpose = True
            elif elapsed >= timeout and not case.hang:
                case.hang = True
                os.killpg(p.pid, signal.SIGKILL)
            time.sleep(0.01)
        p.returncode = 0  # reaped by wait4; keep Popen from waiting again
    case.seconds = time.monotonic() - started
    report = open(time_path).read() if os.path.exists(time_path) else ""
    last = report.strip().splitlines()[-1].split() if report.strip() else []
    if len(last) == 2 and last[0].isdigit():
        case.rss_kb = max(case.rss_kb, int(last[0]))
    died = [line for line in report.splitlines() if line.startswith("Command terminated by signal")]
    if os.WIFSIGNALED(status) or died:
        # time itself killed (our SIGKILL of the group), or its child ended by a signal.
        if not case.hang and not killed_on_purpose:
            case.signal = int(died[0].split()[-1]) if died else os.WTERMSIG(status)
    else:
        case.rc = os.WEXITSTATUS(status)
    with open(out_path, "rb") as f:
        case.stdout = f.read().decode("utf-8", "replace")
    with open(err_path, "rb") as f:
        case.stderr = f.read().decode("utf-8", "replace")
    return case


def snapshot(root):
    """Every path under root (links not followed) → (kind, size, mtime_ns, inode)."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            try:
                s = os.lstat(path)
            except OSError:
                continue
            kind = stat.S_IFMT(s.st_mode)
            # A folder's own mtime changes with its entries, which are compared themselves.
            seen[path] = (kind, s.st_size, s.st_mtime_ns, s.st_ino) if kind != stat.S_IFDIR else (kind,)
    return seen


def changes_outside(before, after, allowed):
    """Paths that differ between two snapshots and lie outside every folder in `allowed`."""
    allowed = [a.rstrip("/") for a in allowed]
    changed = [p for p in set(before) | set(after) if before.get(p) != after.get(p)]
    stray = glob.glob("/tmp/attack-evil*")  # absolute targets of the hostile inputs
    return sorted(p for p in changed if not any(p == a or p.startswith(a + "/") for a in allowed)) + stray


def expect(case, condition, message):
    if not condition:
        case.problems.append(message)


def tail(text, n=200):
    text = text.strip().replace("\n", " | ")
    return text[-n:]


# --------------------------------------------------------------------------------------------------- image mutations

def image_format(data):
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] in (b"GIF8",):
        return "gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def fixture_images():
    """{format: [(name, bytes)]} for the fixture images of every format."""
    folder = os.path.join(FIXTURES, "images")
    found = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        fmt = image_format(data)
        if fmt:
            found.setdefault(fmt, []).append((name, data))
    return found


EXTREMES = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def header_edit(rng, fmt, data):
    """Overwrites a header field with an extreme value; for PNG the IHDR fields, CRC recomputed."""
    b = bytearray(data)
    if fmt == "png" and len(b) > 33 and rng.random() < 0.6:
        field = rng.choice([(16, 4), (20, 4), (24, 1), (25, 1), (26, 1), (27, 1), (28, 1)])
        value = rng.choice(EXTREMES + [13000, 65535, 1 << 20])
        b[field[0]:field[0] + field[1]] = (value & ((1 << (8 * field[1])) - 1)).to_bytes(field[1], "big")
        b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])) & 0xFFFFFFFF)
        return bytes(b)
    if fmt == "jpeg" and rng.random() < 0.6:
        for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
            at = data.find(marker)
            if at > 0 and at + 9 < len(b):
                field = rng.choice([(at + 4, 1), (at + 5, 2), (at + 7, 2), (at + 9, 1), (at + 2, 2)])
                value = rng.choice(EXTREMES)
                b[field[0]:field[0] + field[1]] = (value & ((1 << (8 * field[1])) - 1)).to_bytes(field[1], "big")
                return bytes(b)
    # Little-endian formats: a 2- or 4-byte field among the first bytes (dimensions, offsets, counts).
    limit = {"bmp": 54, "gif": 13, "tiff": 64, "webp": 40, "png": 64, "jpeg": 64}[fmt]
    width = rng.choice([1, 2, 4])
    at = rng.randrange(0, max(1, min(limit, len(b)) - width))
    value = rng.choice(EXTREMES)
    order = "big" if fmt in ("png", "jpeg") or (fmt == "tiff" and data[:2] == b"MM") else "little"
    b[at:at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, order)
    return bytes(b)


def mutate_image(rng, fmt, data):
    kind = rng.choice(["bitflip", "truncate", "insert", "header"])
    if kind == "bitflip":
        b = bytearray(data)
        for _ in range(rng.choice([1, 2, 4, 8, 16, 64])):
            # Half the flips in the first 256 bytes, where the headers are.
            at = rng.randrange(min(256, len(b))) if rng.random() < 0.5 else rng.randrange(len(b))
            b[at] ^= 1 << rng.randrange(8)
        return kind, bytes(b)
    if kind == "truncate":
        return kind, data[:rng.randrange(0, len(data))]
    if kind == "insert":
        at = rng.randrange(len(data) + 1)
        junk = bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 3, 8, 64])))
        return kind, data[:at] + junk + data[at:]
    return kind, header_edit(rng, fmt, data)


def category_images(args, root, rng):
    per_format = args.images // 6
    fixtures = fixture_images()
    files = []
    for fmt in ["jpeg", "png", "bmp", "gif", "tiff", "webp"]:
        sources = fixtures[fmt]
        for i in range(per_format):
            name, data = sources[rng.randrange(len(sources))]
            kind, mutated = mutate_image(rng, fmt, data)
            stem, ext = os.path.splitext(name)
            files.append(("%s_%04d_%s_%s%s" % (fmt, i, kind, stem[:40], ext), mutated))
    rng.shuffle(files)
    cases = []
    batch = 150
    for start in range(0, len(files), batch):
        case = Case("images", "batch-%02d" % (start // batch))
        folder = os.path.join(root, case.name)
        os.makedirs(folder)
        names = []
        for name, data in files[start:start + batch]:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
            names.append(name)
        before = snapshot(root)
        run(case, [args.bin, "detect", "--model", MODEL, "--format", "jsonl", "--threads", "1", folder],
            timeout=600, cwd=folder)
        case.outside = changes_outside(before, snapshot(root), [])
        expect(case, case.rc in (0, 1), "exit %s: %s" % (case.rc, tail(case.stderr)))
        rows = {}
        for line in case.stdout.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                case.problems.append("not JSON: %r" % line[:100])
                continue
            rows[os.path.basename(row.get("path", ""))] = rows.get(os.path.basename(row.get("path", "")), 0) + 1
        missing = [n for n in names if rows.get(n, 0) != 1]
        expect(case, not missing, "%d inputs without exactly one row, e.g. %s" % (len(missing), missing[:3]))
        expect(case, sum(rows.values()) == len(names), "%d rows for %d inputs" % (sum(rows.values()), len(names)))
        case.inputs = len(names)
        case.failed_rows = sum(1 for line in case.stdout.splitlines() if '"error"' in line)
        cases.append(case)
    return cases


# ------------------------------------------------------------------------------------------------ decompression bombs

def png_bytes(width, height, bit_depth, color_type, idat, interlace=0):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def zeros_deflated(count, level=9):
    """zlib stream of `count` zero bytes, compressed in pieces (never holding `count` bytes)."""
    c = zlib.compressobj(level)
    piece = bytes(1 << 20)
    out = []
    left = count
    while left > 0:
        n = min(left, len(piece))
        out.append(c.compress(piece[:n]))
        left -= n
    out.append(c.flush())
    return b"".join(out)


def png_rows_deflated(width, height, bytes_per_pixel, extra=0):
    """A zlib stream for a PNG of zero rows (filter byte 0 each), plus `extra` zeros past the last row."""
    return zeros_deflated(height * (1 + width * bytes_per_pixel) + extra)


def gif_bomb(width, height, frame_w, frame_h):
    """A GIF with a huge logical screen / frame and a tiny LZW body (2-bit codes: clear, then end)."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, frame_w, frame_h, 0)
    lzw = b"\x02" + b"\x02\x44\x01\x00"  # min code size 2; one data sub-block; terminator
    return head + image + lzw + b"\x3b"


def tiff_bomb(width, height, strip, compression=8, bits=8, samples=3):
    """A little-endian TIFF with one strip of `strip` bytes and the given declared size."""
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, bits), (259, 3, 1, compression), (262, 3, 1, 2),
        (273, 4, 1, 0), (277, 3, 1, samples), (278, 4, 1, height), (279, 4, 1, len(strip)), (284, 3, 1, 1),
    ]
    ifd_offset = 8
    data_offset = ifd_offset + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset) + struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_offset
        if typ == 3:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0) + strip
    return bytes(out)


def webp_vp8l_bomb(width, height):
    """A lossless WebP header declaring width×height (≤ 16384), with a few junk bytes of image data."""
    bits = (width - 1) | ((height - 1) << 14) | (1 << 28)
    body = b"\x2f" + struct.pack("<I", bits) + bytes(32)
    chunk = b"VP8L" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def webp_vp8x_bomb(width, height, inner):
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + inner[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_bomb(width, height, progressive=False):
    """A real small JPEG whose SOF is edited to declare width×height (the scan data stays tiny)."""
    with open(os.path.join(FIXTURES, "images", "jpeg_progressive_320x240.jpg" if progressive else "jpeg_rgb_100x80.jpg"), "rb") as f:
        b = bytearray(f.read())
    at = b.find(b"\xff\xc2" if progressive else b"\xff\xc0")
    b[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(b)


def bomb_inputs():
    big = 13000
    rgba16 = png_rows_deflated(big, big, 8)
    bombs = [
        ("png-13000sq-rgba16.png", png_bytes(big, big, 16, 6, rgba16)),
        ("png-13000sq-rgb16.png", png_bytes(big, big, 16, 2, png_rows_deflated(big, big, 6))),
        ("png-13000sq-gray16.png", png_bytes(big, big, 16, 0, png_rows_deflated(big, big, 2))),
        ("png-13000sq-rgba16-interlaced.png", png_bytes(big, big, 16, 6, rgba16, interlace=1)),
        ("png-13000sq-rgba8.png", png_bytes(big, big, 8, 6, png_rows_deflated(big, big, 4))),
        ("png-1gib-trailing-zlib.png", png_bytes(1000, 1000, 8, 2, png_rows_deflated(1000, 1000, 3, extra=1 << 30))),
        ("png-100000sq-declared.png", png_bytes(100000, 100000, 8, 2, zeros_deflated(1 << 16))),
        ("png-2^31-wide.png", png_bytes(0x7FFFFFFF, 1, 16, 6, zeros_deflated(1 << 16))),
        ("png-1x2^31.png", png_bytes(1, 0x7FFFFFFF, 8, 0, zeros_deflated(1 << 20))),
        ("png-13379sq-p1.png", None),  # filled below: palette at the pixel limit
        ("gif-65535sq-screen-and-frame.gif", gif_bomb(65535, 65535, 65535, 65535)),
        ("gif-65535sq-screen-tiny-frame.gif", gif_bomb(65535, 65535, 1, 1)),
        ("gif-13000sq.gif", gif_bomb(13000, 13000, 13000, 13000)),
        ("tiff-13000sq-deflate.tif", tiff_bomb(big, big, zeros_deflated(big * big * 3))),
        ("tiff-100000sq-deflate.tif", tiff_bomb(100000, 100000, zeros_deflated(1 << 20))),
        ("tiff-2^32-1-wide.tif", tiff_bomb(0xFFFFFFFF, 1, zeros_deflated(1 << 10))),
        ("tiff-13000sq-16bit-deflate.tif", tiff_bomb(big, big, zeros_deflated(1 << 24), bits=16)),
        ("tiff-13000sq-raw-short.tif", tiff_bomb(big, big, bytes(1 << 16), compression=1)),
        ("webp-16383sq-vp8l.webp", webp_vp8l_bomb(16383, 16383)),
        ("webp-13000sq-vp8l.webp", webp_vp8l_bomb(13000, 13000)),
        ("webp-vp8x-16777216sq.webp", None),
        ("jpeg-65500sq.jpg", jpeg_bomb(65500, 65500)),
        ("jpeg-13000sq.jpg", jpeg_bomb(13000, 13000)),
        ("jpeg-13000sq-progressive.jpg", jpeg_bomb(13000, 13000, progressive=True)),
        ("jpeg-65500x2000.jpg", jpeg_bomb(65500, 2000)),
        ("bmp-2^31-declared.bmp", None),
    ]
    out = []
    for name, data in bombs:
        if name == "png-13379sq-p1.png":
            plte = png_chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff")
            idat = png_rows_deflated(13379, 13379, 1)  # 1-bit rows are width/8 bytes; over-long is fine (ignored)
            ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 13379, 13379, 1, 3, 0, 0, 0))
            data = b"\x89PNG\r\n\x1a\n" + ihdr + plte + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
        elif name == "webp-vp8x-16777216sq.webp":
            data = webp_vp8x_bomb(1 << 24, 1 << 24, webp_vp8l_bomb(64, 64))
        elif name == "bmp-2^31-declared.bmp":
            data = b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 0x7FFFFFFF, -0x7FFFFFFF, 1, 24, 0, 0, 0, 0, 0, 0) + bytes(64)
        out.append((name, data))
    return out


def category_bombs(args, root, rng):
    cases = []
    # The model's own footprint: detect on one small image.
    base = Case("bombs", "baseline")
    small = os.path.join(FIXTURES, "images", "png_pillow_rgb_224x224.png")
    run(base, [args.bin, "detect", "--model", MODEL, "--format", "jsonl", "--threads", "1", small], timeout=120)
    baseline_kb = base.rss_kb
    folder = os.path.join(root, "inputs")
    os.makedirs(folder)
    inputs = bomb_inputs()
    for name, data in inputs:
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    runs = [(name, [os.path.join(folder, name)], "1", None) for name, _ in inputs]
    # The case: four 13000² 16-bit PNGs together (2 threads, the default budget, and a 256M budget).
    four = []
    for k in range(4):
        path = os.path.join(folder, "four-%d.png" % k)
        shutil.copyfile(os.path.join(folder, "png-13000sq-rgba16.png"), path)
        four.append(path)
    runs.append(("four-13000sq-rgba16-2threads", four, "2", None))
    runs.append(("four-13000sq-rgba16-2threads-256M", four, "2", "256M"))
    runs.append(("jpeg-13000sq-progressive-256M", [os.path.join(folder, "jpeg-13000sq-progressive.jpg")], "1", "256M"))
    runs.append(("interlaced-13000sq-256M", [os.path.join(folder, "png-13000sq-rgba16-interlaced.png")], "1", "256M"))
    for name, paths, threads, budget in runs:
        case = Case("bombs", name)
        argv = [args.bin, "detect", "--model", MODEL, "--format", "jsonl", "--threads", threads]
        if budget:
            argv += ["--decode-memory", budget]
        before = snapshot(root)
        run(case, argv + paths, timeout=300, cwd=folder)
        case.outside = changes_outside(before, snapshot(root), [])
        budget_kb = (256 << 10 if budget == "256M" else 1 << 20) + baseline_kb
        expect(case, case.rss_kb <= budget_kb, "peak %d MiB over budget %d MiB" % (case.rss_kb >> 10, budget_kb >> 10))
        expect(case, case.rc in (0, 1), "exit %s: %s" % (case.rc, tail(case.stderr)))
        rows = [l for l in case.stdout.splitlines() if l.strip()]
        expect(case, len(rows) == len(paths), "%d rows for %d inputs" % (len(rows), len(paths)))
        case.note = "%.1fs %s" % (case.seconds, tail(rows[0] if rows else case.stderr, 90))
        cases.append(case)
    args.baseline_kb = baseline_kb
    return cases


# --------------------------------------------------------------------------------------------------- model files

def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_safetensors(path, header, body, raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def model_mutations(rng):
    """[(name, function(folder))]: each edits a copy of the fixture model folder."""
    muts = []
    st = "model.safetensors"

    def header_edit_fn(edit):
        def apply(folder):
            path = os.path.join(folder, st)
            header, body = read_safetensors(path)
            result = edit(header, body)
            if isinstance(result, tuple):
                header, body = result
            write_safetensors(path, header, body)
        return apply

    def tensor_names(folder=MODEL):
        header, _ = read_safetensors(os.path.join(folder, st))
        return sorted(k for k in header if k != "__metadata__")

    names = tensor_names()
    pick = lambda: names[rng.randrange(len(names))]
    # Shapes.
    for shape in ([2 ** 62, 2 ** 62, 4, 1], [-1, 32], [2 ** 63 - 1], [0], [1.5, 32], ["32"], [], [2 ** 64], [32] * 70,
                  [1, 1, 1, 1, 1, 1, 1, 1, 2 ** 40], None):
        name = pick()
        muts.append(("shape %s on %s" % (str(shape)[:30], name), header_edit_fn(lambda h, b, n=name, s=shape: h[n].__setitem__("shape", s))))
    # Offsets.
    for offsets in ([0, 2 ** 63], [-8, 0], [10, 5], [0, 0], [1.5, 9.5], [0, 2 ** 64], ["0", "4"], [0], [0, 1, 2], None):
        name = pick()
        muts.append(("offsets %s on %s" % (offsets, name), header_edit_fn(lambda h, b, n=name, o=offsets: h[n].__setitem__("data_offsets", o))))
    muts.append(("overlapping offsets", header_edit_fn(lambda h, b: [h[n].__setitem__("data_offsets", h[names[0]]["data_offsets"]) for n in names[1:2]])))
    muts.append(("trailing bytes", header_edit_fn(lambda h, b: (h, b + bytes(64)))))
    muts.append(("body cut by 1", header_edit_fn(lambda h, b: (h, b[:-1]))))
    # Dtypes.
    for dtype in ("F64", "I64", "BOOL", "F8_E4M3", "X99", "", 7, None):
        name = pick()
        muts.append(("dtype %r on %s" % (dtype, name), header_edit_fn(lambda h, b, n=name, d=dtype: h[n].__setitem__("dtype", d))))
    # Whole header.
    def raw(name, make):
        def apply(folder):
            path = os.path.join(folder, st)
            header, body = read_safetensors(path)
            with open(path, "wb") as f:
                f.write(make(header, body))
        muts.append((name, apply))
    raw("header length 2^64-1", lambda h, b: struct.pack("<Q", 2 ** 64 - 1) + json.dumps(h).encode() + b)
    raw("header length 2^63", lambda h, b: struct.pack("<Q", 2 ** 63) + json.dumps(h).encode() + b)
    raw("header length 0", lambda h, b: struct.pack("<Q", 0) + json.dumps(h).encode() + b)
    raw("header length past file", lambda h, b: struct.pack("<Q", len(b) + 10 ** 6) + json.dumps(h).encode() + b)
    raw("header length 100 MB + 1", lambda h, b: struct.pack("<Q", 100_000_001) + json.dumps(h).encode() + b)
    raw("header not JSON", lambda h, b: struct.pack("<Q", 16) + b"\xff" * 16 + b)
    raw("header a JSON list", lambda h, b: struct.pack("<Q", 2) + b"[]" + b)
    raw("header deep nesting", lambda h, b: struct.pack("<Q", 200000) + b"[" * 100000 + b"]" * 100000 + b)
    raw("metadata not strings", lambda h, b: (lambda t: struct.pack("<Q", len(t)) + t + b)(json.dumps(dict(h, __metadata__={"a": 1})).encode()))
    raw("duplicate keys", lambda h, b: (lambda t: struct.pack("<Q", len(t)) + t + b)(json.dumps(h).encode()[:-1] + b"," + json.dumps(names[0]).encode() + b":" + json.dumps(h[names[0]]).encode() + b"}"))
    raw("empty file", lambda h, b: b"")
    raw("7 bytes", lambda h, b: b"\x08\x00\x00\x00\x00\x00\x00")
    for k in range(6):
        raw("truncated %d" % k, lambda h, b, k=k: (lambda full: full[:rng.randrange(len(full))])(struct.pack("<Q", len(json.dumps(h))) + json.dumps(h).encode() + b))
    for k in range(8):
        def flip(h, b, k=k):
            full = bytearray(struct.pack("<Q", len(json.dumps(h))) + json.dumps(h).encode() + b)
            for _ in range(1 + k):
                at = rng.randrange(8 + len(json.dumps(h)))
                full[at] ^= 1 << rng.randrange(8)
            return bytes(full)
        raw("header bit flips %d" % k, flip)
    # Missing / extra tensors.
    muts.append(("tensor removed", header_edit_fn(lambda h, b: h.pop(names[-1]))))
    # config.json values.
    def config_edit(key, value, raw_text=None):
        def apply(folder):
            path = os.path.join(folder, "config.json")
            if raw_text is not None:
                text = raw_text
            else:
                with open(path) as f:
                    c = json.load(f)
                if value is DELETE:
                    c.pop(key, None)
                else:
                    c[key] = value
                text = json.dumps(c)
            with open(path, "w") as f:
                f.write(text)
        return apply
    for key, value in [("num_hidden_layers", 10000000), ("num_hidden_layers", 3), ("num_hidden_layers", -1),
                       ("num_hidden_layers", 0), ("hidden_size", 2 ** 63), ("hidden_size", "192"), ("hidden_size", 31),
                       ("hidden_size", 1.5), ("hidden_size", None), ("num_attention_heads", 0), ("num_attention_heads", 3),
                       ("intermediate_size", 10 ** 12), ("image_size", 2 ** 31), ("image_size", 7), ("patch_size", 0),
                       ("patch_size", 2 ** 40), ("num_channels", 1000), ("layer_norm_eps", "x"), ("layer_norm_eps", -1),
                       ("hidden_act", None), ("hidden_act", "relu6x"), ("qkv_bias", "yes"), ("model_type", 7),
                       ("hidden_size", DELETE), ("image_size", 1e308)]:
        muts.append(("config %s=%r" % (key, value if value is not DELETE else "deleted"), config_edit(key, value)))
    for label, text in [("config not JSON", "{hidden_size: 32"), ("config a list", "[1,2]"), ("config empty", ""),
                        ("config 20 MB", " " * (20 << 20) + "{}"), ("config deep nesting", "[" * 100000 + "]" * 100000),
                        ("config NUL bytes", "\x00" * 100), ("config huge number", '{"hidden_size": 1' + "0" * 5000 + "}")]:
        muts.append((label, config_edit(None, None, raw_text=text)))
    # Heads (this project's safetensors format).
    def head_edit(label, edit):
        def apply(folder):
            path = os.path.join(folder, "heads", "linear.safetensors")
            header, body = read_safetensors(path)
            result = edit(header, body)
            if isinstance(result, tuple):
                header, body = result
            write_safetensors(path, header, body)
        muts.append(("head " + label, apply))
    head_edit("metadata removed", lambda h, b: h.pop("__metadata__", None))
    head_edit("all tensors removed", lambda h, b: [h.pop(k) for k in list(h) if k != "__metadata__"])
    head_edit("shape 2^62", lambda h, b: [h[k].__setitem__("shape", [2 ** 62, 2 ** 62]) for k in list(h)[:2] if k != "__metadata__"])
    head_edit("body cut", lambda h, b: (h, b[:len(b) // 2]))
    head_edit("metadata kind bogus", lambda h, b: h.setdefault("__metadata__", {}).update({k: "\u0000bogus" for k in h.get("__metadata__", {})}))
    # Files missing or odd.
    def remove(rel):
        return lambda folder: os.unlink(os.path.join(folder, rel))
    muts.append(("model.safetensors missing", remove(st)))
    muts.append(("config.json missing", remove("config.json")))
    muts.append(("model.safetensors is a folder", lambda folder: (os.unlink(os.path.join(folder, st)), os.mkdir(os.path.join(folder, st)))))
    muts.append(("config.json is a FIFO", lambda folder: (os.unlink(os.path.join(folder, "config.json")), os.mkfifo(os.path.join(folder, "config.json")))))
    muts.append(("model.safetensors links to the zero device", lambda folder: (os.unlink(os.path.join(folder, st)), os.symlink("/dev/zero", os.path.join(folder, st)))))
    return muts


class _Delete:
    def __repr__(self):
        return "deleted"


DELETE = _Delete()


def category_models(args, root, rng):
    cases = []
    image = os.path.join(FIXTURES, "images", "png_pillow_rgb_224x224.png")
    for i, (name, apply) in enumerate(model_mutations(rng)):
        case = Case("models", name)
        folder = os.path.join(root, "%03d" % i)
        shutil.copytree(MODEL, folder)
        try:
            apply(folder)
        except Exception as error:  # a mutation that cannot apply to this fixture
            case.problems.append("mutation failed: %r" % error)
            cases.append(case)
            continue
        before = snapshot(root)
        run(case, [args.bin, "detect", "--model", folder, "--format", "jsonl", "--threads", "1", image], timeout=120, cwd=folder)
        case.outside = changes_outside(before, snapshot(root), [])
        # A mutation can leave a valid model (num_hidden_layers 3 with 2 present is not valid, but e.g. a flip in
        # a float of the header can be harmless): exit 0 is accepted only with a full row; otherwise 2 + message.
        if case.rc == 0:
            expect(case, '"score"' in case.stdout, "exit 0 without a verdict")
        else:
            expect(case, case.rc == 2, "exit %s (expected 2): %s" % (case.rc, tail(case.stderr)))
            expect(case, len(case.stderr.strip()) > 10, "no message")
        case.note = tail(case.stderr, 120)
        cases.append(case)
    return cases


# ------------------------------------------------------------------------------------------------------------ pickles

def pickles(marker):
    """[(name, bytes)]: crafted pickles; the ones that would run code `touch` the marker file."""
    cmd = ("touch " + marker).encode()
    P2 = b"\x80\x02"
    P4 = b"\x80\x04"

    def short_unicode(s):
        s = s.encode()
        return b"\x8c" + bytes([len(s)]) + s

    out = [
        ("GLOBAL os.system REDUCE (proto 0)", b"cos\nsystem\n(S'" + cmd + b"'\ntR."),
        ("GLOBAL posix.system REDUCE", b"cposix\nsystem\n(S'" + cmd + b"'\ntR."),
        ("GLOBAL builtins.eval", P2 + b"cbuiltins\neval\n(X" + struct.pack("<I", len(b"__import__('os').system('" + cmd + b"')")) + b"__import__('os').system('" + cmd + b"')" + b"tR."),
        ("GLOBAL builtins.exec", P2 + b"cbuiltins\nexec\n(X" + struct.pack("<I", len(b"import os;os.system('" + cmd + b"')")) + b"import os;os.system('" + cmd + b"')" + b"tR."),
        ("GLOBAL subprocess.Popen", P2 + b"csubprocess\nPopen\n((S'touch'\nS'" + marker.encode() + b"'\nltR."),
        ("STACK_GLOBAL os.system", P4 + short_unicode("os") + short_unicode("system") + b"\x93" + short_unicode(cmd.decode()) + b"\x85R."),
        ("INST os.system", b"(S'" + cmd + b"'\nios\nsystem\n."),
        ("OBJ os.system", P2 + b"(cos\nsystem\nS'" + cmd + b"'\no."),
        ("NEWOBJ os.system", P2 + b"cos\nsystem\n(S'" + cmd + b"'\ntN\x81."),
        ("BUILD with __setstate__ from os", P2 + b"cos\nsystem\n)\x81}b."),
        ("sklearn class then REDUCE os.system", P2 + b"csklearn.linear_model._logistic\nLogisticRegression\n)\x81cos\nsystem\n(S'" + cmd + b"'\ntRb."),
        ("numpy reconstruct huge shape", P2 + b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n(K\x00tc_codecs\nencode\n(X\x01\x00\x00\x00bX\x06\x00\x00\x00latin1tRtR(K\x01(\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x3f\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x3ftcnumpy\ndtype\n(X\x02\x00\x00\x00f8K\x00K\x01tR(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x00tb."),
        ("BINUNICODE length 2^32-1", P2 + b"X\xff\xff\xff\xff" + b"a" * 16 + b"."),
        ("BINBYTES8 length 2^63", P4 + b"\x8e" + struct.pack("<Q", 2 ** 63) + b"abc."),
        ("BINUNICODE8 length 2^64-1", P4 + b"\x8d" + struct.pack("<Q", 2 ** 64 - 1) + b"abc."),
        ("LONG4 length 2^31-1", P2 + b"\x8b\xff\xff\xff\x7f" + b"\x01" * 64 + b"."),
        ("LONG4 negative length", P2 + b"\x8b\xff\xff\xff\xff."),
        ("FRAME length 2^63", P4 + b"\x95" + struct.pack("<Q", 2 ** 63) + b"N."),
        ("deep nesting 100000 lists", P2 + b"]" * 100000 + b"a" * 99999 + b"."),
        ("deep nesting 1e6 marks", P2 + b"(" * 1000000 + b"."),
        ("memo get huge index", P2 + b"j\xff\xff\xff\xff."),
        ("memo put 2^32-1 then get", P2 + b"Nr\xff\xff\xff\xffj\xff\xff\xff\xff."),
        ("persistent id", P2 + b"X\x01\x00\x00\x00x" + b"Q."),
        ("extension code", P2 + b"\x82\x01."),
        ("empty", b""),
        ("STOP only", b"."),
        ("huge list by DUP", P2 + b"]N" + b"2a" * 1 + b"(" + b"N" * 1000 + b"e" + b"."),
    ]
    # A joblib-style zlib bomb: zlib header then 2 GiB of zeros compressed.
    bomb = zlib.compress(P2 + b"X" + struct.pack("<I", 2 ** 31) + bytes(2 ** 31 // 1), 9) if False else None
    comp = zlib.compressobj(9)
    data = [comp.compress(P2 + b"B" + struct.pack("<I", 0x7FFFFFFF))]
    zero = bytes(1 << 20)
    for _ in range(2048):
        data.append(comp.compress(zero))
    data.append(comp.flush())
    out.append(("joblib zlib bomb 2 GiB", b"ZF0x" + struct.pack("<I", 0) + b"".join(data)))
    out.append(("zlib bomb 2 GiB (plain zlib)", b"".join(data)))
    return out


def category_pickles(args, root, rng):
    cases = []
    image = os.path.join(FIXTURES, "images", "png_pillow_rgb_224x224.png")
    marker = os.path.join(root, MARKER_NAME)
    for i, (name, data) in enumerate(pickles(marker)):
        case = Case("pickles", name)
        folder = os.path.join(root, "%03d" % i)
        os.makedirs(os.path.join(folder, "sklearn"))
        for f in ("config.json", "model.safetensors"):
            shutil.copyfile(os.path.join(MODEL, f), os.path.join(folder, f))
        head = "linear_tot_classifier_epoch-32.sav"
        with open(os.path.join(folder, "sklearn", head), "wb") as f:
            f.write(data)
        # Also through --head-file, as an svm joblib file.
        joblib = os.path.join(folder, "svm.joblib")
        shutil.copyfile(os.path.join(folder, "sklearn", head), joblib)
        before = snapshot(root)
        run(case, [args.bin, "detect", "--model", folder, "--format", "jsonl", "--threads", "1", image], timeout=120, cwd=folder)
        second = Case("pickles", name)
        run(second, [args.bin, "detect", "--model", MODEL, "--head", "svm", "--head-file", joblib, "--format", "jsonl",
                     "--threads", "1", image], timeout=120, cwd=folder)
        case.rss_kb = max(case.rss_kb, second.rss_kb)
        case.signal = case.signal or second.signal
        case.hang = case.hang or second.hang
        case.outside = changes_outside(before, snapshot(root), [])
        expect(case, not os.path.exists(marker), "MARKER CREATED: code ran")
        for c in (case, second):
            expect(case, c.rc == 2, "exit %s (expected 2): %s" % (c.rc, tail(c.stderr)))
            expect(case, len(c.stderr.strip()) > 10, "no message")
        case.note = tail(case.stderr, 120)
        cases.append(case)
    return cases


# --------------------------------------------------------------------------------------------------------------- tars

def small_images():
    """A few small real images (bytes) for shard members."""
    names = ["jpeg_rgb_100x80.jpg", "png_rgb8_filters_61x43.png", "webp_lossy_224x224.webp", "gif_global_100x80.GIF"]
    out = []
    for n in names:
        with open(os.path.join(FIXTURES, "images", n), "rb") as f:
            out.append((n.rsplit(".", 1)[1].lower(), f.read()))
    return out


def tar_header(name, size, kind=b"0", linkname=b"", size_field=None, mode=b"0000644\x00", prefix=b"", checksum=None):
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = mode
    h[108:116] = b"0000000\x00"
    h[116:124] = b"0000000\x00"
    h[124:136] = size_field if size_field is not None else ("%011o\x00" % size).encode()
    h[136:148] = b"00000000000\x00"
    h[156:157] = kind
    h[157:157 + len(linkname[:100])] = linkname[:100]
    h[257:265] = b"ustar\x0000"
    h[345:345 + len(prefix[:155])] = prefix[:155]
    h[148:156] = b" " * 8
    total = sum(h) if checksum is None else checksum
    h[148:156] = ("%06o\x00 " % total).encode()
    return bytes(h)


def member(name, data, **kw):
    pad = (-len(data)) % 512
    return tar_header(name, len(data), **kw) + data + bytes(pad)


def pax(records, kind=b"x"):
    body = b""
    for key, value in records:
        line = b" " + key + b"=" + value + b"\n"
        n = len(line) + 1
        while len(str(n)) + len(line) != n:
            n = len(str(n)) + len(line)
        body += str(n).encode() + line
    return member(b"././@PaxHeader", body, kind=kind)


END = bytes(1024)


def good_samples(count=3, prefix=b"s"):
    imgs = small_images()
    out = b""
    for i in range(count):
        ext, data = imgs[i % len(imgs)]
        out += member(prefix + b"%03d.real.%s" % (i, ext.encode()), data)
        out += member(prefix + b"%03d.txt" % i, b"caption %d" % i)
    return out


def crafted_tars():
    imgs = small_images()
    jpg = imgs[0][1]
    good = good_samples()
    t = [
        ("valid", good + END),
        ("long name GNU L", member(b"././@LongLink", b"a" * 5000 + b".real.jpg\x00", kind=b"L") + member(b"x.real.jpg", jpg) + END),
        ("long name GNU L huge size", tar_header(b"././@LongLink", 0, kind=b"L", size_field=b"77777777777\x00") + bytes(512) + END),
        ("long name 100 bytes exact", member(b"k" * 96 + b".real.jpg", jpg) + END),
        ("ustar prefix + name", member(b"n.real.jpg", jpg, prefix=b"p" * 155) + END),
        ("negative size base-256", tar_header(b"neg.real.jpg", 0, size_field=b"\xff" * 12) + jpg + END),
        ("huge size base-256 2^88", tar_header(b"huge.real.jpg", 0, size_field=b"\x80" + b"\xff" * 11) + jpg + END),
        ("huge size octal", tar_header(b"huge.real.jpg", 0, size_field=b"77777777777\x00") + jpg + END),
        ("size not octal", tar_header(b"bad.real.jpg", 0, size_field=b"zzzzzzzzzzz\x00") + jpg + END),
        ("size beyond file", tar_header(b"big.real.jpg", 10 ** 9) + jpg + END),
        ("bad checksum", tar_header(b"c.real.jpg", len(jpg), checksum=12345) + jpg + bytes((-len(jpg)) % 512) + END),
        ("pax path ../../evil", pax([(b"path", b"../../evil.real.jpg")]) + member(b"x.real.jpg", jpg) + END),
        ("pax path absolute", pax([(b"path", b"/tmp/attack-evil.real.jpg")]) + member(b"x.real.jpg", jpg) + END),
        ("pax size huge", pax([(b"size", b"99999999999999999999999")]) + member(b"x.real.jpg", jpg) + END),
        ("pax size negative", pax([(b"size", b"-5")]) + member(b"x.real.jpg", jpg) + END),
        ("pax record length lies", member(b"././@PaxHeader", b"99999 path=a\n", kind=b"x") + member(b"x.real.jpg", jpg) + END),
        ("pax record length 0", member(b"././@PaxHeader", b"0 path=a\n", kind=b"x") + member(b"x.real.jpg", jpg) + END),
        ("pax global header", pax([(b"comment", b"x" * 100)], kind=b"g") + good + END),
        ("pax non-UTF-8 path", pax([(b"path", b"\xff\xfe.real.jpg")]) + member(b"x.real.jpg", jpg) + END),
        ("pax 10000 records", pax([(b"k%d" % i, b"v") for i in range(10000)]) + member(b"x.real.jpg", jpg) + END),
        ("symlink member to /etc/passwd", member(b"s000.real.jpg", b"", kind=b"2", linkname=b"/etc/passwd") + good + END),
        ("symlink member ../..", member(b"s000.real.jpg", b"", kind=b"2", linkname=b"../../../x") + good + END),
        ("hardlink member", member(b"h000.real.jpg", b"", kind=b"1", linkname=b"s000.real.jpg") + good + END),
        ("name ../../evil.real.jpg", member(b"../../evil.real.jpg", jpg) + good + END),
        ("name absolute", member(b"/tmp/attack-evil.real.jpg", jpg) + END),
        ("name non-UTF-8", member(b"\xff\xfe\xfd.real.jpg", jpg) + END),
        ("name with NUL inside", member(b"a\x00b.real.jpg", jpg) + END),
        ("name with newline", member(b"a\nb.real.jpg", jpg) + END),
        ("directory and FIFO members", member(b"dir/", b"", kind=b"5") + member(b"fifo.real.jpg", b"", kind=b"6") + good + END),
        ("sparse member", member(b"sp.real.jpg", jpg, kind=b"S") + END),
        ("empty", b""),
        ("only zero blocks", bytes(10240)),
        ("truncated in header", good[:700]),
        ("truncated 10 bytes into sample 2's first header", good[:good.find(b"s001.") + 10]),
        ("truncated 10 bytes into sample 2's first data", good[:good.find(b"s001.") + 512 + 10]),
        ("not a tar", b"hello world\n" * 100),
    ]
    return t


def shard_commands(args, path):
    return [("ls", [args.bin, "shards", "ls", path]), ("verify", [args.bin, "shards", "verify", path]),
            ("detect", [args.bin, "detect", "--model", MODEL, "--format", "jsonl", "--threads", "1", path])]


def category_tars(args, root, rng):
    cases = []
    for i, (name, data) in enumerate(crafted_tars()):
        folder = os.path.join(root, "%03d" % i, "a", "b")
        os.makedirs(folder)
        path = os.path.join(folder, "shard.tar")
        with open(path, "wb") as f:
            f.write(data)
        for command, argv in shard_commands(args, path):
            case = Case("tars", "%s × %s" % (name, command))
            before = snapshot(root)
            run(case, argv, timeout=60, cwd=folder)
            case.outside = changes_outside(before, snapshot(root), [])
            expect(case, case.rc in (0, 1), "exit %s: %s" % (case.rc, tail(case.stderr)))
            expect(case, not os.path.exists("/tmp/attack-evil.jpg"), "/tmp/attack-evil.jpg written")
            if "first data" in name and command != "verify":
                expect(case, "s000" in case.stdout, "the complete sample before the cut is missing")
            case.note = tail(case.stdout + " " + case.stderr, 100)
            cases.append(case)
    return cases


def category_bitflips(args, root, rng):
    cases = []
    imgs = small_images()
    base = b""
    for i in range(6):
        ext, data = imgs[i % len(imgs)]
        base += member(b"d3_%05d.gen_0.%s" % (i, ext.encode()), data) + member(b"d3_%05d.txt" % i, b"a caption")
    base += END
    for i in range(args.bitflips):
        b = bytearray(base)
        for _ in range(rng.choice([1, 1, 2, 4, 8, 32])):
            at = rng.randrange(len(b))
            b[at] ^= 1 << rng.randrange(8)
        if rng.random() < 0.2:
            b = b[:rng.randrange(len(b))]
        folder = os.path.join(root, "%03d" % i)
        os.makedirs(folder)
        path = os.path.join(folder, "shard.tar")
        with open(path, "wb") as f:
            f.write(b)
        for command, argv in shard_commands(args, path)[1:]:
            case = Case("bitflips", "%03d × %s" % (i, command))
            before = snapshot(root)
            run(case, argv, timeout=60, cwd=folder)
            case.outside = changes_outside(before, snapshot(root), [])
            expect(case, case.rc in (0, 1), "exit %s: %s" % (case.rc, tail(case.stderr)))
            cases.append(case)
    return cases


# ----------------------------------------------------------------------------------------------------- shards create

def d3_download(folder, ids, rng):
    imgs = small_images()
    os.makedirs(folder, exist_ok=True)
    for i in ids:
        for part in ("gen0", "gen1", "gen2", "gen3", "real"):
            ext, data = imgs[rng.randrange(len(imgs))]
            with open(os.path.join(folder, "%d_%s.%s" % (i, part, ext)), "wb") as f:
                f.write(data)
        with open(os.path.join(folder, "%d_prompt.txt" % i), "w") as f:
            f.write("a photo number %d" % i)
        with open(os.path.join(folder, "%d_url.txt" % i), "w") as f:
            f.write("https://example.com/%d.jpg" % i)


def category_create(args, root, rng):
    cases = []
    outside_target = os.path.join(root, "outside-secret.jpg")
    with open(outside_target, "wb") as f:
        f.write(small_images()[0][1])

    def create_case(name, setup, extra, expect_codes, check=None, kill_after=None, out_exists=False):
        case = Case("create", name)
        base = os.path.join(root, "%02d" % len(cases), "p", "q")
        src, out = os.path.join(base, "from"), os.path.join(base, "out")
        d3_download(src, range(4), rng)
        if out_exists:
            os.makedirs(out)
        setup(src, out)
        before = snapshot(root)
        argv = [args.bin, "shards", "create", "--from", src, "--out", out, "--per-shard", "1"] + extra(src, out)
        run(case, argv, timeout=120, cwd=base, kill_after=kill_after)
        after = snapshot(root)
        case.outside = changes_outside(before, after, [out])
        if kill_after is None:
            expect(case, case.rc in expect_codes, "exit %s (expected %s): %s" % (case.rc, expect_codes, tail(case.stderr)))
        if check:
            check(case, src, out)
        case.note = tail(case.stderr, 120)
        cases.append(case)
        return case, src, out

    nothing = lambda src, out: None
    no_extra = lambda src, out: []
    for prefix in ["../../evil", "/tmp/attack-evil", "..", "a/b", "x\ny", "é" * 60]:
        create_case("prefix %r" % prefix, nothing, lambda s, o, p=prefix: ["--prefix", p], (64, 2, 1))
    create_case("split ../../evil", nothing, lambda s, o: ["--split", "../../evil"], (64, 2, 1))

    def link_out(src, out):
        os.symlink(outside_target, os.path.join(src, "400_real.jpg"))
        for part in ("gen0", "gen1", "gen2", "gen3"):
            shutil.copyfile(os.path.join(src, "0_%s.jpg" % part) if os.path.exists(os.path.join(src, "0_%s.jpg" % part)) else outside_target, os.path.join(src, "400_%s.jpg" % part))
        for part in ("prompt", "url"):
            with open(os.path.join(src, "400_%s.txt" % part), "w") as f:
                f.write("p")

    def not_packed(case, src, out):
        listing = subprocess.run([args.bin, "shards", "ls"] + sorted(os.path.join(out, n) for n in os.listdir(out) if n.endswith(".tar")),
                                 capture_output=True, text=True).stdout if os.path.isdir(out) else ""
        expect(case, "400" not in listing, "the linked record was packed")
        expect(case, os.path.exists(os.path.join(out, "incomplete.txt")) and "400" in open(os.path.join(out, "incomplete.txt"), errors="replace").read(),
               "incomplete.txt does not name record 400")
    create_case("symlink out of --from", link_out, no_extra, (1,), not_packed)
    create_case("symlinked folder out of --from", lambda s, o: os.symlink(root, os.path.join(s, "escape")), no_extra, (0, 1))
    create_case("FIFO and /dev/zero link as parts", lambda s, o: (os.mkfifo(os.path.join(s, "500_real.jpg")), os.symlink("/dev/zero", os.path.join(s, "500_gen0.jpg"))), no_extra, (1,))
    create_case("non-UTF-8 names and a loop", lambda s, o: (open(os.path.join(s.encode(), b"6\xff_real.jpg"), "wb").close(), os.symlink("loop", os.path.join(s, "loop"))), no_extra, (1,))
    create_case("--from missing", lambda s, o: shutil.rmtree(s), no_extra, (1, 2, 64))
    create_case("--out is a file", lambda s, o: open(o, "w").close(), no_extra, (1, 2, 64))
    create_case("--out not empty", lambda s, o: open(os.path.join(o, "elsa_v2-000009.tar"), "w").close(), no_extra, (1, 2, 64), out_exists=True)
    create_case("--overwrite keeps other files", lambda s, o: open(os.path.join(o, "keep.txt"), "w").close(), lambda s, o: ["--overwrite"], (0,),
                lambda case, s, o: expect(case, os.path.exists(os.path.join(o, "keep.txt")), "--overwrite removed another file"), out_exists=True)

    # Kills mid-way, then --resume: the shards must equal an uninterrupted run's.
    reference = os.path.join(root, "reference")
    d3_download(os.path.join(reference, "from"), range(60), random.Random(7))
    ref_case = Case("create", "uninterrupted reference")
    run(ref_case, [args.bin, "shards", "create", "--from", os.path.join(reference, "from"), "--out", os.path.join(reference, "out"), "--per-shard", "2"], timeout=300)
    cases.append(ref_case)
    for k, delay in enumerate([0.05, 0.15, 0.3]):
        case = Case("create", "kill -9 after %.2fs then --resume" % delay)
        base = os.path.join(root, "kill%d" % k)
        src, out = os.path.join(base, "from"), os.path.join(base, "out")
        d3_download(src, range(60), random.Random(7))
        before = snapshot(root)
        run(case, [args.bin, "shards", "create", "--from", src, "--out", out, "--per-shard", "2"], timeout=300, kill_after=delay)
        run(case, [args.bin, "shards", "create", "--from", src, "--out", out, "--per-shard", "2", "--resume"], timeout=300)
        case.outside = changes_outside(before, snapshot(root), [out])
        ref = {n: open(os.path.join(reference, "out", n), "rb").read() for n in os.listdir(os.path.join(reference, "out"))}
        got = {n: open(os.path.join(out, n), "rb").read() for n in os.listdir(out)} if os.path.isdir(out) else {}
        expect(case, sorted(ref) == sorted(got), "files differ: %s" % sorted(set(ref) ^ set(got))[:4])
        expect(case, all(ref[n] == got.get(n) for n in ref), "shard bytes differ after resume")
        cases.append(case)
    return cases


# ------------------------------------------------------------------------------------------------------- Hub servers

class HubState:
    def __init__(self, behaviour, files):
        self.behaviour = behaviour
        self.files = files  # path → bytes
        self.commit = "a" * 40
        self.requests = []


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_HEAD(self):
            self.answer(head=True)

        def do_GET(self):
            self.answer(head=False)

        def send(self, status, headers, body=b"", head=False):
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Connection", "close")
            self.end_headers()
            if not head and body:
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        def answer(self, head):
            state.requests.append((self.command, self.path, dict(self.headers)))
            b = state.behaviour
            path = self.path.split("?")[0]
            if "/resolve/" not in path:
                if b == "huge-json":
                    self.send(200, {"Content-Type": "application/json", "Content-Length": str(200 << 20)}, head=True)
                    self.stream(200 << 20, head)
                    return
                self.send(404, {"Content-Length": "0"}, head=head)
                return
            repo, rest = path[1:].split("/resolve/", 1)
            revision, file = rest.split("/", 1)
            data = state.files.get(file)
            if data is None:
                self.send(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": state.commit, "Content-Length": "0"}, head=head)
                return
            sha = hashlib.sha256(data).hexdigest()
            lfs = file.endswith(".safetensors")
            headers = {"X-Repo-Commit": state.commit, "ETag": '"%s"' % (sha if lfs else hashlib.sha1(data).hexdigest()),
                       "Content-Length": str(len(data)), "Accept-Ranges": "bytes"}
            if b == "endless-body" and file == "config.json":
                headers["Content-Length"] = "538"
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.stream(400 << 20, head)
                return
            if b == "no-size-huge" and file == "config.json":
                self.send_response(200)
                self.send_header("X-Repo-Commit", state.commit)
                self.send_header("ETag", '"%s"' % ("b" * 40))
                self.send_header("Connection", "close")
                self.end_headers()
                self.stream(300 << 20, head)
                return
            if b == "big-json" and file == "config.json":
                headers["Content-Length"] = str(200 << 20)
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.stream(200 << 20, head)
                return
            if b == "wrong-size" and file == "model.safetensors":
                headers["Content-Length"] = str(len(data) + 1000)
                self.send(200, headers, data, head)
                return
            if b == "short-size" and file == "model.safetensors":
                headers["Content-Length"] = str(len(data) // 2)
                self.send(200, headers, data[:len(data) // 2], head)
                return
            if b == "sha-mismatch" and file == "model.safetensors":
                bad = bytearray(data)
                bad[-1] ^= 1
                self.send(200, headers, bytes(bad), head)
                return
            if b == "slow-drip" and file == "model.safetensors" and not head:
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                for i in range(60):
                    try:
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(1.0 if i < 5 else 4.0)  # slower than the stall timeout (set to 2 s)
                return
            if b == "redirect-file" and file == "model.safetensors":
                self.send(302, {"Location": "file:///etc/passwd", "X-Repo-Commit": state.commit, "X-Linked-Size": str(len(data)),
                                "X-Linked-Etag": '"%s"' % sha, "Content-Length": "0"}, head=head)
                return
            if b == "redirect-loop":
                self.send(302, {"Location": self.path, "Content-Length": "0"}, head=head)
                return
            if b == "etag-traversal":
                headers["ETag"] = '"../../../../evil-etag"'
            if b == "commit-traversal":
                headers["X-Repo-Commit"] = "../../../../evil-commit"
            if b == "server-error":
                self.send(500, {"Content-Length": "5"}, b"error", head)
                return
            if b == "garbage-head":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\nX-Repo-Commit: \x00\x01\r\n\r\n")
                return
            if b == "endless-head":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                try:
                    for _ in range(200000):
                        self.wfile.write(b"X-Padding: " + b"a" * 1000 + b"\r\n")
                except OSError:
                    pass
                return
            if b == "big-linked-size" and file == "model.safetensors":
                headers["X-Linked-Size"] = str(10 ** 15)
            self.send(200, headers, data, head)

        def stream(self, total, head):
            if head:
                return
            piece = bytes(64 << 10)
            sent = 0
            try:
                while sent < total:
                    self.wfile.write(piece)
                    sent += len(piece)
            except OSError:
                pass

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def category_hub(args, root, rng):
    cases = []
    files = {}
    for name in ("config.json", "model.safetensors", "heads/linear.safetensors"):
        with open(os.path.join(MODEL, name), "rb") as f:
            files[name] = f.read()
    image = os.path.join(FIXTURES, "images", "png_pillow_rgb_224x224.png")
    scenarios = [
        ("well-behaved", "ok", "org/model", (0,)),
        ("endless body after announcing 538 bytes", "endless-body", "org/model", (2,)),
        ("no size, 300 MB body as config.json", "no-size-huge", "org/model", (2,)),
        ("config.json announcing and sending 200 MB", "big-json", "org/model", (2,)),
        ("Content-Length larger than the body", "wrong-size", "org/model", (2,)),
        ("Content-Length half the file", "short-size", "org/model", (2,)),
        ("sha256 mismatch", "sha-mismatch", "org/model", (2,)),
        ("slow drip past the stall timeout (2 s)", "slow-drip", "org/model", (2,)),
        ("redirect to file://", "redirect-file", "org/model", (2,)),
        ("redirect loop", "redirect-loop", "org/model", (2,)),
        ("ETag with ../", "etag-traversal", "org/model", (2,)),
        ("X-Repo-Commit with ../", "commit-traversal", "org/model", (2,)),
        ("500 on every request", "server-error", "org/model", (2,)),
        ("garbage response head", "garbage-head", "org/model", (2,)),
        ("endless response head", "endless-head", "org/model", (2,)),
        ("huge X-Linked-Size", "big-linked-size", "org/model", (2,)),
        ("revision ../../../../some/dir/evilref", "ok", "org/model@../../../../some/dir/evilref", (2, 64)),
        ("revision x/../../../evil2", "ok", "org/model@x/../../../evil2", (2, 64)),
        ("repo id ../../evil", "ok", "../../evil", (2, 64)),
    ]
    for i, (name, behaviour, model, codes) in enumerate(scenarios):
        case = Case("hub", name)
        base = os.path.join(root, "%02d" % i)
        home = os.path.join(base, "a", "b", "c", "d", "e", "f", "hf")
        os.makedirs(home)
        state = HubState(behaviour, files)
        server = Server(("127.0.0.1", 0), make_handler(state))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        env = {"HF_ENDPOINT": "http://127.0.0.1:%d" % server.server_address[1], "HF_HOME": home,
               "HF_HUB_DOWNLOAD_TIMEOUT": "2", "HF_HUB_ETAG_TIMEOUT": "2", "HF_TOKEN": "hf_secret"}
        env.pop("HF_HUB_CACHE", None)
        before = snapshot(root)
        run(case, [args.bin, "detect", "--model", model, "--format", "jsonl", "--threads", "1", image], timeout=150, env=env, cwd=base)
        server.shutdown()
        server.server_close()
        case.outside = changes_outside(before, snapshot(root), [home])
        expect(case, case.rc in codes, "exit %s (expected %s): %s" % (case.rc, codes, tail(case.stderr)))
        blobs = []
        for folder, _, names in os.walk(home):
            blobs += [os.path.join(folder, n) for n in names if "/blobs/" in os.path.join(folder, n) or "/blobs" == folder[-6:]]
        # A blob whose content failed verification (sha256 of LFS files, the announced size) is never kept; a
        # partial download (.incomplete) is kept only after an interruption, never past the announced size.
        complete = [b for b in blobs if not b.endswith(".incomplete")]
        if behaviour in ("sha-mismatch", "short-size", "big-linked-size", "redirect-file", "no-size-huge", "big-json"):
            bad = [b for b in complete if open(b, "rb").read() not in files.values()]
            expect(case, not bad, "blob kept after failed verification: %s" % [os.path.basename(b) for b in bad][:3])
        if behaviour == "endless-body":
            configs = glob.glob(os.path.join(home, "hub", "*", "snapshots", "*", "config.json"))
            configs += [b for b in blobs if b.endswith(".incomplete")]
            expect(case, all(os.path.getsize(b) <= 538 for b in configs), "read past the announced 538 bytes")
        incomplete = [b for b in blobs if b.endswith(".incomplete")]
        if behaviour in ("sha-mismatch", "redirect-file", "short-size", "big-linked-size"):
            expect(case, not incomplete, ".incomplete left: %s" % incomplete[:2])
        total = sum(os.path.getsize(b) for b in blobs)
        expect(case, total < 16 << 20, "%d MB under blobs/" % (total >> 20))
        case.note = "%.1fs %s" % (case.seconds, tail(case.stderr, 110))
        cases.append(case)
    return cases


# ------------------------------------------------------------------------------------------- training configs, kills

def bmp(width, height, rgb):
    row = (width * 3 + 3) & ~3
    out = bytearray(54 + row * height)
    struct.pack_into("<2sIHHIIiiHHIIiiII", out, 0, b"BM", len(out), 0, 0, 54, 40, width, height, 1, 24, 0, row * height, 0, 0, 0, 0)
    for y in range(height):
        for x in range(width):
            r, g, b = rgb[y][x]
            at = 54 + (height - 1 - y) * row + 3 * x
            out[at:at + 3] = bytes((b, g, r))
    return bytes(out)


def synthetic_image(rng, artifact, size=35):
    base = [40 + 150 * rng.random() for _ in range(3)]
    dx = [60 * rng.random() - 30 for _ in range(3)]
    px, py = rng.randrange(4), rng.randrange(4)
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            sign = 1 if ((x + px) // 2 + (y + py) // 2) % 2 == 0 else -1
            row.append(tuple(max(0, min(255, int(base[c] + dx[c] * x / size + 6 * (rng.random() - 0.5) + (16 * sign if artifact else 0)))) for c in range(3)))
        rows.append(row)
    return bmp(size, size, rows)


def training_shards(folder, seed):
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    for name, records in (("train-0.tar", range(0, 24)), ("train-1.tar", range(24, 48)), ("linear.tar", range(100, 140)),
                          ("val.tar", range(200, 240))):
        data = b""
        for r in records:
            data += member(b"rec%05d.real.bmp" % r, synthetic_image(rng, False))
            data += member(b"rec%05d.gen_0.bmp" % r, synthetic_image(rng, True))
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data + END)


def small_config(shards, output, **overrides):
    c = {"image-size": 32, "patch-size": 8, "hidden-size": 32, "layers": 2, "heads": 2, "mlp-size": 64, "epochs": 3,
         "warmup-epochs": 0, "lr": 0.001, "batch-size": 8, "num-step": 30, "shuffle-buffer": 16,
         "train-shards": [shards + "/train-{0..1}.tar"], "linear-train-shards": [shards + "/linear.tar"],
         "val-shards-no-augm": [shards + "/val.tar"], "output": output, "threads": 1}
    c.update(overrides)
    lines = []
    for k, v in c.items():
        if v is DELETE:
            continue
        lines.append("%s: %s" % (k, json.dumps(v)))
    return "\n".join(lines) + "\n"


def category_configs(args, root, rng):
    cases = []
    shards = os.path.join(root, "shards")
    training_shards(shards, 11)
    with open(os.path.join(shards, "missing.shards"), "w") as f:
        f.write(shards + "/train-0.tar\n" + shards + "/nope.tar\n")
    variants = [
        ("batch-size 100000000", {"batch-size": 100000000}, None),
        ("layers 10000000", {"layers": 10000000}, None),
        ("hidden-size 2^63", {"hidden-size": 2 ** 63}, None),
        ("hidden-size \"192\"", {"hidden-size": "192"}, None),
        ("lr NaN", None, "lr: .nan\n"),
        ("lr -1", {"lr": -1}, None),
        ("epochs -3", {"epochs": -3}, None),
        ("threads 0", {"threads": 0}, None),
        ("threads 100000", {"threads": 100000}, None),
        ("image-size 0", {"image-size": 0}, None),
        ("patch-size 7 (not a divisor)", {"patch-size": 7}, None),
        ("unknown key", {"no-such-key": 1}, None),
        ("train-shards missing file", {"train-shards": [shards + "/nope-{0..1}.tar"]}, None),
        (".shards list naming a missing file", {"train-shards": [shards + "/missing.shards"]}, None),
        ("YAML billion laughs", None, "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"),
        ("YAML not a mapping", None, "- 1\n- 2\n"),
        ("YAML binary garbage", None, "\x00\x01\x02\xff garbage: [\n"),
        ("YAML 20 MB", None, "# " + "x" * (20 << 20) + "\n"),
        ("YAML deep nesting", None, "a: " + "[" * 20000 + "]" * 20000 + "\n"),
        ("output ../../evil-run", {"output": "../../evil-run"}, None),
    ]
    for i, (name, overrides, raw) in enumerate(variants):
        case = Case("configs", name)
        base = os.path.join(root, "%02d" % i, "x", "y")
        os.makedirs(base)
        output = os.path.join(base, "run")
        config = os.path.join(base, "config.yaml")
        if overrides and "output" in overrides:
            text = small_config(shards, overrides["output"], **{k: v for k, v in overrides.items() if k != "output"})
        else:
            text = small_config(shards, output, **(overrides or {})) if raw is None else raw
        with open(config, "w") as f:
            f.write(text)
        before = snapshot(root)
        run(case, [args.bin, "train", "--config", config], timeout=120, cwd=base)
        allowed = [output] + ([os.path.normpath(os.path.join(base, overrides["output"]))] if overrides and "output" in overrides else [])
        case.outside = changes_outside(before, snapshot(root), allowed)
        expect(case, case.rc not in (0,) or name.startswith("output") or name.startswith("unknown"), "exit 0: accepted")
        expect(case, case.rc in (0, 1, 2, 64), "exit %s" % case.rc)
        case.note = "%.1fs %s" % (case.seconds, tail(case.stderr, 110))
        cases.append(case)
    # A corrupt state.json with --resume.
    case = Case("configs", "corrupt state.json + --resume")
    base = os.path.join(root, "state")
    os.makedirs(os.path.join(base, "run"))
    with open(os.path.join(base, "run", "config.yaml"), "w") as f:
        f.write(small_config(shards, os.path.join(base, "run")))
    with open(os.path.join(base, "run", "state.json"), "w") as f:
        f.write('{"epochsDone": 99999999999999999999, "last": "../../../etc"')
    before = snapshot(root)
    run(case, [args.bin, "train", "--output", os.path.join(base, "run"), "--resume"], timeout=120, cwd=base)
    case.outside = changes_outside(before, snapshot(root), [os.path.join(base, "run")])
    expect(case, case.rc != 0, "exit 0 with a corrupt state.json")
    case.note = tail(case.stderr, 110)
    cases.append(case)
    return cases


def run_files(folder):
    out = {}
    for sub in ("checkpoints", "release"):
        for dirpath, _, names in os.walk(os.path.join(folder, sub)):
            for n in names:
                p = os.path.join(dirpath, n)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, folder)] = hashlib.sha256(f.read()).hexdigest()
    for n in ("summary.csv", "state.json"):
        p = os.path.join(folder, n)
        if os.path.exists(p):
            with open(p, "rb") as f:
                out[n] = hashlib.sha256(f.read()).hexdigest()
    return out


def category_kills(args, root, rng):
    cases = []
    shards = os.path.join(root, "shards")
    training_shards(shards, 12)
    ref = Case("kills", "uninterrupted reference")
    ref_out = os.path.join(root, "ref")
    with open(os.path.join(root, "ref.yaml"), "w") as f:
        f.write(small_config(shards, ref_out))
    before = snapshot(root)
    run(ref, [args.bin, "train", "--config", os.path.join(root, "ref.yaml")], timeout=600, cwd=root)
    ref.outside = changes_outside(before, snapshot(root), [ref_out])
    expect(ref, ref.rc == 0, "exit %s: %s" % (ref.rc, tail(ref.stderr)))
    cases.append(ref)
    reference = run_files(ref_out)
    total = ref.seconds
    # Killed runs: each starts fresh and is SIGKILLed at a seeded time, then resumed (and killed again) until done.
    runs = max(1, (args.kills + 2) // 3)
    kills_left = args.kills
    for r in range(runs):
        out = os.path.join(root, "run%d" % r)
        with open(out + ".yaml", "w") as f:
            f.write(small_config(shards, out))
        case = Case("kills", "run %d" % r)
        before = snapshot(root)
        n_kills = kills_left if r == runs - 1 else min(kills_left, 3)
        kills_left -= n_kills
        argv = [args.bin, "train", "--config", out + ".yaml"]
        done = 0
        for k in range(n_kills):
            delay = rng.uniform(0.2, total * 0.45)
            case.rc = None
            run(case, argv, timeout=600, cwd=root, kill_after=delay)
            done += 1
            if case.rc == 0:
                break  # it finished before the kill
            argv = [args.bin, "train", "--output", out, "--resume"]
        case.rc = None
        run(case, [args.bin, "train", "--output", out, "--resume"] if os.path.exists(os.path.join(out, "state.json")) else argv, timeout=600, cwd=root)
        case.outside = changes_outside(before, snapshot(root), [out])
        got = run_files(out)
        expect(case, case.rc == 0, "final resume exit %s: %s" % (case.rc, tail(case.stderr)))
        diff = sorted(k for k in set(reference) | set(got) if reference.get(k) != got.get(k))
        expect(case, not diff, "differs from the uninterrupted run: %s" % diff[:4])
        leftovers = [p for p in snapshot(out) if ".tmp" in os.path.basename(p)]
        expect(case, not leftovers, "temporary files left: %s" % leftovers[:3])
        case.note = "%d kills; %d files identical" % (done, len(got))
        case.kills = done
        cases.append(case)
    return cases


# -------------------------------------------------------------------------------------------------------------- table

CATEGORIES = [("images", category_images), ("bombs", category_bombs), ("models", category_models),
              ("pickles", category_pickles), ("tars", category_tars), ("bitflips", category_bitflips),
              ("create", category_create), ("hub", category_hub), ("configs", category_configs), ("kills", category_kills)]


def report(category, cases, seconds):
    exits = {}
    for c in cases:
        key = "sig%d" % c.signal if c.signal else ("hang" if c.hang else str(c.rc))
        exits[key] = exits.get(key, 0) + 1
    crashes = sum(1 for c in cases if c.signal)
    hangs = sum(1 for c in cases if c.hang)
    outside = sum(1 for c in cases if c.outside)
    problems = sum(1 for c in cases if c.problems)
    peak = max((c.rss_kb for c in cases), default=0)
    extra = ""
    if category == "images":
        extra = " inputs %d, error rows %d" % (sum(getattr(c, "inputs", 0) for c in cases), sum(getattr(c, "failed_rows", 0) for c in cases))
    if category == "kills":
        extra = " kills %d" % sum(getattr(c, "kills", 0) for c in cases)
    print("%-9s cases %4d  crashes %d  hangs %d  writes-outside %d  other-failures %d  peak-RSS %6.1f MiB  exits %s  %.0fs%s"
          % (category, len(cases), crashes, hangs, outside, problems, peak / 1024.0,
             " ".join("%s:%d" % kv for kv in sorted(exits.items())), seconds, extra), flush=True)
    for c in cases:
        if c.signal or c.hang or c.outside or c.problems:
            print("   FAIL %s: %s%s%s%s" % (c.name, "signal %d " % c.signal if c.signal else "", "hang " if c.hang else "",
                                             "outside %s " % c.outside[:3] if c.outside else "", "; ".join(c.problems)[:400]), flush=True)
    return crashes + hangs + outside + problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bin", default=os.path.join(REPO, ".build", "release", "deepfake"))
    parser.add_argument("--work", default="/tmp/deepfake-attack")
    parser.add_argument("--only", default="", help="comma-separated categories (default: all)")
    parser.add_argument("--images", type=int, default=1800)
    parser.add_argument("--bitflips", type=int, default=300)
    parser.add_argument("--kills", type=int, default=11)
    parser.add_argument("--verbose", action="store_true", help="print every case with its message")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    if not os.access(args.bin, os.X_OK):
        sys.exit("no binary at %s: run `swift build -c release` first" % args.bin)
    global STDIO
    import tempfile
    STDIO = tempfile.mkdtemp(prefix="deepfake-attack-stdio-")
    wanted = [c for c in args.only.split(",") if c] or [name for name, _ in CATEGORIES]
    if os.path.exists(args.work):
        shutil.rmtree(args.work)
    failures = 0
    for name, function in CATEGORIES:
        if name not in wanted:
            continue
        root = os.path.join(args.work, name)
        os.makedirs(root)
        rng = random.Random("%d-%s" % (args.seed, name))
        started = time.monotonic()
        cases = function(args, root, rng)
        if args.verbose:
            for c in cases:
                print("   %-50s rc=%s sig=%s hang=%s %.1fs %dMiB %s" % (c.name[:50], c.rc, c.signal, c.hang, c.seconds, c.rss_kb >> 10, getattr(c, "note", "")[:160]))
        failures += report(name, cases, time.monotonic() - started)
    if "bombs" in wanted:
        print("(bombs: budget = --decode-memory + the model's footprint, %.1f MiB on one small image)" % (args.baseline_kb / 1024.0))
    shutil.rmtree(STDIO)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
