#!/usr/bin/env python3
"""Writes Tests/Fixtures/optim/: torch.optim.AdamW, clip_grad_norm_, gradient accumulation and timm's
cosine schedule, as the Swift Training module must reproduce them.

DEV-ONLY. The Swift tests read the committed output and never run Python.

Cases (each a folder with ``case.json`` and float32 ``.npy`` files; every tensor list is flattened in
parameter order and concatenated into one vector per file):
* ``adamw_basic``: 7 tensors whose timm-style names fall into both weight-decay groups, wd 0.1,
  5 steps at learning rates from a cosine schedule with warm-up; tensor ``head.scale`` has no gradient
  at step 2 (skipped by torch, so its step count lags). Gradients are fixed arrays.
* ``adamw_code``: CoDE's hyper-parameters (betas 0.9/0.999, eps 1e-8, wd 2e-5), lrs of CoDE's schedule
  at epochs 3..7.
* ``clip``: ``clip_grad_norm_(params, max_norm)`` before each AdamW step (max_norm below the gradient
  norm on some steps, above it on others); the total norms returned and the clipped gradients are stored.
* ``accum``: k = 3 micro-batches per step: ``loss_i = (p * G_i).sum() / k``, ``backward()`` each, then
  ``step()`` and ``zero_grad()``; the accumulated ``.grad`` is stored.

Files per case: ``init.npy`` (initial parameters), ``grads_step{s}.npy`` (the gradient given at step s,
or for ``accum`` ``grads_step{s}_micro{i}.npy``), ``params_step{s}.npy`` (parameters after step s),
``exp_avg_final.npy`` / ``exp_avg_sq_final.npy`` (moments after the last step) and, for ``clip`` /
``accum``, ``used_grads_step{s}.npy`` (the gradient AdamW actually saw). ``case.json`` lists the tensors
(name, shape, weight decay), the hyper-parameters, the lrs, which tensors lack a gradient at each step,
the final step counts and the clip norms.

Schedules (``schedule.json``): learning rates of timm's ``CosineLRScheduler`` for epochs 0..160 under
several settings, obtained as CoDE's train.py does (``create_scheduler_v2`` then ``step(epoch)``; epoch 0
is the lr set at construction). timm 0.9.2 is needed: ``pip download timm==0.9.2 --no-deps``, unzip the
wheel and pass ``--timm-path DIR`` (or have timm installed). Without timm the script stops.

Run from anywhere: ``python3 tools/reference/make_optim_fixtures.py --timm-path /tmp/timm``.
"""
import argparse
import json
import math
import os
import platform
import sys
import types

import numpy as np

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
import torch  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "optim")

# name, shape; no-decay by timm's rule: ndim <= 1, name ends with .bias, or in the no_weight_decay list.
TENSORS = [
    ("cls_token", (1, 1, 4)),
    ("pos_embed", (1, 3, 4)),
    ("patch_embed.proj.weight", (4, 2, 2, 2)),
    ("patch_embed.proj.bias", (4,)),
    ("blocks.0.mlp.fc1.weight", (6, 4)),
    ("norm.weight", (4,)),
    ("head.scale", (5,)),
]
NO_WEIGHT_DECAY = {"pos_embed", "cls_token"}


def decays(name, shape):
    return not (len(shape) <= 1 or name.endswith(".bias") or name in NO_WEIGHT_DECAY)


def flat(tensors):
    return np.concatenate([t.detach().numpy().astype(np.float32).reshape(-1) for t in tensors])


def save(folder, name, array):
    np.save(os.path.join(folder, name), np.ascontiguousarray(array, dtype="<f4"))


def make_params(rng):
    params = []
    for name, shape in TENSORS:
        if name == "norm.weight":
            v = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            v = rng.standard_normal(shape) * rng.choice([0.02, 0.5, 1.5])
        params.append(torch.nn.Parameter(torch.tensor(v, dtype=torch.float32)))
    return params


def make_grad(rng, shape, step):
    # Mixed magnitudes, some exact zeros, sign changes across steps.
    g = rng.standard_normal(shape) * (10.0 ** rng.integers(-3, 2, size=shape))
    g[rng.random(shape) < 0.1] = 0.0
    return torch.tensor(g * (1 if step % 2 == 0 else -0.7), dtype=torch.float32)


def groups(params, wd):
    no_decay = [p for (n, s), p in zip(TENSORS, params) if not decays(n, s)]
    decay = [p for (n, s), p in zip(TENSORS, params) if decays(n, s)]
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": wd}]


def cosine_lr(t, base, warmup_lr, warmup, epochs, min_lr=0.0):
    if t < warmup:
        return warmup_lr + t * ((base - warmup_lr) / warmup)
    if t >= epochs:
        return min_lr
    return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * t / epochs))


