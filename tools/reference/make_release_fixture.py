#!/usr/bin/env python3
"""DEV-ONLY: checks that the release folder `deepfake train` writes loads in transformers, and commits it.

1. Unless --release DIR is given: writes small WebDataset shards (smooth random gradients as "real", the
   same with a faint 2-pixel checkerboard as "fake", 35x35 PNG/BMP), a tiny training configuration (ViT with
   image 32, patch 8, hidden 32, 2 layers, 2 heads, MLP 64) and runs the built `deepfake train` binary on it.
2. Copies the run's release/ folder (config.json, model.safetensors, heads/*.safetensors; nothing else) to
   Tests/Fixtures/models/release-trained/.
3. Loads it with `transformers.ViTModel.from_pretrained(folder, output_loading_info=True)` -- exactly as
   written, default arguments (pooler included) -- and asserts no missing, unexpected or mismatched keys and
   no error messages; checks that config.json round-trips through `ViTConfig` without unknown keys.
4. Embeds a few fixture images of mixed formats with what `deepfake detect --model` does for a model whose
   image_size is S: `Image.open(p).convert("RGB")` -> CenterCrop(S) (black padding for smaller images) ->
   ToTensor -> Normalize(ImageNet), the CLS token of last_hidden_state (after the final LayerNorm).
5. Applies the three heads (read from their safetensors files, docs/head-format.md) with scikit-learn
   semantics: linear via a LogisticRegression given coef_/intercept_, k-NN via KNeighborsClassifier fitted on
   the stored vectors, one-class SVM decision = sum(alpha_i K(sv_i, x)) + intercept (libsvm's formula).
6. Writes Tests/Fixtures/models/release-trained/expected.json (embeddings, head outputs, layout, versions).

See tools/reference/README.md for versions and the torchvision import hack.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

# torchvision 0.28 (+cu130 wheel) fails to import next to the CPU torch build because its
# _meta_registrations module registers fakes for ops that do not exist; stub it out.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402,F401  (after the _meta_registrations stub)
import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402
from torchvision import transforms  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "Tests/Fixtures/images"
FIXTURE = ROOT / "Tests/Fixtures/models/release-trained"
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# Mixed formats and modes; sizes above and below the model's 32 pixels (the last two are padded).
FIXTURE_IMAGES = [
    "jpeg_rgb_640x480.jpg",
    "jpeg_gray_150x100.jpg",
    "png_rgba8_61x43.png",
    "png_p8_61x43.png",
    "png_gray16_61x43.png",
    "gif_interlaced_101x67.gif",
    "bmp_24_227x301.bmp",
    "tiff_rgb_lzw_160x120.tif",
    "webp_lossy_227x301.webp",
    "tiff_ycbcr_lzw_30x20.tif",
    "bmp_rle8_bw_20x10.bmp",
]

TRAIN_CONFIG = """\
# tools/reference/make_release_fixture.py: a tiny model, a few steps (the fixture checks the layout,
# not what the model learned).
image-size: 32
patch-size: 8
hidden-size: 32
layers: 2
heads: 2
mlp-size: 64
epochs: 2
warmup-epochs: 1
lr: 0.0003
batch-size: 8
num-step: 6
shuffle-buffer: 16
data-len-linear: -1
data-len-eval: -1
seed: 7
threads: 1
train-shards: [{work}/train-{{0..1}}.tar]
linear-train-shards: [{work}/linear.tar]
val-shards-no-augm: [{work}/val.tar]
"""


# ----------------------------------------------------------------------------------------------
# Training data and run
# ----------------------------------------------------------------------------------------------
def synthetic_image(rng: np.random.Generator, artifact: bool, size: int = 35) -> np.ndarray:
    base = 40 + 150 * rng.random(3)
    dx, dy = 60 * rng.random(3) - 30, 60 * rng.random(3) - 30
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    v = base + dx * (x / size)[..., None] + dy * (y / size)[..., None] + 6 * (rng.random((size, size, 3)) - 0.5)
    if artifact:
        v += np.where(((x // 2 + y // 2) % 2 == 0)[..., None], 14.0, -14.0)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def encode(a: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a, "RGB").save(buf, format=fmt)
    return buf.getvalue()


def write_shard(path: Path, records: range, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for r in records:
            key = f"rec{r:05d}"
            # alternate PNG and BMP for both kinds, so the container format does not tell them apart
            real_fmt, fake_fmt = ("PNG", "BMP") if r % 2 == 0 else ("BMP", "PNG")
            fields = [(f"real.{real_fmt.lower()}", encode(synthetic_image(rng, False), real_fmt)),
                      (f"gen_0.{fake_fmt.lower()}", encode(synthetic_image(rng, True), fake_fmt))]
            for name, data in fields:
                info = tarfile.TarInfo(f"{key}.{name}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))


def train(deepfake: Path, work: Path) -> Path:
    write_shard(work / "train-0.tar", range(0, 32), 1)
    write_shard(work / "train-1.tar", range(32, 64), 2)
    write_shard(work / "linear.tar", range(100, 124), 3)
    write_shard(work / "val.tar", range(200, 216), 4)
    config = work / "config-training.yaml"
    config.write_text(TRAIN_CONFIG.format(work=work))
    run = work / "run"
    cmd = [str(deepfake), "train", "--config", str(config), "--output", str(run)]
    print("[train] " + " ".join(cmd))
    subprocess.run(cmd, check=True)
    return run / "release"


# ----------------------------------------------------------------------------------------------
# Checks and references
# ----------------------------------------------------------------------------------------------
def copy_release(release: Path) -> None:
    files = sorted(p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file())
    expected = ["config.json", "heads/knn.safetensors", "heads/linear.safetensors", "heads/svm.safetensors",
                "model.safetensors"]
    if release.resolve() == FIXTURE.resolve():  # re-checking the committed folder itself
        files.remove("expected.json")
        assert files == expected, f"release folder holds {files}, expected {expected}"
        return
    assert files == expected, f"release folder holds {files}, expected {expected}"
    if FIXTURE.exists():
        shutil.rmtree(FIXTURE)
    (FIXTURE / "heads").mkdir(parents=True)
    for f in files:
        shutil.copyfile(release / f, FIXTURE / f)


def safetensors_layout(path: Path) -> dict:
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
    meta = header.pop("__metadata__", {})
    return {"metadata": meta,
            "tensors": {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in sorted(header.items())}}


def read_tensors(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    with safe_open(str(path), "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def load_transformers(folder: Path) -> transformers.ViTModel:
    import logging
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                messages.append(record.getMessage())

    handler = Collect()
    tlog = logging.getLogger("transformers")
    tlog.addHandler(handler)
    try:
        # Exactly as a user would: default arguments (ViTModel builds its pooler unless told otherwise).
        model, info = transformers.ViTModel.from_pretrained(str(folder), output_loading_info=True)
    finally:
        tlog.removeHandler(handler)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"from_pretrained reports {bad}"
    assert not messages, f"from_pretrained warned: {messages}"
    assert model.dtype == torch.float32, model.dtype
    model.eval()
    # config.json round-trips: every key is one ViTConfig knows, and the values are what was written
    written = json.loads((folder / "config.json").read_text())
    cfg = model.config.to_dict()
    for k, v in written.items():
        assert k in cfg, f"config.json key {k} unknown to ViTConfig"
        assert cfg[k] == v, f"config.json {k}: written {v}, ViTConfig has {cfg[k]}"
    return model


def preprocess(size: int) -> transforms.Compose:
    return transforms.Compose([transforms.CenterCrop(size), transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def head_outputs(X: np.ndarray) -> dict:
    """What each head says for the rows of X, with scikit-learn's semantics (labels 0 real, 1 fake)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    out: dict = {}
    t, meta = read_tensors(FIXTURE / "heads/linear.safetensors")
    assert meta["kind"] == "linear" and int(meta["features"]) == X.shape[1], meta
    lr = LogisticRegression()
    lr.classes_ = np.array([0, 1])
    lr.coef_ = t["coef"].astype(np.float64)[None, :]
    lr.intercept_ = t["intercept"].astype(np.float64)
    out["linear"] = [{"fake": bool(p == 1), "probability": float(q[1]), "decision": float(d)}
                     for p, q, d in zip(lr.predict(X), lr.predict_proba(X), lr.decision_function(X))]

    t, meta = read_tensors(FIXTURE / "heads/knn.safetensors")
    assert meta["kind"] == "knn", meta
    knn = KNeighborsClassifier(n_neighbors=int(meta["k"]), metric=meta["metric"], weights=meta["weights"])
    knn.fit(t["vectors"], t["labels"].astype(np.int64))
    out["knn"] = [{"fake": bool(p == 1), "probability": float(q[list(knn.classes_).index(1)])}
                  for p, q in zip(knn.predict(X), knn.predict_proba(X))]

    t, meta = read_tensors(FIXTURE / "heads/svm.safetensors")
    assert meta["kind"] == "svm", meta
    sv, alpha, b = t["support_vectors"], t["dual_coef"], float(t["intercept"][0])
    g = float(meta.get("gamma", "nan")); c0 = float(meta.get("coef0", "0")); deg = int(meta.get("degree", "3"))
    dots = X.astype(np.float64) @ sv.T
    kernel = meta["kernel"]
    if kernel == "linear":
        k = dots
    elif kernel == "poly":
        k = (g * dots + c0) ** deg
    elif kernel == "rbf":
        k = np.exp(-g * ((X.astype(np.float64)[:, None, :] - sv[None]) ** 2).sum(-1))
    else:
        k = np.tanh(g * dots + c0)
    dec = k @ alpha + b
    out["svm"] = [{"fake": bool(d <= 0), "decision": float(d)} for d in dec]  # libsvm: real when > 0
    out["svm_parameters"] = {"kernel": kernel, "count": int(sv.shape[0])}
    return out


