#!/usr/bin/env python3
"""Writes the Parquet reader's fixtures (DEV-ONLY): small files covering every encoding, codec, data page
version, physical type, null pattern and nesting the Swift reader supports, and pyarrow's own reading of
each as JSON next to it.

    python3 tools/reference/make_parquet_fixtures.py

Output: Tests/Fixtures/parquet/<name>.parquet and <name>.json. Deterministic (numpy default_rng seeds; the
files are byte-identical across runs with the same pyarrow). See tools/reference/README.md.

JSON value encoding (so that types and bits survive JSON exactly):
  null -> null, bool -> true/false, integers -> "i:<decimal>", FLOAT -> "f:<8 hex digits, big-endian bits>",
  DOUBLE -> "d:<16 hex digits>", strings -> "u:<text>", binary / fixed / INT96 -> "b:<base64>",
  lists and maps -> arrays (a map entry is {"key": ..., "value": ...}), structs -> objects.
"""
import base64
import datetime
import io
import json
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "parquet"

EPOCH = datetime.date(1970, 1, 1)


# ---------------------------------------------------------------------------------------------- encoding
def enc(v, t):
    """Encodes one pyarrow Python value `v` of Arrow type `t` in the tagged JSON form above."""
    if v is None:
        return None
    if pa.types.is_boolean(t):
        return bool(v)
    if pa.types.is_integer(t):
        return f"i:{int(v)}"
    if pa.types.is_date32(t):
        return f"i:{(v - EPOCH).days}"
    if pa.types.is_float32(t):
        return "f:" + struct.pack(">f", v).hex()
    if pa.types.is_float64(t):
        return "d:" + struct.pack(">d", v).hex()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "u:" + v
    if pa.types.is_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_large_binary(t):
        return "b:" + base64.b64encode(v).decode()
    if pa.types.is_timestamp(t):
        # Stored as INT96: 8 bytes nanoseconds within the day, then 4 bytes Julian day (little-endian).
        ns = int(pa.scalar(v, t).cast(pa.int64()).as_py())
        day, nanos = divmod(ns, 86_400 * 10**9)
        return "b:" + base64.b64encode(struct.pack("<qi", nanos, day + 2_440_588)).decode()
    if pa.types.is_map(t):
        return [{"key": enc(k, t.key_type), "value": enc(x, t.item_type)} for k, x in v]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [enc(x, t.value_type) for x in v]
    if pa.types.is_struct(t):
        return {f.name: enc(v[f.name], f.type) for f in t if f.name in v}
    raise TypeError(f"no encoding for {t}")


def encode_table(table):
    return {name: [enc(v, table.schema.field(name).type) for v in table.column(name).to_pylist()]
            for name in table.column_names}


def describe(path, options):
    """pyarrow's reading of the file's metadata."""
    md = pq.ParquetFile(path).metadata
    schema = []
    for i in range(md.num_columns):
        c = md.schema.column(i)
        schema.append({
            "path": c.path, "physical_type": c.physical_type,
            "max_definition_level": c.max_definition_level, "max_repetition_level": c.max_repetition_level,
            "logical_type": str(c.logical_type), "converted_type": c.converted_type,
            "length": c.length if c.physical_type == "FIXED_LEN_BYTE_ARRAY" else None,
        })
    row_groups = []
    for r in range(md.num_row_groups):
        g = md.row_group(r)
        row_groups.append({"num_rows": g.num_rows, "columns": [{
            "path": g.column(i).path_in_schema, "compression": g.column(i).compression,
            "encodings": sorted(g.column(i).encodings), "num_values": g.column(i).num_values,
            "has_dictionary_page": g.column(i).has_dictionary_page,
        } for i in range(g.num_columns)]})
    return {"file": path.name, "options": options, "num_rows": md.num_rows, "created_by": md.created_by,
            "schema": schema, "row_groups": row_groups}


def read_values(path, subsets):
    """pyarrow's reading of every top-level column, and of each leaf subset in `subsets` read alone."""
    f = pq.ParquetFile(path)
    return {"values": encode_table(f.read()),
            "subsets": {p: encode_table(f.read(columns=[p])) for p in subsets}}


def dump(path, doc):
    path.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")


def write(group, name, table, subsets=(), **options):
    """Writes `name`.parquet and its metadata JSON; the values pyarrow reads back go to `group`.values.json,
    once per group: every file of a group must read back to the same values (checked here)."""
    path = OUT / f"{name}.parquet"
    pq.write_table(table, path, **options)
    dump(OUT / f"{name}.json", describe(path, options) | {"values_file": f"{group}.values.json"})
    values = read_values(path, subsets)
    values_path = OUT / f"{group}.values.json"
    if values_path.exists():
        assert json.loads(values_path.read_text()) == values, f"{name} reads back differently from {group}"
    else:
        dump(values_path, values)
    return path


