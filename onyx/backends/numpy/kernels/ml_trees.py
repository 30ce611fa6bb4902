"""Tree ensembles of the ``ai.onnx.ml`` domain: TreeEnsemble (ml opset 5), and the older
TreeEnsembleRegressor and TreeEnsembleClassifier.

Every encoding is first turned into one flat forest (``Forest``): parallel arrays over all
nodes, interior and leaf, with child indices, and a CSR list of (target, weight) per leaf. The
forest is then walked for all samples and all trees at once, one tree level per step, so the
Python loop runs as many times as the deepest tree is deep.

Comparisons are made in float64 (exact for float32 thresholds and inputs). A NaN feature takes
the true branch where ``nodes_missing_value_tracks_true`` says so, and otherwise goes where the
comparison sends it (false for every mode but BRANCH_NEQ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onyx.backends.numpy.kernels.ml import ML, apply_post_transform, as_samples, class_labels
from onyx.backends.numpy.kernels.ml_linear import single_score_transform
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError
from onyx.ir.limits import check_elements

LEAF = -1
MEMBER = 6
_LEGACY_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3,
                 "BRANCH_EQ": 4, "BRANCH_NEQ": 5, "LEAF": LEAF}
_AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")


@dataclass
class Forest:
    feature: np.ndarray      # [M] feature index of each interior node
    threshold: np.ndarray    # [M] float64
    mode: np.ndarray         # [M] 0..6 (BRANCH_LEQ..BRANCH_MEMBER), LEAF for leaves
    true_child: np.ndarray   # [M]
    false_child: np.ndarray  # [M]
    nan_true: np.ndarray     # [M] bool: a NaN feature takes the true branch
    roots: np.ndarray        # [T]
    leaf_start: np.ndarray   # [M + 1] CSR offsets into the weight lists below
    weight_target: np.ndarray
    weight_value: np.ndarray  # float64
    member_rows: np.ndarray | None = None  # [M] row in member_sets, -1 for other modes
    member_sets: np.ndarray | None = None  # [members, S] NaN-padded values of each set

    def check(self, n_features: int, n_targets: int) -> None:
        m = len(self.mode)
        inner = self.mode != LEAF
        for name, idx in (("true", self.true_child[inner]), ("false", self.false_child[inner]),
                          ("root", self.roots)):
            if idx.size and (idx.min() < 0 or idx.max() >= m):
                raise ShapeError(f"a {name} node index is outside the {m} nodes of the ensemble")
        feats = self.feature[inner]
        if feats.size and (feats.min() < 0 or feats.max() >= n_features):
            raise ShapeError(f"a node reads feature {int(feats.max())}, X has {n_features}")
        if self.weight_target.size and (self.weight_target.min() < 0 or
                                        self.weight_target.max() >= n_targets):
            raise ShapeError(f"a leaf writes target/class {int(self.weight_target.max())}, "
                             f"the model has {n_targets}")
        if ((self.mode < LEAF) | (self.mode > MEMBER)).any():
            raise ShapeError(f"unknown node mode in {sorted(set(self.mode.tolist()))}")


# ------------------------------------------------------------------ evaluation
def _branch(forest: Forest, nodes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each (node, feature value) pair takes its true branch."""
    t, mode = forest.threshold[nodes], forest.mode[nodes]
    cond = np.select([mode == 0, mode == 1, mode == 2, mode == 3, mode == 4, mode == 5],
                     [values <= t, values < t, values >= t, values > t, values == t,
                      values != t], default=False)
    member = mode == MEMBER
    if member.any():
        sets = forest.member_sets[forest.member_rows[nodes[member]]]
        cond[member] = (sets == values[member][:, None]).any(axis=1)
    return cond | (forest.nan_true[nodes] & np.isnan(values))


def find_leaves(forest: Forest, x: np.ndarray) -> np.ndarray:
    """The leaf each sample reaches in each tree: ``[N, T]`` node indices."""
    n, t = x.shape[0], len(forest.roots)
    check_elements([n, t], 64, "tree walk (samples x trees)")
    cur = np.tile(forest.roots, n)           # flat [N * T]
    rows = np.repeat(np.arange(n), t)
    pending = np.arange(n * t)               # walks that have not reached a leaf yet
    for _ in range(len(forest.mode) + 1):
        nodes = cur[pending]
        inner = forest.mode[nodes] != LEAF
        pending, nodes = pending[inner], nodes[inner]
        if not len(pending):
            return cur.reshape(n, t)
        cond = _branch(forest, nodes, x[rows[pending], forest.feature[nodes]])
        cur[pending] = np.where(cond, forest.true_child[nodes], forest.false_child[nodes])
    raise ShapeError("a tree has a cycle: a walk from its root never reaches a leaf")


