#!/usr/bin/env python3
"""Reference values for calibration, calibration metrics and t-SNE (DEV-ONLY) -> Tests/Fixtures/trust/.

Usage: python3 tools/reference/make_trust_fixtures.py        (scikit-learn 1.9.1, numpy, scipy; ~1 minute)

Deterministic: no random draws except numpy `default_rng` with fixed seeds; TSNE runs with random_state=0
(init='pca'). Every file records the library versions that wrote it.

Inputs (committed): Tests/Fixtures/heads/test_vectors.npy (float32 [632, 192]; rows 0..499 are held-out
synthetic CoDE-like embeddings, 100 per class 0..4 in that order, class 0 real and 1..4 four generators;
rows 500..631 the image embeddings of vit-tiny-random) and the scikit-learn 1.9.1 heads fitted on the
same distribution (Tests/Fixtures/heads/sklearn-1.9.1-numpy-2.4.6/, make_head_fixtures.py).

calibration.json — score sets and scikit-learn's calibration of them.
  Head sets: a committed head scores the 500 held-out rows (float64 for linear and svm, whose Swift heads
  compute in Double; the float32 rows for k-NN). The calibration input is what
  `CalibratedClassifierCV` calibrates for that estimator, oriented so that higher = more fake:
    linear -> decision_function (the logit; CalibratedClassifierCV prefers decision_function),
    knn    -> predict_proba[:, 1] (the share of fake neighbours; k-NN has no decision_function),
    svm    -> -decision_function (OneClassSVM's decision is positive for inliers = reals).
  Fixed split: even rows (0, 2, ...) are the calibration set, odd rows the held-out test set. The heads are
  already fitted: the calibrator sees only the calibration set (CalibratedClassifierCV(FrozenEstimator(head),
  method=...) semantics; for linear and knn the script checks that CalibratedClassifierCV gives the same
  probabilities as the calibrators fitted directly on the scores: within 1e-12 for linear, 1e-5 for k-NN,
  whose float32 distances scikit-learn itself does not reproduce bit for bit from call to call).
  k-NN sets also carry exact_float32_scores: the same fractions with every float32 value rounded once from
  its exact value (knn_exact_float32), which do not depend on the BLAS's float32 rounding; the script checks
  they are within 1e-5 of scikit-learn's and records the largest difference.
  Synthetic sets: overlapping normal scores with ties (rounded to 0.05), and large decision values
  (|score| >= 30, which makes _sigmoid_calibration rescale its input).
  For every set:
    sigmoid:  sklearn.calibration._sigmoid_calibration(cal_scores, cal_labels) -> (a, b), and
              _SigmoidCalibration.predict = expit(-(a * s + b)) on the calibration and test scores;
    isotonic: IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1) fitted on the calibration set:
              X_thresholds_, y_thresholds_, predictions on both sets;
    thresholds at false-positive rates (0.01, 0.05, 0.1) on the calibration set: with
              fpr, tpr, thr = roc_curve(cal_labels, cal_scores, drop_intermediate=False), the point
              i = max{i : fpr[i] <= target}; threshold thr[i] (fake when score >= threshold; "inf" means
              nothing is called fake), its fpr[i] and tpr[i].

metrics.json — ECE, NLL, Brier and reliability-diagram data of probability sets (labels 1 = fake):
  ECE (15 equal-width bins on the probability of fake): edges = np.linspace(0, 1, 16); a probability p goes to
  bin searchsorted(edges[1:-1], p, side="left"), i.e. bins [0, e1], (e1, e2], ..., (e14, 1] (the bin
  assignment of sklearn.calibration.calibration_curve(strategy="uniform")). ECE = sum over non-empty bins of
  count/N * |mean(label) - mean(p)|. Computed here with plain numpy and cross-checked against
  calibration_curve + np.bincount.
  NLL = sklearn.metrics.log_loss(labels, p) (probabilities clipped to [eps, 1 - eps], eps = 2**-52);
  Brier = sklearn.metrics.brier_score_loss(labels, p).
  Reliability: per bin (all 15) the count, mean p ("confidence"), mean label ("accuracy": the fraction of
  fakes); null means where the bin is empty.

tsne.json — sklearn.manifold.TSNE on the 612 distinct rows of the 632 test vectors (float32; `rows` lists
  them: the first occurrence of each distinct row, in order — duplicates tie in every distance, which would
  leave trustworthiness to scikit-learn's unspecified tie order; the script asserts its trustworthiness values
  are the same under either tie order): perplexity 30 and 10, random_state=0,
  method "exact" and "barnes_hut", every other parameter at its default (init="pca", learning_rate="auto",
  max_iter=1000, early_exaggeration=12, angle=0.5). Per run: kl_divergence_, n_iter_,
  trustworthiness(X, embedding, n_neighbors=5), the embedding (float32 values as Python floats) and
  kl_at_embedding: the objective at that final embedding, from TSNE's private `_joint_probabilities` +
  `_kl_divergence` (exact) or `_joint_probabilities_nn` + `_kl_divergence_bh` (angle 0.5) as TSNE calls them
  (kl_divergence_ is the value one step earlier). OMP_NUM_THREADS=1 keeps Barnes-Hut's sums in one order. Also trustworthiness of the 2-D PCA
  projection (a second embedding to check trustworthiness on), and the classes of the points (0 real,
  1..4 generators, 5 image embeddings).
"""
import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy/scikit-learn load OpenMP: Barnes-Hut sums in a fixed order

