#!/usr/bin/env python3
"""Generate the ViT reference fixtures under Tests/Fixtures/models/ (DEV-ONLY).

Every model is a Hugging Face folder (config.json + model.safetensors) with random,
deterministic weights, plus expected outputs of `ViTModel(...)(pixel_values=x).last_hidden_state`
computed with transformers (eager attention, fp32, no_grad) on a deterministic input that the Swift
tests regenerate from a formula (see `make_input`).

Usage (from anywhere; paths are resolved from this file's location):
    python3 tools/reference/make_model_fixtures.py                # everything
    python3 tools/reference/make_model_fixtures.py --images-only  # only vit-tiny-random/image_embeddings.json

See tools/reference/README.md for versions and the torchvision import hack.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import types
from pathlib import Path

# torchvision 0.28 (+cu130 wheel) fails to import next to the CPU torch build because its
# _meta_registrations module registers fakes for ops that do not exist; stub it out.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "Tests" / "Fixtures" / "models"
IMAGES_DIR = REPO_ROOT / "Tests" / "Fixtures" / "images"

INPUT_MULT = 2654435761
INPUT_MOD = 2001
INPUT_FORMULA = (
    "x has shape [B, C, S, S] (C=num_channels, S=image_size), float32, C-order. For flat index i "
    "(0 <= i < B*C*S*S, int64): v = (i * 2654435761) % 2001 (int64 arithmetic, no overflow); "
    "x[i] = float32(v) / float32(1000) - float32(1) (IEEE float32 ops, round-to-nearest). "
    "numpy: i = np.arange(n, dtype=np.int64); v = (i * 2654435761) % 2001; "
    "x = v.astype(np.float32) / np.float32(1000) - np.float32(1). "
    "The batch-1 input equals the first image of the batch-2 input."
)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
PREPROCESSING_DESC = (
    "PIL.Image.open(path).convert('RGB') -> torchvision.transforms.Compose([CenterCrop(224), ToTensor(), "
    "Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])]) (no resize; CenterCrop pads "
    "images smaller than 224 with zeros) -> ViTModel(vit-tiny-random, fp32, eager) -> "
    "last_hidden_state[:, 0, :] (CLS token after the final LayerNorm)"
)


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------
def make_input(batch: int, channels: int, size: int) -> np.ndarray:
    n = batch * channels * size * size
    i = np.arange(n, dtype=np.int64)
    v = (i * INPUT_MULT) % INPUT_MOD
    x = v.astype(np.float32) / np.float32(1000) - np.float32(1)
    assert x.dtype == np.float32
    return x.reshape(batch, channels, size, size)


def input_check(x: np.ndarray) -> dict:
    flat = x.reshape(-1)
    return {
        "first8": [float(v) for v in flat[:8]],
        "last": float(flat[-1]),
        "sum_float64": float(flat.astype(np.float64).sum()),
    }


# ----------------------------------------------------------------------------------------------
# Model specs
# ----------------------------------------------------------------------------------------------
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
             image_size=224, patch_size=16, num_channels=3, layer_norm_eps=1e-6, qkv_bias=True)

SPECS = {
    "vit-tiny-random": dict(
        config=dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768,
                    image_size=224, patch_size=16, num_channels=3, hidden_act="gelu", qkv_bias=True,
                    layer_norm_eps=1e-12),
        seed=1001, storage="F16", naming="hf", batches=[2, 1], cls=True,
        description="Full ViT-Tiny/16 (CoDE backbone shape), random weights stored as F16; references "
                    "computed in fp32 from the fp16-rounded values."),
    "vit-small-f32": dict(
        config=dict(SMALL, hidden_act="gelu"), seed=2002, storage="F32", naming="hf", batches=[2],
        description="Small ViT (hidden 64, 2 layers, 2 heads), F32."),
    "vit-small-bf16": dict(
        config=dict(SMALL, hidden_act="gelu"), seed=2002, storage="BF16", naming="hf", batches=[2],
        description="vit-small-f32's weights rounded to bfloat16 and stored as BF16; references computed "
                    "in fp32 from the bf16-rounded values (so they differ from vit-small-f32's)."),
    "vit-small-timm": dict(
        config=dict(SMALL, hidden_act="gelu"), seed=2002, storage="F32", naming="timm", batches=[2],
        description="vit-small-f32's exact weights saved under timm VisionTransformer names (fused qkv, "
                    "rows [q; k; v]); config.json identical to vit-small-f32; expected outputs are "
                    "vit-small-f32's (copied here)."),
    "vit-odd": dict(
        config=dict(hidden_size=48, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96,
                    image_size=64, patch_size=8, num_channels=3, hidden_act="gelu", qkv_bias=False,
                    layer_norm_eps=1e-5),
        seed=3003, storage="F32", naming="hf", batches=[2],
        description="Odd shapes: image 64, patch 8 (64 patches + CLS = 65 tokens), hidden 48, 4 heads "
                    "(head dim 12), no q/k/v biases, eps 1e-5."),
    "vit-small-gelu-tanh": dict(
        config=dict(SMALL, hidden_act="gelu_pytorch_tanh"), seed=2002, storage="F32", naming="hf",
        batches=[2],
        description="vit-small-f32's exact weights with hidden_act 'gelu_pytorch_tanh' "
                    "(0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))). transformers also maps 'gelu_new', "
                    "'gelu_fast', 'gelu_python_tanh' to the same tanh formula and 'gelu'/'gelu_python' to "
                    "the exact erf GELU."),
}


def make_config(cfg: dict) -> transformers.ViTConfig:
    return transformers.ViTConfig(
        architectures=["ViTModel"],
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **cfg,
    )


# ----------------------------------------------------------------------------------------------
# Random weights (HF legacy names, as in aimagelab/CoDE's model.safetensors)
# ----------------------------------------------------------------------------------------------
def hf_tensor_shapes(cfg: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, kind) in a fixed order; kind selects the random distribution."""
    h, f, c, p = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_channels"], cfg["patch_size"]
    t = (cfg["image_size"] // p) ** 2 + 1
    out = [
        ("embeddings.cls_token", (1, 1, h), "cls"),
        ("embeddings.position_embeddings", (1, t, h), "pos"),
        ("embeddings.patch_embeddings.projection.weight", (h, c, p, p), "w"),
        ("embeddings.patch_embeddings.projection.bias", (h,), "b"),
    ]
    for i in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layer.{i}."
        out += [(pre + "layernorm_before.weight", (h,), "lnw"), (pre + "layernorm_before.bias", (h,), "lnb")]
        for q in ("query", "key", "value"):
            out.append((pre + f"attention.attention.{q}.weight", (h, h), "w"))
            if cfg["qkv_bias"]:
                out.append((pre + f"attention.attention.{q}.bias", (h,), "b"))
        out += [
            (pre + "attention.output.dense.weight", (h, h), "w"),
            (pre + "attention.output.dense.bias", (h,), "b"),
            (pre + "layernorm_after.weight", (h,), "lnw"),
            (pre + "layernorm_after.bias", (h,), "lnb"),
            (pre + "intermediate.dense.weight", (f, h), "w"),
            (pre + "intermediate.dense.bias", (f,), "b"),
            (pre + "output.dense.weight", (h, f), "w"),
            (pre + "output.dense.bias", (h,), "b"),
        ]
    out += [("layernorm.weight", (h,), "lnw"), ("layernorm.bias", (h,), "lnb")]
    return out


def random_weights(cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """Every tensor non-trivial: weights N(0, 1/sqrt(fan_in)) (0.036..0.144 here), biases N(0, .05),
    LayerNorm weight 1+N(0, .1), LayerNorm bias N(0, .05), cls N(0, .3), positions N(0, .2)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, kind in hf_tensor_shapes(cfg):
        if kind == "w":
            fan_in = int(np.prod(shape[1:]))
            a = rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=shape)
        elif kind == "b":
            a = rng.normal(0.0, 0.05, size=shape)
        elif kind == "lnw":
            a = 1.0 + rng.normal(0.0, 0.1, size=shape)
        elif kind == "lnb":
            a = rng.normal(0.0, 0.05, size=shape)
        elif kind == "cls":
            a = rng.normal(0.0, 0.3, size=shape)
        elif kind == "pos":
            a = rng.normal(0.0, 0.2, size=shape)
        else:
            raise ValueError(kind)
        out[name] = a.astype(np.float32)
    return out


TORCH_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def round_to_storage(weights: dict[str, np.ndarray], storage: str) -> dict[str, torch.Tensor]:
    """Tensors in the storage dtype (what goes into the file)."""
    return {k: torch.from_numpy(v).to(TORCH_DTYPES[storage]).contiguous() for k, v in weights.items()}


def hf_to_timm(hf: dict[str, torch.Tensor], cfg: dict) -> dict[str, torch.Tensor]:
    out = {
        "cls_token": hf["embeddings.cls_token"],
        "pos_embed": hf["embeddings.position_embeddings"],
        "patch_embed.proj.weight": hf["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": hf["embeddings.patch_embeddings.projection.bias"],
    }
    for i in range(cfg["num_hidden_layers"]):
        s, d = f"encoder.layer.{i}.", f"blocks.{i}."
        out[d + "norm1.weight"] = hf[s + "layernorm_before.weight"]
        out[d + "norm1.bias"] = hf[s + "layernorm_before.bias"]
        qkv = [hf[s + f"attention.attention.{q}.weight"] for q in ("query", "key", "value")]
        out[d + "attn.qkv.weight"] = torch.cat(qkv, dim=0).contiguous()
        if cfg["qkv_bias"]:
            qkvb = [hf[s + f"attention.attention.{q}.bias"] for q in ("query", "key", "value")]
            out[d + "attn.qkv.bias"] = torch.cat(qkvb, dim=0).contiguous()
        out[d + "attn.proj.weight"] = hf[s + "attention.output.dense.weight"]
        out[d + "attn.proj.bias"] = hf[s + "attention.output.dense.bias"]
        out[d + "norm2.weight"] = hf[s + "layernorm_after.weight"]
        out[d + "norm2.bias"] = hf[s + "layernorm_after.bias"]
        out[d + "mlp.fc1.weight"] = hf[s + "intermediate.dense.weight"]
        out[d + "mlp.fc1.bias"] = hf[s + "intermediate.dense.bias"]
        out[d + "mlp.fc2.weight"] = hf[s + "output.dense.weight"]
        out[d + "mlp.fc2.bias"] = hf[s + "output.dense.bias"]
    out["norm.weight"] = hf["layernorm.weight"]
    out["norm.bias"] = hf["layernorm.bias"]
    return out


# ----------------------------------------------------------------------------------------------
# Independent reference forward (timm VisionTransformer algorithm, from timm-named tensors)
# ----------------------------------------------------------------------------------------------
def timm_style_forward(t: dict[str, torch.Tensor], cfg: dict, x: torch.Tensor,
                       dtype=torch.float64) -> torch.Tensor:
    import torch.nn.functional as F

    def g(k):
        return t[k].to(dtype)

    h, heads, eps, p = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"], cfg["patch_size"]
    hd = h // heads
    act = cfg["hidden_act"]
    x = x.to(dtype)
    z = F.conv2d(x, g("patch_embed.proj.weight"), g("patch_embed.proj.bias"), stride=p)
    z = z.flatten(2).transpose(1, 2)  # [B, N, H], patches row-major
    b = z.shape[0]
    z = torch.cat([g("cls_token").expand(b, -1, -1), z], dim=1) + g("pos_embed")
    for i in range(cfg["num_hidden_layers"]):
        pre = f"blocks.{i}."
        y = F.layer_norm(z, (h,), g(pre + "norm1.weight"), g(pre + "norm1.bias"), eps)
        qkv = F.linear(y, g(pre + "attn.qkv.weight"), g(pre + "attn.qkv.bias") if cfg["qkv_bias"] else None)
        qkv = qkv.reshape(b, -1, 3, heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax((q @ k.transpose(-2, -1)) * hd ** -0.5, dim=-1)
        y = (a @ v).transpose(1, 2).reshape(b, -1, h)
        z = z + F.linear(y, g(pre + "attn.proj.weight"), g(pre + "attn.proj.bias"))
        y = F.layer_norm(z, (h,), g(pre + "norm2.weight"), g(pre + "norm2.bias"), eps)
        y = F.linear(y, g(pre + "mlp.fc1.weight"), g(pre + "mlp.fc1.bias"))
        y = F.gelu(y, approximate="tanh" if act in ("gelu_pytorch_tanh", "gelu_new", "gelu_fast") else "none")
        z = z + F.linear(y, g(pre + "mlp.fc2.weight"), g(pre + "mlp.fc2.bias"))
    return F.layer_norm(z, (h,), g("norm.weight"), g("norm.bias"), eps)


# ----------------------------------------------------------------------------------------------
# HF model helpers
# ----------------------------------------------------------------------------------------------
def load_hf(folder: Path, attn: str = "eager") -> transformers.ViTModel:
    model, info = transformers.ViTModel.from_pretrained(
        str(folder), add_pooling_layer=False, attn_implementation=attn, dtype=torch.float32,
        output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"{folder.name}: loading problems {bad}"
    model.eval()
    assert model.config._attn_implementation == attn
    return model


@torch.no_grad()
def run_hf(model, x: np.ndarray) -> np.ndarray:
    return model(pixel_values=torch.from_numpy(x)).last_hidden_state.float().numpy()


def save_npy(path: Path, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a, dtype="<f4")
    np.save(path, a, allow_pickle=False)
    with open(path, "rb") as f:  # standard v1.0 header
        head = f.read(8)
    assert head[:6] == b"\x93NUMPY" and head[6] == 1 and head[7] == 0, head


def versions() -> dict:
    import safetensors
    return {"python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "safetensors": safetensors.__version__,
            "numpy": np.__version__}


def write_folder(folder: Path, cfg: dict, tensors: dict[str, torch.Tensor]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    make_config(cfg).to_json_file(str(folder / "config.json"))
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})


# ----------------------------------------------------------------------------------------------
# Fixture generation
# ----------------------------------------------------------------------------------------------
def sensitivity_check(folder: Path, cfg: dict, x: np.ndarray, ref: np.ndarray) -> dict:
    """Reset each tensor to HF's trivial default / swap q-k-v and check the output moves."""
    model = load_hf(folder)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    results = {}
    for name, val in sd.items():
        if name.endswith("layernorm_before.weight") or name.endswith("layernorm_after.weight") or name == "layernorm.weight":
            new = torch.ones_like(val)
        else:
            new = torch.zeros_like(val)
        model.load_state_dict({**sd, name: new})
        results[name] = float(np.abs(run_hf(model, x) - ref).max())
    # q/k/v swaps and transposes (square matrices) in layer 0
    a = "layers.0.attention."
    swaps = {"swap_q_k": (a + "q_proj.weight", a + "k_proj.weight"),
             "swap_k_v": (a + "k_proj.weight", a + "v_proj.weight")}
    for label, (n1, n2) in swaps.items():
        model.load_state_dict({**sd, n1: sd[n2], n2: sd[n1]})
        results[label] = float(np.abs(run_hf(model, x) - ref).max())
    for n in (a + "q_proj.weight", a + "v_proj.weight", a + "o_proj.weight"):
        model.load_state_dict({**sd, n: sd[n].t().contiguous()})
        results["transpose_" + n] = float(np.abs(run_hf(model, x) - ref).max())
    model.load_state_dict(sd)
    # A key bias adds the same q.b_k to every score of a query row, which softmax cancels: it cannot
    # change the output (mathematically), so it is reported separately and excluded from the minimum.
    kb = {k: v for k, v in results.items() if k.endswith("k_proj.bias")}
    rest = {k: v for k, v in results.items() if k not in kb}
    worst = min(rest, key=rest.get)
    return {"min_max_abs_change": rest[worst], "least_sensitive": worst, "num_perturbations": len(results),
            "key_bias_zeroed_max_abs_change (softmax-invariant, expected ~0)": max(kb.values()) if kb else None}


def make_model(name: str, spec: dict, cache: dict) -> dict:
    cfg = spec["config"]
    folder = MODELS_DIR / name
    w32 = random_weights(cfg, spec["seed"])
    stored = round_to_storage(w32, spec["storage"])
    hf_named_f32 = {k: v.float() for k, v in stored.items()}  # the rounded values, exactly, in fp32
    if spec["naming"] == "timm":
        file_tensors = hf_to_timm(stored, cfg)
    else:
        file_tensors = stored
    write_folder(folder, cfg, file_tensors)

    # Re-read the file and check it holds exactly what we intended.
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        back = {k: f.get_tensor(k) for k in f.keys()}
    assert set(back) == set(file_tensors)
    for k, v in back.items():
        assert v.dtype == TORCH_DTYPES[spec["storage"]] and torch.equal(v, file_tensors[k]), k

    info: dict = {"verification": {}}
    outputs = []
    if spec["naming"] == "hf":
        model = load_hf(folder, "eager")
        # every parameter equals the stored (rounded) value
        sd = model.state_dict()
        n_params = sum(v.numel() for v in sd.values())
        assert n_params == sum(v.numel() for v in stored.values()), (n_params,)
        timm_ref = hf_to_timm(hf_named_f32, cfg)
        sdpa = load_hf(folder, "sdpa")
        for b in spec["batches"]:
            x = make_input(b, cfg["num_channels"], cfg["image_size"])
            y = run_hf(model, x)
            y_sdpa = run_hf(sdpa, x)
            y64 = timm_style_forward(timm_ref, cfg, torch.from_numpy(x)).numpy()
            suffix = "" if b == 2 else f"_b{b}"
            save_npy(folder / f"expected{suffix}.npy", y)
            outputs.append({"file": f"expected{suffix}.npy", "batch": b, "shape": list(y.shape), "dtype": "<f4",
                            "quantity": "last_hidden_state (after final layernorm), all tokens",
                            "max_abs_value": float(np.abs(y).max())})
            if spec.get("cls"):
                save_npy(folder / f"expected_cls{suffix}.npy", np.ascontiguousarray(y[:, 0, :]))
                outputs.append({"file": f"expected_cls{suffix}.npy", "batch": b, "shape": [b, cfg["hidden_size"]],
                                "dtype": "<f4", "quantity": "last_hidden_state[:, 0, :] (CLS embedding)"})
            info["verification"][f"b{b}"] = {
                "sdpa_vs_eager_max_abs_diff": float(np.abs(y_sdpa - y).max()),
                "independent_timm_style_float64_forward_vs_expected_max_abs_diff": float(np.abs(y64 - y).max()),
            }
            cache[(name, b)] = (x, y)
        if 1 in spec["batches"] and 2 in spec["batches"]:
            info["verification"]["b1_vs_first_of_b2_max_abs_diff"] = float(
                np.abs(cache[(name, 1)][1][0] - cache[(name, 2)][1][0]).max())
        if name in ("vit-small-f32", "vit-odd"):
            x, y = cache[(name, 2)]
            info["verification"]["sensitivity"] = sensitivity_check(folder, cfg, x, y)
    else:
        # timm naming: expected == vit-small-f32's; verify with the independent timm-style forward
        src = "vit-small-f32"
        assert SPECS[src]["seed"] == spec["seed"] and SPECS[src]["config"] == cfg
        assert json.loads((MODELS_DIR / src / "config.json").read_text()) == json.loads((folder / "config.json").read_text())
        x, y = cache[(src, 2)]
        y64 = timm_style_forward(back, cfg, torch.from_numpy(x)).numpy()
        y32 = timm_style_forward(back, cfg, torch.from_numpy(x), dtype=torch.float32).numpy()
        save_npy(folder / "expected.npy", y)
        outputs.append({"file": "expected.npy", "batch": 2, "shape": list(y.shape), "dtype": "<f4",
                        "quantity": "last_hidden_state (after final layernorm), all tokens; identical to "
                                    "../vit-small-f32/expected.npy",
                        "max_abs_value": float(np.abs(y).max())})
        info["verification"]["b2"] = {
            "timm_named_file_through_independent_timm_style_forward_float64_vs_expected_max_abs_diff":
                float(np.abs(y64 - y).max()),
            "same_in_float32_max_abs_diff": float(np.abs(y32 - y).max()),
        }

    if name == "vit-small-gelu-tanh":
        y_erf = cache[("vit-small-f32", 2)][1]
        info["verification"]["max_abs_diff_vs_vit-small-f32_(erf_gelu)"] = float(np.abs(cache[(name, 2)][1] - y_erf).max())
    if name == "vit-small-bf16":
        y_f32 = cache[("vit-small-f32", 2)][1]
        info["verification"]["max_abs_diff_vs_vit-small-f32"] = float(np.abs(cache[(name, 2)][1] - y_f32).max())

    n_params = sum(v.numel() for v in file_tensors.values())
    fixture = {
        "model": name,
        "description": spec["description"],
        "config": {k: v for k, v in cfg.items()},
        "weights": {"file": "model.safetensors", "dtype": spec["storage"],
                    "tensor_naming": "timm VisionTransformer" if spec["naming"] == "timm" else "Hugging Face ViTModel (no pooler)",
                    "num_tensors": len(file_tensors), "num_params": n_params,
                    "generation": f"numpy.random.default_rng({spec['seed']}) normal draws in the order of "
                                  "hf_tensor_shapes(); weights N(0,1/sqrt(fan_in)), biases N(0,.05), LN weight "
                                  "1+N(0,.1), LN bias N(0,.05), cls N(0,.3), pos N(0,.2); rounded to the "
                                  "storage dtype; references use the rounded values in fp32"},
        "input": {"formula": INPUT_FORMULA, "shape": ["B", cfg["num_channels"], cfg["image_size"], cfg["image_size"]],
                  "dtype": "float32", "batches": spec["batches"],
                  "check": {f"b{b}": input_check(make_input(b, cfg["num_channels"], cfg["image_size"]))
                            for b in spec["batches"]}},
        "outputs": outputs,
        "reference": {"call": "transformers.ViTModel.from_pretrained(folder, add_pooling_layer=False, "
                              "attn_implementation='eager', dtype=torch.float32).eval(); with torch.no_grad(): "
                              "model(pixel_values=x).last_hidden_state",
                      **info},
        "versions": versions(),
    }
    (folder / "fixture.json").write_text(json.dumps(fixture, indent=2) + "\n")
    return fixture


def make_broken() -> None:
    base = MODELS_DIR / "vit-small-f32"
    root = MODELS_DIR / "broken"
    if root.exists():
        shutil.rmtree(root)
    cfg = SPECS["vit-small-f32"]["config"]
    with safe_open(str(base / "model.safetensors"), "pt") as f:
        good = {k: f.get_tensor(k) for k in f.keys()}
    cases = {}

    t = dict(good)
    del t["encoder.layer.1.output.dense.bias"]
    cases["missing-tensor"] = (cfg, t, "vit-small-f32 without tensor 'encoder.layer.1.output.dense.bias'")

    t = dict(good)
    t["encoder.layer.0.intermediate.dense.weight"] = good["encoder.layer.0.intermediate.dense.weight"][:, :63].contiguous()
    cases["wrong-shape"] = (cfg, t, "vit-small-f32 with 'encoder.layer.0.intermediate.dense.weight' of shape "
                                    "[128, 63] instead of [128, 64]")

    t = dict(good)
    t["foo.bar"] = torch.arange(4, dtype=torch.float32)
    cases["unexpected-tensor"] = (cfg, t, "vit-small-f32 plus an extra F32 tensor 'foo.bar' of shape [4]")

    bad_cfg = dict(cfg, num_attention_heads=3)
    cases["bad-config"] = (bad_cfg, dict(good), "vit-small-f32 weights with config.json hidden_size 64 and "
                                                 "num_attention_heads 3 (not divisible)")

    summary = {}
    for case, (c, tensors, desc) in cases.items():
        folder = root / case
        folder.mkdir(parents=True)
        if case == "bad-config":
            # ViTConfig itself does not validate divisibility; write the json directly from a valid one.
            make_config(cfg).to_json_file(str(folder / "config.json"))
            j = json.loads((folder / "config.json").read_text())
            j["num_attention_heads"] = 3
            (folder / "config.json").write_text(json.dumps(j, indent=2, sort_keys=True) + "\n")
        else:
            make_config(c).to_json_file(str(folder / "config.json"))
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
        # confirm transformers rejects / reports it
        try:
            _, info = transformers.ViTModel.from_pretrained(str(folder), add_pooling_layer=False,
                                                            dtype=torch.float32, output_loading_info=True)
            hf = {k: sorted(v) if isinstance(v, (set, list)) else v for k, v in info.items() if v}
            hf = json.loads(json.dumps(hf, default=str))
        except Exception as e:  # noqa: BLE001
            hf = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        summary[case] = {"description": desc, "transformers_from_pretrained": hf}
    (root / "fixture.json").write_text(json.dumps(
        {"description": "Negative cases: a loader must reject each of these folders with a clear error.",
         "cases": summary, "versions": versions()}, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------
# Image embeddings (separate step: --images-only)
# ----------------------------------------------------------------------------------------------
BAD_FLAGS = ("corrupt", "corrupted", "invalid", "bad", "broken", "truncated", "expect_error", "expected_error",
             "should_fail", "error", "unreadable", "unsupported")


def manifest_entries(manifest) -> list[dict]:
    if isinstance(manifest, dict):
        for key in ("images", "files", "entries", "fixtures"):
            if isinstance(manifest.get(key), list):
                return manifest[key]
        return [dict(v, file=v.get("file", k)) if isinstance(v, dict) else {"file": k} for k, v in manifest.items()]
    return list(manifest)


def is_good(entry: dict) -> bool:
    for flag in BAD_FLAGS:
        if entry.get(flag):
            return False
    for key in ("expect", "expected", "status", "kind", "category"):
        v = entry.get(key)
        if isinstance(v, str) and any(s in v.lower() for s in ("error", "fail", "corrupt", "invalid", "bad")):
            return False
    if entry.get("decodable") is False or entry.get("valid") is False or entry.get("ok") is False:
        return False
    return True


def make_image_embeddings() -> None:
    manifest_path = IMAGES_DIR / "manifest.json"
    if not manifest_path.exists():
        print(f"[images] {manifest_path.relative_to(REPO_ROOT)} does not exist yet; skipping image embeddings")
        return
    import warnings

    import torchvision  # noqa: F401  (after the _meta_registrations stub)
    from PIL import Image

    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    from torchvision import transforms

    tf = transforms.Compose([transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    entries = manifest_entries(json.loads(manifest_path.read_text()))
    files, tensors, skipped, not_identical = [], [], [], []
    hash_check: dict = {"match": [], "mismatch": []}
    for e in entries:
        if isinstance(e, str):
            e = {"file": e}
        rel = e.get("file")
        if not rel:
            continue
        if not is_good(e):
            skipped.append((rel, "flagged in manifest"))
            continue
        try:
            with Image.open(IMAGES_DIR / rel) as im:
                t = tf(im.convert("RGB"))
        except Exception as ex:  # noqa: BLE001
            skipped.append((rel, f"{type(ex).__name__}: {ex}"))
            continue
        files.append(rel)
        tensors.append(t)
        want = (e.get("center_crop_224") or {}).get("sha256")
        if want:  # cross-check against the image fixtures' own hash of the preprocessed tensor
            got = hashlib.sha256(np.ascontiguousarray(t.numpy(), dtype="<f4").tobytes()).hexdigest()
            hash_check["match" if got == want else "mismatch"].append(rel)
        if e.get("pillow_identical_expected") is False:
            not_identical.append(rel)
    model = load_hf(MODELS_DIR / "vit-tiny-random", "eager")
    emb = {}
    with torch.no_grad():
        for s in range(0, len(tensors), 16):
            batch = torch.stack(tensors[s:s + 16])
            cls = model(pixel_values=batch).last_hidden_state[:, 0, :].float().numpy()
            for f, row in zip(files[s:s + 16], cls):
                emb[f] = [float(np.float32(v)) for v in row]
    out = {"model": "vit-tiny-random", "preprocessing": PREPROCESSING_DESC,
           "note": "floats are the exact float32 values written as Python floats (float(np.float32(v)))",
           "versions": {**versions(), "torchvision": torchvision.__version__,
                        "pillow": Image.__version__},
           "skipped": {f: why for f, why in skipped},
           "pillow_identical_expected_false": not_identical,
           "preprocessed_tensor_sha256_vs_manifest_center_crop_224": {
               "match": len(hash_check["match"]), "mismatch": hash_check["mismatch"]},
           "embeddings": emb}
    path = MODELS_DIR / "vit-tiny-random" / "image_embeddings.json"
    # one embedding per line (compact) inside an otherwise indented object
    emb_json = ",\n".join(f"  {json.dumps(f)}: {json.dumps(v)}" for f, v in emb.items())
    head = json.dumps({k: v for k, v in out.items() if k != "embeddings"}, indent=1)
    path.write_text(head[:-2] + ',\n "embeddings": {\n' + emb_json + "\n }\n}\n")
    assert json.loads(path.read_text())["embeddings"] == emb
    print(f"[images] wrote {path.relative_to(REPO_ROOT)}: {len(emb)} embeddings, {len(skipped)} skipped; "
          f"preprocessed-tensor sha256 vs manifest: {len(hash_check['match'])} match, "
          f"{len(hash_check['mismatch'])} mismatch")
    for f, why in skipped:
        print(f"[images]   skipped {f}: {why}")


# ----------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images-only", action="store_true",
                    help="only (re)compute vit-tiny-random/image_embeddings.json from the images manifest")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    try:
        transformers.utils.logging.disable_progress_bar()
    except AttributeError:
        pass
    if not args.images_only:
        MODELS_DIR.mkdir(parents=True, exist_ok=True)
        cache: dict = {}
        for name in ["vit-small-f32", "vit-small-bf16", "vit-small-timm", "vit-odd", "vit-small-gelu-tanh",
                     "vit-tiny-random"]:
            fx = make_model(name, SPECS[name], cache)
            print(f"[models] {name}: {json.dumps(fx['reference']['verification'])}")
        make_broken()
        print("[models] broken/: " + (MODELS_DIR / "broken" / "fixture.json").read_text())
    make_image_embeddings()


if __name__ == "__main__":
    main()