def versions() -> dict:
    import safetensors
    import sklearn
    return {"python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "safetensors": safetensors.__version__,
            "numpy": np.__version__, "torchvision": torchvision.__version__, "pillow": Image.__version__,
            "scikit-learn": sklearn.__version__}


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deepfake", type=Path, default=ROOT / ".build/release/deepfake",
                    help="the built deepfake binary (default .build/release/deepfake)")
    ap.add_argument("--release", type=Path, help="use this release folder instead of training one")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="release-fixture-") as tmp:
        release = args.release or train(args.deepfake.resolve(), Path(tmp))
        copy_release(release)
        train_log = None
        if not args.release:  # the run's log, temporary paths replaced so that re-runs write the same file
            train_log = (release.parent / "train.log").read_text().replace(tmp, "$WORK")

    model = load_transformers(FIXTURE)
    size = model.config.image_size
    tf = preprocess(size)
    batch = []
    for name in FIXTURE_IMAGES:
        with Image.open(IMAGES / name) as im:
            batch.append(tf(im.convert("RGB")))
    x = torch.stack(batch)
    out = model(pixel_values=x)
    cls = out.last_hidden_state[:, 0, :].float().numpy()
    # the final LayerNorm is applied: the CLS rows have (near) the LayerNorm's statistics, not raw residuals
    ln = model.layernorm
    check = ln(model(pixel_values=x, output_hidden_states=True).hidden_states[-1])[:, 0, :].numpy()
    assert np.array_equal(check, cls), "last_hidden_state is not layernorm(last block output)"
    # eager and sdpa attention agree
    eager, _ = transformers.ViTModel.from_pretrained(str(FIXTURE), attn_implementation="eager",
                                                     output_loading_info=True)
    eager_cls = eager.eval()(pixel_values=x).last_hidden_state[:, 0, :].numpy()
    sdpa_vs_eager = float(np.abs(eager_cls - cls).max())
    assert sdpa_vs_eager < 1e-5, sdpa_vs_eager
    # one image at a time gives the same rows
    single = np.concatenate([model(pixel_values=x[i:i + 1]).last_hidden_state[:, 0, :].numpy()
                             for i in range(len(x))])
    batch_vs_single = float(np.abs(single - cls).max())

    heads = head_outputs(cls)
    config = json.loads((FIXTURE / "config.json").read_text())
    expected = {
        "description": "tools/reference/make_release_fixture.py: the release/ folder written by `deepfake train` "
                       "(tiny model), loaded with transformers.ViTModel.from_pretrained(folder) (default "
                       "arguments, no missing/unexpected/mismatched keys, no warnings)",
        "preprocessing": f"PIL.Image.open(path).convert('RGB') -> torchvision CenterCrop({size}) -> ToTensor() -> "
                         f"Normalize(mean={IMAGENET_MEAN}, std={IMAGENET_STD}) (CenterCrop pads smaller images "
                         "with zeros), as `deepfake detect --model` does for a model of image_size "
                         f"{size}",
        "embedding": "model(pixel_values=x).last_hidden_state[:, 0, :] (CLS after the final LayerNorm), "
                     "fp32, default (sdpa) attention, batch of all images",
        "heads": "linear: sklearn LogisticRegression with coef_/intercept_ from heads/linear.safetensors "
                 "(probability = predict_proba[:, 1]); knn: KNeighborsClassifier(k, metric, weights) fitted on "
                 "the stored vectors/labels (probability = predict_proba of class 1); svm: decision = "
                 "sum(dual_coef * K(support_vectors, x)) + intercept, fake when decision <= 0; all on the "
                 "embeddings below",
        "note": "floats are the exact float32 values written as Python floats (float(np.float32(v)))",
        "verification": {"sdpa_vs_eager_max_abs": sdpa_vs_eager, "batch_vs_single_max_abs": batch_vs_single},
        "versions": versions(),
        "layout": {
            "files": sorted(p.relative_to(FIXTURE).as_posix() for p in FIXTURE.rglob("*")
                            if p.is_file() and p.name != "expected.json"),
            "config": config,
            "model.safetensors": safetensors_layout(FIXTURE / "model.safetensors"),
            "heads": {k: safetensors_layout(FIXTURE / f"heads/{k}.safetensors")["metadata"]
                      for k in ("linear", "knn", "svm")},
        },
        "images": {name: {"embedding": [float(np.float32(v)) for v in row],
                          "linear": heads["linear"][i], "knn": heads["knn"][i], "svm": heads["svm"][i]}
                   for i, (name, row) in enumerate(zip(FIXTURE_IMAGES, cls))},
    }
    if train_log is not None:
        expected["train_log"] = train_log.splitlines()
    path = FIXTURE / "expected.json"
    path.write_text(json.dumps(expected, indent=1) + "\n")
    total = sum(p.stat().st_size for p in FIXTURE.rglob("*") if p.is_file())
    print(f"[release] wrote {FIXTURE.relative_to(ROOT)} ({total} bytes): {len(FIXTURE_IMAGES)} images; "
          f"sdpa vs eager {sdpa_vs_eager:.2e}, batch vs single {batch_vs_single:.2e}")
    for kind in ("linear", "knn", "svm"):
        labels = ["fake" if h["fake"] else "real" for h in heads[kind]]
        print(f"[release]   {kind}: {labels}")


if __name__ == "__main__":
    main()
