#!/usr/bin/env python3
"""Reference values for the evaluation metrics (DEV-ONLY) -> Tests/Fixtures/metrics/*.json.

Each file is one score set: labels (1 = fake, the positive class), fake scores (higher = more fake),
the head's own predictions, and what scikit-learn says about them:
accuracy_score / balanced_accuracy_score (on the predictions), average_precision_score, roc_auc_score,
roc_curve (drop_intermediate True and False), precision_recall_curve. Two derived values are computed
here by brute force, as the Swift side defines them:
  * best-threshold accuracy: max over t in {+inf} U {distinct scores} of accuracy_score(y, score >= t);
    ties keep the highest threshold;
  * TPR at an FPR target: max TPR over the points of roc_curve(drop_intermediate=False) with FPR <= target.
Where the Swift side reports "undefined" (a class absent) the expected value is null. +inf thresholds are
written as the string "inf" (JSON has no infinity).

Usage: python3 tools/reference/make_metric_fixtures.py   (numpy + scikit-learn; deterministic seeds)
"""
import json
import math
import os
import sys

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                             precision_recall_curve, roc_auc_score, roc_curve)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "metrics")


def num(x):
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        return "nan"
    return x


def nums(a):
    return [num(v) for v in np.asarray(a, dtype=np.float64)]


def best_threshold(y, s):
    best_acc, best_thr = accuracy_score(y, np.zeros_like(y)), math.inf
    for t in sorted(set(s.tolist()), reverse=True):
        acc = accuracy_score(y, (s >= t).astype(int))
        if acc > best_acc:
            best_acc, best_thr = acc, t
    return best_acc, best_thr


def tpr_at(fpr, tpr, thr, target):
    ok = np.nonzero(fpr <= target)[0]
    i = ok[np.argmax(tpr[ok])]  # first index of the max TPR among admissible points
    return {"tpr": num(tpr[i]), "fpr": num(fpr[i]), "threshold": num(thr[i])}


def case(name, y, s, pred, decision=None, note=""):
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=np.float64)
    pred = np.asarray(pred, dtype=bool)
    both = len(np.unique(y)) == 2
    has_pos = bool((y == 1).any())
    reals, fakes = y == 0, y == 1
    out = {
        "name": name, "note": note,
        "labels": y.tolist(), "scores": nums(s), "predicted": pred.astype(int).tolist(),
        "accuracy": num(accuracy_score(y, pred.astype(int))),
        "real_accuracy": num(accuracy_score(y[reals], pred[reals].astype(int))) if reals.any() else None,
        "fake_accuracy": num(accuracy_score(y[fakes], pred[fakes].astype(int))) if fakes.any() else None,
        "balanced_accuracy": num(balanced_accuracy_score(y, pred.astype(int))) if both else None,
        "average_precision": num(average_precision_score(y, s)) if has_pos else None,
        "roc_auc": num(roc_auc_score(y, s)) if both else None,
    }
    if decision is not None:
        out["decision"] = nums(decision)
    bacc, bthr = best_threshold(y, s)
    out["best_threshold"] = {"accuracy": num(bacc), "threshold": num(bthr)}
    if both:
        fpr, tpr, thr = roc_curve(y, s)
        out["roc_curve"] = {"fpr": nums(fpr), "tpr": nums(tpr), "thresholds": nums(thr)}
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
        out["roc_curve_full"] = {"fpr": nums(fpr), "tpr": nums(tpr), "thresholds": nums(thr)}
        out["tpr_at_fpr_1"] = tpr_at(fpr, tpr, thr, 0.01)
        out["tpr_at_fpr_5"] = tpr_at(fpr, tpr, thr, 0.05)
    else:
        out["roc_curve"] = out["roc_curve_full"] = out["tpr_at_fpr_1"] = out["tpr_at_fpr_5"] = None
    if has_pos:
        p, r, t = precision_recall_curve(y, s)
        out["pr_curve"] = {"precision": nums(p), "recall": nums(r), "thresholds": nums(t)}
    else:
        out["pr_curve"] = None
    out["versions"] = {"sklearn": sklearn.__version__, "numpy": np.__version__,
                       "python": sys.version.split()[0]}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240601)

    # Random scores rounded to one decimal: many ties, mixed labels.
    y = (rng.random(200) < 0.4).astype(int)
    s = np.clip(np.round(rng.normal(0.35 + 0.3 * y, 0.2), 1), 0, 1)
    case("random_ties", y, s, s > 0.5, note="scores rounded to 0.1, many ties")

    # Continuous scores, no ties, enough reals for 1% FPR to be meaningful.
    y = np.r_[np.zeros(300, int), np.ones(200, int)]
    s = rng.normal(0, 1, 500) + 1.5 * y
    p = np.round(1 / (1 + np.exp(-s)), 6)
    case("continuous", y, p, p > 0.5, note="logistic probabilities, 300 real / 200 fake")

    # Perfectly separable.
    y = np.r_[np.zeros(30, int), np.ones(20, int)]
    s = np.round(np.r_[rng.uniform(0, 0.4, 30), rng.uniform(0.6, 1, 20)], 4)
    case("separable", y, s, s > 0.5)

    # Every score tied.
    y = (rng.random(40) < 0.5).astype(int)
    s = np.full(40, 0.5)
    case("all_tied", y, s, s > 0.5, note="one threshold only")

    # Heavy class imbalance: 400 real, 8 fake.
    y = np.r_[np.zeros(400, int), np.ones(8, int)]
    s = np.round(rng.normal(0.3 + 0.35 * y, 0.15), 3)
    case("imbalanced", y, s, s > 0.5, note="400 real / 8 fake")

    # k-NN with k = 1: scores are 0 or 1.
    y = (rng.random(120) < 0.5).astype(int)
    flip = rng.random(120) < 0.12
    s = np.where(flip, 1 - y, y).astype(float)
    case("knn_discrete", y, s, s > 0.5, note="scores in {0,1}")

    # One-class SVM: decision values, negative = fake; fake score = -decision.
    y = np.r_[np.zeros(150, int), np.ones(150, int)]
    d = np.round(np.r_[rng.normal(0.05, 0.05, 150), rng.normal(-0.04, 0.06, 150)], 5)
    case("svm_decision", y, -d, d <= 0, decision=d, note="scores are -decision; predicted fake when decision <= 0")

    # Worse than chance (scores anti-correlated).
    y = (rng.random(60) < 0.5).astype(int)
    s = np.round(rng.normal(0.6 - 0.3 * y, 0.2), 4)
    case("inverted", y, s, s > 0.5)

    # scikit-learn's documentation example.
    case("sklearn_doc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], [0, 0, 0, 1])

    # One class only: undefined curves.
    s = np.round(rng.random(10), 3)
    case("only_real", np.zeros(10, int), s, s > 0.5, note="no fakes: AUC, AP, curves undefined")
    s = np.round(rng.random(10), 3)
    case("only_fake", np.ones(10, int), s, s > 0.5, note="no reals: AUC and ROC undefined, AP defined")


if __name__ == "__main__":
    main()