# ---------------------------------------------------------------------------------------------- data
def with_nulls(rng, values, rate):
    mask = rng.random(len(values)) < rate
    return [None if m else v for v, m in zip(values, mask)]


def text(rng, n_min, n_max):
    alphabet = list("abcdefghij klmnop") + ["é", "ß", "漢", "字", "🙂"]
    return "".join(rng.choice(alphabet, size=int(rng.integers(n_min, n_max + 1))))


def types_table(n=400, seed=1):
    """Every physical type, flat, with nulls (and the special values each type has)."""
    rng = np.random.default_rng(seed)
    i32 = rng.integers(-2**31, 2**31, size=n).tolist()
    i32[:4] = [-2**31, 2**31 - 1, 0, -1]
    i64 = rng.integers(-2**63, 2**63 - 1, size=n, dtype=np.int64).tolist()
    i64[:4] = [-2**63, 2**63 - 1, 0, -1]
    f32 = rng.standard_normal(n).astype(np.float32).tolist()
    f32[:6] = [float("nan"), float("inf"), float("-inf"), -0.0, 1e-45, 3.4028235e38]
    f64 = (rng.standard_normal(n) * 1e10).tolist()
    f64[:6] = [float("nan"), float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308]
    strings = [text(rng, 0, 12) for _ in range(n)]
    strings[:2] = ["", "a"]
    binaries = [rng.bytes(int(rng.integers(0, 40))) for _ in range(n)]
    binaries[:1] = [b""]
    fixed = [rng.bytes(5) for _ in range(n)]
    dates = [EPOCH + datetime.timedelta(days=int(d)) for d in rng.integers(-40000, 40000, size=n)]
    stamps = [datetime.datetime(2000, 1, 1) + datetime.timedelta(microseconds=int(u))
              for u in rng.integers(0, 10**15, size=n)]
    schema = pa.schema([
        pa.field("bool_req", pa.bool_(), nullable=False),
        ("bool_opt", pa.bool_()), ("i8", pa.int8()), ("i32", pa.int32()),
        pa.field("i64_req", pa.int64(), nullable=False), ("i64", pa.int64()),
        ("f32", pa.float32()), ("f64", pa.float64()), ("str", pa.string()), ("bin", pa.binary()),
        ("fixed", pa.binary(5)), ("date", pa.date32()), ("ts96", pa.timestamp("ns")),
    ])
    cols = [
        rng.random(n) < 0.3,
        with_nulls(rng, (rng.random(n) < 0.6).tolist(), 0.2),
        with_nulls(rng, rng.integers(-128, 128, size=n).tolist(), 0.1),
        with_nulls(rng, i32, 0.15),
        i64,
        with_nulls(rng, i64[::-1], 0.25),
        with_nulls(rng, f32, 0.1),
        with_nulls(rng, f64, 0.1),
        with_nulls(rng, strings, 0.2),
        with_nulls(rng, binaries, 0.2),
        with_nulls(rng, fixed, 0.3),
        with_nulls(rng, dates, 0.05),
        with_nulls(rng, stamps, 0.1),
    ]
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)], schema=schema)


IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def nested_table(n=200, seed=2):
    """Struct, list, list of lists, list of structs, map and nested struct columns, nulls at every level."""
    rng = np.random.default_rng(seed)

    def maybe(rate):
        return rng.random() < rate

    def image():
        if maybe(0.1):
            return None
        return {"bytes": None if maybe(0.05) else rng.bytes(int(rng.integers(0, 60))),
                "path": None if maybe(0.1) else f"img/{int(rng.integers(0, 10**6))}.png"}

    def listof(make, null_rate=0.1, empty_rate=0.1, max_len=6):
        if maybe(null_rate):
            return None
        if maybe(empty_rate):
            return []
        return [make() for _ in range(int(rng.integers(1, max_len + 1)))]

    tags = lambda: None if maybe(0.15) else text(rng, 0, 8)
    ids = lambda: None if maybe(0.1) else int(rng.integers(-2**63, 2**63 - 1, dtype=np.int64))
    inner = lambda: listof(lambda: None if maybe(0.2) else int(rng.integers(-1000, 1000)), 0.15, 0.15, 4)
    point = lambda: None if maybe(0.15) else {"x": None if maybe(0.1) else float(rng.standard_normal()),
                                               "label": None if maybe(0.2) else text(rng, 1, 5)}
    schema = pa.schema([
        ("image", IMAGE),
        ("tags", pa.list_(pa.string())),
        ("ids", pa.list_(pa.int64())),
        ("matrix", pa.list_(pa.list_(pa.int32()))),
        ("points", pa.list_(pa.struct([("x", pa.float64()), ("label", pa.string())]))),
        ("attrs", pa.map_(pa.string(), pa.int32())),
        ("meta", pa.struct([("source", pa.string()),
                            ("size", pa.struct([("w", pa.int32()), ("h", pa.int32())]))])),
        pa.field("req_list", pa.list_(pa.field("item", pa.int32(), nullable=False)), nullable=False),
    ])
    rows = {
        "image": [image() for _ in range(n)],
        "tags": [listof(tags) for _ in range(n)],
        "ids": [listof(ids, 0.1, 0.2, 5) for _ in range(n)],
        "matrix": [listof(inner, 0.1, 0.1, 4) for _ in range(n)],
        "points": [listof(point, 0.1, 0.1, 4) for _ in range(n)],
        "attrs": [None if maybe(0.1) else [(f"k{j}", None if maybe(0.2) else int(rng.integers(-50, 50)))
                                           for j in range(int(rng.integers(0, 4)))] for _ in range(n)],
        "meta": [None if maybe(0.1) else {
            "source": None if maybe(0.2) else text(rng, 1, 6),
            "size": None if maybe(0.2) else {"w": None if maybe(0.1) else int(rng.integers(1, 4096)),
                                             "h": int(rng.integers(1, 4096))}} for _ in range(n)],
        "req_list": [[int(x) for x in rng.integers(-10, 10, size=int(rng.integers(0, 4)))] for _ in range(n)],
    }
    return pa.Table.from_arrays([pa.array(rows[f.name], type=f.type) for f in schema], schema=schema)


def png(rng, size):
    """A small real PNG (random noise, so that it does not compress away)."""
    pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def hf_images_table(n=40, seed=3):
    """A Hugging Face `datasets`-style image table: Image features are struct<bytes, path>, with the
    `huggingface` schema metadata the library writes."""
    rng = np.random.default_rng(seed)

    def image(i, gen):
        if rng.random() < 0.08:
            return None
        return {"bytes": png(rng, int(rng.integers(4, 20))), "path": None if gen else f"real/{i:04d}.png"}

    schema = pa.schema([
        ("id", pa.string()), ("image", IMAGE), ("image_gen0", IMAGE), ("image_gen1", IMAGE),
        ("prompt", pa.string()), ("label", pa.int64()),
    ], metadata={"huggingface": json.dumps({"info": {"features": {
        "id": {"dtype": "string", "_type": "Value"}, "image": {"_type": "Image"},
        "image_gen0": {"_type": "Image"}, "image_gen1": {"_type": "Image"},
        "prompt": {"dtype": "string", "_type": "Value"}, "label": {"dtype": "int64", "_type": "Value"}}}})})
    rows = {
        "id": [f"{i:05d}" for i in range(n)],
        "image": [image(i, False) for i in range(n)],
        "image_gen0": [image(i, True) for i in range(n)],
        "image_gen1": [image(i, True) for i in range(n)],
        "prompt": [None if rng.random() < 0.1 else text(rng, 5, 30) for _ in range(n)],
        "label": [int(x) for x in rng.integers(0, 2, size=n)],
    }
    return pa.Table.from_arrays([pa.array(rows[f.name], type=f.type) for f in schema], schema=schema)


def wide_table(n=2000, seed=4):
    """Values that need wide bit widths (full-range deltas, big dictionaries) and long runs."""
    rng = np.random.default_rng(seed)
    runs = []
    while len(runs) < n:
        value = None if rng.random() < 0.3 else int(rng.integers(-5, 5))
        runs += [value] * int(rng.integers(1, 300))
    words = [text(rng, 1, 10) + str(i) for i in range(1000)]
    return pa.table({
        "i64_delta": pa.array(rng.integers(-2**63, 2**63 - 1, size=n, dtype=np.int64)),
        "i32_delta": pa.array(rng.integers(-2**31, 2**31, size=n).astype(np.int32)),
        "sorted_delta": pa.array(np.cumsum(rng.integers(0, 1000, size=n)).astype(np.int64)),
        "i64_dict": pa.array(with_nulls(rng, rng.integers(0, 600, size=n).tolist(), 0.05), pa.int64()),
        "s_dict": pa.array(with_nulls(rng, [words[i] for i in rng.integers(0, 1000, size=n)], 0.05)),
        "runs": pa.array(runs[:n], pa.int32()),
        "bool_runs": pa.array([None if v is None else v > 0 for v in runs[:n]], pa.bool_()),
    })


