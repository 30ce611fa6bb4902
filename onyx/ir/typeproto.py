"""``TypeProto`` <-> IR types, keeping symbolic dimension names and denotations."""

from __future__ import annotations

import onnx

from onyx.ir.dtypes import DType
from onyx.ir.errors import ModelError
from onyx.ir.types import MapType, OptionalType, SequenceType, SparseTensorType, TensorType


def type_from_proto(tp: onnx.TypeProto):
    kind = tp.WhichOneof("value")
    if kind is None:
        return None
    if kind in ("tensor_type", "sparse_tensor_type"):
        t = getattr(tp, kind)
        if t.elem_type not in DType._value2member_map_:
            raise ModelError(f"unknown tensor element type {t.elem_type}")
        shape = dim_den = None
        if t.HasField("shape"):
            shape = tuple(_dim(d) for d in t.shape.dim)
            dens = tuple(d.denotation for d in t.shape.dim)
            dim_den = dens if any(dens) else None
        cls = TensorType if kind == "tensor_type" else SparseTensorType
        return cls(DType(t.elem_type), shape, tp.denotation, dim_den)
    if kind == "sequence_type":
        return SequenceType(type_from_proto(tp.sequence_type.elem_type), tp.denotation)
    if kind == "optional_type":
        return OptionalType(type_from_proto(tp.optional_type.elem_type), tp.denotation)
    if kind == "map_type":
        return MapType(DType(tp.map_type.key_type), type_from_proto(tp.map_type.value_type),
                       tp.denotation)
    raise ModelError(f"unsupported TypeProto kind {kind!r}")


def _dim(d):
    which = d.WhichOneof("value")
    if which == "dim_value":
        return int(d.dim_value)
    if which == "dim_param":
        return d.dim_param
    return None


def type_to_proto(t, out: onnx.TypeProto | None = None) -> onnx.TypeProto:
    tp = onnx.TypeProto() if out is None else out
    if t is None:
        return tp
    if t.denotation:
        tp.denotation = t.denotation
    if isinstance(t, TensorType | SparseTensorType):
        tt = tp.tensor_type if isinstance(t, TensorType) else tp.sparse_tensor_type
        tt.elem_type = int(t.dtype)
        if t.shape is not None:
            tt.shape.SetInParent()
            for i, d in enumerate(t.shape):
                dim = tt.shape.dim.add()
                if isinstance(d, int):
                    dim.dim_value = d
                elif isinstance(d, str):
                    dim.dim_param = d
                if t.dim_denotations and t.dim_denotations[i]:
                    dim.denotation = t.dim_denotations[i]
    elif isinstance(t, SequenceType):
        tp.sequence_type.SetInParent()
        if t.elem is not None:
            type_to_proto(t.elem, tp.sequence_type.elem_type)
    elif isinstance(t, OptionalType):
        tp.optional_type.SetInParent()
        if t.elem is not None:
            type_to_proto(t.elem, tp.optional_type.elem_type)
    elif isinstance(t, MapType):
        tp.map_type.key_type = int(t.key)
        if t.value is not None:
            type_to_proto(t.value, tp.map_type.value_type)
    else:
        raise TypeError(f"not an IR type: {t!r}")
    return tp
