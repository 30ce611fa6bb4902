"""Linear models of the ``ai.onnx.ml`` domain: LinearClassifier and LinearRegressor.

Scores are computed in float64 and returned as float32, the only score type ONNX-ML has.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.ml import ML, apply_post_transform, as_samples, class_labels
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError


def linear_scores(x: np.ndarray, coefficients, intercepts, n_out: int) -> np.ndarray:
    """``x @ W.T + b`` with ``W`` = coefficients as ``[n_out, F]``."""
    coef = np.asarray(coefficients, dtype=np.float64)
    if n_out < 1 or coef.size != n_out * x.shape[1]:
        raise ShapeError(f"{coef.size} coefficients do not make {n_out} rows of "
                         f"{x.shape[1]} features (X is {list(x.shape)})")
    scores = x @ coef.reshape(n_out, x.shape[1]).T
    if intercepts:
        if len(intercepts) != n_out:
            raise ShapeError(f"{len(intercepts)} intercepts for {n_out} outputs")
        scores = scores + np.asarray(intercepts, dtype=np.float64)
    return scores


def single_score_transform(scores: np.ndarray, name) -> np.ndarray:
    """The post-transform of a model with one score per sample.

    LOGISTIC and PROBIT act on each score; a softmax over one value is degenerate and is
    skipped, as onnxruntime does (which also skips LOGISTIC here; ONNX says to apply it).
    """
    if name in ("SOFTMAX", "SOFTMAX_ZERO", 1, 3):
        return scores
    return apply_post_transform(scores, name)


@kernel("LinearRegressor", domain=ML)
def linear_regressor(x, *, coefficients=None, intercepts=None, targets=1,
                     post_transform="NONE"):
    scores = linear_scores(as_samples(x), coefficients or [], intercepts, int(targets))
    if scores.shape[1] == 1:
        return single_score_transform(scores, post_transform).astype(np.float32)
    return apply_post_transform(scores, post_transform).astype(np.float32)


def _binary_linear(scores: np.ndarray, labels: np.ndarray, name) -> tuple:
    """One coefficient row: the score is for the positive class (the second label)."""
    s = scores[:, 0]
    if len(labels) == 2:
        positive, negative = labels[1], labels[0]
    else:  # no usable pair of labels: onnxruntime's convention of "1" / "0"
        positive, negative = ("1", "0") if labels.dtype == object else (1, 0)
    out = np.empty(len(s), dtype=labels.dtype)
    out[...] = np.where(s > 0, positive, negative)
    p = single_score_transform(scores, name)
    if len(labels) == 2:
        p = np.concatenate([1.0 - p, p], axis=1)
    return out, p.astype(np.float32)


@kernel("LinearClassifier", domain=ML)
def linear_classifier(x, *, coefficients, intercepts=None, classlabels_ints=None,
                      classlabels_strings=None, multi_class=0, post_transform="NONE"):
    # multi_class does not change inference: OvR and multinomial both score every class
    labels = class_labels(classlabels_ints, classlabels_strings)
    samples = as_samples(x)
    n_rows = len(intercepts) if intercepts else len(coefficients) // max(samples.shape[1], 1)
    scores = linear_scores(samples, coefficients, intercepts, n_rows)
    if n_rows == 1:
        return _binary_linear(scores, labels, post_transform)
    if len(labels) != n_rows:
        raise ShapeError(f"{len(labels)} class labels for {n_rows} score rows")
    best = np.argmax(scores, axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
    return labels[best], apply_post_transform(scores, post_transform).astype(np.float32)
