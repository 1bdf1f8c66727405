#!/usr/bin/env python3
"""Writes Tests/Fixtures/fit/: synthetic embedding sets and scikit-learn's fits of CoDE's heads on them.

DEV-ONLY. The Swift tests (Tests/HeadsTests/*Fit*.swift) read the committed output and never run Python.
Needs numpy and scikit-learn (``pip install scikit-learn``); the versions used are recorded in
``manifest.json``. Run from anywhere: ``python3 tools/reference/make_fit_fixtures.py``.

Datasets
--------
Each dataset is two classes of 192-d float32 vectors ("real" = class 0, "fake" = class 1), drawn from
Gaussians with different means and different full covariances (random rotations of a decaying spectrum),
shuffled, then split into training and held-out rows. Files (``.npy`` v1.0, C order):

* ``<name>_train_x.npy`` ``<f4`` [n, 192], ``<name>_train_y.npy`` ``<f4`` [n] (0 real, 1 fake);
* ``<name>_test_x.npy`` / ``<name>_test_y.npy`` likewise for the held-out rows.

Fits (all on the float32 vectors upcast to float64, as scikit-learn <= 1.3 -- CoDE's 1.3.2 -- did for
``solver='lbfgs'``; scikit-learn >= 1.5 would otherwise run the whole objective in float32):

* ``lr_code``: ``LogisticRegression(random_state=42, C=0.316, max_iter=1500, class_weight='balanced')``
  (CoDE's head, docs/upstream.md, Heads) with the installed scikit-learn (mean-scaled loss, maxls 50, ftol 64 eps);
* ``lr_c1``: ``LogisticRegression(C=1, max_iter=1500)`` (no class weights);
* ``lr_code_v13``: CoDE's head as scikit-learn 1.3.2 solved it: the same L-BFGS-B call on the
  *sum*-scaled objective ``sum_i s_i loss_i + ||w||^2 / (2C)`` with scipy's default maxls 20 and
  ftol 2.22e-9 (emulated here through ``scipy.optimize.minimize``);
* ``lr_code_tight``: ``lr_code`` with ``tol=1e-10`` (its optimum, to check the objective itself);
* ``svm_poly``: ``OneClassSVM(nu=0.1, kernel='poly', gamma='auto')`` on the real training rows (CoDE);
* ``svm_rbf``: ``OneClassSVM(nu=0.1, kernel='rbf', gamma='scale')`` on the real training rows.

A third set, ``generated``, is not stored at all: 4,000 + 300 vectors drawn from a 64-bit LCG with only
IEEE additions and multiplications (``generate`` below; the Swift tests reimplement it bit for bit and check
``checksum``), large enough that libsvm runs past 1,000 SMO iterations and so shrinks. Only the one-class SVM
fits are made on it (training rows: seed 7; held-out: 150 rows of seed 8, then 150 of seed 9 shifted by 0.25).

Per fit, ``<name>_<fit>_*.npy`` (``<f8``) hold the parameters and the held-out outputs:
``coef`` [192], ``decision`` / ``proba`` [n_test] for logistic regression; ``support`` (indices into the
real training rows, as float64), ``dual_coef`` [S], ``decision`` [n_test] for the SVMs. Scalars
(intercepts, iteration counts, gamma, ...) are in ``manifest.json`` as ``float.hex`` strings (exact) and
decimals. ``manifest.json`` also records, per logistic fit, how far scikit-learn moves from itself when
only the order of the training rows changes (``self_shuffle_rel_diff``), which bounds how closely any
other implementation can follow its L-BFGS path.
"""
import json
import os
import platform
import warnings

import numpy as np
import scipy
import scipy.optimize
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn._loss.loss import HalfBinomialLoss
from sklearn.svm import OneClassSVM
from sklearn.utils.class_weight import compute_class_weight

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "fit")
D = 192

# name, seed, n_real, n_fake, n_train, mean shift, common offset
DATASETS = [
    ("overlap", 11, 1000, 1500, 2000, 0.16, 0.0),
    ("offset", 23, 500, 700, 1000, 0.25, 1.0),
]


M64 = (1 << 64) - 1