def run_case(name, seed, lrs, wd, betas=(0.9, 0.999), eps=1e-8, skip=None, clip=None, accum=1):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        os.remove(os.path.join(folder, f))
    rng = np.random.default_rng(seed)
    params = make_params(rng)
    save(folder, "init.npy", flat(params))
    opt = torch.optim.AdamW(groups(params, wd), lr=lrs[0], betas=betas, eps=eps, weight_decay=wd,
                            amsgrad=False, foreach=False)
    skip = skip or {}
    norms = []
    for s, lr in enumerate(lrs):
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        missing = skip.get(s, [])
        if accum == 1:
            grads = []
            for (n, shape), p in zip(TENSORS, params):
                g = make_grad(rng, shape, s)
                grads.append(g)
                if n not in missing:
                    p.grad = g.clone()
            save(folder, f"grads_step{s}.npy", flat(grads))
        else:
            for i in range(accum):
                micro = [make_grad(rng, shape, s + i) for (_, shape) in TENSORS]
                save(folder, f"grads_step{s}_micro{i}.npy", flat(micro))
                loss = sum((p * g).sum() for p, g in zip(params, micro)) / accum
                loss.backward()
        if clip is not None:
            total = torch.nn.utils.clip_grad_norm_(params, clip[s], norm_type=2.0)
            norms.append(float(total))
        if clip is not None or accum > 1:
            save(folder, f"used_grads_step{s}.npy",
                 flat([p.grad if p.grad is not None else torch.zeros_like(p) for p in params]))
        opt.step()
        save(folder, f"params_step{s}.npy", flat(params))
    save(folder, "exp_avg_final.npy", flat([opt.state[p]["exp_avg"] for p in params]))
    save(folder, "exp_avg_sq_final.npy", flat([opt.state[p]["exp_avg_sq"] for p in params]))
    meta = {
        "tensors": [{"name": n, "shape": list(s), "weight_decay": decays(n, s)} for n, s in TENSORS],
        "no_weight_decay": sorted(NO_WEIGHT_DECAY),
        "betas": list(betas), "eps": eps, "weight_decay": wd, "lrs": lrs,
        "steps": len(lrs), "missing_grads": {str(k): v for k, v in skip.items()},
        "final_step_counts": [int(opt.state[p]["step"]) for p in params],
        "accumulation": accum,
        "clip_max_norm": clip, "clip_total_norms": norms,
    }
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def schedules(timm_path):
    if timm_path:
        sys.path.insert(0, timm_path)
    import timm
    from timm.scheduler import create_scheduler_v2
    settings = [
        ("code", dict(num_epochs=150, warmup_lr=1e-6, warmup_epochs=5, min_lr=0.0), 0.002),
        ("warmup_prefix", dict(num_epochs=150, warmup_lr=1e-6, warmup_epochs=5, min_lr=1e-5, warmup_prefix=True), 0.002),
        ("two_cycles", dict(num_epochs=60, warmup_lr=1e-4, warmup_epochs=3, min_lr=1e-5, cycle_limit=2,
                            cycle_decay=0.5), 0.01),
        ("no_warmup", dict(num_epochs=100, warmup_epochs=0, min_lr=0.0), 5e-4),
    ]
    out = {"timm_version": timm.__version__, "epochs": list(range(0, 161)), "schedules": []}
    for name, kwargs, lr in settings:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([p], lr=lr)
        sched, _ = create_scheduler_v2(opt, sched="cosine", **kwargs)
        lrs = [opt.param_groups[0]["lr"]]
        for t in range(1, 161):
            sched.step(t)
            lrs.append(opt.param_groups[0]["lr"])
        out["schedules"].append({
            "name": name, "lr": lr, "min_lr": kwargs.get("min_lr", 0.0),
            "warmup_lr": kwargs.get("warmup_lr", 1e-5), "warmup_epochs": kwargs.get("warmup_epochs", 0),
            "epochs": kwargs["num_epochs"], "warmup_prefix": kwargs.get("warmup_prefix", False),
            "cycle_limit": kwargs.get("cycle_limit", 1), "cycle_decay": kwargs.get("cycle_decay", 0.1),
            "lrs": [float(x) for x in lrs],
        })
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timm-path", default=None, help="directory holding an unpacked timm 0.9.2 wheel")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    cases = {}
    lrs_basic = [cosine_lr(t, 0.05, 1e-3, 2, 6) for t in range(5)]
    cases["adamw_basic"] = run_case("adamw_basic", 1, lrs_basic, wd=0.1, skip={2: ["head.scale"]})
    lrs_code = [cosine_lr(t, 0.002, 1e-6, 5, 150) for t in range(3, 8)]
    cases["adamw_code"] = run_case("adamw_code", 2, lrs_code, wd=2e-5)
    cases["clip"] = run_case("clip", 3, lrs_basic, wd=0.05, clip=[1.0, 100.0, 0.5, 1e3, 2.0])
    cases["accum"] = run_case("accum", 4, lrs_basic[:4], wd=0.1, accum=3)
    sched = schedules(args.timm_path)
    with open(os.path.join(OUT, "schedule.json"), "w") as f:
        json.dump(sched, f, indent=1)
    manifest = {
        "generator": "tools/reference/make_optim_fixtures.py",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "timm": sched["timm_version"]},
        "cases": sorted(cases),
        "adamw": "torch.optim.AdamW(foreach=False, amsgrad=False), timm param_groups_weight_decay groups",
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