import json
import sys
import warnings

import joblib
import numpy as np
import scipy
import sklearn
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV, _sigmoid_calibration, calibration_curve
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.manifold import TSNE, trustworthiness
from sklearn.manifold._t_sne import (_joint_probabilities, _joint_probabilities_nn, _kl_divergence,
                                     _kl_divergence_bh)
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors
from sklearn.metrics import brier_score_loss, log_loss, roc_curve

from make_metric_fixtures import num  # JSON number: float, or "inf"/"-inf"/"nan" as the Swift tests read them

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADS = os.path.join(ROOT, "Tests", "Fixtures", "heads")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "trust")
FPR_TARGETS = [0.01, 0.05, 0.1]
N_BINS = 15

VERSIONS = {
    "python": sys.version.split()[0],
    "numpy": np.__version__,
    "scipy": scipy.__version__,
    "scikit-learn": sklearn.__version__,
}


def nums(a):
    return [num(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def test_vectors():
    x = np.load(os.path.join(HEADS, "test_vectors.npy"))
    assert x.shape == (632, 192) and x.dtype == np.float32
    classes = np.concatenate([np.repeat(np.arange(5), 100), np.full(132, 5)])
    return x, classes


# ---------------------------------------------------------------------------------------------- calibration

def fpr_thresholds(labels, scores):
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    out = []
    for target in FPR_TARGETS:
        i = int(np.nonzero(fpr <= target)[0].max())
        out.append({"target": target, "threshold": num(thr[i]), "fpr": num(fpr[i]), "tpr": num(tpr[i])})
    return out


def calibrate(name, description, cal_scores, cal_labels, test_scores, test_labels):
    cal_scores = np.asarray(cal_scores, dtype=np.float64)
    test_scores = np.asarray(test_scores, dtype=np.float64)
    a, b = _sigmoid_calibration(cal_scores, cal_labels)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(cal_scores, cal_labels)
    return {
        "name": name,
        "description": description,
        "calibration": {"scores": nums(cal_scores), "labels": [int(v) for v in cal_labels]},
        "test": {"scores": nums(test_scores), "labels": [int(v) for v in test_labels]},
        "sigmoid": {
            "a": float(a), "b": float(b),
            "calibration_probabilities": nums(expit(-(a * cal_scores + b))),
            "test_probabilities": nums(expit(-(a * test_scores + b))),
        },
        "isotonic": {
            "x_thresholds": nums(iso.X_thresholds_), "y_thresholds": nums(iso.y_thresholds_),
            "calibration_probabilities": nums(iso.predict(cal_scores)),
            "test_probabilities": nums(iso.predict(test_scores)),
        },
        "fpr_thresholds": fpr_thresholds(cal_labels, cal_scores),
    }


def knn_exact_float32(head, rows):
    """predict_proba[:, 1] of a cosine k-NN head with every float32 value rounded once from its exact value:
    rows normalised by a norm summed in float64 and rounded to float32, x̂·ŷ summed in float64 and rounded to
    float32, 1 − x̂·ŷ and the 1/d weights in float32, ties in distance by lower index, then scikit-learn's
    weighted vote. scikit-learn's own values come from a float32 matrix product whose rounding depends on the
    BLAS and the CPU (|difference| up to ~2e-6 in the fraction here, where 1/d weights magnify it); this one
    does not, and the Swift head computes it."""
    assert head.effective_metric_ == "cosine" and head.weights in ("uniform", "distance")
    def normalised(a):
        norm = np.sqrt(np.sum(a.astype(np.float64) ** 2, axis=1)).astype(np.float32)
        norm[norm == 0] = 1
        return (a / norm[:, None]).astype(np.float32)
    xs, ys = normalised(rows), normalised(head._fit_X.astype(np.float32))
    dots = (xs.astype(np.float64) @ ys.astype(np.float64).T).astype(np.float32)
    dist = np.clip(np.float32(1) - dots, np.float32(0), np.float32(2))
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :head.n_neighbors]
    d = np.take_along_axis(dist, nearest, axis=1)
    if head.weights == "uniform":
        w = np.ones_like(d, dtype=np.float64)
    else:
        with np.errstate(divide="ignore"):
            w = (np.float32(1) / d).astype(np.float64)
        exact = np.any(d == 0, axis=1)
        w[exact] = (d[exact] == 0).astype(np.float64)
    fake_class = list(head.classes_).index(1)
    fake = np.zeros(len(rows)); real = np.zeros(len(rows))
    for j in range(head.n_neighbors):  # in neighbour order, as scikit-learn accumulates the vote
        is_fake = head._y[nearest[:, j]] == fake_class
        fake += np.where(is_fake, w[:, j], 0.0)
        real += np.where(is_fake, 0.0, w[:, j])
    return fake / (real + fake)


def check_against_calibrated_classifier(head, x_cal, y_cal, x_test, entry, tolerance):
    """CalibratedClassifierCV(FrozenEstimator(head)) must give what the calibrators fitted on the scores give.
    k-NN gets a looser tolerance: scikit-learn's float32 cosine distances, and so its k-NN scores, differ by up
    to ~5e-7 between calls on the same rows (seen inside CalibratedClassifierCV.fit)."""
    for method in ("sigmoid", "isotonic"):
        model = CalibratedClassifierCV(FrozenEstimator(head), method=method).fit(x_cal, y_cal)
        got = model.predict_proba(x_test)[:, 1]
        want = np.array(entry[method]["test_probabilities"], dtype=np.float64)
        assert np.max(np.abs(got - want)) < tolerance, (entry["name"], method, np.max(np.abs(got - want)))


def calibration_sets():
    x32, classes = test_vectors()
    x32 = x32[:500]
    x64 = x32.astype(np.float64)
    labels = (classes[:500] != 0).astype(np.int64)
    cal, test = np.arange(0, 500, 2), np.arange(1, 500, 2)
    folder = os.path.join(HEADS, "sklearn-1.9.1-numpy-2.4.6")
    sets = []
    heads = [
        ("linear", "linear_p4.pkl", "decision_function"),
        ("knn_k1_cosine", "knn_tot_classifier_epoch-32.sav", "predict_proba[:, 1]"),
        ("knn_k5_cosine_distance", "knn_k5_cosine_distance_p5.pkl", "predict_proba[:, 1]"),
        ("svm_poly", "ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib", "-decision_function"),
    ]
    for name, file, response in heads:
        head = joblib.load(os.path.join(folder, file))
        # Linear and SVM decisions in float64 (as the Swift heads compute them); k-NN on the float32 embeddings
        # (scikit-learn's float32 cosine distances, which the Swift k-NN head reproduces).
        x = x32 if response.startswith("predict_proba") else x64
        # Scored per subset, as CalibratedClassifierCV scores them (k-NN's float32 distances depend on the
        # batch in the last bits).
        if response == "decision_function":
            score = head.decision_function
        elif response == "-decision_function":
            score = lambda rows: -head.decision_function(rows)
        else:
            score = lambda rows: head.predict_proba(rows)[:, 1]
        entry = calibrate(name, f"{file}: {response} of the 500 held-out rows; calibration = even rows, test = odd rows",
                          score(x[cal]), labels[cal], score(x[test]), labels[test])
        entry["head_file"] = f"heads/sklearn-1.9.1-numpy-2.4.6/{file}"
        entry["calibration_rows"] = [int(i) for i in cal]
        entry["test_rows"] = [int(i) for i in test]
        if response.startswith("predict_proba"):
            exact_cal, exact_test = knn_exact_float32(head, x[cal]), knn_exact_float32(head, x[test])
            deviation = max(np.max(np.abs(exact_cal - np.asarray(entry["calibration"]["scores"]))),
                            np.max(np.abs(exact_test - np.asarray(entry["test"]["scores"]))))
            assert deviation < 1e-5, (name, deviation)
            entry["exact_float32_scores"] = {"calibration": nums(exact_cal), "test": nums(exact_test),
                                             "largest_difference_from_sklearn": float(deviation)}
        if response != "-decision_function":
            check_against_calibrated_classifier(head, x[cal], labels[cal], x[test], entry,
                                                1e-12 if response == "decision_function" else 1e-5)
        sets.append(entry)

    rng = np.random.default_rng(16)
    n = 400
    y = (rng.random(n) < 0.45).astype(np.int64)
    s = np.round((rng.standard_normal(n) * 1.1 + np.where(y == 1, 0.8, -0.7)) / 0.05) * 0.05
    sets.append(calibrate("synthetic_overlap_ties", "normal scores N(-0.7, 1.1) real / N(0.8, 1.1) fake, rounded to "
                          "multiples of 0.05 (ties); first 200 calibrate, last 200 test",
                          s[:200], y[:200], s[200:], y[200:]))
    y = (rng.random(300) < 0.5).astype(np.int64)
    s = rng.standard_normal(300) * 25 + np.where(y == 1, 20.0, -20.0)
    sets.append(calibrate("synthetic_large", "normal scores N(-20, 25) real / N(20, 25) fake (|score| >= 30 occurs: "
                          "_sigmoid_calibration rescales); first 150 calibrate, last 150 test",
                          s[:150], y[:150], s[150:], y[150:]))
    return sets


# -------------------------------------------------------------------------------------------------- metrics

def ece_and_bins(labels, p):
    labels = np.asarray(labels, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    ids = np.searchsorted(edges[1:-1], p, side="left")
    bins, ece = [], 0.0
    for b in range(N_BINS):
        mask = ids == b
        count = int(mask.sum())
        if count:
            conf, acc = float(p[mask].mean()), float(labels[mask].mean())
            ece += count / len(p) * abs(acc - conf)
            bins.append({"count": count, "mean_confidence": conf, "accuracy": acc})
        else:
            bins.append({"count": 0, "mean_confidence": None, "accuracy": None})
    # Cross-check with scikit-learn's calibration_curve (same bin assignment).
    prob_true, prob_pred = calibration_curve(labels, p, n_bins=N_BINS, strategy="uniform")
    counts = np.bincount(ids, minlength=N_BINS)
    counts = counts[counts > 0]
    ece_sklearn = float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))
    assert abs(ece - ece_sklearn) < 1e-12, (ece, ece_sklearn)
    return ece, bins, edges


