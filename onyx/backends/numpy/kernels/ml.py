"""Kernels of the ``ai.onnx.ml`` domain: feature transforms and encoders (ArrayFeatureExtractor,
Binarizer, CastMap, CategoryMapper, DictVectorizer, FeatureVectorizer, Imputer, LabelEncoder,
Normalizer, OneHotEncoder, Scaler, ZipMap), and the score post-transforms shared with the
linear, SVM and tree models (``ml_linear``, ``ml_svm``, ``ml_trees``).

The ONNX-ML text leaves several shapes open; where it does, these kernels produce what
onnxruntime produces, since that is what converted models (skl2onnx, onnxmltools) are checked
against: a 1-D feature vector is one sample ``[1, C]``, and a single map becomes ``[1, n]``.
Maps are Python ``dict``s, and ZipMap's output is a ``list`` of them.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.limits import check_elements

ML = "ai.onnx.ml"


# ------------------------------------------------------------------ shared by the models
def as_samples(x, what: str = "X") -> np.ndarray:
    """Model input as float64 ``[N, F]``: a 1-D input is one sample."""
    x = np.asarray(x)
    if x.dtype == object or x.ndim not in (1, 2):
        raise ShapeError(f"{what} must be a numeric [N, F] or [F] tensor, got "
                         f"{x.dtype}{list(x.shape)}")
    return x.reshape(1, -1).astype(np.float64) if x.ndim == 1 else x.astype(np.float64)


def class_labels(ints, strings, what: str = "classlabels") -> np.ndarray:
    """The class labels as an int64 or string array (exactly one list may be set)."""
    if ints and strings:
        raise ShapeError(f"only one of {what}_ints/_int64s and {what}_strings may be set")
    if strings:
        out = np.empty(len(strings), dtype=object)
        out[:] = strings
        return out
    return np.asarray(ints or [], dtype=np.int64)


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7): NumPy has no erf
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (
        -1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _erfinv(y: np.ndarray) -> np.ndarray:
    """Inverse error function: Winitzki's closed form (3 digits, what onnxruntime uses), then
    two Newton steps on ``erf``; within 1e-4 relative even at ``|y| = 1 - 1e-6``."""
    a = 0.147
    log_term = np.log((1.0 - y) * (1.0 + y))
    first = 2.0 / (np.pi * a) + log_term / 2.0
    x = np.sign(y) * np.sqrt(np.sqrt(first * first - log_term / a) - first)
    for _ in range(2):
        step = (_erf(x) - y) / (2.0 / np.sqrt(np.pi) * np.exp(-x * x))
        x = np.where(np.isfinite(step), x - step, x)
    return x


def _softmax_zero(s: np.ndarray) -> np.ndarray:
    """Softmax over the non-zero scores of each row; zero scores stay zero."""
    nonzero = s != 0
    top = np.max(np.where(nonzero, s, -np.inf), axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(nonzero, np.exp(s - top), 0.0)
    total = e.sum(axis=1, keepdims=True)
    return e / np.where(total == 0, 1.0, total)


POST_TRANSFORMS = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")


def apply_post_transform(scores: np.ndarray, name) -> np.ndarray:
    """Apply ``post_transform`` (a name, or TreeEnsemble's enum 0..4) to ``[N, E]`` scores."""
    if not isinstance(name, str):
        if not 0 <= int(name) < len(POST_TRANSFORMS):
            raise ShapeError(f"post_transform must be 0..4, got {name}")
        name = POST_TRANSFORMS[int(name)]
    if name == "NONE":
        return scores
    if name == "LOGISTIC":
        return 1.0 / (1.0 + np.exp(-scores))
    if name == "SOFTMAX":
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "SOFTMAX_ZERO":
        return _softmax_zero(scores)
    if name == "PROBIT":
        return np.sqrt(2.0) * _erfinv(2.0 * scores - 1.0)
    raise ShapeError(f"post_transform must be one of {', '.join(POST_TRANSFORMS)}, got "
                     f"{name!r}")


# ------------------------------------------------------------------ simple transforms
@kernel("ArrayFeatureExtractor", domain=ML)
def array_feature_extractor(x, y):
    x, idx = np.asarray(x), np.asarray(y)
    if x.ndim == 0:
        raise ShapeError("X must have at least one dimension")
    flat = idx.reshape(-1).astype(np.int64)
    last = x.shape[-1]
    bad = flat[(flat < 0) | (flat >= last)]
    if bad.size:
        raise ShapeError(f"indices {bad[:5].tolist()} out of range for the last dimension "
                         f"({last}) of X {list(x.shape)}")
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    return rows[..., flat]


@kernel("Binarizer", domain=ML)
def binarizer(x, *, threshold=0.0):
    x = np.asarray(x)
    return (x > threshold).astype(x.dtype)  # NaN > t is false: NaN maps to 0


@kernel("Normalizer", domain=ML)
def normalizer(x, *, norm="MAX"):
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise ShapeError(f"X must be [N, C] or [C], got shape {list(x.shape)}")
    v = x.astype(np.float64)
    if norm == "MAX":
        div = v.max(axis=-1, keepdims=True) if v.shape[-1] else np.ones(v.shape[:-1] + (1,))
    elif norm == "L1":
        div = np.abs(v).sum(axis=-1, keepdims=True)
    elif norm == "L2":
        div = np.sqrt(np.square(v).sum(axis=-1, keepdims=True))
    else:
        raise ShapeError(f"norm must be MAX, L1 or L2, got {norm!r}")
    return (v / np.where(div == 0, 1.0, div)).astype(np.float32)


def _per_feature(values, n_features: int, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.size not in (1, n_features):
        raise ShapeError(f"{what} has {v.size} values; it needs 1 or one per feature "
                         f"({n_features})")
    return v


@kernel("Scaler", domain=ML)
def scaler(x, *, offset=None, scale=None):
    x = np.asarray(x)
    features = x.shape[-1] if x.ndim else 1
    off = _per_feature(offset if offset else [0.0], features, "offset")
    mul = _per_feature(scale if scale else [1.0], features, "scale")
    return ((x.astype(np.float64) - off) * mul).astype(np.float32)


@kernel("Imputer", domain=ML)
def imputer(x, *, imputed_value_floats=None, imputed_value_int64s=None,
            replaced_value_float=0.0, replaced_value_int64=0):
    x = np.asarray(x)
    features = x.shape[-1] if x.ndim else 1
    if x.dtype.kind == "f":
        values, replaced = imputed_value_floats, replaced_value_float
    else:
        values, replaced = imputed_value_int64s, replaced_value_int64
    if not values:
        wanted = "imputed_value_floats" if x.dtype.kind == "f" else "imputed_value_int64s"
        raise ShapeError(f"a {x.dtype} input needs {wanted}")
    fill = _per_feature(values, features, "imputed values").astype(x.dtype)
    hit = np.isnan(x) if x.dtype.kind == "f" and np.isnan(replaced) else x == replaced
    return np.where(hit, fill, x).astype(x.dtype)


@kernel("FeatureVectorizer", domain=ML)
def feature_vectorizer(*xs, inputdimensions=None):
    dims = list(inputdimensions or [])
    if len(dims) != len(xs):
        raise ShapeError(f"inputdimensions has {len(dims)} entries for {len(xs)} inputs")
    parts = []
    for x, d in zip(xs, dims):
        x = np.asarray(x)
        rows = x.reshape(1, -1) if x.ndim <= 1 else x.reshape(x.shape[0], -1)
        if parts and rows.shape[0] != parts[0].shape[0]:
            raise ShapeError(f"inputs have {parts[0].shape[0]} and {rows.shape[0]} rows")
        check_elements([rows.shape[0], d], 32, "FeatureVectorizer output")
        part = np.zeros((rows.shape[0], d), dtype=np.float32)
        keep = min(d, rows.shape[1])  # each input is cut or zero-padded to its dimension
        part[:, :keep] = rows[:, :keep]
        parts.append(part)
    if not parts:
        raise ShapeError("FeatureVectorizer needs at least one input")
    return np.concatenate(parts, axis=1)


# ------------------------------------------------------------------ encoders
@kernel("OneHotEncoder", domain=ML)
def one_hot_encoder(x, *, cats_int64s=None, cats_strings=None, zeros=1):
    x = np.asarray(x)
    cats = class_labels(cats_int64s, cats_strings, "cats")
    if x.dtype == object:
        if cats.dtype != object:
            raise ShapeError("a string input needs cats_strings")
        codes = x
    else:
        if cats.dtype == object:
            raise ShapeError(f"a {x.dtype} input needs cats_int64s")
        codes = x.astype(np.int64)  # float categories are truncated to integers
    check_elements(list(x.shape) + [len(cats)], 32, "OneHotEncoder output")
    hits = codes[..., None] == cats
    if not zeros and not hits.any(axis=-1).all():
        unknown = codes[~hits.any(axis=-1)].reshape(-1)[:5].tolist()
        raise ShapeError(f"categories {unknown} are not in cats and zeros=0")
    return hits.astype(np.float32)


def _lookup(x: np.ndarray, keys: np.ndarray, values: np.ndarray, default, out_dtype,
            nan_key: bool = False) -> np.ndarray:
    """Map every element of ``x`` through keys -> values (last duplicate wins), else default."""
    out = np.empty(x.shape, dtype=out_dtype)
    out[...] = default
    if x.dtype == object or keys.dtype == object:
        table = dict(zip(keys.tolist(), values.tolist()))
        flat = [table.get(k, default) for k in x.reshape(-1).tolist()]
        out.reshape(-1)[:] = flat
        return out
    if len(keys):
        # the last of repeated keys wins: keep the first occurrence in reversed order
        uniq, first = np.unique(keys[::-1], return_index=True)
        mapped = values[::-1][first]
        pos = np.searchsorted(uniq, x).clip(max=len(uniq) - 1)
        hit = uniq[pos] == x
        out[hit] = mapped[pos[hit]]
    if nan_key and np.isnan(keys).any():
        out[np.isnan(x)] = values[np.isnan(keys)][-1]
    return out


@kernel("CategoryMapper", domain=ML)
def category_mapper(x, *, cats_int64s=None, cats_strings=None, default_int64=-1,
                    default_string="_Unused"):
    x = np.asarray(x)
    ints = np.asarray(cats_int64s or [], dtype=np.int64)
    strs = class_labels(None, cats_strings or [])
    if len(ints) != len(strs):
        raise ShapeError(f"cats_int64s ({len(ints)}) and cats_strings ({len(strs)}) differ in "
                         f"length")
    if x.dtype == object:
        return _lookup(x, strs, ints, default_int64, np.int64)
    return _lookup(x.astype(np.int64), ints, strs, default_string, object)


@kernel("LabelEncoder", domain=ML, since=1, until=1)
def label_encoder_v1(x, *, classes_strings=None, default_int64=-1, default_string="_Unused"):
    x = np.asarray(x)
    classes = class_labels(None, classes_strings or [])
    if x.dtype == object:
        return _lookup(x, classes, np.arange(len(classes), dtype=np.int64), default_int64,
                       np.int64)
    idx = x.astype(np.int64)
    inside = (idx >= 0) & (idx < len(classes))
    out = np.full(x.shape, default_string, dtype=object)
    out[inside] = classes[idx[inside]]
    return out


def _pick_one(kind: str, options: dict):
    given = {k: v for k, v in options.items() if v is not None and
             (not isinstance(v, list) or len(v) > 0)}
    if len(given) != 1:
        raise ShapeError(f"exactly one of {', '.join(options)} must be set, got "
                         f"{sorted(given) or 'none'}")
    name, value = next(iter(given.items()))
    if isinstance(value, np.ndarray):
        return name, value.reshape(-1)
    dtype = {"strings": object, "int64s": np.int64, "floats": np.float32}[name.split("_")[-1]]
    arr = np.empty(len(value), dtype=dtype)
    arr[:] = value
    return name, arr


def _label_encode(x, keys: np.ndarray, values: np.ndarray, default, bitwise_nan: bool):
    x = np.asarray(x)
    if (x.dtype == object) != (keys.dtype == object) or x.dtype != object and \
            x.dtype.kind != keys.dtype.kind:
        raise ShapeError(f"input {x.dtype} does not match the keys' type {keys.dtype}")
    if len(keys) != len(values):
        raise ShapeError(f"keys ({len(keys)}) and values ({len(values)}) differ in length")
    if bitwise_nan and keys.dtype.kind == "f":
        # opset 2 compares floats bit for bit, so a NaN key matches the same NaN bits only
        view = f"u{keys.dtype.itemsize}"
        out = _lookup(x.astype(keys.dtype).view(view), keys.view(view), values, default,
                      values.dtype)
        return out
    return _lookup(x if x.dtype == object else x.astype(keys.dtype), keys, values, default,
                   values.dtype, nan_key=keys.dtype.kind == "f")


@kernel("LabelEncoder", domain=ML, since=2, until=3)
def label_encoder_v2(x, *, keys_strings=None, keys_int64s=None, keys_floats=None,
                     values_strings=None, values_int64s=None, values_floats=None,
                     default_string="_Unused", default_int64=-1, default_float=-0.0):
    _, keys = _pick_one("keys", dict(keys_strings=keys_strings, keys_int64s=keys_int64s,
                                     keys_floats=keys_floats))
    vname, values = _pick_one("values", dict(values_strings=values_strings,
                                             values_int64s=values_int64s,
                                             values_floats=values_floats))
    default = {"values_strings": default_string, "values_int64s": default_int64,
               "values_floats": default_float}[vname]
    return _label_encode(x, keys, values, default, bitwise_nan=True)


@kernel("LabelEncoder", domain=ML, since=4)
def label_encoder(x, *, keys_strings=None, keys_int64s=None, keys_floats=None,
                  keys_tensor=None, values_strings=None, values_int64s=None,
                  values_floats=None, values_tensor=None, default_string="_Unused",
                  default_int64=-1, default_float=-0.0, default_tensor=None):
    _, keys = _pick_one("keys", dict(keys_strings=keys_strings, keys_int64s=keys_int64s,
                                     keys_floats=keys_floats, keys_tensor=keys_tensor))
    vname, values = _pick_one("values", dict(values_strings=values_strings,
                                             values_int64s=values_int64s,
                                             values_floats=values_floats,
                                             values_tensor=values_tensor))
    if default_tensor is not None:
        default = np.asarray(default_tensor).reshape(-1)[0]
    elif values.dtype == object:
        default = default_string
    elif values.dtype.kind in "iu":
        default = default_int64
    else:
        default = default_float
    return _label_encode(x, keys, values, default, bitwise_nan=False)


# ------------------------------------------------------------------ maps
def _check_map(x, what: str = "X") -> dict:
    if not isinstance(x, dict):
        raise ShapeError(f"{what} must be a map, got {type(x).__name__}")
    return x


def _cast_values(values: list, cast_to: str) -> np.ndarray:
    if cast_to == "TO_STRING":
        # floats print as C's "%f" does, the form onnxruntime's std::to_string gives
        return np.array([v if isinstance(v, str) else f"{v:f}" for v in values], dtype=object)
    try:
        if cast_to == "TO_FLOAT":
            return np.array([float(v) for v in values], dtype=np.float32)
        if cast_to == "TO_INT64":
            return np.array([int(float(v)) for v in values], dtype=np.int64)
    except (ValueError, OverflowError) as exc:
        raise ShapeError(f"cannot cast map values with {cast_to}: {exc}") from None
    raise ShapeError(f"cast_to must be TO_FLOAT, TO_STRING or TO_INT64, got {cast_to!r}")


@kernel("CastMap", domain=ML)
def cast_map(x, *, cast_to="TO_FLOAT", map_form="DENSE", max_map=1):
    items = sorted(_check_map(x).items())
    values = _cast_values([v for _, v in items], cast_to)
    if map_form == "DENSE":
        return values.reshape(1, -1)
    if map_form != "SPARSE":
        raise ShapeError(f"map_form must be DENSE or SPARSE, got {map_form!r}")
    check_elements([1, max_map], 64, "CastMap output")
    out = np.zeros(max_map, dtype=values.dtype) if values.dtype != object else \
        np.full(max_map, "", dtype=object)
    keys = np.array([k for k, _ in items], dtype=np.int64)
    keep = (keys >= 0) & (keys < max_map)  # keys past max_map - 1 have no slot
    out[keys[keep]] = values[keep]
    return out.reshape(1, -1)


def _map_value_dtype(ctx, x: dict) -> np.dtype:
    """The declared value type of the input map; from the values when the graph has none.

    Python floats do not say float or double, so the declaration decides (float if absent).
    """
    declared = getattr(getattr(ctx.node.inputs[0], "type", None), "value", None) \
        if ctx is not None and ctx.node is not None and ctx.node.inputs else None
    dtype = getattr(declared, "dtype", None)
    if dtype is not None and dtype is not DType.UNDEFINED:
        return dtype.numpy
    sample = next(iter(x.values()), 0.0)
    if isinstance(sample, str):
        return np.dtype(object)
    if isinstance(sample, np.generic | np.ndarray):
        return np.asarray(sample).dtype
    return np.dtype(np.int64) if isinstance(sample, int) else np.dtype(np.float32)


@kernel("DictVectorizer", domain=ML)
def dict_vectorizer(ctx, x, *, int64_vocabulary=None, string_vocabulary=None):
    vocab = class_labels(int64_vocabulary, string_vocabulary, "vocabulary").tolist()
    if not vocab:
        raise ShapeError("one of int64_vocabulary and string_vocabulary must be set")
    x = _check_map(x)
    dtype = _map_value_dtype(ctx, x)
    out = np.full(len(vocab), "", dtype=object) if dtype.kind == "O" else \
        np.zeros(len(vocab), dtype=dtype)
    position = {k: i for i, k in enumerate(vocab)}
    for k, v in x.items():  # keys outside the vocabulary are dropped, as onnxruntime does
        if k in position:
            out[position[k]] = v
    return out.reshape(1, -1)


@kernel("ZipMap", domain=ML)
def zip_map(x, *, classlabels_int64s=None, classlabels_strings=None):
    keys = class_labels(classlabels_int64s, classlabels_strings).tolist()
    x = np.asarray(x, dtype=np.float32)
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    if rows.ndim != 2 or rows.shape[1] != len(keys):
        raise ShapeError(f"X {list(x.shape)} must have one column per class label "
                         f"({len(keys)})")
    return [dict(zip(keys, row)) for row in rows.tolist()]
