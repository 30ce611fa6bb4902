"""Shape rules for the ``ai.onnx.ml`` ops and the ``ai.onnx.preview.training`` optimizers."""

from __future__ import annotations

from onyx.ir.dtypes import DType
from onyx.ir.shapes.registry import InferenceContext, shape_rule, tensor
from onyx.ir.shapes.rules_elementwise import same_as_input
from onyx.ir.tensor import Tensor

ML = "ai.onnx.ml"
TRAINING = "ai.onnx.preview.training"

_LABEL_VALUES = (("values_tensor", None), ("values_int64s", DType.INT64),
                 ("values_floats", DType.FLOAT), ("values_strings", DType.STRING))


@shape_rule("LabelEncoder", domain=ML)
def _label_encoder(ctx: InferenceContext):
    dtype = None
    if ctx.opset < 2:
        x = ctx.input_dtype(0)
        dtype = None if x is None else DType.INT64 if x is DType.STRING else DType.STRING
    for name, dt in _LABEL_VALUES:
        v = ctx.attr(name)
        if v is not None and dtype is None:
            dtype = v.dtype if isinstance(v, Tensor) else dt
    return tensor(dtype, ctx.input_shape(0))


shape_rule("Binarizer", domain=ML)(same_as_input)


@shape_rule("ArrayFeatureExtractor", domain=ML)
def _array_feature_extractor(ctx: InferenceContext):
    x, y = ctx.input_shape(0), ctx.input_shape(1)
    if x is None:
        return tensor(ctx.input_dtype(0), None)
    k = y[-1] if y else 1 if y is not None else None
    return tensor(ctx.input_dtype(0), (1, k) if len(x) <= 1 else tuple(x[:-1]) + (k,))


@shape_rule("TreeEnsemble", domain=ML, since=5)
def _tree_ensemble(ctx: InferenceContext):
    x = ctx.input_shape(0)
    n = x[0] if x else None
    return tensor(ctx.input_dtype(0), (n, ctx.attr("n_targets")))


def _batch(ctx: InferenceContext):
    """Rows of a [N, C] (or [C], one row) ML input."""
    x = ctx.input_shape(0)
    return None if x is None else x[0] if len(x) == 2 else 1 if len(x) == 1 else None


def _label_dtype(ctx: InferenceContext) -> DType:
    return DType.INT64 if ctx.attr("classlabels_ints") is not None else DType.STRING


def _classes(ctx: InferenceContext):
    labels = ctx.attr("classlabels_ints") or ctx.attr("classlabels_strings")
    return len(labels) if labels else None


for _op in ("Normalizer", "Scaler"):
    shape_rule(_op, domain=ML)(lambda ctx: tensor(DType.FLOAT, ctx.input_shape(0)))
shape_rule("Imputer", domain=ML)(same_as_input)


@shape_rule("CategoryMapper", domain=ML)
def _category_mapper(ctx: InferenceContext):
    x = ctx.input_dtype(0)
    dtype = None if x is None else DType.INT64 if x is DType.STRING else DType.STRING
    return tensor(dtype, ctx.input_shape(0))


@shape_rule("LinearRegressor", domain=ML)
def _linear_regressor(ctx: InferenceContext):
    return tensor(DType.FLOAT, (_batch(ctx), int(ctx.attr("targets", 1))))


@shape_rule("SVMRegressor", domain=ML)
def _svm_regressor(ctx: InferenceContext):
    return tensor(DType.FLOAT, (_batch(ctx), 1))


@shape_rule("TreeEnsembleRegressor", domain=ML)
def _tree_regressor(ctx: InferenceContext):
    return tensor(DType.FLOAT, (_batch(ctx), int(ctx.attr("n_targets", 1))))


@shape_rule("LinearClassifier", domain=ML)
@shape_rule("SVMClassifier", domain=ML)
@shape_rule("TreeEnsembleClassifier", domain=ML)
def _classifier(ctx: InferenceContext):
    n = _batch(ctx)
    return [tensor(_label_dtype(ctx), (n,)), tensor(DType.FLOAT, (n, None))]


@shape_rule("OneHotEncoder", domain=ML)
def _one_hot_encoder(ctx: InferenceContext):
    x = ctx.input_shape(0)
    cats = ctx.attr("cats_int64s") or ctx.attr("cats_strings")
    return tensor(DType.FLOAT, None if x is None else tuple(x) + (len(cats) if cats else None,))


@shape_rule("FeatureVectorizer", domain=ML)
def _feature_vectorizer(ctx: InferenceContext):
    dims = ctx.attr("inputdimensions")
    return tensor(DType.FLOAT, (_batch(ctx), sum(dims) if dims else None))


def _optimizer(groups: int, outputs: tuple[int, ...]):
    """Optimizers take R, T then ``groups`` lists of n tensors; output k mirrors list k."""
    def rule(ctx: InferenceContext):
        n = (ctx.num_inputs - 2) // groups
        return [ctx.input_type(2 + g * n + i) for g in outputs for i in range(n)]
    return rule


shape_rule("Adagrad", domain=TRAINING)(_optimizer(3, (0, 2)))   # X, G, H -> X, H
shape_rule("Momentum", domain=TRAINING)(_optimizer(3, (0, 2)))  # X, G, V -> X, V
shape_rule("Adam", domain=TRAINING)(_optimizer(4, (0, 2, 3)))   # X, G, V, H -> X, V, H


@shape_rule("Gradient", domain=TRAINING)
def _gradient(ctx: InferenceContext):
    # d y / d x has the type of x, for each name x in ``xs``.
    return [ctx.type_of_name(name) for name in ctx.attr("xs", [])]
