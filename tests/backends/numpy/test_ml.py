"""``ai.onnx.ml`` kernels against onnxruntime.

Each table row is one single-node model; it runs through ``onyx.backend`` and through
onnxruntime (``onnx.reference`` where a row says so) and the outputs must match in dtype,
shape and value. The tree ensembles are random forests of every node mode, with NaN inputs.
Where onnxruntime is known to differ from the ONNX text, the test pins what onyx does and says
why. Bad inputs must raise an ``OnyxError`` naming the op.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import onyx.backend
from onyx.ir.errors import OnyxError

ML = "ai.onnx.ml"
rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def strs(*values):
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def map_type(key, value):
    return helper.make_map_type_proto(key, helper.make_tensor_type_proto(value, None))


def value_type(x):
    if isinstance(x, tuple):  # (python value, TypeProto) for maps
        return x[1]
    return helper.make_tensor_type_proto(helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)


def make_model(op, inputs, attrs, ml_opset, n_out):
    names = [f"x{i}" for i in range(len(inputs))]
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], domain=ML, **attrs)
    graph = helper.make_graph(
        [node], op.lower(), [helper.make_value_info(n, value_type(x))
                             for n, x in zip(names, inputs)],
        [helper.make_value_info(f"y{i}", onnx.TypeProto()) for i in range(n_out)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                   helper.make_opsetid(ML, ml_opset)])


def feeds_of(inputs):
    return [x[0] if isinstance(x, tuple) else x for x in inputs]


def run_oracle(model, inputs, oracle):
    feeds = dict(zip([f"x{i}" for i in range(len(inputs))], feeds_of(inputs)))
    if oracle == "ref":
        return ReferenceEvaluator(model).run(None, feeds)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def run_onyx(model, inputs):
    return onyx.backend.prepare(model).run(feeds_of(inputs))


def assert_same(ours, ref, tol):
    if isinstance(ref, list):  # ZipMap: a list of dicts
        assert isinstance(ours, list) and len(ours) == len(ref)
        for a, b in zip(ours, ref):
            assert a.keys() == b.keys()
            np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=1e-6)
        return
    ref = np.asarray(ref)
    if ref.dtype.kind == "U":
        ref = ref.astype(object)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    if ref.dtype.kind == "f":
        np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol, equal_nan=True)
    else:
        assert ours.tolist() == ref.tolist()


def case(name, op, inputs, ml_opset=3, n_out=1, oracle="ort", tol=1e-5, **attrs):
    attrs = {k: v for k, v in attrs.items() if not (isinstance(v, list) and not v)}
    return pytest.param(op, inputs, attrs, ml_opset, n_out, oracle, tol, id=name)


def check(op, inputs, attrs, ml_opset, n_out, oracle, tol):
    model = make_model(op, inputs, attrs, ml_opset, n_out)
    ours = run_onyx(model, inputs)
    refs = run_oracle(model, inputs, oracle)
    for o, r in zip(ours, refs):
        assert_same(o, r, tol)


X = rand(5, 3)
XD = rand(4, 3, dtype=np.float64)
XI = rand(4, 3, dtype=np.int64)
IDS = np.array([0, 2], dtype=np.int64)

TRANSFORM_CASES = [
    case("afe_2d", "ArrayFeatureExtractor", [X, IDS]),
    case("afe_1d", "ArrayFeatureExtractor", [rand(6), np.array([5, 0, 5], dtype=np.int64)]),
    case("afe_3d_int", "ArrayFeatureExtractor", [rand(2, 3, 4, dtype=np.int64),
                                                 np.array([[3, 1]], dtype=np.int64)]),
    case("afe_int32", "ArrayFeatureExtractor", [rand(3, 4, dtype=np.int32), IDS]),
    case("afe_double", "ArrayFeatureExtractor", [XD, IDS]),
    case("afe_strings", "ArrayFeatureExtractor", [strs("a", "b", "c", "d").reshape(2, 2),
                                                  np.array([1], dtype=np.int64)]),
    case("binarizer", "Binarizer", [X], threshold=0.3),
    case("binarizer_double", "Binarizer", [XD], oracle="ref"),
    *[case(f"normalizer_{norm.lower()}_{name}", "Normalizer", [x], norm=norm)
      for norm in ("MAX", "L1", "L2")
      for name, x in (("f32", X), ("f64", XD), ("i64", XI), ("i32", XI.astype(np.int32)),
                      ("1d", rand(4)), ("zero_row", np.zeros((2, 3), np.float32)))],
    case("scaler_per_feature", "Scaler", [X], offset=[0.5, -1.0, 2.0], scale=[2.0, 3.0, 0.5]),
    case("scaler_broadcast_double", "Scaler", [XD], offset=[0.5], scale=[2.0]),
    case("scaler_int", "Scaler", [XI], offset=[1.0, 2.0, 3.0], scale=[0.5, 1.0, -2.0]),
    case("imputer_nan", "Imputer", [np.array([[1, np.nan, 3], [np.nan, 2, 2]], np.float32)],
         imputed_value_floats=[9.0, 8.0, 7.0], replaced_value_float=float("nan")),
    case("imputer_value_broadcast", "Imputer", [np.array([1, 2, 3, 2], np.float32)],
         imputed_value_floats=[-1.0], replaced_value_float=2.0),
    case("imputer_int", "Imputer", [XI], imputed_value_int64s=[100], replaced_value_int64=3),
    case("ohe_ints", "OneHotEncoder", [np.array([[1, 3], [2, 9]], np.int64)],
         cats_int64s=[1, 2, 3]),
    case("ohe_floats_truncate", "OneHotEncoder", [np.array([1.7, 3.2, -1.0], np.float32)],
         cats_int64s=[1, 2, 3]),
    case("ohe_strings", "OneHotEncoder", [strs("a", "z", "b")], cats_strings=["a", "b"]),
    case("fv_concat", "FeatureVectorizer", [XI[:, :2], XI[:, 2:]], inputdimensions=[2, 1]),
    case("fv_pad_and_cut", "FeatureVectorizer", [X, X[:, :1]], inputdimensions=[2, 3]),
    case("fv_1d_double", "FeatureVectorizer", [rand(2, dtype=np.float64),
                                               rand(1, dtype=np.float64)],
         inputdimensions=[2, 1]),
    case("fv_3d", "FeatureVectorizer", [rand(2, 2, 2)], inputdimensions=[4]),
    case("category_str_to_int", "CategoryMapper", [strs("a", "q", "b").reshape(1, 3)],
         cats_strings=["a", "b"], cats_int64s=[5, 6]),
    case("category_int_to_str", "CategoryMapper", [np.array([5, 7], np.int64)],
         cats_strings=["a", "b"], cats_int64s=[5, 6], default_string="zz"),
]

ENCODER_CASES = [
    case("label_v1_str_to_int", "LabelEncoder", [strs("b", "a", "z")], ml_opset=1,
         classes_strings=["a", "b"]),
    case("label_v1_int_to_str", "LabelEncoder", [np.array([1, 0, 5, -1], np.int64)], ml_opset=1,
         classes_strings=["a", "b"], default_string="?"),
    case("label_v2_str_to_float", "LabelEncoder", [strs("x", "y", "q")], ml_opset=2,
         keys_strings=["x", "y"], values_floats=[1.5, 2.5]),
    case("label_v2_int_to_str", "LabelEncoder", [np.array([[3, 4], [5, 3]], np.int64)],
         ml_opset=2, keys_int64s=[3, 4], values_strings=["three", "four"]),
    case("label_v2_float_default", "LabelEncoder", [np.array([1.0, 3.0], np.float32)],
         ml_opset=2, keys_floats=[1.0], values_int64s=[5]),
    case("label_v4_float_nan", "LabelEncoder", [np.array([1.0, np.nan, 3.0], np.float32)],
         ml_opset=4, keys_floats=[1.0, float("nan")], values_strings=["a", "n"]),
    case("label_v4_tensors", "LabelEncoder", [strs("a", "b", "d")], ml_opset=4,
         keys_tensor=helper.make_tensor("k", TensorProto.STRING, (2,), [b"a", b"b"]),
         values_tensor=helper.make_tensor("v", TensorProto.INT16, (2,), [7, 8]),
         default_tensor=helper.make_tensor("d", TensorProto.INT16, (1,), [-3])),
    case("castmap_dense", "CastMap", [({3: 1.5, 1: 2.5}, map_type(TensorProto.INT64,
                                                                  TensorProto.FLOAT))]),
    case("castmap_to_string", "CastMap", [({3: 1.5, 1: 2.25}, map_type(TensorProto.INT64,
                                                                       TensorProto.FLOAT))],
         cast_to="TO_STRING"),
    case("castmap_to_int", "CastMap", [({3: 1.7, 1: -2.5}, map_type(TensorProto.INT64,
                                                                    TensorProto.FLOAT))],
         cast_to="TO_INT64"),
    case("castmap_sparse", "CastMap", [({3: 1.5, 1: 2.5, 9: 4.0},
                                        map_type(TensorProto.INT64, TensorProto.FLOAT))],
         map_form="SPARSE", max_map=5),
    case("dictvectorizer_strings", "DictVectorizer",
         [({"a": 1.5, "c": 2.5, "zz": 3.0}, map_type(TensorProto.STRING, TensorProto.FLOAT))],
         string_vocabulary=["c", "b", "a"]),
    case("dictvectorizer_ints_strings", "DictVectorizer",
         [({5: 1.5, 1: 2.5}, map_type(TensorProto.INT64, TensorProto.FLOAT))],
         int64_vocabulary=[1, 2, 5]),
    case("zipmap_strings", "ZipMap", [rand(3, 2)], classlabels_strings=["a", "b"]),
    case("zipmap_ints_1d", "ZipMap", [rand(3)], classlabels_int64s=[4, 5, 6]),
]


@pytest.mark.parametrize("op,inputs,attrs,ml_opset,n_out,oracle,tol",
                         TRANSFORM_CASES + ENCODER_CASES)
def test_transforms_against_oracle(op, inputs, attrs, ml_opset, n_out, oracle, tol):
    check(op, inputs, attrs, ml_opset, n_out, oracle, tol)


# ------------------------------------------------------------------ linear and SVM models
TRANSFORMS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]


def coefs(n):
    return [float(v) for v in rng.standard_normal(n)]


def probit_tol(pt):
    # onnxruntime's PROBIT uses a 3-digit closed form of erfinv; onyx refines it
    return 3e-3 if pt == "PROBIT" else 1e-5


MODEL_CASES = [
    *[case(f"linear_multi_{pt.lower()}", "LinearClassifier", [X], n_out=2, tol=probit_tol(pt),
           coefficients=coefs(9), intercepts=coefs(3), classlabels_strings=["a", "b", "c"],
           post_transform=pt) for pt in TRANSFORMS],
    *[case(f"linear_binary_{pt.lower()}", "LinearClassifier", [X], n_out=2,
           coefficients=coefs(3), intercepts=[0.3], classlabels_ints=[5, 7], post_transform=pt)
      for pt in ("NONE", "LOGISTIC", "SOFTMAX")],
    case("linear_int_input", "LinearClassifier", [XI], n_out=2, coefficients=coefs(6),
         intercepts=coefs(2), classlabels_ints=[1, 2]),
    case("linear_1d_input", "LinearClassifier", [rand(3)], n_out=2, coefficients=coefs(9),
         intercepts=coefs(3), classlabels_ints=[1, 2, 3]),
    *[case(f"regressor_{pt.lower()}", "LinearRegressor", [X], tol=probit_tol(pt),
           coefficients=coefs(6), intercepts=coefs(2), targets=2, post_transform=pt)
      for pt in TRANSFORMS],
    case("svr_linear_mode", "SVMRegressor", [X], coefficients=[1.0, 2.0, 3.0], rho=[0.3],
         kernel_params=[0.0, 0.0, 0.0]),
    case("svc_linear_mode", "SVMClassifier", [X], n_out=2, coefficients=coefs(9), rho=[0.5],
         classlabels_ints=[0, 1, 2], kernel_params=[0.0, 0.0, 0.0]),
]


def svc_case(n_classes, kernel, proba, pt):
    per = [int(v) for v in rng.integers(1, 4, n_classes)]
    pairs = n_classes * (n_classes - 1) // 2
    attrs = dict(coefficients=coefs((n_classes - 1) * sum(per)),
                 support_vectors=coefs(3 * sum(per)), vectors_per_class=per, rho=coefs(pairs),
                 kernel_type=kernel, kernel_params=[0.3, 0.5, 2.0], post_transform=pt)
    if n_classes == 3:
        attrs["classlabels_strings"] = ["x", "y", "z"]
    else:
        attrs["classlabels_ints"] = list(range(10, 10 + n_classes))
    if proba:
        attrs.update(prob_a=coefs(pairs), prob_b=coefs(pairs))
    return case(f"svc_{n_classes}_{kernel.lower()}_{'proba' if proba else 'raw'}_{pt.lower()}",
                "SVMClassifier", [X], n_out=2, tol=probit_tol(pt), **attrs)


SVM_CASES = [
    *[svc_case(n, k, p, pt) for n in (2, 3, 4) for k in ("LINEAR", "POLY", "RBF", "SIGMOID")
      for p in (False, True) for pt in ("NONE", "LOGISTIC") if n > 2 or pt == "NONE" or p],
    *[svc_case(n, "RBF", True, pt) for n in (2, 4) for pt in ("SOFTMAX", "SOFTMAX_ZERO")],
    *[case(f"svr_{k.lower()}_{'one_class' if oc else 'plain'}", "SVMRegressor", [X],
           coefficients=coefs(4), support_vectors=coefs(12), n_supports=4, rho=[0.3],
           kernel_type=k, kernel_params=[0.3, 0.5, 3.0], one_class=oc)
      for k in ("LINEAR", "POLY", "RBF", "SIGMOID") for oc in (0, 1)],
]


@pytest.mark.parametrize("op,inputs,attrs,ml_opset,n_out,oracle,tol", MODEL_CASES + SVM_CASES)
def test_models_against_oracle(op, inputs, attrs, ml_opset, n_out, oracle, tol):
    check(op, inputs, attrs, ml_opset, n_out, oracle, tol)


# ------------------------------------------------------------------ tree ensembles
MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]
GRID = [0.0, 0.5, -0.5, 1.0, 2.0, -1.3]  # inputs hit the EQ/NEQ thresholds exactly


def random_forest(seed, n_trees, n_out, prefix, multi_leaf=True, depth=3, every_target=False):
    """Legacy (nodes_treeids, ...) attributes of random trees using every branch mode."""
    r = np.random.default_rng(seed)
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes",
                         "nodes_values", "nodes_truenodeids", "nodes_falsenodeids",
                         "nodes_missing_value_tracks_true", f"{prefix}_treeids",
                         f"{prefix}_nodeids", f"{prefix}_ids", f"{prefix}_weights")}

    def grow(tree, level, counter):
        node = counter[0]
        counter[0] += 1
        row = len(a["nodes_nodeids"])
        for k, v in (("nodes_treeids", tree), ("nodes_nodeids", node), ("nodes_featureids", 0),
                     ("nodes_modes", "LEAF"), ("nodes_values", 0.0), ("nodes_truenodeids", 0),
                     ("nodes_falsenodeids", 0), ("nodes_missing_value_tracks_true", 0)):
            a[k].append(v)
        if level == depth or (level and r.random() < 0.2):
            outs = range(n_out) if every_target else r.choice(
                n_out, size=r.integers(1, n_out + 1) if multi_leaf else 1, replace=False)
            for o in outs:
                for k, v in ((f"{prefix}_treeids", tree), (f"{prefix}_nodeids", node),
                             (f"{prefix}_ids", int(o)),
                             (f"{prefix}_weights", float(r.standard_normal()))):
                    a[k].append(v)
            return node
        mode = str(r.choice(MODES))
        a["nodes_modes"][row] = mode
        a["nodes_featureids"][row] = int(r.integers(3))
        a["nodes_values"][row] = float(r.choice(GRID) if "EQ" in mode else
                                       np.float32(r.standard_normal()))
        a["nodes_missing_value_tracks_true"][row] = int(r.integers(2))
        a["nodes_truenodeids"][row] = grow(tree, level + 1, counter)
        a["nodes_falsenodeids"][row] = grow(tree, level + 1, counter)
        return node

    for t in range(n_trees):
        grow(t, 0, [0])
    return a


def grid_input(n, dtype=np.float32, nan=True):
    values = GRID + [np.nan] if nan else GRID
    return rng.choice(values, size=(n, 3)).astype(dtype)


def to_tree_ensemble(a, n_targets, dtype=np.float32):
    """The same forest in TreeEnsemble's (ml opset 5) encoding."""
    rows = {(t, n): i for i, (t, n) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"]))}
    inner = [i for i, m in enumerate(a["nodes_modes"]) if m != "LEAF"]
    leaves = [i for i, m in enumerate(a["nodes_modes"]) if m == "LEAF"]
    pos = {i: j for j, i in enumerate(inner)} | {i: j for j, i in enumerate(leaves)}
    weight = {rows[(t, n)]: (o, w) for t, n, o, w in zip(
        a["target_treeids"], a["target_nodeids"], a["target_ids"], a["target_weights"])}
    out = {k: [] for k in ("nodes_truenodeids", "nodes_trueleafs", "nodes_falsenodeids",
                           "nodes_falseleafs")}
    for i in inner:
        for side in ("true", "false"):
            child = rows[(a["nodes_treeids"][i], a[f"nodes_{side}nodeids"][i])]
            out[f"nodes_{side}nodeids"].append(pos[child])
            out[f"nodes_{side}leafs"].append(int(a["nodes_modes"][child] == "LEAF"))
    modes = np.array([MODES.index(a["nodes_modes"][i]) for i in inner], np.uint8)
    return dict(
        out, n_targets=n_targets, tree_roots=[pos[rows[(t, 0)]] for t in
                                              sorted(set(a["nodes_treeids"]))],
        nodes_featureids=[a["nodes_featureids"][i] for i in inner],
        nodes_missing_value_tracks_true=[a["nodes_missing_value_tracks_true"][i]
                                         for i in inner],
        nodes_modes=numpy_helper.from_array(modes, "nodes_modes"),
        nodes_splits=numpy_helper.from_array(
            np.array([a["nodes_values"][i] for i in inner], dtype), "nodes_splits"),
        leaf_targetids=[weight[i][0] for i in leaves],
        leaf_weights=numpy_helper.from_array(
            np.array([weight[i][1] for i in leaves], dtype), "leaf_weights"))


AGGREGATES = ["AVERAGE", "SUM", "MIN", "MAX"]
TREE_CASES = [
    *[case(f"regressor_{agg.lower()}_{n}_targets_{dt.__name__}", "TreeEnsembleRegressor",
           [grid_input(12, dt)], n_targets=n, aggregate_function=agg,
           base_values=coefs(n) if agg != "SUM" else [],
           # with base values every target gets a leaf weight: onnxruntime drops the base
           # value of a target no tree wrote to (test_tree_base_value_without_leaf_weight)
           **random_forest(AGGREGATES.index(agg) * 10 + n, 4, n, "target",
                           every_target=agg != "SUM"))
      for agg in AGGREGATES for n in (1, 3) for dt in (np.float32, np.float64)],
    case("regressor_softmax", "TreeEnsembleRegressor", [grid_input(12)], n_targets=3,
         post_transform="SOFTMAX", **random_forest(1, 4, 3, "target")),
    *[case(f"classifier_{n}_classes_{pt.lower()}", "TreeEnsembleClassifier",
           [grid_input(12)], n_out=2, post_transform=pt,
           base_values=coefs(n) if pt == "SOFTMAX" else [],
           classlabels_strings=[f"c{i}" for i in range(n)] if pt == "LOGISTIC" else [],
           classlabels_int64s=list(range(3, 3 + n)) if pt != "LOGISTIC" else [],
           **random_forest(n * 7, 3, n, "class"))
      for n in (3, 4) for pt in ("NONE", "SOFTMAX", "LOGISTIC")],
]


def binary_forest(seed, positive):
    """How converters write a binary classifier: weights for class id 0 only, holding the
    positive class's probability (non-negative) or margin (mixed signs)."""
    a = random_forest(seed, 3, 1, "class", multi_leaf=False)
    if positive:
        a["class_weights"] = [abs(w) for w in a["class_weights"]]
    return a


BINARY_CASES = [
    case(f"classifier_binary_{'prob' if positive else 'margin'}_{pt.lower()}_base{len(base)}",
         "TreeEnsembleClassifier", [grid_input(12, nan=False)], n_out=2, post_transform=pt,
         base_values=base, classlabels_int64s=[0, 1] if positive else [4, 9],
         **binary_forest(len(base) * 10 + positive, positive))
    for positive in (True, False) for pt in ("NONE", "LOGISTIC") for base in ([], [0.2])
]


def tree_ensemble_case(agg, pt, n, dtype):
    forest = random_forest(agg * 10 + n, 4, n, "target", multi_leaf=False)
    attrs = to_tree_ensemble(forest, n, dtype)
    return case(f"tree_ensemble_agg{agg}_pt{pt}_{n}_{dtype.__name__}", "TreeEnsemble",
                [grid_input(10, dtype)], ml_opset=5, aggregate_function=agg, post_transform=pt,
                tol=probit_tol("PROBIT" if pt == 4 else ""), **attrs)


# post_transform 1 and 2 are left out: onnxruntime reads them as LOGISTIC and SOFTMAX, the
# reverse of the TreeEnsemble spec (1 = SOFTMAX, 2 = LOGISTIC); test_tree_ensemble_transforms
V5_CASES = [tree_ensemble_case(agg, pt, n, dt) for agg in range(4) for pt in (0, 3, 4)
            for n in (1, 3) for dt in (np.float32, np.float64)]


@pytest.mark.parametrize("op,inputs,attrs,ml_opset,n_out,oracle,tol",
                         TREE_CASES + BINARY_CASES + V5_CASES)
def test_trees_against_oracle(op, inputs, attrs, ml_opset, n_out, oracle, tol):
    check(op, inputs, attrs, ml_opset, n_out, oracle, tol)


def test_tree_ensemble_transforms_follow_the_spec_enum():
    forest = random_forest(5, 3, 3, "target", multi_leaf=False)
    x = grid_input(6)
    outs = {}
    for pt in (0, 1, 2):
        attrs = dict(to_tree_ensemble(forest, 3), post_transform=pt)
        outs[pt] = run_onyx(make_model("TreeEnsemble", [x], attrs, 5, 1), [x])[0]
    raw = outs[0].astype(np.float64)
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    np.testing.assert_allclose(outs[1], e / e.sum(axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(outs[2], 1 / (1 + np.exp(-raw)), rtol=1e-5)


def test_tree_ensemble_float16_against_reference():
    forest = random_forest(9, 3, 2, "target", multi_leaf=False)
    attrs = to_tree_ensemble(forest, 2, np.float16)
    check("TreeEnsemble", [grid_input(8, np.float16)], attrs, 5, 1, "ref", 1e-2)


def test_tree_ensemble_single_leaf_tree():
    # one node whose branches both name leaf 0: a tree that is only a leaf
    attrs = dict(n_targets=1, tree_roots=[0], nodes_featureids=[0], nodes_truenodeids=[0],
                 nodes_falsenodeids=[0], nodes_trueleafs=[1], nodes_falseleafs=[1],
                 nodes_modes=numpy_helper.from_array(np.zeros(1, np.uint8), "m"),
                 nodes_splits=numpy_helper.from_array(np.zeros(1, np.float32), "s"),
                 leaf_targetids=[0],
                 leaf_weights=numpy_helper.from_array(np.array([2.5], np.float32), "w"))
    check("TreeEnsemble", [grid_input(4)], attrs, 5, 1, "ort", 1e-6)


# ------------------------------------------------------------------ pinned differences
def run_one(op, x, ml_opset=3, n_out=1, **attrs):
    return run_onyx(make_model(op, [x], attrs, ml_opset, n_out), [x])


def test_binarizer_maps_nan_to_zero():
    # "values greater than threshold are 1, others 0" (onnxruntime refuses NaN)
    (y,) = run_one("Binarizer", np.array([np.nan, 2.0, -1.0], np.float32))
    assert y.tolist() == [0.0, 1.0, 0.0]


def test_label_encoder_v4_last_repeated_key_wins():
    # the opset-4 text says the last key wins (onnxruntime keeps the first)
    (y,) = run_one("LabelEncoder", np.array([1, 2], np.int64), ml_opset=4,
                   keys_int64s=[1, 1, 2], values_int64s=[5, 6, 7])
    assert y.tolist() == [6, 7]


def test_label_encoder_v2_nan_key_matches_same_bits():
    (y,) = run_one("LabelEncoder", np.array([np.nan, 1.0], np.float32), ml_opset=2,
                   keys_floats=[float("nan")], values_int64s=[3])
    assert y.tolist() == [3, -1]


def test_label_encoder_v4_double_keys_int32_values():
    keys = numpy_helper.from_array(np.array([1.0, 5.0]), "k")
    values = numpy_helper.from_array(np.array([7, 8], np.int32), "v")
    (y,) = run_one("LabelEncoder", np.array([1.0, 2.0, 5.0]), ml_opset=4, keys_tensor=keys,
                   values_tensor=values)
    assert y.dtype == np.int32 and y.tolist() == [7, -1, 8]


def test_dict_vectorizer_keeps_the_declared_value_type():
    x = ({5: 1.5, 1: 2.5}, map_type(TensorProto.INT64, TensorProto.DOUBLE))
    model = make_model("DictVectorizer", [x], {"int64_vocabulary": [1, 2, 5]}, 1, 1)
    (y,) = run_onyx(model, [x])
    assert y.dtype == np.float64 and y.tolist() == [[2.5, 0.0, 1.5]]


def test_tree_int_input_compares_as_float():
    a = random_forest(2, 3, 2, "target")
    x = rng.integers(-2, 3, (8, 3))
    (ours,) = run_one("TreeEnsembleRegressor", x, n_targets=2, **a)
    model = make_model("TreeEnsembleRegressor", [x.astype(np.float32)], dict(a, n_targets=2), 3,
                       1)
    (ref,) = run_oracle(model, [x.astype(np.float32)], "ort")
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_linear_regressor_double_input_gives_float():
    x = rand(4, 3, dtype=np.float64)
    coef = coefs(3)
    (y,) = run_one("LinearRegressor", x, coefficients=coef, intercepts=[0.5])
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0], x @ np.array(coef) + 0.5, rtol=1e-6)


def test_tree_base_value_without_leaf_weight():
    # base_values are added to every target, also one that no reached leaf wrote to
    a = dict(nodes_treeids=[0], nodes_nodeids=[0], nodes_featureids=[0], nodes_modes=["LEAF"],
             nodes_values=[0.0], nodes_truenodeids=[0], nodes_falsenodeids=[0],
             target_treeids=[0], target_nodeids=[0], target_ids=[0], target_weights=[2.0])
    (y,) = run_one("TreeEnsembleRegressor", rand(2, 1), n_targets=2, base_values=[1.0, 5.0],
                   aggregate_function="MAX", **a)
    assert y.tolist() == [[3.0, 5.0], [3.0, 5.0]]


def test_tree_one_sample_as_1d_input():
    a = random_forest(3, 3, 2, "target")
    x = grid_input(1)
    (one,) = run_one("TreeEnsembleRegressor", x[0], n_targets=2, **a)
    (two,) = run_one("TreeEnsembleRegressor", x, n_targets=2, **a)
    np.testing.assert_array_equal(one, two)


def test_castmap_from_string_values():
    x = ({1: "2.5", 0: "-1"}, map_type(TensorProto.INT64, TensorProto.STRING))
    model = make_model("CastMap", [x], {"cast_to": "TO_FLOAT"}, 1, 1)
    assert run_onyx(model, [x])[0].tolist() == [[-1.0, 2.5]]


def test_regressor_single_target_logistic_is_applied():
    # ONNX applies post_transform to the score; onnxruntime skips LOGISTIC for one target
    x = rand(4, 3)
    coef = coefs(3)
    (y,) = run_one("LinearRegressor", x, coefficients=coef, post_transform="LOGISTIC")
    expected = 1 / (1 + np.exp(-(x.astype(np.float64) @ np.array(coef))))
    np.testing.assert_allclose(y[:, 0], expected, rtol=1e-5)


def test_two_class_tree_classifier_with_both_classes_takes_argmax():
    # onnxruntime labels such a model "1" whenever class 1 scores above 0
    a = random_forest(21, 3, 2, "class")
    x = grid_input(20)
    label, scores = run_one("TreeEnsembleClassifier", x, n_out=2, classlabels_int64s=[4, 9], **a)
    assert label.tolist() == np.where(scores[:, 1] > scores[:, 0], 9, 4).tolist()


# ------------------------------------------------------------------ bad input
BAD = [
    case("afe_index_out_of_range", "ArrayFeatureExtractor", [X, np.array([3], np.int64)]),
    case("afe_scalar", "ArrayFeatureExtractor", [np.float32(1.0).reshape(()), IDS]),
    case("normalizer_bad_norm", "Normalizer", [X], norm="L3"),
    case("normalizer_3d", "Normalizer", [rand(2, 2, 2)]),
    case("scaler_wrong_length", "Scaler", [X], offset=[1.0, 2.0]),
    case("imputer_no_values", "Imputer", [X]),
    case("ohe_unknown_no_zeros", "OneHotEncoder", [strs("a", "z")], cats_strings=["a"],
         zeros=0),
    case("fv_dims_mismatch", "FeatureVectorizer", [X], inputdimensions=[1, 2]),
    case("label_v2_two_key_lists", "LabelEncoder", [strs("a")], ml_opset=2, keys_strings=["a"],
         keys_int64s=[1], values_int64s=[1]),
    case("label_v4_type_mismatch", "LabelEncoder", [np.array([1.0], np.float32)], ml_opset=4,
         keys_strings=["a"], values_int64s=[1]),
    case("zipmap_width", "ZipMap", [rand(2, 3)], classlabels_int64s=[1, 2]),
    case("linear_bad_coefficients", "LinearClassifier", [X], n_out=2, coefficients=coefs(7),
         intercepts=coefs(3), classlabels_ints=[1, 2, 3]),
    case("linear_strings", "LinearRegressor", [strs("a")], coefficients=[1.0]),
    case("svc_bad_rho", "SVMClassifier", [X], n_out=2, coefficients=coefs(4),
         support_vectors=coefs(12), vectors_per_class=[2, 2], rho=coefs(3),
         classlabels_ints=[0, 1]),
    case("svr_bad_vectors", "SVMRegressor", [X], coefficients=coefs(2),
         support_vectors=coefs(5), n_supports=2),
    case("svc_bad_kernel", "SVMClassifier", [X], n_out=2, coefficients=coefs(4),
         support_vectors=coefs(12), vectors_per_class=[2, 2], rho=coefs(1),
         classlabels_ints=[0, 1], kernel_type="CUBIC"),
]


def tree_attrs_with(**changes):
    a = random_forest(30, 2, 2, "target")
    a.update(changes)
    return a


BAD_TREES = [
    case("tree_feature_out_of_range", "TreeEnsembleRegressor", [rand(3, 2)], n_targets=2,
         **random_forest(31, 2, 2, "target")),
    case("tree_target_out_of_range", "TreeEnsembleRegressor", [grid_input(3)], n_targets=1,
         **random_forest(32, 2, 2, "target")),
    case("tree_missing_child", "TreeEnsembleRegressor", [grid_input(3)], n_targets=2,
         **tree_attrs_with(nodes_truenodeids=[99] * 7)),
    case("tree_cycle", "TreeEnsembleRegressor", [grid_input(3)], n_targets=1,
         nodes_treeids=[0, 0], nodes_nodeids=[0, 1], nodes_featureids=[0, 0],
         nodes_modes=["BRANCH_LEQ", "BRANCH_LEQ"], nodes_values=[0.0, 0.0],
         nodes_truenodeids=[1, 0], nodes_falsenodeids=[1, 0], target_treeids=[0],
         target_nodeids=[0], target_ids=[0], target_weights=[1.0]),
    case("tree_bad_mode", "TreeEnsembleRegressor", [grid_input(3)], n_targets=2,
         **tree_attrs_with(nodes_modes=["BRANCH_XX"] * 7)),
    case("tree_bad_aggregate", "TreeEnsembleRegressor", [grid_input(3)], n_targets=2,
         aggregate_function="MEDIAN", **random_forest(33, 2, 2, "target")),
    case("tree_base_values_length", "TreeEnsembleClassifier", [grid_input(3)], n_out=2,
         base_values=[1.0, 2.0], classlabels_int64s=[1, 2, 3],
         **random_forest(34, 2, 3, "class")),
    case("tree_unknown_attribute", "TreeEnsembleRegressor", [grid_input(3)], n_targets=2,
         nodes_colour=[1], **random_forest(35, 2, 2, "target")),
]


@pytest.mark.parametrize("op,inputs,attrs,ml_opset,n_out,oracle,tol", BAD + BAD_TREES)
def test_bad_input_raises(op, inputs, attrs, ml_opset, n_out, oracle, tol):
    model = make_model(op, inputs, attrs, ml_opset, n_out)
    with pytest.raises(OnyxError, match=op):
        run_onyx(model, inputs)


def test_legacy_trees_are_not_served_at_ml_opset_5():
    a = random_forest(40, 2, 1, "target")
    model = make_model("TreeEnsembleRegressor", [grid_input(2)], dict(a, n_targets=1), 5, 1)
    with pytest.raises(OnyxError, match="TreeEnsembleRegressor"):
        onyx.backend.prepare(model)
