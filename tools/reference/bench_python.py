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
  shards_read          : (--shards DIR) webdataset.WebDataset(DIR/*.tar, shardshuffle=False) iterated in this
                         process, nothing decoded (one thread, as the Swift TarShardSource reader)
  shards_decode        : (--shards DIR) the same + .decode("pilrgb") (= decode("pil") + convert("RGB")) and
                         CenterCrop(224)+ToTensor+Normalize on every image of every sample, through a
                         torch DataLoader(batch_size=None, num_workers=T, persistent_workers=True): webdataset
                         splits the shards over the T worker processes (Swift: the tar read on the caller's
                         thread, decoding on T threads)
  detect_folder        : (--detect-folder DIR --model MODEL) ViTModel.from_pretrained(MODEL, fp32) + the
                         scikit-learn linear head joblib.load(MODEL/sklearn/linear_tot_classifier_epoch-32.sav):
                         per batch of 32 files, Pillow decode + CenterCrop/ToTensor/Normalize on a thread pool of T
                         threads (Pillow and torch release the GIL), torch.stack, forward (inference_mode,
                         set_num_threads(T)), predict_proba on the CLS embeddings
  train_step           : ViTModel (random weights, train mode, dropout 0) forward + loss = (cls * g).sum() +
                         backward + torch.optim.AdamW step (lr 1e-4, weight decay 2e-5 on >=2-D weights except
                         the position embedding and CLS token, as timm), batch --train-batch (32)

Each group of cases (forward = torch-* and ort-*; every other case alone) runs in a fresh Python subprocess so
that its peak resident memory (VmHWM, `peak_rss_mib`) is its own; --no-isolate runs them in this process.

Timing. torch-*, ort-*, preprocess: untimed warm-up (>= --warmup runs and >= --warmup-seconds, then until 5
consecutive runs agree within 30%, at most --warmup-max-seconds), then timed runs until --seconds have elapsed
(at least 5 runs). shards_*, detect_folder, train_step (one run = one pass over the data, or one training
step): one untimed warm-up run, then timed runs until --seconds have elapsed and at least 3 runs, as the Swift
deepfake-bench does. The reported figure is the median run time, with min/p10/p90 to show the spread.

Usage:
    python3 tools/reference/bench_python.py [--threads 2] [--seconds 10] [--warmup 3] [--json [PATH]]
        [--cases torch ort preprocess shards_read shards_decode detect_folder train_step]
        [--preprocess-folder Tests/Fixtures/images] [--shards bench-out/data/shards]
        [--detect-folder bench-out/data/images] [--model Tests/Fixtures/models/vit-tiny-random]
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


def time_case(fn, batch: int, args, min_runs: int = 5, warmup_runs: int | None = None) -> dict:
    """Warm up (>= args.warmup runs and >= args.warmup_seconds, then until the last 5 runs are within
    30% of each other, capped at args.warmup_max_seconds; exactly `warmup_runs` runs when given), then time
    runs for >= args.seconds."""
    warm, w0 = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - w0
        if warmup_runs is not None:
            if len(warm) >= warmup_runs:
                break
            continue
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
    q = statistics.quantiles(times, n=10, method="inclusive") if len(times) >= 2 else [med] * 9
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


def tiny_config():
    import transformers
    transformers.logging.set_verbosity_error()
    return transformers.ViTConfig(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                                  intermediate_size=768, image_size=224, patch_size=16, num_channels=3,
                                  hidden_act="gelu", qkv_bias=True, layer_norm_eps=1e-12,
                                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def build_model():
    import transformers
    cfg = tiny_config()
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


def peak_rss_mib() -> float | None:
    """This process's peak resident memory (VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() or p.exists() else REPO_ROOT / p


def shard_urls(folder: str) -> list[str]:
    d = resolve(folder)
    urls = [str(d)] if d.is_file() else sorted(str(p) for p in d.glob("*.tar"))
    if not urls:
        raise SystemExit(f"bench_python: no .tar shards in {d}")
    return urls


def inference_transform():
    from torchvision import transforms
    return transforms.Compose([transforms.CenterCrop(224), transforms.ToTensor(),
                               transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


def pass_stats(r: dict, items: int = 0, unit: str | None = None) -> dict:
    """time_case's figures for a run that is one pass over the data: s_per_pass (the median run) and, with
    `unit`, `<unit>_per_s` = items / s_per_pass; the per-batch fields are dropped."""
    r = dict(r)
    for k in ("batch", "ms_per_image", "images_per_s", "mean_images_per_s"):
        r.pop(k, None)
    r["s_per_pass"] = r["median_ms_per_run"] / 1e3
    if unit:
        r[f"{unit}_per_s"] = items / r["s_per_pass"]
    return r


def bench_shards_read(args, result: dict) -> None:
    import webdataset as wds
    urls = shard_urls(args.shards)
    shard_bytes = sum(os.path.getsize(u) for u in urls)
    counts = {}

    def one_pass():
        n = b = 0
        for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
            n += 1
            b += sum(len(v) for k, v in sample.items() if not k.startswith("__"))
        counts.update(samples=n, field_bytes=b)

    r = pass_stats(time_case(one_pass, 1, args, min_runs=3, warmup_runs=1))
    samples = counts["samples"]
    result["versions"]["webdataset"] = getattr(wds, "__version__", "?")
    result["cases"]["shards_read"] = {
        "engine": "webdataset.WebDataset(urls, shardshuffle=False) iterated in-process, no decoding, 1 thread",
        "threads": 1, "shards": len(urls), "samples": samples, "shard_bytes": shard_bytes,
        "field_bytes": counts["field_bytes"],
        "samples_per_s": samples / r["s_per_pass"], "mb_per_s": shard_bytes / 1e6 / r["s_per_pass"], **r}
    print(f"[bench] shards_read: {samples / r['s_per_pass']:.0f} samples/s", file=sys.stderr)


def _decode_sample(sample, _tf=[]):
    """Every image field of a decoded sample through the inference transform (runs in the loader workers)."""
    from PIL import Image
    if not _tf:
        _tf.append(inference_transform())
    return [_tf[0](v) for k, v in sorted(sample.items()) if isinstance(v, Image.Image)]


def bench_shards_decode(args, result: dict) -> None:
    import torchvision
    import webdataset as wds
    from PIL import Image
    urls = shard_urls(args.shards)
    workers = max(1, args.threads)
    if workers > len(urls):
        print(f"[bench] shards_decode: {workers} workers but {len(urls)} shards: some workers idle", file=sys.stderr)
    ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode("pilrgb").map(_decode_sample)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers, persistent_workers=True)
    counts = {}

    def one_pass():
        n = m = 0
        for tensors in loader:
            n += 1
            m += len(tensors)
        counts.update(samples=n, images=m)

    r = pass_stats(time_case(one_pass, 1, args, min_runs=3, warmup_runs=1))
    samples, images = counts["samples"], counts["images"]
    result["versions"].update({"webdataset": getattr(wds, "__version__", "?"), "torchvision": torchvision.__version__,
                               "pillow": Image.__version__})
    result["cases"]["shards_decode"] = {
        "engine": (f"webdataset .decode('pilrgb') + torchvision CenterCrop(224)/ToTensor/Normalize per image, "
                   f"torch DataLoader(batch_size=None, num_workers={workers}, persistent_workers=True)"),
        "threads": workers, "shards": len(urls), "samples": samples, "images": images,
        "samples_per_s": samples / r["s_per_pass"], "images_per_s": images / r["s_per_pass"],
        "note": "peak_rss_mib is the main process only (the decoding happens in the worker processes)", **r}
    print(f"[bench] shards_decode: {samples / r['s_per_pass']:.1f} samples/s "
          f"({images / r['s_per_pass']:.1f} images/s)", file=sys.stderr)


def bench_detect_folder(args, result: dict) -> None:
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    import joblib
    import sklearn
    import torchvision
    import transformers
    from PIL import Image

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model_dir = resolve(args.model)
    model = transformers.ViTModel.from_pretrained(str(model_dir), add_pooling_layer=False,
                                                  dtype=torch.float32).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's InconsistentVersionWarning for the released pickles
        head = joblib.load(model_dir / "sklearn" / "linear_tot_classifier_epoch-32.sav")
    folder = resolve(args.detect_folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    tf = inference_transform()
    pool = ThreadPoolExecutor(max_workers=max(1, args.threads))
    batch = 32
    counts = {}

    def load(p):
        with Image.open(p) as im:
            return tf(im.convert("RGB"))

    def one_pass():
        fake = 0
        for i in range(0, len(files), batch):
            x = torch.stack(list(pool.map(load, files[i:i + batch])))
            with torch.inference_mode():
                cls = model(pixel_values=x).last_hidden_state[:, 0, :]
            proba = head.predict_proba(cls.numpy())
            fake += int((proba[:, 1] > proba[:, 0]).sum())
        counts["fake"] = fake

    r = pass_stats(time_case(one_pass, 1, args, min_runs=3, warmup_runs=1), len(files), "images")
    pool.shutdown()
    result["versions"].update({"transformers": transformers.__version__, "torchvision": torchvision.__version__,
                               "pillow": Image.__version__, "scikit-learn": sklearn.__version__,
                               "joblib": joblib.__version__})
    result["cases"]["detect_folder"] = {
        "engine": (f"Pillow decode + torchvision CenterCrop/ToTensor/Normalize on a {args.threads}-thread pool, "
                   f"ViTModel.from_pretrained fp32 eager inference_mode set_num_threads({args.threads}), "
                   f"sklearn LogisticRegression predict_proba (joblib), batch {batch}"),
        "threads": args.threads, "batch": batch, "images": len(files), "fake": counts["fake"],
        "head": "linear", "model": str(model_dir), **r}
    print(f"[bench] detect_folder: {r['images_per_s']:.1f} img/s over {len(files)} images", file=sys.stderr)


def bench_train_step(args, result: dict) -> None:
    import transformers
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    model = transformers.ViTModel(tiny_config(), add_pooling_layer=False).train()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.ndim <= 1 or name.endswith(".bias") or "position_embeddings" in name or "cls_token" in name
        (no_decay if skip else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 2e-5}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    b = args.train_batch
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(b, 3, 224, 224, generator=gen) * 2 - 1
    g = torch.rand(b, 192, generator=gen) * 2 - 1

    def step():
        opt.zero_grad(set_to_none=True)
        cls = model(pixel_values=x).last_hidden_state[:, 0, :]
        loss = (cls * g).sum()
        loss.backward()
        opt.step()

    r = time_case(step, b, args, min_runs=3, warmup_runs=1)
    r["ms_per_step"] = r["median_ms_per_run"]
    result["versions"]["transformers"] = transformers.__version__
    result["cases"]["train_step"] = {
        "engine": (f"transformers ViTModel train(), attn_implementation={model.config._attn_implementation}, "
                   f"loss=(cls*g).sum(), backward, torch.optim.AdamW (default implementation), "
                   f"set_num_threads({args.threads})"),
        "threads": args.threads, **r}
    print(f"[bench] train_step: {r['images_per_s']:.2f} img/s (batch {b})", file=sys.stderr)


# Case groups; each runs in its own subprocess unless --no-isolate.
GROUPS = ["forward", "preprocess", "shards_read", "shards_decode", "detect_folder", "train_step"]


def groups_for(args) -> list[str]:
    want = set(args.cases)
    out = []
    if want & {"torch", "ort"}:
        out.append("forward")
    if "preprocess" in want or args.preprocess_folder:
        if not args.preprocess_folder:
            raise SystemExit("bench_python: the preprocess case needs --preprocess-folder DIR")
        out.append("preprocess")
    for name, needs in (("shards_read", ["shards"]), ("shards_decode", ["shards"]),
                        ("detect_folder", ["detect_folder", "model"]), ("train_step", [])):
        if name in want:
            missing = [n for n in needs if not getattr(args, n)]
            if missing:
                raise SystemExit(f"bench_python: the {name} case needs " +
                                 ", ".join("--" + m.replace("_", "-") for m in missing))
            out.append(name)
    return out


def run_group(group: str, args, result: dict) -> None:
    before = set(result["cases"])
    {"forward": bench_models, "preprocess": bench_preprocess, "shards_read": bench_shards_read,
     "shards_decode": bench_shards_decode, "detect_folder": bench_detect_folder,
     "train_step": bench_train_step}[group](args, result)
    rss = peak_rss_mib()
    for name in set(result["cases"]) - before:
        result["cases"][name]["peak_rss_mib"] = rss
        result["cases"][name]["process"] = group


def run_group_isolated(group: str, args, result: dict) -> None:
    import subprocess
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", group, "--json", "-"] + args.forward_argv
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print(f"[bench] {group}: subprocess failed with exit status {proc.returncode}", file=sys.stderr)
        result.setdefault("failed_groups", []).append(group)
        return
    sub = json.loads(proc.stdout)
    result["cases"].update(sub["cases"])
    result["versions"].update(sub["versions"])


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
    ap.add_argument("--cases", nargs="+", default=["torch", "ort"],
                    choices=["torch", "ort", "preprocess", "shards_read", "shards_decode", "detect_folder",
                             "train_step", "none"],
                    help="cases to run ('none' with --preprocess-folder for preprocessing only)")
    ap.add_argument("--preprocess-folder", metavar="DIR", help="also time Python preprocessing over DIR")
    ap.add_argument("--shards", metavar="DIR", help="folder of .tar shards for shards_read / shards_decode")
    ap.add_argument("--detect-folder", metavar="DIR", help="image folder for detect_folder")
    ap.add_argument("--model", metavar="DIR", help="model folder (config.json, model.safetensors, sklearn/) "
                                                   "for detect_folder")
    ap.add_argument("--train-batch", type=int, default=32, help="batch of train_step")
    ap.add_argument("--no-isolate", action="store_true", help="run every case group in this process")
    ap.add_argument("--worker", choices=GROUPS, help=argparse.SUPPRESS)
    ap.add_argument("--json", nargs="?", const="-", metavar="PATH",
                    help="write one JSON object (to stdout without PATH)")
    ap.add_argument("--append", action="store_true",
                    help="with --json PATH: merge these cases into the object already in PATH (scripts/bench "
                         "runs one case group per call, alternating with the Swift cases)")
    argv = sys.argv[1:]
    args = ap.parse_args(argv)
    # what a worker subprocess gets: everything but --json / --worker (it is given its own)
    fwd, skip = [], 0
    for i, a in enumerate(argv):
        if skip:
            skip -= 1
            continue
        if a == "--worker":
            skip = 1
            continue
        if a == "--json":
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                skip = 1
            continue
        if a.startswith("--json=") or a.startswith("--worker=") or a == "--append":
            continue
        fwd.append(a)
    args.forward_argv = fwd

    t0 = time.perf_counter()
    result = {
        "benchmark": "CoDE (ViT-Tiny/16 fp32) Python reference: forward, data loading, detection, training step",
        "machine": {"cpu_model": cpu_model(), "logical_cpus": os.cpu_count(),
                    "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                    "platform": platform.platform()},
        "settings": {"threads": args.threads, "warmup_runs_min": args.warmup,
                     "warmup_seconds_min": args.warmup_seconds, "warmup_seconds_max": args.warmup_max_seconds,
                     "seconds_per_case": args.seconds, "isolated": not args.no_isolate,
                     "statistic": "median of timed runs"},
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
        "cases": {},
    }
    if args.worker:
        run_group(args.worker, args, result)
    else:
        for group in groups_for(args):
            if args.no_isolate:
                run_group(group, args, result)
            else:
                run_group_isolated(group, args, result)
    result["total_wall_s"] = time.perf_counter() - t0

    if args.json:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
        else:
            out = Path(args.json)
            if args.append and out.exists():
                old = json.loads(out.read_text())
                old["cases"].update(result["cases"])
                old["versions"].update(result["versions"])
                old["total_wall_s"] = old.get("total_wall_s", 0) + result["total_wall_s"]
                if result.get("failed_groups"):
                    old["failed_groups"] = old.get("failed_groups", []) + result["failed_groups"]
                text = json.dumps(old, indent=2)
            out.write_text(text + "\n")
    else:
        print(f"CPU: {result['machine']['cpu_model']}  threads={args.threads}")
        for k, v in result["cases"].items():
            if "median_ms_per_run" in v:
                rate = next((f"{v[u]:9.1f} {u.replace('_per_s', '')}/s" for u in
                             ("images_per_s", "samples_per_s") if u in v), "")
                print(f"{k:14s} {rate}  (median {v['median_ms_per_run']:.2f} ms/run, min {v['min_ms_per_run']:.2f}, "
                      f"p90 {v['p90_ms_per_run']:.2f}, {v['runs']} runs, peak RSS {v.get('peak_rss_mib') or 0:.0f} MiB)")
            else:
                print(f"{k:14s} {v}")
    if result.get("failed_groups"):
        sys.exit(1)


if __name__ == "__main__":
    main()
