#!/usr/bin/env python3
"""Generate the scikit-learn head fixtures under Tests/Fixtures/heads/ (DEV-ONLY).

Fits the three CoDE heads exactly as upstream does (src/quantitative_evaluation/linear_training.py; see
docs/upstream.md, Heads) on synthetic 192-d float32 embeddings, saves them exactly as upstream saves them
(`joblib.dump(classifier, file_name)` for all three heads, joblib's default pickle protocol, uncompressed),
plus format variants (plain pickle protocols 0/1/2/4/5, zlib/gzip-compressed joblib, other k-NN metrics and
weights, other OneClassSVM kernels, boolean labels), and writes what scikit-learn's `predict`,
`predict_proba[:, 1]` and `decision_function` return on a fixed test set.

Run it once per environment; each run writes into a subfolder named after its versions:
    python3 tools/reference/make_head_fixtures.py                 # numpy 2 / current scikit-learn
    /tmp/sk13/bin/python tools/reference/make_head_fixtures.py    # numpy<2 / scikit-learn 1.3.2 (the release's)
Create that venv with: python3 -m venv /tmp/sk13 && /tmp/sk13/bin/pip install "numpy<2" scikit-learn==1.3.2 joblib

Options:
    --large PATH    also write a k-NN head fitted on 48,000 x 192 float32 vectors (like the released
                    37 MB knn_tot_classifier_epoch-32.sav) to PATH, for load-time measurements (not committed)

Shared files (identical from both environments; a second run checks them instead of rewriting):
    test_vectors.npy   float32 [632, 192]: 500 held-out synthetic vectors, then the 132 image embeddings of
                       Tests/Fixtures/models/vit-tiny-random/image_embeddings.json (sorted by file name)
    malicious/         hostile pickles the Swift reader must refuse, with manifest.json (numpy-2 run only)
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn import svm
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "Tests" / "Fixtures" / "heads"
EMBEDDINGS = REPO_ROOT / "Tests" / "Fixtures" / "models" / "vit-tiny-random" / "image_embeddings.json"
MARKER = "/tmp/deepfake-pwned"
F = 192
SEED = 20240611


def image_embeddings() -> np.ndarray:
    data = json.loads(EMBEDDINGS.read_text())["embeddings"]
    return np.array([data[k] for k in sorted(data)], dtype=np.float32)


def synthetic(emb: np.ndarray, per_class: int, rng: np.random.Generator, shifts: np.ndarray):
    """Five classes (0 real, 1..4 fake generators) around the image embeddings' distribution:
    x = mean + (z @ centred_embeddings) / sqrt(n - 1) * 0.9 + 0.25 * noise + shift[class]."""
    mean = emb.mean(axis=0, dtype=np.float64)
    centred = emb.astype(np.float64) - mean
    xs, ys = [], []
    for c in range(5):
        z = rng.standard_normal((per_class, emb.shape[0]))
        noise = rng.standard_normal((per_class, F))
        x = mean + (z @ centred) / np.sqrt(emb.shape[0] - 1) * 0.9 + 0.25 * noise + shifts[c]
        xs.append(x)
        ys.append(np.full(per_class, c, dtype=np.int64))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def make_data():
    emb = image_embeddings()
    rng = np.random.default_rng(SEED)
    direction = rng.standard_normal(F)
    direction /= np.linalg.norm(direction)
    shifts = np.zeros((5, F))
    for g in range(1, 5):
        d = rng.standard_normal(F)
        d /= np.linalg.norm(d)
        shifts[g] = 0.9 * direction + 0.5 * d
    x_train, y_train = synthetic(emb, 600, rng, shifts)
    x_held, _ = synthetic(emb, 100, rng, shifts)
    order = rng.permutation(len(x_train))
    x_train, y_train = x_train[order], y_train[order]
    x_test = np.concatenate([x_held, emb]).astype(np.float32)
    return x_train, y_train, x_test


class Evil:
    """Pickles as a call of `func(*args)`: what a hostile pickle does."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def write_malicious(lr: LogisticRegression) -> list[dict]:
    folder = OUT / "malicious"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []

    def put(name, data, expect, note):
        (folder / name).write_bytes(data)
        entries.append({"file": name, "expect": expect, "note": note})

    cmd = f"touch {MARKER}"
    put("os_system_p2.pkl", pickle.dumps(Evil(os.system, (cmd,)), protocol=2),
        {"forbidden": [os.system.__module__, "system"]}, "__reduce__ -> (os.system, (cmd,)), protocol 2 GLOBAL")
    put("os_system_p4.pkl", pickle.dumps(Evil(os.system, (cmd,)), protocol=4),
        {"forbidden": [os.system.__module__, "system"]}, "__reduce__ -> (os.system, (cmd,)), protocol 4 STACK_GLOBAL")
    put("builtins_eval.pkl", pickle.dumps(Evil(eval, (f"__import__('os').system('{cmd}')",)), protocol=4),
        {"forbidden": ["builtins", "eval"]}, "__reduce__ -> (eval, (source,))")
    put("subprocess_popen.pkl", pickle.dumps(Evil(subprocess.Popen, (["touch", MARKER],)), protocol=4),
        {"forbidden": ["subprocess", "Popen"]}, "__reduce__ -> (subprocess.Popen, (argv,))")
    # getattr(__import__('os'), 'system')(cmd), hand-assembled (protocol 2 opcodes).
    def binunicode(s):
        b = s.encode()
        return b"X" + len(b).to_bytes(4, "little") + b
    getattr_pickle = (b"\x80\x02cbuiltins\ngetattr\ncbuiltins\n__import__\n" + binunicode("os") + b"\x85R"
                      + binunicode("system") + b"\x86R" + binunicode(cmd) + b"\x85R.")
    put("builtins_getattr.pkl", getattr_pickle, {"forbidden": ["builtins", "getattr"]},
        "getattr(__import__('os'), 'system')(cmd), hand-assembled")
    # An allowed estimator whose state hides a forbidden call.
    evil_lr = pickle.loads(pickle.dumps(lr))
    evil_lr.__dict__["calibration"] = Evil(os.system, (cmd,))
    buf = io.BytesIO()
    joblib.dump(evil_lr, buf)
    put("nested_forbidden.joblib", buf.getvalue(), {"forbidden": [os.system.__module__, "system"]},
        "a LogisticRegression (allowed) whose state dict holds an os.system call")
    # Truncations.
    buf = io.BytesIO()
    joblib.dump(lr, buf)
    whole = buf.getvalue()
    put("truncated.sav", whole[: len(whole) // 2], {"error": "truncated"}, "the linear head's joblib file cut in half")
    put("truncated_array.joblib", whole[: whole.index(b"_sklearn_version") - 40], {"error": "truncated"},
        "cut inside the raw bytes of the last array")
    # Forged lengths.
    put("forged_binbytes8.pkl", b"\x80\x04\x8e" + (1 << 62).to_bytes(8, "little") + b"abc.", {"error": "truncated"},
        "BINBYTES8 declaring 2**62 bytes")
    put("forged_binunicode.pkl", b"\x80\x02X\xff\xff\xff\xffabc.", {"error": "truncated"},
        "BINUNICODE declaring 4 GiB")
    wrapper = joblib.numpy_pickle.NumpyArrayWrapper(np.ndarray, (1 << 40, F), "C", np.dtype("float32"), allow_mmap=True)
    put("forged_wrapper_shape.joblib", pickle.dumps(wrapper, protocol=4) + b"\x00" * 64, {"error": "truncated"},
        "a NumpyArrayWrapper claiming a (2**40, 192) float32 array, followed by 64 bytes")
    wrapper = joblib.numpy_pickle.NumpyArrayWrapper(np.ndarray, (1 << 62, 1 << 62), "C", np.dtype("float64"), allow_mmap=True)
    put("forged_wrapper_overflow.joblib", pickle.dumps(wrapper, protocol=4) + b"\x00" * 64, {"error": "malformed"},
        "a NumpyArrayWrapper whose shape product overflows 64 bits")
    return entries


def expected_rows(est, x: np.ndarray) -> np.ndarray:
    """[3, n] float64: predict, predict_proba[:, 1] (NaN if absent), decision_function (NaN if absent)."""
    out = np.full((3, len(x)), np.nan)
    out[0] = est.predict(x).astype(np.float64)
    if hasattr(est, "predict_proba") and not isinstance(est, svm.OneClassSVM):
        out[1] = est.predict_proba(x)[:, 1]
    if hasattr(est, "decision_function"):
        out[2] = est.decision_function(x)
    return out


def save(est, path: Path, how: str):
    if how == "joblib":
        joblib.dump(est, path)  # exactly upstream's call
    elif how.startswith("joblib-"):
        joblib.dump(est, path, compress=(how.split("-")[1], 3))
    elif how.startswith("pickle-p"):
        with open(path, "wb") as f:
            pickle.dump(est, f, protocol=int(how[len("pickle-p"):]))
    else:
        raise ValueError(how)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", type=Path)
    args = ap.parse_args()

    tag = f"sklearn-{sklearn.__version__}-numpy-{np.__version__}"
    folder = OUT / tag
    (folder / "expected").mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        if old.is_file():
            old.unlink()
    for old in (folder / "expected").glob("*"):
        old.unlink()

    x_train, y, x_test = make_data()
    y_train = np.where(y == 0, 0, 1)  # upstream: 0 = real, 1 = fake

    test_path = OUT / "test_vectors.npy"
    buf = io.BytesIO()
    np.save(buf, x_test)
    if test_path.exists() and test_path.read_bytes() != buf.getvalue():
        sys.exit(f"{test_path} differs from this environment's data: regenerate both environments' fixtures")
    test_path.write_bytes(buf.getvalue())

    # Subsets keep the folder small: the released k-NN holds 48,000 vectors, these 500 and 150.
    knn_rows = np.arange(500)
    small = np.arange(150)
    real = np.where(y == 0)[0]

    estimators = {}

    def fit(name, est, rows, labels=None, note=""):
        est.fit(x_train[rows], (y_train if labels is None else labels)[rows])
        estimators[name] = {"estimator": est, "rows": int(len(rows)), "note": note}
        return est

    lr = fit("linear", LogisticRegression(random_state=42, C=0.316, max_iter=1500, class_weight="balanced"),
             np.arange(len(x_train)), note="upstream linear head (verbose=1 upstream only prints)")
    fit("linear_bool", LogisticRegression(random_state=42, C=0.316, max_iter=1500, class_weight="balanced"),
        np.arange(len(x_train)), labels=(y != 0), note="as upstream trains it: Y_train = (Y != 0), classes_ [False, True]")
    fit("knn", KNeighborsClassifier(n_neighbors=1, weights="uniform", metric="cosine", n_jobs=-1), knn_rows,
        note="upstream k-NN head on 500 vectors")
    fit("knn_k5_cosine_distance", KNeighborsClassifier(n_neighbors=5, weights="distance", metric="cosine"), small)
    fit("knn_k5_euclidean_distance", KNeighborsClassifier(n_neighbors=5, weights="distance", metric="euclidean"), small)
    fit("knn_k4_minkowski_uniform", KNeighborsClassifier(n_neighbors=4, weights="uniform", metric="minkowski", p=2), small,
        note="k=4 makes 2-2 ties, which go to class 0 (real)")
    fit("knn_k3_kdtree", KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree"), np.arange(60),
        note="algorithm='kd_tree': the pickle carries a KDTree")
    fit("ocsvm", svm.OneClassSVM(nu=0.1, kernel="poly", gamma="auto"), real,
        note="upstream one-class SVM, fitted on the real vectors only")
    fit("ocsvm_rbf", svm.OneClassSVM(nu=0.1, kernel="rbf", gamma="scale"), real[:200])
    fit("ocsvm_linear", svm.OneClassSVM(nu=0.2, kernel="linear"), real[:200])
    fit("ocsvm_sigmoid", svm.OneClassSVM(nu=0.1, kernel="sigmoid", gamma="auto", coef0=0.5), real[:200])
    fit("ocsvm_poly_deg2", svm.OneClassSVM(nu=0.1, kernel="poly", degree=2, gamma=0.01, coef0=1.0), real[:200])

    files = [
        ("linear_tot_classifier_epoch-32.sav", "linear", "joblib"),
        ("knn_tot_classifier_epoch-32.sav", "knn", "joblib"),
        ("ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib", "ocsvm", "joblib"),
        ("linear_p0.pkl", "linear", "pickle-p0"),
        ("linear_p1.pkl", "linear", "pickle-p1"),
        ("linear_p2.pkl", "linear", "pickle-p2"),
        ("linear_p4.pkl", "linear", "pickle-p4"),
        ("linear_p5.pkl", "linear", "pickle-p5"),
        ("linear_bool.sav", "linear_bool", "joblib"),
        ("linear_zlib.joblib", "linear", "joblib-zlib"),
        ("knn_k5_cosine_distance_p5.pkl", "knn_k5_cosine_distance", "pickle-p5"),
        ("knn_k5_euclidean_distance.joblib", "knn_k5_euclidean_distance", "joblib"),
        ("knn_k4_minkowski_uniform_p2.pkl", "knn_k4_minkowski_uniform", "pickle-p2"),
        ("knn_k3_kdtree_gzip.joblib", "knn_k3_kdtree", "joblib-gzip"),
        ("ocsvm_rbf_zlib.joblib", "ocsvm_rbf", "joblib-zlib"),
        ("ocsvm_linear_p4.pkl", "ocsvm_linear", "pickle-p4"),
        ("ocsvm_sigmoid.joblib", "ocsvm_sigmoid", "joblib"),
        ("ocsvm_poly_deg2_p5.pkl", "ocsvm_poly_deg2", "pickle-p5"),
    ]
    numpy1 = np.__version__.startswith("1.")
    if numpy1:
        # The release's environment: the three upstream files and the main format variants only.
        keep = {"linear_tot_classifier_epoch-32.sav", "knn_tot_classifier_epoch-32.sav",
                "ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib", "linear_p2.pkl", "linear_p5.pkl", "linear_bool.sav",
                "knn_k5_cosine_distance_p5.pkl", "ocsvm_rbf_zlib.joblib"}
        files = [f for f in files if f[0] in keep]
    used = {f[1] for f in files}
    estimators = {k: v for k, v in estimators.items() if k in used}
    file_entries = []
    for name, est_name, how in files:
        save(estimators[est_name]["estimator"], folder / name, how)
        file_entries.append({"file": name, "estimator": est_name, "format": how})

    est_entries = {}
    for name, info in estimators.items():
        est = info["estimator"]
        rows = expected_rows(est, x_test)
        np.save(folder / "expected" / f"{name}.npy", rows)
        entry = {
            "class": f"{type(est).__module__}.{type(est).__name__}",
            "params": {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
                       for k, v in est.get_params().items()},
            "trained_on": info["rows"],
            "expected": f"expected/{name}.npy",
            "predicted_positive": int((rows[0] == (1 if not isinstance(est, svm.OneClassSVM) else -1)).sum()),
        }
        if info["note"]:
            entry["note"] = info["note"]
        if not np.isnan(rows[2]).all():
            entry["min_abs_decision"] = float(np.abs(rows[2]).min())
        if isinstance(est, svm.OneClassSVM):
            entry["support_vectors"] = int(est.support_vectors_.shape[0])
        if isinstance(est, LogisticRegression):
            entry["coef_dtype"] = str(est.coef_.dtype)
        est_entries[name] = entry

    fixture = {
        "what": "scikit-learn heads fitted like CoDE's upstream heads, saved as upstream saves them, plus format variants",
        "generated_by": "tools/reference/make_head_fixtures.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "sklearn": sklearn.__version__,
                     "joblib": joblib.__version__, "pickle_default_protocol": pickle.DEFAULT_PROTOCOL},
        "test_vectors": {"file": "../test_vectors.npy", "shape": list(x_test.shape),
                         "rows": "0..499 held-out synthetic (100 per class 0..4), 500..631 image embeddings sorted by name",
                         "sha256": hashlib.sha256(test_path.read_bytes()).hexdigest()},
        "expected_rows": ["predict", "predict_proba[:, 1] (NaN when absent)", "decision_function (NaN when absent)"],
        "train_data": "3,000 synthetic float32 vectors (600 per class 0..4), labels np.where(Y == 0, 0, 1)",
        "estimators": est_entries,
        "files": file_entries,
    }
    if np.__version__.startswith("2"):
        manifest = {"what": "hostile pickles: nothing may run, each must be refused",
                    "marker": MARKER, "generated_by": "tools/reference/make_head_fixtures.py",
                    "versions": fixture["versions"], "files": write_malicious(lr)}
        (OUT / "malicious" / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (folder / "fixture.json").write_text(json.dumps(fixture, indent=1) + "\n")

    if args.large:
        rng = np.random.default_rng(1)
        big = rng.standard_normal((48000, F)).astype(np.float32)
        labels = np.where(np.arange(48000) % 5 == 0, 0, 1)
        knn = KNeighborsClassifier(n_neighbors=1, weights="uniform", metric="cosine", n_jobs=-1).fit(big, labels)
        joblib.dump(knn, args.large)
        queries = (big[:640:10] + 0.5 * rng.standard_normal((64, F))).astype(np.float32)
        np.save(str(args.large) + ".queries.npy", queries)
        np.save(str(args.large) + ".expected.npy", knn.predict(queries).astype(np.float64))
        print(f"wrote {args.large} ({args.large.stat().st_size} bytes)")

    for name, e in est_entries.items():
        print(f"{name:28s} positives {e['predicted_positive']:4d}/{len(x_test)}  min|d| {e.get('min_abs_decision', float('nan')):.3g}")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {folder}; Tests/Fixtures/heads holds {total} bytes")


if __name__ == "__main__":
    main()
