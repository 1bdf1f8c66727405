#!/usr/bin/env python3
"""Write the WebDataset I/O fixtures under Tests/Fixtures/webdataset/ (dev-only).

Two directions:

1. Python writes, Swift reads. Shards written by webdataset's ShardWriter/TarWriter and by Python's tarfile
   (PAX, GNU and ustar formats), a small copy of the structure of CoDE's upstream shard, and for each archive
   what tarfile and webdataset read from it (`*.expected.json`: members with their header values; samples with
   key, field names, sizes and SHA-256 of the bytes). `compat/` holds archives written by webdataset's
   TarWriter with fixed options plus the samples they contain, which the Swift TarWriter must reproduce byte for
   byte. `braces.json`: what braceexpand makes of a list of patterns. `encode/`: Pillow's JPEG/PNG encodes of a
   formula image, for the Swift encoder tests.

2. Swift writes, Python reads. The Swift tests (run with WDS_WRITE_FIXTURES=1) write `swift_written/*.tar` and
   `encode/swift_*.{jpg,png}`; this script then reads them with webdataset, tarfile and Pillow and writes
   `swift_written/readback.json` (and checks what it can itself, failing loudly on a mismatch).

Order when regenerating everything:
    python3 tools/reference/make_webdataset_fixtures.py
    WDS_WRITE_FIXTURES=1 swift test -c release --scratch-path .build-wds --disable-swift-testing \
        --filter WebDatasetTests.SwiftWrittenFixtureTests
    python3 tools/reference/make_webdataset_fixtures.py          # second run reads the Swift output back

Deterministic: fixed mtimes, fixed content (formulas and seeded numpy), sorted JSON.
Versions used: Python 3.11.7, webdataset 1.0.2, braceexpand 0.1.7, numpy 2.4.6, Pillow 13.0.0.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
from pathlib import Path

import braceexpand
import numpy as np
import PIL
from PIL import Image
import webdataset as wds

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "webdataset"
FIXED_MTIME = 1700000000
UPSTREAM_MTIME = 1751300504.9412212


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def versions() -> dict:
    return {
        "python": sys.version.split()[0],
        "webdataset": wds.__version__,
        "braceexpand": braceexpand.__version__,
        "numpy": np.__version__,
        "Pillow": PIL.__version__,
    }


def formula_image(width: int, height: int, salt: int = 0) -> np.ndarray:
    """The test image both sides compute: gradients plus a high-frequency term (uint8 HxWx3)."""
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255) // max(1, width - 1)
    g = (y * 255) // max(1, height - 1)
    b = (x * y * 7 + x * 13 + salt * 31) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def pil_bytes(array: np.ndarray, fmt: str, **options) -> bytes:
    stream = io.BytesIO()
    Image.fromarray(array).save(stream, format=fmt, **options)
    return stream.getvalue()


# ----------------------------------------------------------------------------------------------
# What Python reads
# ----------------------------------------------------------------------------------------------

TYPE_NAMES = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file", tarfile.DIRTYPE: "directory",
    tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "chardev",
    tarfile.BLKTYPE: "blockdev", tarfile.FIFOTYPE: "fifo",
}
STANDARD_PAX = {"path", "linkpath", "size", "mtime", "uid", "gid", "uname", "gname"}


def tar_members(path: Path) -> list:
    members = []
    with tarfile.open(path, "r|") as stream:
        for info in stream:
            entry = {
                "name": info.name,
                "type": TYPE_NAMES.get(info.type, "other"),
                "size": info.size,
                "mtime": info.mtime,
                "mode": info.mode,
                "uid": info.uid,
                "gid": info.gid,
                "uname": info.uname,
                "gname": info.gname,
                "linkname": info.linkname,
                "offset": info.offset,
                "offset_data": info.offset_data,
                "metadata": {k: v for k, v in sorted(info.pax_headers.items()) if k not in STANDARD_PAX},
            }
            if info.isreg():
                entry["sha256"] = sha(stream.extractfile(info).read())
            members.append(entry)
    return members


def wds_samples(path: Path) -> list:
    pipeline = wds.DataPipeline(wds.SimpleShardList([str(path)]), wds.tarfile_to_samples())
    samples = []
    for sample in pipeline:
        fields = [
            {"name": k, "size": len(v), "sha256": sha(v)}
            for k, v in sample.items() if not k.startswith("__")
        ]
        # __url__ is the path given to webdataset; kept relative to the fixture folder.
        samples.append({"key": sample["__key__"], "url": os.path.relpath(sample["__url__"], OUT), "fields": fields})
    return samples


def describe(path: Path, extra: dict | None = None) -> None:
    """Writes PATH.expected.json: tarfile's members and webdataset's samples."""
    record = {
        "file": path.name,
        "size": path.stat().st_size,
        "sha256": sha(path.read_bytes()),
        "members": tar_members(path),
        "samples": wds_samples(path),
        "versions": versions(),
    }
    if extra:
        record.update(extra)
    out = path.with_name(path.name + ".expected.json")
    out.write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------------
# Python-written shards
# ----------------------------------------------------------------------------------------------

def webdataset_shards() -> None:
    """webdataset.ShardWriter with its default encoder: several field kinds, dotted folders, rotation by count."""
    folder = OUT / "python_wds"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20250630)
    pattern = str(folder / "wds-%06d.tar")
    with wds.ShardWriter(pattern, maxcount=3, mtime=FIXED_MTIME, verbose=0) as sink:
        for index in range(7):
            image = formula_image(24 + index, 16, salt=index)
            sample = {
                "__key__": f"set.v1/part.{index % 2}/sample_{index:04d}",
                "jpg": Image.fromarray(image),                       # encoder: JPEG quality 100
                "png": Image.fromarray(formula_image(9, 7, salt=index + 50)),
                "gif": pil_bytes(formula_image(8, 8, salt=index), "GIF"),  # raw bytes pass through
                "txt": f"caption {index}: ünïcødé ✓",
                "json": {"index": index, "tags": ["a", "b"], "score": index / 8},
                "cls": index % 3,
                "npy": rng.standard_normal((2, 3)).astype(np.float32),
                "Meta.JSON": json.dumps({"upper": True}),            # read back as "meta.json" (lcase)
            }
            sink.write(sample)
    for tar in sorted(folder.glob("wds-*.tar")):
        describe(tar)


def tarfile_archives() -> None:
    folder = OUT / "python_tarfile"
    folder.mkdir(parents=True, exist_ok=True)
    long_dir = "a-rather-long-folder-name-" + "x" * 60 + "/second-level-folder-" + "y" * 40
    long_name = long_dir + "/sample_0001.image.jpg"
    assert len(long_name) > 100
    payload = {name: (name * 3 + "\n").encode() for name in ["alpha", "beta", "gamma", "delta"]}

    def add(tf: tarfile.TarFile, name: str, data: bytes | None = None, **fields) -> None:
        info = tarfile.TarInfo(name)
        info.mtime = fields.pop("mtime", FIXED_MTIME)
        info.mode = fields.pop("mode", 0o644)
        for key, value in fields.items():
            setattr(info, key, value)
        if data is not None:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        else:
            tf.addfile(info)

    # PAX: global header, long and non-ASCII names, fractional / huge / negative times, big ids, links, metadata.
    with tarfile.open(folder / "pax.tar", "w", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": "global record", "origin": "make_webdataset_fixtures"}) as tf:
        add(tf, "dir", type=tarfile.DIRTYPE, mode=0o755)
        add(tf, "dir/s1.txt", payload["alpha"], mtime=UPSTREAM_MTIME)
        add(tf, "dir/s1.cls", b"7", mtime=2 ** 40)
        add(tf, long_name, payload["beta"], uid=3_000_000, gid=4_000_000)
        add(tf, "ünïcødé/bïld.txt", "grüße".encode(), uname="jöhn", gname="grüppe")
        add(tf, "dir/s2.txt", payload["gamma"], mtime=-5, pax_headers={"comment": "per member", "SCHILY.xattr.user.k": "v"})
        add(tf, "dir/link-to-s1", type=tarfile.SYMTYPE, linkname="s1.txt")
        add(tf, "dir/long-link", type=tarfile.SYMTYPE, linkname="../" + long_name)
        add(tf, "dir/hard", type=tarfile.LNKTYPE, linkname="dir/s1.txt")
        add(tf, "dir/s2.json", b'{"k": 1}')
    # GNU: long names and link targets in ././@LongLink, base-256 numbers.
    with tarfile.open(folder / "gnu.tar", "w", format=tarfile.GNU_FORMAT) as tf:
        add(tf, long_name, payload["alpha"])
        add(tf, "g/s1.txt", payload["beta"], uid=3_000_000, mtime=2 ** 40)
        add(tf, "g/s1.cls", b"12", mtime=-1000)
        add(tf, "g/long-link", type=tarfile.SYMTYPE, linkname="../" + long_name)
        add(tf, "ünïcødé/s9.txt", payload["delta"])
    # ustar: a long name split into prefix + name.
    with tarfile.open(folder / "ustar.tar", "w", format=tarfile.USTAR_FORMAT) as tf:
        add(tf, long_name, payload["gamma"])
        add(tf, "u/s1.txt", payload["delta"], mode=0o600)
    for tar in sorted(folder.glob("*.tar")):
        describe(tar)


def upstream_like() -> None:
    """The structure of CoDE's src/debug/webdatasets_elsa_v2/elsa_v2-0000.tar with tiny images: webdataset's
    TarWriter with a float time, so that every member gets a PAX header with a fractional mtime."""
    folder = OUT / "upstream_like"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "elsa_v2-0000.tar"
    key = "elsa_v2__train__1275001022128"
    sizes = [(16, 16), (32, 32), (40, 24), (40, 24), (15, 15)]
    images = [formula_image(w, h, salt=i) for i, (w, h) in enumerate(sizes)]
    with open(path, "wb") as stream:
        writer = wds.TarWriter(stream, format="PAX_FORMAT", mtime=UPSTREAM_MTIME)
        sample = {"__key__": key, "caption.txt": "a photo of a cat", "url.txt": "https://example.com/cat.jpg"}
        for i in range(4):
            sample[f"gen_{i}.jpg"] = Image.fromarray(images[i])
        sample["real.jpg"] = Image.fromarray(images[4])
        writer.write(sample)
        writer.close()
    describe(path)


# ----------------------------------------------------------------------------------------------
# Byte-compatibility: the Swift TarWriter must write these archives exactly
# ----------------------------------------------------------------------------------------------

def compat_samples() -> list:
    long_key = "long/" + "k" * 120 + "/sample_0001"
    return [
        {"__key__": "c/sample_0000", "txt": b"hello\n", "cls": b"3", "bin": bytes(range(256)) * 3},
        {"__key__": "c/sample_0001", "json": b'{"a": [1, 2]}', "empty": b"", "z.txt": b"x" * 511},
        {"__key__": long_key, "txt": b"long key"},
        {"__key__": "c/ünïcødé_0002", "txt": "grüße".encode()},
        {"__key__": "c/sample_0003", "seg.a.txt": b"a", "seg.b.txt": b"b" * 512, "A.TXT": b"upper"},
    ]


def write_like_wds(path: Path, samples: list, fmt: int, mtime) -> None:
    """What webdataset's TarWriter.write does, with tarfile's `format` honoured. (webdataset 1.0.2 computes its
    `format` argument but never passes it to tarfile.open, so its own TarWriter always writes tarfile's default,
    PAX; the GNU and ustar variants are therefore written here with tarfile directly, member by member as
    TarWriter.write would.)"""
    with open(path, "wb") as stream:
        with tarfile.open(fileobj=stream, mode="w|", format=fmt) as tf:
            for sample in samples:
                key = sample["__key__"]
                for field in sorted(sample.keys()):
                    if field == "__key__":
                        continue
                    value = sample[field]
                    info = tarfile.TarInfo(key + "." + field)
                    info.size = len(value)
                    info.mtime = mtime
                    info.mode = 0o444
                    info.uname = "bigdata"
                    info.gname = "bigdata"
                    tf.addfile(info, io.BytesIO(value))


def compat() -> None:
    folder = OUT / "compat"
    folder.mkdir(parents=True, exist_ok=True)
    samples = compat_samples()
    listing = []
    for name, mtime in [("wds_pax.tar", FIXED_MTIME), ("wds_pax_float.tar", UPSTREAM_MTIME)]:
        with open(folder / name, "wb") as stream:
            writer = wds.TarWriter(stream, encoder=False, mtime=mtime)
            for sample in samples:
                writer.write(dict(sample))
            writer.close()
        listing.append({"file": name, "format": "pax", "mtime": mtime, "writer": "webdataset.TarWriter",
                        "sha256": sha((folder / name).read_bytes())})
    # The same samples through tarfile in each format (PAX must equal webdataset's own output).
    for name, fmt, label in [("tarfile_pax.tar", tarfile.PAX_FORMAT, "pax"), ("tarfile_gnu.tar", tarfile.GNU_FORMAT, "gnu"),
                             ("tarfile_ustar.tar", tarfile.USTAR_FORMAT, "ustar")]:
        write_like_wds(folder / name, samples, fmt, FIXED_MTIME)
        listing.append({"file": name, "format": label, "mtime": FIXED_MTIME, "writer": "tarfile",
                        "sha256": sha((folder / name).read_bytes())})
    assert (folder / "tarfile_pax.tar").read_bytes() == (folder / "wds_pax.tar").read_bytes()
    # tarfile-level entries with non-default ids, names and types (PAX), for TarWriter.addEntry.
    entries = [
        {"name": "e/dir", "type": "directory", "mode": 0o755},
        {"name": "e/file.txt", "type": "file", "data": b"data\n", "mtime": -5},
        {"name": "e/meta.txt", "type": "file", "data": b"m", "metadata": {"comment": "hi"}},
        {"name": "e/link", "type": "symlink", "linkname": "../" + "t" * 120},
        {"name": "e/hard", "type": "hardlink", "linkname": "e/file.txt"},
    ]
    type_codes = {"file": tarfile.REGTYPE, "directory": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                  "hardlink": tarfile.LNKTYPE}
    options = {"uid": 3_000_000, "gid": 5, "uname": "ünï", "gname": "staff", "mode": 0o640, "mtime": FIXED_MTIME}
    with open(folder / "entries_pax.tar", "wb") as stream:
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tf:
            for entry in entries:
                info = tarfile.TarInfo(entry["name"])
                info.type = type_codes[entry["type"]]
                info.mode = entry.get("mode", options["mode"])
                info.mtime = entry.get("mtime", options["mtime"])
                info.uid, info.gid = options["uid"], options["gid"]
                info.uname, info.gname = options["uname"], options["gname"]
                info.linkname = entry.get("linkname", "")
                if "metadata" in entry:
                    info.pax_headers = dict(entry["metadata"])
                data = entry.get("data")
                if data is not None:
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
                else:
                    tf.addfile(info)
    listing.append({"file": "entries_pax.tar", "sha256": sha((folder / "entries_pax.tar").read_bytes())})

    def encode(value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    record = {
        "samples": [
            {"key": s["__key__"], "fields": [{"name": k, "base64": encode(v)} for k, v in s.items() if k != "__key__"]}
            for s in samples
        ],
        "entries": [
            {**{k: v for k, v in e.items() if k != "data"}, **({"base64": encode(e["data"])} if "data" in e else {})}
            for e in entries
        ],
        "entry_options": options,
        "archives": listing,
        "versions": versions(),
    }
    (folder / "compat.json").write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                        encoding="utf-8")


# ----------------------------------------------------------------------------------------------
# Brace expansion
# ----------------------------------------------------------------------------------------------

BRACE_PATTERNS = [
    "d3-{0000..0491}.tar", "shard-{0..3}.tar", "a{1..3}b{x,y}", "{a,b}{1,2}{c,d}", "x{,-bak}.tar",
    "{07..10}", "{9..11}", "{10..7}", "{2..-1}", "{-3..3..2}", "{0..10..3}", "{10..0..-4}", "{-05..5..5}",
    "{a..e}", "{e..a}", "{a..g..2}", "{Y..c}", "{Z..a..3}", "python{2.{5..7},3.{2,3}}", "{x}", "{}", "a{b{c,d}e}f",
    "nested{a,{b,c}d}", r"esc\{1,2\}", r"{1\,2,3}", r"back\\slash{a,b}", "no-braces.tar", "}{", "{1..1}",
    "{0..0}", "{00..2}", "-{1..2}-", "{a,b}/{0001..0002}.tar", "pre{1..2}{,x}post", "{1..a}", "{a..1}",
    "{a,{b}", "{1..3", "x}", "{{a,b}}", "{,}", "{a,}", "{1...3}", "{1..3..0}", "{a..z..-5}",
]


def braces() -> None:
    cases = []
    for pattern in BRACE_PATTERNS:
        try:
            cases.append({"pattern": pattern, "expansion": list(braceexpand.braceexpand(pattern))})
        except braceexpand.UnbalancedBracesError:
            cases.append({"pattern": pattern, "error": "unbalanced"})
    (OUT / "braces.json").write_text(json.dumps({"cases": cases, "versions": versions()}, indent=1,
                                                ensure_ascii=False) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------------
# Encoders
# ----------------------------------------------------------------------------------------------

ENCODE_SIZE = (61, 47)


def encode_fixtures() -> None:
    folder = OUT / "encode"
    folder.mkdir(parents=True, exist_ok=True)
    source = formula_image(*ENCODE_SIZE)
    record = {"width": ENCODE_SIZE[0], "height": ENCODE_SIZE[1], "source_sha256": sha(source.tobytes())}
    for quality in (100, 75):
        data = pil_bytes(source, "JPEG", quality=quality)
        (folder / f"pillow_q{quality}.jpg").write_bytes(data)
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        record[f"pillow_q{quality}"] = {"sha256": sha(data), "decoded_sha256": sha(decoded.tobytes())}
    record["versions"] = versions()
    from PIL import features
    record["versions"]["libjpeg_turbo"] = features.version("libjpeg_turbo")
    (folder / "pillow.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------------
# Swift-written output, read back
# ----------------------------------------------------------------------------------------------

def check_swift_samples(shard: Path) -> None:
    """The content SwiftWrittenFixtureTests.samples() writes, checked field by field after webdataset's grouping."""
    pipeline = wds.DataPipeline(wds.SimpleShardList([str(shard)]), wds.tarfile_to_samples())
    for sample in pipeline:
        index = int(sample["__key__"].rsplit("_", 1)[-1])
        assert sample["__key__"] == f"swift.v1/part.{index % 2}/sample_{index:04d}", sample["__key__"]
        assert sorted(k for k in sample if not k.startswith("__")) == \
            ["cls", "jpg", "json", "npy", "png", "seg.mask.png", "txt"], sample.keys()
        assert sample["txt"].decode("utf-8") == f"swift caption {index}: ünïcødé"
        assert int(sample["cls"]) == index % 2
        assert json.loads(sample["json"]) == {"index": index, "ok": True}
        array = np.load(io.BytesIO(sample["npy"]))
        assert array.dtype == np.float32 and array.shape == (2, 3)
        assert np.array_equal(array.ravel(), np.arange(6, dtype=np.float32) * 0.5 - index)
        source = formula_image(20 + index, 12, salt=index)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(sample["png"])).convert("RGB")), source)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(sample["seg.mask.png"])).convert("RGB")),
                              formula_image(4, 4))
        jpeg = np.asarray(Image.open(io.BytesIO(sample["jpg"])).convert("RGB"))
        pillow = np.asarray(Image.open(io.BytesIO(pil_bytes(source, "JPEG", quality=100))).convert("RGB"))
        assert np.array_equal(jpeg, pillow), "the Swift JPEG decodes differently from Pillow's own encode"


