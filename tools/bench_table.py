#!/usr/bin/env python3
"""Prints the benchmark table: Swift figures beside the Python reference's, with ratios (standard library only)."""
import json
import os
import platform
import sys


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(swift_path, python_path, threads):
    swift = {}
    for line in open(swift_path):
        row = json.loads(line)
        swift[row["case"]] = row
    python = json.load(open(python_path))["cases"] if os.path.exists(python_path) else {}
    print(f"Machine: {cpu_model()}, {os.cpu_count()} logical CPUs; threads: {threads}")
    print()
    print("| workload | Swift img/s | torch eager img/s | onnxruntime img/s | Swift / torch | Swift / onnxruntime |")
    print("|---|---|---|---|---|---|")
    for batch in (1, 32):
        s = swift.get(f"vit_forward_b{batch}", {}).get("images_per_s")
        t = python.get(f"torch-b{batch}", {}).get("images_per_s")
        o = python.get(f"ort-b{batch}", {}).get("images_per_s")
        fmt = lambda v: f"{v:.1f}" if v else "–"
        ratio = lambda a, b: f"{a / b:.2f}×" if a and b else "–"
        print(f"| ViT-Tiny forward, batch {batch} | {fmt(s)} | {fmt(t)} | {fmt(o)} | {ratio(s, t)} | {ratio(s, o)} |")
    e = swift.get("embed_folder")
    if e:
        print()
        print(f"Swift end-to-end `embed` over {e['images']} fixture images (decode + crop + forward): {e['images_per_s']:.1f} img/s")
    p = python.get("preprocess")
    if p:
        print(f"Python preprocessing only (Pillow + torchvision, 1 thread): {p.get('images_per_s', 0):.1f} img/s")
    rss = swift.get("peak_rss")
    if rss:
        print(f"Swift peak resident memory: {rss['mib']:.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "?")