# ---------------------------------------------------------------------------------------------- files
def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()
    small = dict(row_group_size=150, data_page_size=512, write_batch_size=32, max_rows_per_page=64)
    types = types_table()
    int96 = dict(use_deprecated_int96_timestamps=True)
    write("types", "types_plain_none_v1", types, use_dictionary=False, compression="none", **int96, **small)
    write("types", "types_dict_snappy_v1", types, compression="snappy", **int96, **small)
    write("types", "types_dict_zstd_v2", types, compression="zstd", data_page_version="2.0", **int96, **small)
    write("types", "types_plain_gzip_v2", types, use_dictionary=False, compression="gzip", data_page_version="2.0",
          **int96, **small)
    write("types", "types_legacy_v1", types, version="1.0", compression="gzip", **int96, **small)
    write("types", "types_delta_snappy_v1", types, use_dictionary=False, compression="snappy", **int96, **small,
          column_encoding={"bool_req": "RLE", "bool_opt": "RLE", "i8": "BYTE_STREAM_SPLIT",
                           "i32": "DELTA_BINARY_PACKED", "i64_req": "DELTA_BINARY_PACKED",
                           "i64": "DELTA_BINARY_PACKED", "f32": "BYTE_STREAM_SPLIT", "f64": "BYTE_STREAM_SPLIT",
                           "str": "DELTA_LENGTH_BYTE_ARRAY", "bin": "DELTA_BYTE_ARRAY",
                           "fixed": "DELTA_BYTE_ARRAY", "date": "DELTA_BINARY_PACKED", "ts96": "PLAIN"})
    write("types", "types_delta_zstd_v2", types, use_dictionary=False, compression="zstd", data_page_version="2.0",
          **int96, **small,
          column_encoding={"bool_req": "PLAIN", "bool_opt": "PLAIN", "i8": "DELTA_BINARY_PACKED",
                           "i32": "BYTE_STREAM_SPLIT", "i64_req": "BYTE_STREAM_SPLIT",
                           "i64": "DELTA_BINARY_PACKED", "f32": "PLAIN", "f64": "BYTE_STREAM_SPLIT",
                           "str": "DELTA_BYTE_ARRAY", "bin": "DELTA_LENGTH_BYTE_ARRAY",
                           "fixed": "BYTE_STREAM_SPLIT", "date": "BYTE_STREAM_SPLIT", "ts96": "PLAIN"})
    write("empty", "types_empty", types.slice(0, 0), compression="snappy", **int96)

    nested = nested_table()
    subsets = ["image.bytes", "image.path", "points.list.element.x", "attrs.key_value.value",
               "meta.size.h", "matrix"]
    write("nested", "nested_dict_snappy_v1", nested, subsets, compression="snappy", **small)
    write("nested", "nested_plain_zstd_v2", nested, subsets, use_dictionary=False, compression="zstd",
          data_page_version="2.0", **small)
    write("nested", "nested_delta_gzip_v2", nested, subsets, use_dictionary=False, compression="gzip",
          data_page_version="2.0", **small,
          column_encoding={"image.bytes": "DELTA_LENGTH_BYTE_ARRAY", "image.path": "DELTA_BYTE_ARRAY",
                           "ids.list.element": "DELTA_BINARY_PACKED", "matrix.list.element.list.element":
                           "DELTA_BINARY_PACKED", "points.list.element.x": "BYTE_STREAM_SPLIT"})

    write("hf_images", "hf_images", hf_images_table(), ["image.bytes", "image_gen0.bytes"], compression="snappy",
          row_group_size=16, data_page_size=1024)

    wide = wide_table()
    for version, codec in (("1.0", "snappy"), ("2.0", "zstd")):
        write("wide", f"wide_{codec}_v{version[0]}", wide, compression=codec, data_page_version=version,
              row_group_size=1500, data_page_size=4096, use_dictionary=["i64_dict", "s_dict", "runs"],
              column_encoding={"i64_delta": "DELTA_BINARY_PACKED", "i32_delta": "DELTA_BINARY_PACKED",
                               "sorted_delta": "DELTA_BINARY_PACKED", "bool_runs": "RLE"})

    total = sum(p.stat().st_size for p in OUT.glob("*"))
    print(f"wrote {len(list(OUT.glob('*.parquet')))} fixtures to {OUT.relative_to(ROOT)} ({total} bytes)")


if __name__ == "__main__":
    main()
