#!/usr/bin/env python3
"""Generate the training-gradient fixtures under Tests/Fixtures/grad/ (DEV-ONLY).

For each small ViT below: a Hugging Face folder (config.json + model.safetensors, random deterministic
weights), a fixed batch of B=3 records as CoDE's eight view groups, two fixed derangements, and what
PyTorch autograd computes for the CoDE objective (tau = 0.1):

  forward 1 = ViTModel(cat[real, fake, aug_real[perm_real], aug_fake[perm_fake]])   (upstream engine.py:
  forward 2 = ViTModel(cat[g_R, l_R, g_F, l_F])                                       images permuted first)
  z = last_hidden_state[:, 0]  (CLS after the final LayerNorm), split into 4 x [B, D] per forward
  L_real = 1/2 [InfoNCE(z_R, z_aR, z_aF) + InfoNCE(z_lR, z_gR, z_gF)]
  L_fake = 1/2 [InfoNCE(z_F, z_aF, z_aR) + InfoNCE(z_lF, z_gF, z_gR)]
  intended = L_real + L_fake ; released = 2 * L_real  (upstream engine.py:174)

InfoNCE follows the info-nce-pytorch package with negative_mode='unpaired', reduction='mean':
F.normalize every vector (eps 1e-12), logits = [q.p, q @ N^T] / tau, cross_entropy with label 0.

Files per model folder (all float32, little-endian):
  config.json, model.safetensors     the model (HF ViTModel names)
  views.npy        [8, B, C, S, S]    groups in order real, fake, aug_real, aug_fake, global_real,
                                      local_real, global_fake, local_fake (aug_* NOT permuted)
  embeddings.npy   [8, B, D]          the CLS embedding of every view (same group order, unpermuted)
  grads_intended.safetensors          d(intended)/d(parameter) from loss.backward(), fp32 model, HF names
  grads_released.safetensors          d(released)/d(parameter), fp32 model
  grads_intended_f64.safetensors      the same gradient computed in float64 (plain torch ViT; rounded to f32)
  emb_grads_intended.npy [8, B, D]    d(intended)/d(embeddings) with the permutation applied to the
  emb_grads_released.npy [8, B, D]    embeddings (loss on leaf embeddings, fp32)
  fixture.json                        permutations, tau, loss values, descriptions, versions, checks

Usage: python3 tools/reference/make_grad_fixtures.py   (deterministic; ~5 s)
"""
from __future__ import annotations

import json
import math
import shutil
import sys
import types
from pathlib import Path

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAD_DIR = REPO_ROOT / "Tests" / "Fixtures" / "grad"

RECORDS = 3
TAU = 0.1
PERM_REAL = [2, 0, 1]
PERM_FAKE = [1, 2, 0]
GROUPS = ["real", "fake", "aug_real", "aug_fake", "global_real", "local_real", "global_fake", "local_fake"]

SPECS = {
    "vit-grad-tiny": dict(
        config=dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=3, intermediate_size=96,
                    image_size=32, patch_size=8, num_channels=3, hidden_act="gelu", qkv_bias=True,
                    layer_norm_eps=1e-6),
        seed=5005,
        description="image 32, patch 8 (16 patches + CLS = 17 tokens), hidden 48, 3 heads (head dim 16), "
                    "2 layers, MLP 96, exact erf GELU, qkv biases, LayerNorm eps 1e-6."),
    "vit-grad-odd": dict(
        config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=80,
                    image_size=24, patch_size=8, num_channels=3, hidden_act="gelu_pytorch_tanh",
                    qkv_bias=False, layer_norm_eps=1e-5),
        seed=6006,
        description="image 24, patch 8 (9 patches + CLS = 10 tokens), hidden 32, 4 heads (head dim 8), "
                    "2 layers, MLP 80, tanh GELU, no q/k/v biases, LayerNorm eps 1e-5."),
}


def make_config(cfg: dict) -> transformers.ViTConfig:
    return transformers.ViTConfig(architectures=["ViTModel"], hidden_dropout_prob=0.0,
                                  attention_probs_dropout_prob=0.0, **cfg)


