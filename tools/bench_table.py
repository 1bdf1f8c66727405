#!/usr/bin/env python3
"""Prints the benchmark tables: Swift figures beside the Python reference's, with ratios (standard library only).

    python3 tools/bench_table.py bench-out/swift.jsonl bench-out/python.json [THREADS [bench-out/scaling.jsonl]]

One Markdown table per workload group (only the groups either side measured), then peak resident memory per
case, the machine and the library versions. Ratios are Swift / Python: above 1 means Swift is faster (for
throughputs) or uses more memory (for resident memory).
"""
import json
import os
import platform
import subprocess
import sys


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def command_output(argv):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def swift_version():
    text = command_output(["swift", "--version"])
    return text.splitlines()[0] if text else "unknown"


def debian_versions(packages):
    """Installed versions of the Debian packages deepfake links against (the first of each alternative list)."""
    out = []
    for label, names in packages:
        for name in names:
            v = command_output(["dpkg-query", "-W", "-f=${Version}", name])
            if v:
                out.append(f"{label} {v}")
                break
    return out


def fmt(v, digits=1):
    return f"{v:.{digits}f}" if isinstance(v, (int, float)) and v else "–"


def ratio(a, b):
    return f"{a / b:.2f}×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a and b else "–"


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def scaling_table(path):
    """Swift throughput per thread count (scripts/bench's scaling workload), with speed-up over 1 thread."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    if not rows:
        return
    print("### Scaling with cores (Swift)")
    print()
    out = []
    for case, label in (("vit_forward_b32", "ViT-Tiny forward, batch 32"), ("detect_folder", "folder detection")):
        base = next((r["images_per_s"] for r in rows if r["case"] == case and r["threads"] == 1), None)
        for r in rows:
            if r["case"] == case:
                out.append([label, str(r["threads"]), fmt(r["images_per_s"]), ratio(r["images_per_s"], base),
                            fmt(r.get("peak_rss_mib"), 0)])
    table(["workload", "threads", "img/s", "vs 1 thread", "peak RSS MiB"], out)


def main(swift_path, python_path, threads, scaling_path=None):
    swift = {}
    if os.path.exists(swift_path):
        for line in open(swift_path):
            if line.strip():
                row = json.loads(line)
                swift[row["case"]] = row
    pdoc = json.load(open(python_path)) if os.path.exists(python_path) else {}
    python = pdoc.get("cases", {})
    s = lambda case, key: swift.get(case, {}).get(key)
    p = lambda case, key: python.get(case, {}).get(key)

    print(f"Machine: {cpu_model()}, {os.cpu_count()} logical CPUs; threads: {threads}")
    print()

    if any(f"vit_forward_b{b}" in swift or f"torch-b{b}" in python for b in (1, 32)):
        print("### ViT-Tiny/16 forward, fp32")
        print()
        rows = []
        for b in (1, 32):
            sv, tv, ov = s(f"vit_forward_b{b}", "images_per_s"), p(f"torch-b{b}", "images_per_s"), p(f"ort-b{b}", "images_per_s")
            rows.append([f"ViT-Tiny forward, batch {b}", fmt(sv), fmt(tv), fmt(ov), ratio(sv, tv), ratio(sv, ov)])
        table(["workload", "Swift img/s", "torch eager img/s", "onnxruntime img/s", "Swift / torch", "Swift / onnxruntime"], rows)

    e, pp = swift.get("embed_folder"), python.get("preprocess")
    if e:
        print(f"Swift end-to-end `embed` over {e['images']} fixture images (decode + crop + forward, batch 32): "
              f"{e['images_per_s']:.1f} img/s")
    if pp and "images_per_s" in pp:
        print(f"Python preprocessing only (Pillow + torchvision, 1 thread) on the same files: {pp['images_per_s']:.1f} img/s")
    if e or pp:
        print()

    if "shards_read" in swift or "shards_read" in python:
        src = swift.get("shards_read") or python.get("shards_read")
        print(f"### Shards, no decoding ({src.get('shards')} shards, {src.get('samples')} D3-like samples, "
              f"{src.get('shard_bytes', 0) / 1e6:.0f} MB; one reading thread on both sides)")
        print()
        sv, pv = s("shards_read", "samples_per_s"), p("shards_read", "samples_per_s")
        table(["workload", "Swift samples/s", "webdataset samples/s", "Swift MB/s", "webdataset MB/s", "Swift / webdataset"],
              [["read every sample (TarShardSource / WebDataset)", fmt(sv, 0), fmt(pv, 0),
                fmt(s("shards_read", "mb_per_s"), 0), fmt(p("shards_read", "mb_per_s"), 0), ratio(sv, pv)]])

    if "shards_decode" in swift or "shards_decode" in python:
        src = swift.get("shards_decode") or python.get("shards_decode")
        print(f"### Shards, decode + center crop 224 + normalise ({src.get('samples')} samples, {src.get('images')} images; "
              f"Swift: {threads} map threads, Python: DataLoader with {threads} workers)")
        print()
        sv, pv = s("shards_decode", "samples_per_s"), p("shards_decode", "samples_per_s")
        table(["workload", "Swift samples/s", "Python samples/s", "Swift img/s", "Python img/s", "Swift / Python"],
              [["decode + crop every image of every sample", fmt(sv), fmt(pv), fmt(s("shards_decode", "images_per_s")),
                fmt(p("shards_decode", "images_per_s")), ratio(sv, pv)]])

    if "detect_folder" in swift or "detect_folder" in python:
        src = swift.get("detect_folder") or python.get("detect_folder")
        print(f"### End-to-end folder detection ({src.get('images')} JPEG/PNG/WebP images, batch 32, linear head)")
        print()
        sv, pv = s("detect_folder", "images_per_s"), p("detect_folder", "images_per_s")
        sr, pr = s("detect_folder", "peak_rss_mib"), p("detect_folder", "peak_rss_mib")
        table(["workload", "Swift img/s", "Python img/s", "Swift / Python", "Swift peak RSS MiB", "Python peak RSS MiB",
               "Swift / Python RSS"],
              [["decode + crop + ViT-Tiny + linear head", fmt(sv), fmt(pv), ratio(sv, pv), fmt(sr, 0), fmt(pr, 0),
                ratio(sr, pr)]])
        sf, pf = s("detect_folder", "fake"), p("detect_folder", "fake")
        if sf is not None and pf is not None and sf != pf:
            print(f"Note: the two sides called a different number of images fake (Swift {sf}, Python {pf}).")
            print()

    if "train_step" in swift or "train_step" in python:
        batch = s("train_step", "batch") or p("train_step", "batch") or 32
        print(f"### Training step (ViT-Tiny, batch {batch}: forward + backward + AdamW)")
        print()
        sv, pv = s("train_step", "images_per_s"), p("train_step", "images_per_s")
        table(["workload", "Swift img/s", "torch img/s", "Swift / torch", "Swift ms/step", "torch ms/step"],
              [["forward + backward + AdamW step", fmt(sv, 2), fmt(pv, 2), ratio(sv, pv),
                fmt(s("train_step", "ms_per_step"), 0), fmt(p("train_step", "ms_per_step"), 0)]])

    rss_rows = []
    for case, pcase, note in (
            ("vit_forward_b1", "torch-b1", "Python: one process for torch-* and ort-* together"),
            ("vit_forward_b32", "torch-b32", "Python: one process for torch-* and ort-* together"),
            ("embed_folder", "preprocess", "Python: preprocessing only"),
            ("shards_read", "shards_read", ""),
            ("shards_decode", "shards_decode", "Python: main process only, decoding runs in the DataLoader workers"),
            ("detect_folder", "detect_folder", ""),
            ("train_step", "train_step", "")):
        sr, pr = s(case, "peak_rss_mib"), p(pcase, "peak_rss_mib")
        if sr or pr:
            rss_rows.append([case, fmt(sr, 0), fmt(pr, 0), ratio(sr, pr), note])
    if rss_rows:
        print("### Peak resident memory per case (VmHWM of the case's own process, MiB)")
        print()
        table(["case", "Swift", "Python", "Swift / Python", "note"], rss_rows)

    d = swift.get("detect_folder")
    if d and d.get("images_processed"):
        print(f"Swift detect_folder memory: peak RSS {d['peak_rss_after_first_pass_mib']:.0f} MiB after the first "
              f"{d['images']} images, {d['peak_rss_mib']:.0f} MiB after {d['images_processed']} (the pipeline streams)")
        print()

    if scaling_path and os.path.exists(scaling_path):
        scaling_table(scaling_path)

    versions = [swift_version()] + debian_versions([
        ("oneDNN", ["libdnnl-dev", "libdnnl3", "libdnnl2"]), ("OpenBLAS", ["libopenblas-dev"]),
        ("libjpeg-turbo", ["libjpeg62-turbo-dev"]), ("libpng", ["libpng-dev"]), ("libwebp", ["libwebp-dev"]),
        ("zlib", ["zlib1g-dev"])])
    print("Swift side: " + ", ".join(versions))
    if pdoc.get("versions"):
        print("Python side: " + ", ".join(f"{k} {v}" for k, v in pdoc["versions"].items()))
    if pdoc.get("failed_groups"):
        print("Python case groups that failed: " + ", ".join(pdoc["failed_groups"]))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "?", sys.argv[4] if len(sys.argv) > 4 else None)