def readback() -> bool:
    folder = OUT / "swift_written"
    shards = sorted(folder.glob("*.tar"))
    encode_folder = OUT / "encode"
    swift_images = sorted(encode_folder.glob("swift*"))
    if not shards and not swift_images:
        print("no Swift-written files yet: run the Swift fixture test with WDS_WRITE_FIXTURES=1, then rerun")
        return False
    record = {"shards": [], "versions": versions()}
    for shard in shards:
        members = tar_members(shard)
        for member in members:
            # What the Swift writer promises: webdataset's defaults.
            assert member["mode"] == 0o444 and member["uname"] == "bigdata" and member["gname"] == "bigdata", member
        size = shard.stat().st_size
        assert size % 10240 == 0, (shard, size)
        samples = wds_samples(shard)
        # Decode every image field with Pillow (after webdataset's grouping) and record the pixels.
        pipeline = wds.DataPipeline(wds.SimpleShardList([str(shard)]), wds.tarfile_to_samples())
        pixels = {}
        for sample in pipeline:
            for field, value in sample.items():
                if field.rsplit(".", 1)[-1] in ("jpg", "png"):
                    decoded = np.asarray(Image.open(io.BytesIO(value)).convert("RGB"))
                    pixels[f"{sample['__key__']}.{field}"] = {"shape": list(decoded.shape),
                                                             "sha256": sha(decoded.tobytes())}
        record["shards"].append({"file": shard.name, "size": size, "members": members, "samples": samples,
                                 "pixels": pixels})
        check_swift_samples(shard)
    images = {}
    source = formula_image(*ENCODE_SIZE)
    for path in swift_images:
        decoded = np.asarray(Image.open(path).convert("RGB"))
        entry = {"sha256": sha(path.read_bytes()), "decoded_sha256": sha(decoded.tobytes()),
                 "format": Image.open(path).format}
        if path.suffix == ".png":
            assert np.array_equal(decoded, source), "Pillow does not decode the Swift PNG to the source pixels"
            entry["equals_source"] = True
        else:
            quality = int(path.stem.split("_q")[-1])
            pillow = np.asarray(Image.open(io.BytesIO(pil_bytes(source, "JPEG", quality=quality))).convert("RGB"))
            diff = np.abs(decoded.astype(int) - pillow.astype(int))
            entry["max_abs_diff_vs_pillow_encode"] = int(diff.max())
            entry["bytes_equal_pillow_encode"] = path.read_bytes() == pil_bytes(source, "JPEG", quality=quality)
        images[path.name] = entry
    record["images"] = images
    (folder / "readback.json").write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    print(f"read back {len(shards)} Swift-written shard(s) and {len(swift_images)} image(s)")
    return True


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    only_readback = "--readback" in sys.argv
    if not only_readback:
        for sub in ("python_wds", "python_tarfile", "upstream_like", "compat"):
            shutil.rmtree(OUT / sub, ignore_errors=True)
        webdataset_shards()
        tarfile_archives()
        upstream_like()
        compat()
        braces()
        encode_fixtures()
    readback()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fixtures: {total} bytes under {OUT.relative_to(ROOT)}")
    assert total < 2_000_000, "fixtures must stay under 2 MB"


if __name__ == "__main__":
    main()
