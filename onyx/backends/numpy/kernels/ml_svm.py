"""Support vector machines of the ``ai.onnx.ml`` domain: SVMClassifier and SVMRegressor.

The layout is libsvm's. With support vectors, a classifier holds one-vs-one decision functions:
for classes ``i < j`` the value is ``sum(coef[j-1][sv of i] * K) + sum(coef[i][sv of j] * K)
+ rho[pair]``; each pair votes for ``i`` when positive, and the label is the most voted class.
With ``prob_a``/``prob_b`` the pairwise values become probabilities (Platt scaling) and are
coupled into one probability per class (Wu, Lin and Weng's second method, as libsvm does).
Without support vectors the model is liblinear's: one coefficient row per class.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.ml import ML, apply_post_transform, as_samples, class_labels
from onyx.backends.numpy.kernels.ml_linear import single_score_transform
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError
from onyx.ir.limits import check_elements


def _kernel_matrix(x: np.ndarray, vectors: np.ndarray, kernel_type: str,
                   kernel_params) -> np.ndarray:
    """``K[n, v]`` between samples ``x [N, F]`` and ``vectors [V, F]``."""
    check_elements([x.shape[0], vectors.shape[0]], 64, "SVM kernel matrix")
    gamma, coef0, degree = (list(kernel_params or []) + [0.0, 0.0, 0.0])[:3]
    if kernel_type == "LINEAR":
        return x @ vectors.T
    if kernel_type == "POLY":
        return (gamma * (x @ vectors.T) + coef0) ** degree
    if kernel_type == "SIGMOID":
        return np.tanh(gamma * (x @ vectors.T) + coef0)
    if kernel_type == "RBF":
        sq = (x * x).sum(1)[:, None] - 2.0 * (x @ vectors.T) + (vectors * vectors).sum(1)
        return np.exp(-gamma * np.maximum(sq, 0.0))
    raise ShapeError(f"kernel_type must be LINEAR, POLY, RBF or SIGMOID, got {kernel_type!r}")


def _support_vectors(support_vectors, count: int, x: np.ndarray) -> np.ndarray:
    sv = np.asarray(support_vectors or [], dtype=np.float64)
    if count < 1 or sv.size != count * x.shape[1]:
        raise ShapeError(f"{sv.size} support-vector values do not make {count} vectors of "
                         f"{x.shape[1]} features (X is {list(x.shape)})")
    return sv.reshape(count, x.shape[1])


# ------------------------------------------------------------------ classifier
def _pairwise_decisions(k: np.ndarray, coef: np.ndarray, per_class: list[int],
                        rho: np.ndarray) -> np.ndarray:
    """The one-vs-one decision values ``[N, C*(C-1)/2]``, pairs (0,1), (0,2), ..., (1,2)."""
    starts = np.concatenate([[0], np.cumsum(per_class)])
    n_classes = len(per_class)
    cols = []
    for i in range(n_classes - 1):
        si = slice(starts[i], starts[i + 1])
        for j in range(i + 1, n_classes):
            sj = slice(starts[j], starts[j + 1])
            cols.append(k[:, si] @ coef[j - 1, si] + k[:, sj] @ coef[i, sj])
    return np.stack(cols, axis=1) + rho


def _couple_probabilities(r: np.ndarray) -> np.ndarray:
    """Class probabilities from pairwise ones ``r[n, i, j]`` (libsvm's multiclass_probability),
    iterated for all samples at once; a sample stops changing once it has converged."""
    n, k = r.shape[0], r.shape[1]
    rt = np.swapaxes(r, 1, 2)
    q = -rt * r
    q[:, np.arange(k), np.arange(k)] = (rt * rt).sum(axis=2)
    p = np.full((n, k), 1.0 / k)
    active = np.ones(n, dtype=bool)
    for _ in range(max(100, k)):
        qp = np.einsum("nij,nj->ni", q, p)
        pqp = (p * qp).sum(axis=1)
        active &= np.abs(qp - pqp[:, None]).max(axis=1) >= 0.005 / k
        if not active.any():
            break
        for t in range(k):
            diff = np.where(active, (pqp - qp[:, t]) / q[:, t, t], 0.0)
            p[:, t] += diff
            pqp = (pqp + diff * (diff * q[:, t, t] + 2 * qp[:, t])) / (1 + diff) / (1 + diff)
            qp = (qp + diff[:, None] * q[:, t, :]) / (1 + diff[:, None])
            p /= (1 + diff[:, None])
    return p


def _platt_probabilities(dec: np.ndarray, prob_a, prob_b, n_classes: int) -> np.ndarray:
    a, b = np.asarray(prob_a, np.float64), np.asarray(prob_b, np.float64)
    if a.shape != b.shape or a.size != dec.shape[1]:
        raise ShapeError(f"prob_a ({a.size}) and prob_b ({b.size}) need one value per class "
                         f"pair ({dec.shape[1]})")
    pair = np.clip(1.0 / (1.0 + np.exp(dec * a + b)), 1e-7, 1 - 1e-7)
    r = np.zeros((dec.shape[0], n_classes, n_classes))
    iu = np.triu_indices(n_classes, 1)
    r[:, iu[0], iu[1]] = pair
    r[:, iu[1], iu[0]] = 1.0 - pair
    return _couple_probabilities(r)


def _svc(x, labels, coefficients, support_vectors, vectors_per_class, rho, prob_a, prob_b,
         kernel_type, kernel_params) -> tuple[np.ndarray, np.ndarray]:
    """Label index (most votes) and scores: class probabilities with prob_a/prob_b, else the
    pairwise decision values (``[-d, d]`` for two classes)."""
    per_class = [int(v) for v in vectors_per_class]
    n_classes = len(per_class)
    if n_classes < 2 or len(labels) != n_classes:
        raise ShapeError(f"vectors_per_class has {n_classes} classes for {len(labels)} labels")
    sv = _support_vectors(support_vectors, sum(per_class), x)
    coef = np.asarray(coefficients, dtype=np.float64)
    if coef.size != (n_classes - 1) * len(sv):
        raise ShapeError(f"{coef.size} coefficients for {n_classes - 1} x {len(sv)} expected")
    pairs = n_classes * (n_classes - 1) // 2
    rho = np.asarray(rho, dtype=np.float64)
    if rho.size != pairs:
        raise ShapeError(f"rho has {rho.size} values for {pairs} class pairs")
    k = _kernel_matrix(x, sv, kernel_type, kernel_params)
    dec = _pairwise_decisions(k, coef.reshape(n_classes - 1, len(sv)), per_class, rho)
    iu = np.triu_indices(n_classes, 1)
    winner = np.where(dec > 0, iu[0], iu[1])
    votes = np.zeros((len(x), n_classes), dtype=np.int64)
    np.add.at(votes, (np.arange(len(x))[:, None], winner), 1)
    best = np.argmax(votes, axis=1)
    if prob_a:
        return best, _platt_probabilities(dec, prob_a, prob_b, n_classes)
    if n_classes == 2:  # one decision value: scores for (negative, positive) as -d, d
        dec = np.concatenate([-dec, dec], axis=1)
    return best, dec


@kernel("SVMClassifier", domain=ML)
def svm_classifier(x, *, coefficients=None, support_vectors=None, vectors_per_class=None,
                   rho=None, prob_a=None, prob_b=None, kernel_type="LINEAR",
                   kernel_params=None, classlabels_ints=None, classlabels_strings=None,
                   post_transform="NONE"):
    labels = class_labels(classlabels_ints, classlabels_strings)
    if len(labels) == 0:
        raise ShapeError("one of classlabels_ints and classlabels_strings must be set")
    samples = as_samples(x)
    if vectors_per_class:
        best, scores = _svc(samples, labels, coefficients or [], support_vectors,
                               vectors_per_class, rho or [], prob_a, prob_b, kernel_type,
                               kernel_params)
    else:  # liblinear: one coefficient row per class, rho its intercept(s)
        n = len(labels)
        coef = np.asarray(coefficients or [], dtype=np.float64)
        if coef.size != n * samples.shape[1]:
            raise ShapeError(f"{coef.size} coefficients for {n} classes of "
                             f"{samples.shape[1]} features")
        bias = np.asarray(rho or [0.0], dtype=np.float64)
        scores = samples @ coef.reshape(n, -1).T + (bias if bias.size == n else bias[0])
        best = np.argmax(scores, axis=1)
    return labels[best], apply_post_transform(scores, post_transform).astype(np.float32)


# ------------------------------------------------------------------ regressor
@kernel("SVMRegressor", domain=ML)
def svm_regressor(x, *, coefficients=None, support_vectors=None, n_supports=0, rho=None,
                  kernel_type="LINEAR", kernel_params=None, one_class=0,
                  post_transform="NONE"):
    samples = as_samples(x)
    coef = np.asarray(coefficients or [], dtype=np.float64)
    bias = float((rho or [0.0])[0])
    if n_supports > 0:
        sv = _support_vectors(support_vectors, int(n_supports), samples)
        if coef.size != len(sv):
            raise ShapeError(f"{coef.size} coefficients for {len(sv)} support vectors")
        scores = _kernel_matrix(samples, sv, kernel_type, kernel_params) @ coef + bias
    else:
        if coef.size != samples.shape[1]:
            raise ShapeError(f"{coef.size} coefficients for {samples.shape[1]} features")
        scores = samples @ coef + bias
    scores = scores[:, None]
    if one_class:
        scores = np.where(scores > 0, 1.0, -1.0)
    return single_score_transform(scores, post_transform).astype(np.float32)