class Stream:
    """64-bit LCG (Knuth's MMIX constants); uniform() = top 53 bits / 2^53, bell() = sum of four uniforms - 2."""

    def __init__(self, seed):
        self.s = seed & M64

    def uniform(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & M64
        return (self.s >> 11) * (1.0 / 9007199254740992.0)

    def bell(self):
        return (self.uniform() + self.uniform() + self.uniform() + self.uniform()) - 2.0


def generate(seed, rows, shift=0.0, d=D, factors=16):
    """Rows of mean + shift + scale_j * bell + sum_k mix_jk * z_k, evaluated left to right in float64, stored
    as float32. The draw order: mix (feature-major), means, then per row its factors z, then its features."""
    st = Stream(seed)
    mix = [[(st.uniform() - 0.5) * 2.0 for _ in range(factors)] for _ in range(d)]
    mean = [st.uniform() - 0.5 for _ in range(d)]
    scale = [1.0 / (1.0 + j / 48.0) for j in range(d)]
    out = np.empty((rows, d), np.float32)
    for i in range(rows):
        z = [st.bell() for _ in range(factors)]
        for j in range(d):
            v = mean[j] + shift + scale[j] * st.bell()
            mj = mix[j]
            for t in range(factors):
                v += mj[t] * z[t]
            out[i, j] = v
    return out


def sequential_sum(x):
    s = 0.0
    for v in x.astype(np.float64).ravel().tolist():
        s += v
    return s


def make_dataset(seed, n_real, n_fake, shift, offset):
    rng = np.random.default_rng(seed)

    def cov_factor():
        q, _ = np.linalg.qr(rng.standard_normal((D, D)))
        scales = np.exp(np.linspace(0.0, -2.5, D)) * rng.uniform(0.7, 1.3, D)
        return q * scales

    a0, a1 = cov_factor(), cov_factor()
    mu0 = offset + 0.5 * rng.standard_normal(D)
    mu1 = mu0 + shift * 4.0 * rng.standard_normal(D) / np.sqrt(D)
    real = mu0 + rng.standard_normal((n_real, D)) @ a0.T
    fake = mu1 + rng.standard_normal((n_fake, D)) @ a1.T
    x = np.concatenate([real, fake]).astype(np.float32)
    y = np.concatenate([np.zeros(n_real), np.ones(n_fake)]).astype(np.float32)
    order = rng.permutation(len(x))
    return x[order], y[order]


def save(name, array, dtype):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array, dtype=dtype))


def exact(v):
    v = float(v)
    return {"hex": v.hex(), "value": v}