def metric_set(name, description, labels, p):
    ece, bins, edges = ece_and_bins(labels, p)
    return {
        "name": name, "description": description,
        "labels": [int(v) for v in labels], "probabilities": nums(p),
        "ece": ece, "nll": float(log_loss(labels, p, labels=[0, 1])), "brier": float(brier_score_loss(labels, p)),
        "bin_edges": nums(edges), "bins": bins,
    }


def metric_sets(calibration):
    out = []
    x, classes = test_vectors()
    head = joblib.load(os.path.join(HEADS, "sklearn-1.9.1-numpy-2.4.6", "linear_p4.pkl"))
    odd = np.arange(1, 500, 2)
    labels = (classes[odd] != 0).astype(np.int64)
    out.append(metric_set("linear_uncalibrated", "linear head predict_proba[:, 1] on the test rows",
                          labels, head.predict_proba(x[odd].astype(np.float64))[:, 1]))
    for entry in calibration:
        for method in ("sigmoid", "isotonic"):
            out.append(metric_set(f"{entry['name']}_{method}", f"{method} calibrated probabilities of the test set "
                                  f"of calibration.json's {entry['name']}",
                                  entry["test"]["labels"], entry[method]["test_probabilities"]))
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    p = np.concatenate([edges, edges, [0.0, 1.0, 1e-20, 1 - 1e-17, 0.5, 0.5]])
    y = np.concatenate([np.zeros(16, np.int64), np.ones(16, np.int64), [1, 0, 1, 0, 0, 1]])
    out.append(metric_set("edges", "probabilities exactly on the bin edges (np.linspace(0, 1, 16)), 0 and 1 with the "
                          "wrong label (log_loss clipping), values that round to 0 and 1", y, p))
    return out


