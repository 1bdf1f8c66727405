#!/usr/bin/env python3
"""DEV-ONLY: makes Tests/Fixtures/models/vit-tiny-random a complete CoDE model folder.

Adds the three scikit-learn heads under sklearn/ with the released file names, fitted exactly as upstream
fits them (docs/upstream.md, Heads) on the reference embeddings of half of the fixture images, saved as
upstream saves them (joblib.dump for all three, the .sav files included), and writes what scikit-learn's
predict / predict_proba / decision_function say for every fixture image (expected_detect.json), so
`deepfake detect` can be checked end to end.

Labels: an image counts as "fake" when its reference embedding's bytes hash to an odd number (a fixed,
arbitrary split: the weights are random, so any labelling serves to compare implementations). Hashing the
embedding rather than the name gives pixel-identical fixture images (several exist) the same label, so a
1-NN tie between duplicates cannot change the answer.
"""
import hashlib
import json
import sys
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn import svm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "Tests/Fixtures/models/vit-tiny-random"
FILES = {
    "linear": "sklearn/linear_tot_classifier_epoch-32.sav",
    "knn": "sklearn/knn_tot_classifier_epoch-32.sav",
    "svm": "sklearn/ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib",
}


def main():
    ref = json.loads((MODEL / "image_embeddings.json").read_text())["embeddings"]
    names = sorted(ref)
    X = np.array([ref[n] for n in names], dtype=np.float32)
    fake = np.array([int(hashlib.sha256(x.tobytes()).hexdigest(), 16) % 2 == 1 for x in X])
    train = np.array([int(hashlib.sha256(b"split" + x.tobytes()).hexdigest(), 16) % 2 == 0 for x in X])
    Y_train = np.where(fake[train], 1, 0)  # ints 0/1, as upstream's np.where(Y == 0, 0, 1)

    linear = LogisticRegression(random_state=42, C=0.316, max_iter=1500, verbose=0, class_weight="balanced")
    linear.fit(X[train], Y_train)
    knn = KNeighborsClassifier(n_neighbors=1, weights="uniform", metric="cosine", n_jobs=-1)
    knn.fit(X[train], Y_train)
    ocsvm = svm.OneClassSVM(nu=0.1, kernel="poly", gamma="auto")
    ocsvm.fit(X[train][Y_train == 0])

    (MODEL / "sklearn").mkdir(exist_ok=True)
    # upstream (linear_training.py) saves every head with joblib.dump, the .sav files included
    joblib.dump(linear, MODEL / FILES["linear"])
    joblib.dump(knn, MODEL / FILES["knn"])
    joblib.dump(ocsvm, MODEL / FILES["svm"])

    expected = {
        "description": "scikit-learn's outputs on the reference embeddings (image_embeddings.json) of every fixture image",
        "labels": "fake = sha256(embedding float32 bytes) is odd; heads fitted on the images whose sha256(b'split' + embedding bytes) is even",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "sklearn": sklearn.__version__,
                     "joblib": joblib.__version__},
        "files": FILES,
        "images": {},
    }
    p_lin = linear.predict_proba(X)[:, list(linear.classes_).index(1)]
    d_lin = linear.decision_function(X)
    p_knn = knn.predict_proba(X)[:, list(knn.classes_).index(1)]
    d_svm = ocsvm.decision_function(X)
    pred = {"linear": linear.predict(X) == 1, "knn": knn.predict(X) == 1, "svm": ocsvm.predict(X)}
    for i, n in enumerate(names):
        expected["images"][n] = {
            "train": bool(train[i]), "fake": bool(fake[i]),
            "linear": {"fake": bool(pred["linear"][i]), "probability": float(p_lin[i]), "decision": float(d_lin[i])},
            "knn": {"fake": bool(pred["knn"][i]), "probability": float(p_knn[i])},
            "svm": {"fake": bool(pred["svm"][i] == -1), "decision": float(d_svm[i])},
        }
    (MODEL / "expected_detect.json").write_text(json.dumps(expected, indent=1) + "\n")
    write_evaluation(names, {"linear": (pred["linear"], p_lin), "knn": (pred["knn"], p_knn),
                             "svm": (pred["svm"] == -1, -d_svm)})
    counts = {h: int(np.sum(pred[h] == (-1 if h == "svm" else True))) for h in pred}
    print(f"wrote {MODEL / 'sklearn'} and expected_detect.json: {len(names)} images, fake predictions {counts}")


def write_evaluation(names, heads):
    """A D3-style test layout over the fixture images and scikit-learn's metrics on it (upstream's protocol).

    Each image goes to one folder of {augm,no_augm}/{real,gen_0..gen_3} by a hash of its name. For each of
    the 8 pairs (real folder of the subset vs one generator) and each head: accuracy_score on reals, on fakes
    and pooled (at the head's own prediction), average_precision_score and roc_auc_score on the fake score
    (probability for linear and k-NN, minus the decision value for the SVM).
    """
    folders = [f"{s}/{c}" for s in ("augm", "no_augm") for c in ("real", "gen_0", "gen_1", "gen_2", "gen_3")]
    layout = {n: folders[int(hashlib.sha256(("d3" + n).encode()).hexdigest(), 16) % len(folders)] for n in names}
    index = {n: i for i, n in enumerate(names)}
    results = {}
    for subset in ("augm", "no_augm"):
        for g in range(4):
            key = f"{subset}_gen0_and_real" if g == 0 else f"{subset}_gen_{g}"
            reals = [n for n in names if layout[n] == f"{subset}/real"]
            fakes = [n for n in names if layout[n] == f"{subset}/gen_{g}"]
            y = np.array([0] * len(reals) + [1] * len(fakes))
            idx = [index[n] for n in reals + fakes]
            for head, (pred_fake, score) in heads.items():
                pf = np.asarray(pred_fake)[idx].astype(int)
                sc = np.asarray(score)[idx]
                results[f"{key}/{head}"] = {
                    "n_real": len(reals), "n_fake": len(fakes),
                    "r_acc": accuracy_score(y[y == 0], pf[y == 0]), "f_acc": accuracy_score(y[y == 1], pf[y == 1]),
                    "acc": accuracy_score(y, pf),
                    "average_precision": average_precision_score(y, sc), "roc_auc": roc_auc_score(y, sc),
                }
    out = {"description": "D3 layout of the fixture images and scikit-learn's metrics per pair and head "
                          "(accuracy_score, average_precision_score, roc_auc_score on sklearn's own outputs)",
           "layout": layout, "results": results}
    (MODEL / "expected_evaluate.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