def fit_lr(x, y, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = LogisticRegression(random_state=42, **kw).fit(x, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, warned


def fit_lr_v13(x, y, C, max_iter, tol=1e-4):
    """scikit-learn 1.3.2's lbfgs call: sum-scaled loss, penalty 1/(2C)||w||^2, scipy's default ftol/maxls."""
    classes = np.unique(y)
    cw = compute_class_weight("balanced", classes=classes, y=y)
    sw = np.ones(len(y)) * cw[np.searchsorted(classes, y)]
    sw_sum = sw.sum()
    yf = y.astype(np.float64)
    loss = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)

    def func(w):
        f, g = loss.loss_gradient(w, x, yf, sw, 1.0 / (C * sw_sum), 1)
        return f * sw_sum, g * sw_sum

    res = scipy.optimize.minimize(func, np.zeros(x.shape[1] + 1), method="L-BFGS-B", jac=True,
                                  options={"gtol": tol, "maxiter": max_iter})
    return res


def lr_entry(prefix, fit, model, warned, xt, xt_shuffled_model=None):
    coef = model.coef_.ravel().astype(np.float64)
    save(f"{prefix}_{fit}_coef", coef, "<f8")
    save(f"{prefix}_{fit}_decision", model.decision_function(xt), "<f8")
    save(f"{prefix}_{fit}_proba", model.predict_proba(xt)[:, 1], "<f8")
    entry = {
        "intercept": exact(model.intercept_[0]),
        "n_iter": int(model.n_iter_[0]),
        "convergence_warning": warned,
        "coef_max_abs": float(np.abs(coef).max()),
        "held_out_fake": int((model.predict(xt) == 1).sum()),
    }
    if xt_shuffled_model is not None:
        other = xt_shuffled_model.coef_.ravel()
        entry["self_shuffle_rel_diff"] = float(np.abs(other - coef).max() / np.abs(coef).max())
        entry["self_shuffle_n_iter"] = int(xt_shuffled_model.n_iter_[0])
    return entry


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".npy") or f == "manifest.json":
            os.remove(os.path.join(OUT, f))
    manifest = {
        "generator": "tools/reference/make_fit_fixtures.py",
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
        "features": D,
        "datasets": {},
    }
    for name, seed, n_real, n_fake, n_train, shift, offset in DATASETS:
        x, y = make_dataset(seed, n_real, n_fake, shift, offset)
        xtr, ytr, xte, yte = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
        save(f"{name}_train_x", xtr, "<f4")
        save(f"{name}_train_y", ytr, "<f4")
        save(f"{name}_test_x", xte, "<f4")
        save(f"{name}_test_y", yte, "<f4")
        x64, xt64, yint = xtr.astype(np.float64), xte.astype(np.float64), ytr.astype(np.int64)
        shuffle = np.random.default_rng(seed + 1000).permutation(n_train)
        ds = {"seed": seed, "n_train": n_train, "n_test": len(xte), "n_train_real": int((ytr == 0).sum()),
              "n_train_fake": int((ytr == 1).sum()), "mean_shift": shift, "offset": offset, "fits": {}}

        code = dict(C=0.316, max_iter=1500, class_weight="balanced")
        for fit, kw in [("lr_code", code), ("lr_c1", dict(C=1.0, max_iter=1500)),
                        ("lr_code_tight", dict(code, tol=1e-10))]:
            model, warned = fit_lr(x64, yint, **kw)
            shuffled, _ = fit_lr(x64[shuffle], yint[shuffle], **kw)
            entry = lr_entry(name, fit, model, warned, xt64, shuffled)
            entry["params"] = {k: v for k, v in kw.items()}
            ds["fits"][fit] = entry

        res = fit_lr_v13(x64, yint, C=0.316, max_iter=1500)
        res_shuffled = fit_lr_v13(x64[shuffle], yint[shuffle], C=0.316, max_iter=1500)
        w = res.x
        save(f"{name}_lr_code_v13_coef", w[:-1], "<f8")
        save(f"{name}_lr_code_v13_decision", xt64 @ w[:-1] + w[-1], "<f8")
        ds["fits"]["lr_code_v13"] = {
            "params": dict(code, loss_scale="sum", maxls=20, ftol=2.2204460492503131e-09),
            "intercept": exact(w[-1]), "n_iter": int(min(res.nit, 1500)), "status": int(res.status),
            "message": str(res.message), "convergence_warning": bool(res.status != 0),
            "coef_max_abs": float(np.abs(w[:-1]).max()),
            "self_shuffle_rel_diff": float(np.abs(res_shuffled.x[:-1] - w[:-1]).max() / np.abs(w[:-1]).max()),
            "self_shuffle_n_iter": int(res_shuffled.nit),
        }

        real = x64[ytr == 0]
        for fit, kw in [("svm_poly", dict(nu=0.1, kernel="poly", gamma="auto")),
                        ("svm_rbf", dict(nu=0.1, kernel="rbf", gamma="scale"))]:
            model = OneClassSVM(**kw).fit(real)
            save(f"{name}_{fit}_support", model.support_.astype(np.float64), "<f8")
            save(f"{name}_{fit}_dual_coef", model.dual_coef_.ravel(), "<f8")
            save(f"{name}_{fit}_decision", model.decision_function(xt64), "<f8")
            ds["fits"][fit] = {
                "params": dict(kw, degree=model.degree, coef0=model.coef0, tol=model.tol),
                "gamma": exact(model._gamma), "intercept": exact(model.intercept_[0]),
                "offset": exact(model.offset_[0]), "n_support": int(len(model.support_)),
                "n_iter": int(np.asarray(model.n_iter_).ravel()[0]),
                "held_out_fake": int((model.predict(xt64) == -1).sum()),
                "fit_status": int(model.fit_status_),
            }
        manifest["datasets"][name] = ds

    # the generated set: one-class SVM fits only, long enough to shrink
    train = generate(7, 4000)
    held = np.concatenate([generate(8, 150), generate(9, 150, shift=0.25)])
    x64, xt64 = train.astype(np.float64), held.astype(np.float64)
    gen = {"train_rows": 4000, "held_out_rows": 300, "factors": 16,
           "checksum": {"train": exact(sequential_sum(train)), "held_out": exact(sequential_sum(held)),
                        "train_first": [exact(v) for v in train[0, :4]], "train_last": [exact(v) for v in train[-1, -4:]]},
           "fits": {}}
    for fit, kw in [("svm_poly", dict(nu=0.1, kernel="poly", gamma="auto")),
                    ("svm_rbf", dict(nu=0.1, kernel="rbf", gamma="scale"))]:
        model = OneClassSVM(**kw).fit(x64)
        save(f"generated_{fit}_support", model.support_.astype(np.float64), "<f8")
        save(f"generated_{fit}_dual_coef", model.dual_coef_.ravel(), "<f8")
        save(f"generated_{fit}_decision", model.decision_function(xt64), "<f8")
        gen["fits"][fit] = {
            "params": dict(kw, degree=model.degree, coef0=model.coef0, tol=model.tol),
            "gamma": exact(model._gamma), "intercept": exact(model.intercept_[0]),
            "offset": exact(model.offset_[0]), "n_support": int(len(model.support_)),
            "n_iter": int(np.asarray(model.n_iter_).ravel()[0]),
            "held_out_fake": int((model.predict(xt64) == -1).sum()),
            "fit_status": int(model.fit_status_),
        }
    manifest["generated"] = gen
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(json.dumps({k: {f: {kk: vv for kk, vv in e.items() if kk in ("n_iter", "self_shuffle_rel_diff", "n_support", "convergence_warning")}
                          for f, e in v["fits"].items()} for k, v in manifest["datasets"].items()}, indent=1))
    print(json.dumps({f: (e["n_iter"], e["n_support"]) for f, e in gen["fits"].items()}))
    print(f"{OUT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