# ---------------------------------------------------------------------------------------------------- t-SNE

def kl_at(x, emb, perplexity, method):
    """The objective TSNE minimises, evaluated at `emb` (TSNE's own private functions, as it calls them)."""
    n = len(x)
    params = emb.astype(np.float32).ravel()
    if method == "exact":
        p = _joint_probabilities(pairwise_distances(x, metric="euclidean", squared=True), perplexity, 0)
        return float(_kl_divergence(params, p, 1, n, 2)[0])
    k = min(n - 1, int(3.0 * perplexity + 1))
    graph = NearestNeighbors(n_neighbors=k).fit(x).kneighbors_graph(mode="distance")
    graph.data **= 2
    p = _joint_probabilities_nn(graph, perplexity, 0)
    return float(_kl_divergence_bh(params, p, 1, n, 2, angle=0.5, num_threads=1)[0])


def distinct_rows(x):
    """Indices of the first occurrence of every distinct row, in order. The image embeddings repeat (20 of the
    132 rows duplicate another: the same image under two names), and duplicates tie in every distance, so
    trustworthiness would depend on how scikit-learn's unstable argsort and KD-tree order ties."""
    _, first = np.unique(x, axis=0, return_index=True)
    return np.sort(first)


def trustworthiness_tie_free(x, emb, k):
    """scikit-learn's trustworthiness, asserted not to depend on how ties are ordered: its own value equals the
    same formula with input-space ties ranked by index and by reversed index (on scikit-learn's own float32
    distances) and the k-th/(k+1)-th embedding neighbours never tie."""
    value = float(trustworthiness(x, emb, n_neighbors=k))
    n = len(x)
    dist = pairwise_distances(x).astype(np.float64)
    np.fill_diagonal(dist, np.inf)
    ind_e, dist_e = None, None
    nn = NearestNeighbors(n_neighbors=k + 1).fit(emb)
    dist_e, ind_e = nn.kneighbors(return_distance=True)
    assert np.all(dist_e[:, k - 1] < dist_e[:, k]), "embedding neighbours tie at the k-th place"
    ind_e = ind_e[:, :k]
    values = []
    for order in (np.arange(n), np.arange(n)[::-1]):
        ranked = order[np.argsort(dist[:, order], axis=1, kind="stable")]
        inverted = np.zeros((n, n), dtype=np.int64)
        inverted[np.arange(n)[:, None], ranked] = np.arange(1, n + 1)
        r = inverted[np.arange(n)[:, None], ind_e] - k
        values.append(1.0 - r[r > 0].sum() * (2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))))
    assert values[0] == values[1] == value, (values, value)
    return value


