#!/usr/bin/env python3
"""Python reference benchmark for the CoDE backbone (ViT-Tiny/16, fp32, CPU). DEV-ONLY.

Cases (ViT-Tiny/16: hidden 192, 12 layers, 3 heads, MLP 768, 224x224, random weights, no pooler;
the output is the CLS embedding last_hidden_state[:, 0, :]):
  torch-b1 / torch-b32 : transformers ViTModel, torch eager (no compile), torch.inference_mode(),
                         torch.set_num_threads(T), default attention implementation (sdpa)
  ort-b1 / ort-b32     : the same model exported to ONNX (temp dir, never the repo), onnxruntime CPU EP,
                         intra_op_num_threads=T, inter_op_num_threads=1, ORT_ENABLE_ALL, ORT_SEQUENTIAL
  preprocess           : (only with --preprocess-folder DIR) Image.open(p).convert('RGB') + torchvision
                         CenterCrop(224)+ToTensor+Normalize, single-threaded, over every image in DIR

Each case: untimed warm-up (>= --warmup runs and >= --warmup-seconds, then until 5 consecutive runs agree
within 30%, at most --warmup-max-seconds), then timed runs until --seconds have elapsed (at least 5 runs);
the reported figure is the median run time (ms per run, ms per image, images/s = batch / median), with
min/p10/p90 to show the spread.

Usage:
    python3 tools/reference/bench_python.py [--threads 2] [--seconds 10] [--warmup 3] [--json [PATH]]
                                            [--preprocess-folder Tests/Fixtures/images] [--cases ...]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

# torchvision 0.28 import hack (see README.md).
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_case(fn, batch: int, args, min_runs: int = 5) -> dict:
    """Warm up (>= args.warmup runs and >= args.warmup_seconds, then until the last 5 runs are within
    30% of each other, capped at args.warmup_max_seconds), then time runs for >= args.seconds."""
    warm, w0 = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - w0
        if len(warm) < args.warmup or elapsed < args.warmup_seconds:
            continue
        last = warm[-5:]
        if (len(last) == 5 and max(last) <= 1.3 * min(last)) or elapsed >= args.warmup_max_seconds:
            break
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < args.seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    q = statistics.quantiles(times, n=10) if len(times) >= 2 else [med] * 9
    return {
        "batch": batch,
        "runs": len(times),
        "median_ms_per_run": med * 1e3,
        "ms_per_image": med * 1e3 / batch,
        "images_per_s": batch / med,
        "min_ms_per_run": min(times) * 1e3,
        "p10_ms_per_run": q[0] * 1e3,
        "p90_ms_per_run": q[-1] * 1e3,
        "mean_images_per_s": batch * len(times) / sum(times),
        "warmup_runs": len(warm),
        "warmup_s": sum(warm),
    }


def build_model():
    import transformers
    transformers.logging.set_verbosity_error()
    cfg = transformers.ViTConfig(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                                 intermediate_size=768, image_size=224, patch_size=16, num_channels=3,
                                 hidden_act="gelu", qkv_bias=True, layer_norm_eps=1e-12,
                                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    model = transformers.ViTModel(cfg, add_pooling_layer=False).eval()

    class CLS(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m(pixel_values=pixel_values).last_hidden_state[:, 0, :]

    return CLS(model).eval(), model.config._attn_implementation


def export_onnx(module, path: Path) -> str:
    x = torch.zeros(2, 3, 224, 224)
    try:
        batch = torch.export.Dim("batch", min=1, max=1024)
        torch.onnx.export(module, (x,), str(path), input_names=["pixel_values"], output_names=["cls"],
                          dynamic_shapes={"pixel_values": {0: batch}}, dynamo=True, optimize=True)
        return "torch.onnx.export(dynamo=True)"
    except Exception as e:  # noqa: BLE001  fall back to the TorchScript exporter
        print(f"[bench] dynamo ONNX export failed ({type(e).__name__}: {e}); trying dynamo=False",
              file=sys.stderr)
        torch.onnx.export(module, (x,), str(path), input_names=["pixel_values"], output_names=["cls"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "cls": {0: "batch"}}, opset_version=17,
                          dynamo=False)
        return "torch.onnx.export(dynamo=False, opset 17)"


def bench_models(args, result: dict) -> None:
    import onnxruntime as ort
    import transformers

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    module, attn = build_model()
    result["versions"].update({"transformers": transformers.__version__, "onnxruntime": ort.__version__})
    rng = np.random.default_rng(0)
    inputs = {b: rng.standard_normal((b, 3, 224, 224), dtype=np.float32) for b in args.batches}
    cases = result["cases"]
    want = set(args.cases)

    with torch.inference_mode():
        ref = {b: module(torch.from_numpy(inputs[b])).numpy() for b in args.batches}
        if "torch" in want:
            for b in args.batches:
                t = torch.from_numpy(inputs[b])
                cases[f"torch-b{b}"] = {"engine": f"torch eager, inference_mode, attn_implementation={attn}",
                                        **time_case(lambda t=t: module(t), b, args)}
                print(f"[bench] torch-b{b}: {cases[f'torch-b{b}']['images_per_s']:.1f} img/s", file=sys.stderr)

    if "ort" in want:
        import onnx
        result["versions"]["onnx"] = onnx.__version__
        with tempfile.TemporaryDirectory(prefix="code-bench-") as tmp:
            path = Path(tmp) / "vit_tiny.onnx"
            # the exporter prints progress on stdout; keep stdout clean for --json
            with torch.inference_mode(False), torch.no_grad(), contextlib.redirect_stdout(sys.stderr):
                how = export_onnx(module, path)
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            name = sess.get_inputs()[0].name
            for b in args.batches:
                x = inputs[b]
                got = sess.run(None, {name: x})[0]
                diff = float(np.abs(got - ref[b]).max())
                cases[f"ort-b{b}"] = {
                    "engine": f"onnxruntime CPU ({how}), intra={args.threads}, inter=1, ORT_ENABLE_ALL, sequential",
                    "max_abs_diff_vs_torch": diff,
                    **time_case(lambda x=x: sess.run(None, {name: x}), b, args)}
                print(f"[bench] ort-b{b}: {cases[f'ort-b{b}']['images_per_s']:.1f} img/s", file=sys.stderr)


def bench_preprocess(args, result: dict) -> None:
    import torchvision
    from PIL import Image
    from torchvision import transforms

    folder = Path(args.preprocess_folder)
    if not folder.is_absolute() and not folder.exists():
        folder = REPO_ROOT / folder
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    tf = transforms.Compose([transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    good, failed = [], []
    for p in files:  # drop files PIL cannot decode (negative fixtures)
        try:
            with Image.open(p) as im:
                tf(im.convert("RGB"))
            good.append(p)
        except Exception as e:  # noqa: BLE001
            failed.append(f"{p.name}: {type(e).__name__}")
    result["versions"].update({"torchvision": torchvision.__version__, "pillow": Image.__version__})
    if not good:
        result["cases"]["preprocess"] = {"error": f"no decodable images in {folder}", "skipped": failed}
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(1)

    def one_pass():
        for p in good:
            with Image.open(p) as im:
                tf(im.convert("RGB"))

    r = time_case(one_pass, len(good), args)
    torch.set_num_threads(prev)
    r.pop("batch")
    result["cases"]["preprocess"] = {
        "engine": "PIL open+convert('RGB') + torchvision CenterCrop(224)/ToTensor/Normalize, 1 thread",
        "folder": str(folder), "images": len(good), "skipped_undecodable": failed,
        "note": "one run = one pass over all images; images_per_s = images / median pass time", **r}
    print(f"[bench] preprocess: {r['images_per_s']:.1f} img/s over {len(good)} images", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads for torch and onnxruntime")
    ap.add_argument("--warmup", type=int, default=3, help="minimum untimed runs per case")
    ap.add_argument("--warmup-seconds", type=float, default=3.0,
                    help="minimum untimed seconds per case (this VM's 2nd vCPU needs seconds of load to settle)")
    ap.add_argument("--warmup-max-seconds", type=float, default=20.0,
                    help="stop warming up after this long even if run times are still unstable")
    ap.add_argument("--seconds", type=float, default=10.0, help="minimum timed seconds per case")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--cases", nargs="+", default=["torch", "ort"], choices=["torch", "ort", "none"],
                    help="model cases to run ('none' with --preprocess-folder for preprocessing only)")
    ap.add_argument("--preprocess-folder", metavar="DIR", help="also time Python preprocessing over DIR")
    ap.add_argument("--json", nargs="?", const="-", metavar="PATH",
                    help="write one JSON object (to stdout without PATH)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    result = {
        "benchmark": "CoDE backbone ViT-Tiny/16 fp32 forward, Python reference",
        "machine": {"cpu_model": cpu_model(), "logical_cpus": os.cpu_count(),
                    "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                    "platform": platform.platform()},
        "settings": {"threads": args.threads, "warmup_runs_min": args.warmup,
                     "warmup_seconds_min": args.warmup_seconds, "warmup_seconds_max": args.warmup_max_seconds,
                     "seconds_per_case": args.seconds,
                     "statistic": "median of timed runs"},
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
        "cases": {},
    }
    if "none" not in args.cases:
        bench_models(args, result)
    if args.preprocess_folder:
        bench_preprocess(args, result)
    result["total_wall_s"] = time.perf_counter() - t0

    if args.json:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    else:
        print(f"CPU: {result['machine']['cpu_model']}  threads={args.threads}")
        for k, v in result["cases"].items():
            if "images_per_s" in v:
                print(f"{k:12s} {v['images_per_s']:9.1f} img/s  {v['ms_per_image']:8.2f} ms/img  "
                      f"(median {v['median_ms_per_run']:.2f} ms/run, min {v['min_ms_per_run']:.2f}, "
                      f"p90 {v['p90_ms_per_run']:.2f}, {v['runs']} runs)")
            else:
                print(f"{k:12s} {v}")


if __name__ == "__main__":
    main()