def hf_shapes(cfg: dict) -> list[tuple[str, tuple[int, ...]]]:
    """The checkpoint's tensors under the Hugging Face names aimagelab/CoDE's file uses (the names
    `ViTWeights` reads), in a fixed order."""
    h, f, c, p = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_channels"], cfg["patch_size"]
    t = (cfg["image_size"] // p) ** 2 + 1
    out = [("embeddings.cls_token", (1, 1, h)), ("embeddings.position_embeddings", (1, t, h)),
           ("embeddings.patch_embeddings.projection.weight", (h, c, p, p)),
           ("embeddings.patch_embeddings.projection.bias", (h,))]
    for i in range(cfg["num_hidden_layers"]):
        s = f"encoder.layer.{i}."
        out += [(s + "layernorm_before.weight", (h,)), (s + "layernorm_before.bias", (h,))]
        for q in ("query", "key", "value"):
            out.append((s + f"attention.attention.{q}.weight", (h, h)))
            if cfg["qkv_bias"]:
                out.append((s + f"attention.attention.{q}.bias", (h,)))
        out += [(s + "attention.output.dense.weight", (h, h)), (s + "attention.output.dense.bias", (h,)),
                (s + "layernorm_after.weight", (h,)), (s + "layernorm_after.bias", (h,)),
                (s + "intermediate.dense.weight", (f, h)), (s + "intermediate.dense.bias", (f,)),
                (s + "output.dense.weight", (h, f)), (s + "output.dense.bias", (h,))]
    return out + [("layernorm.weight", (h,)), ("layernorm.bias", (h,))]


def random_weights(cfg: dict, seed: int) -> dict[str, torch.Tensor]:
    """Every tensor non-trivial: Linear/conv weights N(0, 0.5/sqrt(fan_in)), biases N(0, .05), LayerNorm
    weight 1+N(0, .1), LayerNorm bias N(0, .05), cls N(0, .2), positions N(0, .2).

    The scale is chosen for float32 conditioning, not for realism. With tau = 0.1 the loss's curvature
    (~1/tau^2) amplifies the float32 rounding of the forward, and with hotter weights that noise alone
    exceeds the tests' elementwise tolerance 1e-4*|ref| + 1e-6: PyTorch's own float32 gradient against a
    float64 computation reached 1.7x the tolerance at 1.5/sqrt(fan_in) and 0.85x at 0.7/sqrt(fan_in),
    so two correct float32 implementations could not be told apart from a wrong one. At 0.5/sqrt(fan_in)
    PyTorch float32 stays within 0.45x of it (fixture.json "checks"), the attention is still far from
    uniform (largest probability 0.16 with 17 tokens, 0.31 with 10) and the MLP nonlinear. The Swift
    finite-difference tests cover hotter weights (1.5/sqrt(fan_in))."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in hf_shapes(cfg):
        if name.endswith("cls_token"):
            a = rng.normal(0, 0.2, shape)
        elif name.endswith("position_embeddings"):
            a = rng.normal(0, 0.2, shape)
        elif "layernorm" in name and name.endswith("weight"):
            a = 1 + rng.normal(0, 0.1, shape)
        elif name.endswith("bias"):
            a = rng.normal(0, 0.05, shape)
        else:
            a = rng.normal(0, 0.5 / math.sqrt(int(np.prod(shape[1:]))), shape)
        out[name] = torch.from_numpy(a.astype(np.float32))
    return out


def load_model(folder: Path, dtype: torch.dtype, weights: dict[str, torch.Tensor]):
    """transformers' ViTModel (eager attention) from the folder, and a map from its parameter names
    (transformers 5 renames them internally) to the checkpoint names, matched by value."""
    model, info = transformers.ViTModel.from_pretrained(
        str(folder), add_pooling_layer=False, attn_implementation="eager", dtype=dtype, output_loading_info=True)
    assert not any(info.values()), info
    assert model.config._attn_implementation == "eager"
    model.train()  # dropout probabilities are 0: train and eval compute the same function
    names = {}
    for name, p in model.named_parameters():
        hits = [k for k, v in weights.items() if v.shape == p.shape and torch.equal(v.to(dtype), p.detach())]
        assert len(hits) == 1, (name, hits)
        names[name] = hits[0]
    assert sorted(names.values()) == sorted(weights), "some checkpoint tensor is not a parameter"
    return model, names


def info_nce(q: torch.Tensor, p: torch.Tensor, n: torch.Tensor, tau: float) -> torch.Tensor:
    """info-nce-pytorch, negative_mode='unpaired', reduction='mean'."""
    q, p, n = F.normalize(q, dim=-1), F.normalize(p, dim=-1), F.normalize(n, dim=-1)
    positive = torch.sum(q * p, dim=1, keepdim=True)
    negative = q @ n.transpose(-2, -1)
    logits = torch.cat([positive, negative], dim=1) / tau
    labels = torch.zeros(len(logits), dtype=torch.long)
    return F.cross_entropy(logits, labels, reduction="mean")


def code_terms(zR, zF, zaR, zaF, zgR, zlR, zgF, zlF, tau):
    """(L_real, L_fake) on embeddings whose aug rows are already permuted."""
    l_real = 0.5 * (info_nce(zR, zaR, zaF, tau) + info_nce(zlR, zgR, zgF, tau))
    l_fake = 0.5 * (info_nce(zF, zaF, zaR, tau) + info_nce(zlF, zgF, zgR, tau))
    return l_real, l_fake


def total(variant: str, l_real, l_fake):
    return l_real + l_fake if variant == "intended" else l_real + l_real


def model_loss(model, views: torch.Tensor, variant: str, tau: float):
    """Upstream's path: permute the augmented images, two model() calls, one loss."""
    real, fake, aug_real, aug_fake, g_r, l_r, g_f, l_f = views
    aug_real, aug_fake = aug_real[PERM_REAL], aug_fake[PERM_FAKE]
    z1 = model(pixel_values=torch.cat([real, fake, aug_real, aug_fake])).last_hidden_state[:, 0]
    z2 = model(pixel_values=torch.cat([g_r, l_r, g_f, l_f])).last_hidden_state[:, 0]
    zR, zF, zaR, zaF = z1.split(RECORDS)
    zgR, zlR, zgF, zlF = z2.split(RECORDS)
    return total(variant, *code_terms(zR, zF, zaR, zaF, zgR, zlR, zgF, zlF, tau))


def embedding_loss(emb: torch.Tensor, variant: str, tau: float):
    """The same objective on leaf embeddings [8, B, D] (unpermuted), the permutation applied to rows."""
    zR, zF, zaR, zaF, zgR, zlR, zgF, zlF = emb
    return total(variant, *code_terms(zR, zF, zaR[PERM_REAL], zaF[PERM_FAKE], zgR, zlR, zgF, zlF, tau))


def plain_torch_grads(weights: dict[str, torch.Tensor], cfg: dict, views: torch.Tensor, variant: str):
    """An independent float64 ViT written with torch.nn.functional (timm's algorithm), for a cross-check
    of transformers' gradients."""
    w = {k: v.double().clone().requires_grad_(True) for k, v in weights.items()}
    h, heads, eps, p = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"], cfg["patch_size"]
    hd = h // heads
    approx = "tanh" if cfg["hidden_act"] == "gelu_pytorch_tanh" else "none"

    def forward(x):
        z = F.conv2d(x, w["embeddings.patch_embeddings.projection.weight"],
                     w["embeddings.patch_embeddings.projection.bias"], stride=p).flatten(2).transpose(1, 2)
        b = z.shape[0]
        z = torch.cat([w["embeddings.cls_token"].expand(b, -1, -1), z], 1) + w["embeddings.position_embeddings"]
        for i in range(cfg["num_hidden_layers"]):
            s = f"encoder.layer.{i}."
            a = s + "attention.attention."
            y = F.layer_norm(z, (h,), w[s + "layernorm_before.weight"], w[s + "layernorm_before.bias"], eps)

            def proj(n):
                return F.linear(y, w[a + n + ".weight"], w.get(a + n + ".bias")).reshape(b, -1, heads, hd).transpose(1, 2)
            q, k, v = proj("query"), proj("key"), proj("value")
            att = torch.softmax(q @ k.transpose(-2, -1) * hd ** -0.5, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, -1, h)
            z = z + F.linear(y, w[s + "attention.output.dense.weight"], w[s + "attention.output.dense.bias"])
            y = F.layer_norm(z, (h,), w[s + "layernorm_after.weight"], w[s + "layernorm_after.bias"], eps)
            y = F.gelu(F.linear(y, w[s + "intermediate.dense.weight"], w[s + "intermediate.dense.bias"]), approximate=approx)
            z = z + F.linear(y, w[s + "output.dense.weight"], w[s + "output.dense.bias"])
        return F.layer_norm(z, (h,), w["layernorm.weight"], w["layernorm.bias"], eps)[:, 0]

    real, fake, aug_real, aug_fake, g_r, l_r, g_f, l_f = views.double()
    z1 = forward(torch.cat([real, fake, aug_real[PERM_REAL], aug_fake[PERM_FAKE]]))
    z2 = forward(torch.cat([g_r, l_r, g_f, l_f]))
    zR, zF, zaR, zaF = z1.split(RECORDS)
    zgR, zlR, zgF, zlF = z2.split(RECORDS)
    loss = total(variant, *code_terms(zR, zF, zaR, zaF, zgR, zlR, zgF, zlF, TAU))
    loss.backward()
    return loss.item(), {k: v.grad for k, v in w.items()}


def save_npy(path: Path, a) -> None:
    np.save(path, np.ascontiguousarray(np.asarray(a), dtype="<f4"), allow_pickle=False)


def grads_of(model, names: dict[str, str]) -> dict[str, torch.Tensor]:
    """Parameter gradients under the checkpoint's names, float32."""
    return {names[k]: v.grad.detach().float().contiguous() for k, v in model.named_parameters()}


def tolerance_ratio(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict:
    """max over elements of |a - b| / (1e-4 |b| + 1e-6): the Swift tests' acceptance (<= 1 passes)."""
    worst = {}
    for k in b:
        x, y = a[k].double(), b[k].double()
        worst[k] = float(((x - y).abs() / (1e-4 * y.abs() + 1e-6)).max())
    name = max(worst, key=worst.get)
    return {"worst": worst[name], "tensor": name}


def make(name: str, spec: dict) -> dict:
    cfg = spec["config"]
    folder = GRAD_DIR / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    make_config(cfg).to_json_file(str(folder / "config.json"))
    weights = random_weights(cfg, spec["seed"])
    save_file({k: v.contiguous() for k, v in weights.items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    model, names = load_model(folder, torch.float32, weights)
    torch.manual_seed(spec["seed"])
    c, s = cfg["num_channels"], cfg["image_size"]
    views = torch.randn(8, RECORDS, c, s, s, dtype=torch.float32)
    save_npy(folder / "views.npy", views.numpy())

    with torch.no_grad():
        flat = views.reshape(8 * RECORDS, c, s, s)
        emb = model(pixel_values=flat).last_hidden_state[:, 0].reshape(8, RECORDS, -1)
    save_npy(folder / "embeddings.npy", emb.numpy())

    info = {"description": spec["description"], "records": RECORDS, "temperature": TAU,
            "permutation_real": PERM_REAL, "permutation_fake": PERM_FAKE, "groups": GROUPS,
            "loss": {}, "embedding_loss": {}, "checks": {}}
    grads = {}
    for variant in ("intended", "released"):
        model.zero_grad(set_to_none=True)
        loss = model_loss(model, views, variant, TAU)
        loss.backward()
        grads[variant] = grads_of(model, names)
        save_file(grads[variant], str(folder / f"grads_{variant}.safetensors"), metadata={"format": "pt"})
        info["loss"][variant] = loss.item()

        leaf = emb.clone().requires_grad_(True)
        eloss = embedding_loss(leaf, variant, TAU)
        eloss.backward()
        save_npy(folder / f"emb_grads_{variant}.npy", leaf.grad.numpy())
        info["embedding_loss"][variant] = eloss.item()

    # True float64 reference: transformers' eager attention computes its softmax in float32 even for a
    # float64 model, so the float64 gradient comes from the plain torch.nn.functional ViT below, which is
    # checked against transformers' float64 model (agreement to float32 softmax rounding).
    plain_loss, plain = plain_torch_grads(weights, cfg, views, "intended")
    save_file({k: v.float().contiguous() for k, v in plain.items()}, str(folder / "grads_intended_f64.safetensors"),
              metadata={"format": "pt"})
    info["loss"]["intended_float64"] = plain_loss
    m64, names64 = load_model(folder, torch.float64, weights)
    loss64 = model_loss(m64, views.double(), "intended", TAU)
    loss64.backward()
    info["checks"] = {
        "pytorch_fp32_vs_float64_grads_tolerance_ratio": tolerance_ratio(grads["intended"], plain),
        "transformers_f64_with_f32_softmax_vs_plain_f64_tolerance_ratio": tolerance_ratio(grads_of(m64, names64), plain),
        "transformers_f64_with_f32_softmax_loss": loss64.item(),
        "max_abs_grad": {k: float(v.abs().max()) for k, v in grads["intended"].items()},
    }
    info["versions"] = {"python": sys.version.split()[0], "torch": torch.__version__,
                        "transformers": transformers.__version__, "numpy": np.__version__}
    (folder / "fixture.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    torch.set_num_threads(1)
    for name, spec in SPECS.items():
        info = make(name, spec)
        print(name, json.dumps({k: info[k] for k in ("loss", "embedding_loss")}),
              json.dumps({k: v for k, v in info["checks"].items() if k != "max_abs_grad"}))


if __name__ == "__main__":
    main()