def tsne_runs():
    x, classes = test_vectors()
    rows = distinct_rows(x)
    x, classes = x[rows], classes[rows]
    runs = []
    for perplexity in (30.0, 10.0):
        for method in ("exact", "barnes_hut"):
            model = TSNE(perplexity=perplexity, random_state=0, method=method)
            emb = model.fit_transform(x)
            runs.append({
                "method": method, "perplexity": perplexity, "random_state": 0,
                "kl_divergence": float(model.kl_divergence_), "n_iter": int(model.n_iter_),
                "learning_rate": float(model.learning_rate_),
                "trustworthiness": trustworthiness_tie_free(x, emb, 5),
                "kl_at_embedding": kl_at(x, emb, perplexity, method),
                "embedding": nums(emb.astype(np.float32)),
            })
            print(f"t-SNE {method} perplexity {perplexity}: KL {model.kl_divergence_:.5f} "
                  f"(at the final embedding {runs[-1]['kl_at_embedding']:.5f}), "
                  f"trustworthiness {runs[-1]['trustworthiness']:.5f}", file=sys.stderr)
    pca = PCA(n_components=2).fit_transform(x.astype(np.float64))
    return {
        "points": "../heads/test_vectors.npy",
        "rows": [int(i) for i in rows],
        "classes": [int(c) for c in classes],
        "class_names": ["real", "generator 1", "generator 2", "generator 3", "generator 4", "image embedding"],
        "runs": runs,
        "pca2": {"embedding": nums(pca), "trustworthiness": trustworthiness_tie_free(x, pca, 5),
                 "trustworthiness_k10": trustworthiness_tie_free(x, pca, 10)},
    }


def write(name, payload):
    payload = {"generated_by": "tools/reference/make_trust_fixtures.py", "versions": VERSIONS, **payload}
    path = os.path.join(OUT, name)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=None, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)
    print(f"wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)
    warnings.simplefilter("error", category=UserWarning)
    calibration = calibration_sets()
    write("calibration.json", {"fpr_targets": FPR_TARGETS, "sets": calibration})
    write("metrics.json", {"bins": N_BINS, "sets": metric_sets(calibration)})
    write("tsne.json", tsne_runs())


if __name__ == "__main__":
    main()