def _reached_weights(forest: Forest, leaves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every (sample, weight) pair a reached leaf holds: the sample and the weight index."""
    flat = leaves.reshape(-1)
    rows = np.repeat(np.arange(leaves.shape[0]), leaves.shape[1])
    counts = forest.leaf_start[flat + 1] - forest.leaf_start[flat]
    if (counts == 1).all():  # one weight per leaf (TreeEnsemble, single-target models)
        return rows, forest.leaf_start[flat]
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(rows, counts), np.repeat(forest.leaf_start[flat], counts) + offsets


def aggregate(forest: Forest, leaves: np.ndarray, n_targets: int, how: str) -> tuple:
    """Scores ``[N, n_targets]`` and which targets got any leaf weight."""
    n = leaves.shape[0]
    sample, entry = _reached_weights(forest, leaves)
    target, value = forest.weight_target[entry], forest.weight_value[entry]
    scored = np.zeros((n, n_targets), dtype=bool)
    scored[sample, target] = True
    if how in ("SUM", "AVERAGE"):
        scores = np.bincount(sample * n_targets + target, weights=value,
                             minlength=n * n_targets).reshape(n, n_targets)
        if how == "AVERAGE":
            scores /= max(len(forest.roots), 1)
    elif how in ("MIN", "MAX"):
        scores = np.full((n, n_targets), np.inf if how == "MIN" else -np.inf)
        (np.minimum if how == "MIN" else np.maximum).at(scores, (sample, target), value)
        scores[~scored] = 0.0  # a target no tree wrote to scores 0
    else:
        raise ShapeError(f"aggregate_function must be one of {', '.join(_AGGREGATES)}, got "
                         f"{how!r}")
    return scores, scored


def _leaf_lists(n_nodes: int, leaf_of_weight: np.ndarray, target: np.ndarray,
                value: np.ndarray) -> tuple:
    """CSR offsets and the weights sorted by their leaf."""
    order = np.argsort(leaf_of_weight, kind="stable")
    start = np.zeros(n_nodes + 1, dtype=np.int64)
    np.add.at(start, leaf_of_weight + 1, 1)
    return np.cumsum(start), target[order].astype(np.int64), value[order].astype(np.float64)


# ------------------------------------------------------------------ TreeEnsemble (opset 5)
def _member_sets(modes: np.ndarray, membership_values) -> tuple:
    """Row of each BRANCH_MEMBER node (-1 for others) into a NaN-padded ``[sets, width]``
    matrix of its values (the attribute lists the sets in node order, NaN-separated)."""
    members = np.flatnonzero(modes == MEMBER)
    if not len(members):
        return None, None
    if membership_values is None:
        raise ShapeError("BRANCH_MEMBER nodes need membership_values")
    values = np.asarray(membership_values, dtype=np.float64).reshape(-1)
    groups = [g[~np.isnan(g)] for g in np.split(values, np.flatnonzero(np.isnan(values)))]
    if len(groups) < len(members):
        raise ShapeError(f"membership_values holds {len(groups)} sets for {len(members)} "
                         f"BRANCH_MEMBER nodes")
    width = max(max(len(g) for g in groups[:len(members)]), 1)
    check_elements([len(members), width], 64, "BRANCH_MEMBER sets")
    sets = np.full((len(members), width), np.nan)
    for row, g in enumerate(groups[:len(members)]):
        sets[row, :len(g)] = g
    rows = np.full(len(modes), -1, dtype=np.int64)
    rows[members] = np.arange(len(members))
    return rows, sets


def _forest_v5(attrs: dict) -> Forest:
    modes = np.asarray(attrs["nodes_modes"]).reshape(-1).astype(np.int64)
    k = len(modes)
    fields = [np.asarray(attrs[name], dtype=np.int64).reshape(-1) for name in
              ("nodes_featureids", "nodes_truenodeids", "nodes_falsenodeids",
               "nodes_trueleafs", "nodes_falseleafs")]
    splits = np.asarray(attrs["nodes_splits"], dtype=np.float64).reshape(-1)
    if any(len(f) != k for f in fields) or len(splits) != k:
        raise ShapeError(f"the nodes_* attributes must all have {k} entries")
    feature, true_id, false_id, true_leaf, false_leaf = fields
    targets = np.asarray(attrs["leaf_targetids"], dtype=np.int64).reshape(-1)
    weights = np.asarray(attrs["leaf_weights"], dtype=np.float64).reshape(-1)
    if len(targets) != len(weights):
        raise ShapeError(f"leaf_targetids ({len(targets)}) and leaf_weights ({len(weights)}) "
                         f"differ in length")
    n_leaves = len(weights)
    modes_all = np.concatenate([modes, np.full(n_leaves, LEAF)])
    member_rows, member_sets = _member_sets(modes_all, attrs.get("membership_values"))
    missing = attrs.get("nodes_missing_value_tracks_true") or [0] * k
    if len(missing) != k:
        raise ShapeError(f"nodes_missing_value_tracks_true has {len(missing)} entries for {k} "
                         f"nodes")
    # interior nodes are 0..k-1, leaves k..k+L-1
    pad = np.zeros(n_leaves, dtype=np.int64)
    start, w_target, w_value = _leaf_lists(k + n_leaves, np.arange(n_leaves) + k, targets,
                                           weights)
    return Forest(
        feature=np.concatenate([feature, pad]),
        threshold=np.concatenate([splits, np.zeros(n_leaves)]),
        mode=modes_all,
        true_child=np.concatenate([true_id + k * (true_leaf != 0), pad]),
        false_child=np.concatenate([false_id + k * (false_leaf != 0), pad]),
        nan_true=np.concatenate([np.asarray(missing, dtype=bool), pad.astype(bool)]),
        roots=np.asarray(attrs["tree_roots"], dtype=np.int64).reshape(-1),
        leaf_start=start, weight_target=w_target, weight_value=w_value,
        member_rows=member_rows, member_sets=member_sets)


@kernel("TreeEnsemble", domain=ML, since=5)
def tree_ensemble(x, *, nodes_featureids, nodes_modes, nodes_splits, nodes_truenodeids,
                  nodes_falsenodeids, nodes_trueleafs, nodes_falseleafs, leaf_targetids,
                  leaf_weights, tree_roots, n_targets=None, aggregate_function=1,
                  post_transform=0, membership_values=None,
                  nodes_missing_value_tracks_true=None, nodes_hitrates=None):
    x = np.asarray(x)
    samples = as_samples(x)
    forest = _forest_v5(dict(
        nodes_featureids=nodes_featureids, nodes_modes=nodes_modes, nodes_splits=nodes_splits,
        nodes_truenodeids=nodes_truenodeids, nodes_falsenodeids=nodes_falsenodeids,
        nodes_trueleafs=nodes_trueleafs, nodes_falseleafs=nodes_falseleafs,
        leaf_targetids=leaf_targetids, leaf_weights=leaf_weights, tree_roots=tree_roots,
        membership_values=membership_values,
        nodes_missing_value_tracks_true=nodes_missing_value_tracks_true))
    if n_targets is None:
        raise ShapeError("n_targets is required")
    if not 0 <= aggregate_function < len(_AGGREGATES):
        raise ShapeError(f"aggregate_function must be 0..3, got {aggregate_function}")
    forest.check(samples.shape[1], int(n_targets))
    scores, _ = aggregate(forest, find_leaves(forest, samples), int(n_targets),
                          _AGGREGATES[aggregate_function])
    if scores.shape[1] == 1:
        return single_score_transform(scores, post_transform).astype(x.dtype)
    return apply_post_transform(scores, post_transform).astype(x.dtype)


# ------------------------------------------------------------------ legacy encodings
def _first(attrs: dict, *names):
    """The first of ``names`` that is set (the ``*_as_tensor`` double forms come first)."""
    for name in names:
        v = attrs.get(name)
        if v is not None and (not isinstance(v, list) or v):
            return v
    return None


def _node_field(attrs: dict, name: str, m: int) -> np.ndarray:
    """One nodes_* attribute as an array of ``m`` entries; thresholds and missing-value
    tracks may be left out (zeros), and thresholds may come as a double tensor."""
    v = _first(attrs, name + "_as_tensor", name) if name == "nodes_values" else attrs.get(name)
    if v is None or isinstance(v, list) and not v:
        if name in ("nodes_values", "nodes_missing_value_tracks_true"):
            return np.zeros(m)
        raise ShapeError(f"{name} is required")
    v = np.asarray(v).reshape(-1)
    if len(v) != m:
        raise ShapeError(f"{name} has {len(v)} entries for {m} nodes")
    return v


def _legacy_forest(attrs: dict, prefix: str) -> Forest:
    """A forest from nodes_treeids/nodes_nodeids style attributes; weights under ``prefix``
    (``target`` for the regressor, ``class`` for the classifier)."""
    trees = np.asarray(attrs.get("nodes_treeids") or [], dtype=np.int64)
    ids = np.asarray(attrs.get("nodes_nodeids") or [], dtype=np.int64)
    m = len(ids)
    if m == 0 or len(trees) != m:
        raise ShapeError(f"nodes_treeids ({len(trees)}) and nodes_nodeids ({m}) must be "
                         f"non-empty and of equal length")
    try:
        mode = np.array([_LEGACY_MODES[s] for s in attrs.get("nodes_modes") or []],
                        dtype=np.int64)
    except KeyError as exc:
        raise ShapeError(f"unknown node mode {exc.args[0]!r}") from None
    fields = {name: _node_field(attrs, name, m) for name in (
        "nodes_featureids", "nodes_truenodeids", "nodes_falsenodeids", "nodes_values",
        "nodes_missing_value_tracks_true")}
    if len(mode) != m:
        raise ShapeError(f"nodes_modes has {len(mode)} entries for {m} nodes")
    w_trees = np.asarray(attrs.get(f"{prefix}_treeids") or [], dtype=np.int64)
    w_nodes = np.asarray(attrs.get(f"{prefix}_nodeids") or [], dtype=np.int64)
    w_ids = np.asarray(attrs.get(f"{prefix}_ids") or [], dtype=np.int64)
    w_vals = _first(attrs, f"{prefix}_weights_as_tensor", f"{prefix}_weights")
    w_vals = np.asarray([] if w_vals is None else w_vals, dtype=np.float64).reshape(-1)
    if not len(w_trees) == len(w_nodes) == len(w_ids) == len(w_vals):
        raise ShapeError(f"the {prefix}_* attributes differ in length")
    true_id = fields["nodes_truenodeids"].astype(np.int64)
    false_id = fields["nodes_falsenodeids"].astype(np.int64)
    keys = np.concatenate([np.stack([trees, ids], 1), np.stack([trees, true_id], 1),
                           np.stack([trees, false_id], 1), np.stack([w_trees, w_nodes], 1)])
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(np.unique(inverse[:m])) != m:
        raise ShapeError("a (tree id, node id) pair is repeated in the nodes_* attributes")
    index_of = np.full(len(uniq), -1, dtype=np.int64)
    index_of[inverse[:m]] = np.arange(m)
    true_child, false_child = index_of[inverse[m:2 * m]], index_of[inverse[2 * m:3 * m]]
    leaf_of_weight = index_of[inverse[3 * m:]]
    inner = mode != LEAF
    if (true_child[inner] < 0).any() or (false_child[inner] < 0).any():
        raise ShapeError("a branch node points to a node id missing from its tree")
    if (leaf_of_weight < 0).any():
        raise ShapeError(f"a {prefix} weight names a (tree id, node id) that is not a node")
    start, w_target, w_value = _leaf_lists(m, leaf_of_weight, w_ids, w_vals)
    return Forest(feature=fields["nodes_featureids"].astype(np.int64),
                  threshold=fields["nodes_values"].astype(np.float64), mode=mode,
                  true_child=np.where(inner, true_child, 0),
                  false_child=np.where(inner, false_child, 0),
                  nan_true=fields["nodes_missing_value_tracks_true"].astype(bool),
                  roots=_roots(trees, np.concatenate([true_child[inner], false_child[inner]])),
                  leaf_start=start, weight_target=w_target, weight_value=w_value)


def _roots(trees: np.ndarray, children: np.ndarray) -> np.ndarray:
    """Per tree, its first node (in attribute order) that no branch points to."""
    parentless = np.ones(len(trees), dtype=bool)
    parentless[children] = False
    candidates = np.flatnonzero(parentless)
    rooted, first = np.unique(trees[candidates], return_index=True)
    if len(rooted) != len(np.unique(trees)):
        missing = sorted(set(trees.tolist()) - set(rooted.tolist()))[:5]
        raise ShapeError(f"trees {missing} have no root: every node is some branch's child")
    return candidates[first]


_LEGACY_COMMON = {"nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes",
                  "nodes_values", "nodes_values_as_tensor", "nodes_truenodeids",
                  "nodes_falsenodeids", "nodes_missing_value_tracks_true", "nodes_hitrates",
                  "nodes_hitrates_as_tensor", "base_values", "base_values_as_tensor",
                  "post_transform"}


def _check_attribute_names(attrs: dict, extra: set) -> None:
    unknown = sorted(set(attrs) - _LEGACY_COMMON - extra)
    if unknown:
        raise ShapeError(f"unknown attributes {unknown}")


def _base_values(attrs: dict, n: int) -> np.ndarray | None:
    base = _first(attrs, "base_values_as_tensor", "base_values")
    if base is None:
        return None
    base = np.asarray(base, dtype=np.float64).reshape(-1)
    if len(base) != n:
        raise ShapeError(f"base_values has {len(base)} values for {n} targets/classes")
    return base


@kernel("TreeEnsembleRegressor", domain=ML, until=4)
def tree_ensemble_regressor(x, **attrs):
    # ~20 optional attributes, many in two spellings (list / *_as_tensor): taken as a dict
    _check_attribute_names(attrs, {"n_targets", "aggregate_function", "target_treeids",
                                   "target_nodeids", "target_ids", "target_weights",
                                   "target_weights_as_tensor"})
    samples = as_samples(x)
    n_targets = int(attrs.get("n_targets") or 1)
    forest = _legacy_forest(attrs, "target")
    forest.check(samples.shape[1], n_targets)
    scores, _ = aggregate(forest, find_leaves(forest, samples), n_targets,
                          attrs.get("aggregate_function", "SUM"))
    base = _base_values(attrs, n_targets)
    if base is not None:
        scores = scores + base
    transform = attrs.get("post_transform", "NONE")
    if n_targets == 1:
        return single_score_transform(scores, transform).astype(np.float32)
    return apply_post_transform(scores, transform).astype(np.float32)


def _binary_scores(s: np.ndarray, labels: np.ndarray, all_positive: bool, transform) -> tuple:
    """Two classes with weights for only one of them: ``s`` scores the positive (second) class.

    This is how converters write binary trees (skl2onnx stores P(class 1) under class id 0;
    boosted trees store a margin and ask for LOGISTIC). As onnxruntime does: non-negative
    weights are a probability, so the label is positive when ``s > 0.5`` and the scores are
    ``[1 - f(s), f(s)]``; mixed-sign weights are a margin, positive when ``s > 0``, scored
    ``[f(-s), f(s)]``. ``f`` is the post-transform of one score (``single_score_transform``).
    """
    f = lambda v: single_score_transform(v[:, None], transform)[:, 0]  # noqa: E731
    if all_positive:
        positive, p = s > 0.5, f(s)
        z = np.stack([1.0 - p, p], axis=1)
    else:
        positive = s > 0
        z = np.stack([f(-s), f(s)], axis=1)
    return labels[positive.astype(np.int64)], z.astype(np.float32)


@kernel("TreeEnsembleClassifier", domain=ML, until=4)
def tree_ensemble_classifier(x, **attrs):
    _check_attribute_names(attrs, {"classlabels_int64s", "classlabels_strings", "class_treeids",
                                   "class_nodeids", "class_ids", "class_weights",
                                   "class_weights_as_tensor"})
    samples = as_samples(x)
    labels = class_labels(attrs.get("classlabels_int64s"), attrs.get("classlabels_strings"))
    if len(labels) == 0:
        raise ShapeError("one of classlabels_int64s and classlabels_strings must be set")
    forest = _legacy_forest(attrs, "class")
    forest.check(samples.shape[1], len(labels))
    scores, scored = aggregate(forest, find_leaves(forest, samples), len(labels), "SUM")
    transform = attrs.get("post_transform", "NONE")
    voted = np.unique(forest.weight_target)
    if len(labels) == 2 and len(voted) == 1:
        base = _first(attrs, "base_values_as_tensor", "base_values")
        base = np.asarray([] if base is None else base, dtype=np.float64).reshape(-1)
        s = scores[:, voted[0]] + (base[voted[0]] if len(base) == 2 else base.sum())
        return _binary_scores(s, labels, bool((forest.weight_value >= 0).all()), transform)
    base = _base_values(attrs, len(labels))
    if base is not None:
        scores, scored = scores + base, np.ones_like(scored)
    # a class no leaf voted for (and with no base value) cannot be the top class
    best = np.argmax(np.where(scored, scores, -np.inf), axis=1)
    return labels[best], apply_post_transform(scores, transform).astype(np.float32)
