"""Constant tensors held by the IR (initializers, Constant values, tensor attributes).

A ``Tensor`` wraps either a NumPy array or an ONNX ``TensorProto``. A proto is decoded only
when its values are needed and is written back unchanged if they never were, so a round trip
keeps raw vs typed storage and external-data references exactly as they were.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import numpy_helper

from onyx.ir import limits
from onyx.ir.dtypes import DType
from onyx.ir.errors import ModelError


class Tensor:
    __slots__ = ("name", "_array", "_proto", "base_dir", "doc_string")

    def __init__(self, value=None, name: str = "", *, proto: onnx.TensorProto | None = None,
                 base_dir: str | None = None, doc_string: str = ""):
        if proto is None and value is None:
            raise ValueError("Tensor needs a value or a proto")
        self._array = None if value is None else _as_array(value)
        self._proto = proto
        self.name = proto.name if proto is not None and not name else name
        self.base_dir = base_dir
        self.doc_string = proto.doc_string if proto is not None else doc_string

    @property
    def dtype(self) -> DType:
        if self._proto is not None:
            return DType(self._proto.data_type)
        return DType.from_numpy(self._array.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        if self._proto is not None:
            return tuple(int(d) for d in self._proto.dims)
        return tuple(self._array.shape)

    @property
    def is_external(self) -> bool:
        return self._proto is not None and self._proto.data_location == onnx.TensorProto.EXTERNAL

    @property
    def nbytes(self) -> int:
        count = 1
        for d in self.shape:
            count *= d
        return (count * self.dtype.itemsize_bits + 7) // 8

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (decoded once, then cached)."""
        if self._array is None:
            self._array = _decode(self._proto, self.base_dir)
        return self._array

    def to_proto(self, name: str | None = None) -> onnx.TensorProto:
        name = self.name if name is None else name
        if self._proto is not None:
            if self._proto.name == name:
                return self._proto
            proto = onnx.TensorProto()
            proto.CopyFrom(self._proto)
            proto.name = name
            return proto
        proto = numpy_helper.from_array(self._array, name)
        if self.doc_string:
            proto.doc_string = self.doc_string
        return proto

    def __repr__(self) -> str:
        return f"Tensor({self.dtype.short}{list(self.shape)}, name={self.name!r})"


def _as_array(value) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(value)


def _decode(proto: onnx.TensorProto, base_dir: str | None) -> np.ndarray:
    dtype = DType(proto.data_type) if proto.data_type in DType._value2member_map_ else None
    if dtype is None or dtype is DType.UNDEFINED:
        raise ModelError(f"tensor {proto.name!r} has unknown data type {proto.data_type}")
    limits.check_elements(proto.dims, dtype.itemsize_bits, f"tensor {proto.name!r}")
    if proto.data_location == onnx.TensorProto.EXTERNAL:
        proto = _with_external_bytes(proto, base_dir)
    try:
        return numpy_helper.to_array(proto)
    except Exception as exc:  # protobuf payload inconsistent with dims or type
        raise ModelError(f"tensor {proto.name!r} ({dtype.name}{list(proto.dims)}) "
                         f"cannot be decoded: {exc}") from exc


def _with_external_bytes(proto: onnx.TensorProto, base_dir: str | None) -> onnx.TensorProto:
    info = {e.key: e.value for e in proto.external_data}
    location = info.get("location", "")
    path = confined_path(base_dir, location, proto.name)
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError as exc:
        raise ModelError(f"tensor {proto.name!r}: bad external offset/length: {exc}") from None
    size = os.path.getsize(path)
    dtype = DType(proto.data_type)
    count = 1
    for d in proto.dims:
        count *= int(d)
    expected = (count * dtype.itemsize_bits + 7) // 8 if dtype is not DType.STRING else None
    if length is None:
        length = expected if expected is not None else size - offset
    if offset < 0 or length < 0 or offset + length > size:
        raise ModelError(f"tensor {proto.name!r}: external data range [{offset}, "
                         f"{offset + length}) lies outside {location!r} ({size} bytes)")
    if expected is not None and length != expected:
        raise ModelError(f"tensor {proto.name!r}: external data holds {length} bytes, "
                         f"shape {list(proto.dims)} of {dtype.name} needs {expected}")
    with open(path, "rb") as f:
        f.seek(offset)
        raw = f.read(length)
    out = onnx.TensorProto()
    out.CopyFrom(proto)
    del out.external_data[:]
    out.data_location = onnx.TensorProto.DEFAULT
    out.raw_data = raw
    return out


def confined_path(base_dir: str | None, location: str, what: str) -> str:
    """Resolve an external-data ``location`` inside ``base_dir`` or raise ModelError.

    Rejects absolute paths, ``..`` components and symlinks that leave the model's folder.
    """
    if base_dir is None:
        raise ModelError(f"tensor {what!r} uses external data {location!r} but the model "
                         f"was loaded from bytes; load it from its file")
    if not location or os.path.isabs(location) or location.startswith(("/", "\\")):
        raise ModelError(f"tensor {what!r}: external data path {location!r} must be relative "
                         f"to the model's folder")
    parts = location.replace("\\", "/").split("/")
    if ".." in parts:
        raise ModelError(f"tensor {what!r}: external data path {location!r} leaves the "
                         f"model's folder")
    root = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(root, location))
    if os.path.commonpath([root, path]) != root:
        raise ModelError(f"tensor {what!r}: external data path {location!r} resolves outside "
                         f"the model's folder")
    if not os.path.isfile(path):
        raise ModelError(f"tensor {what!r}: external data file {location!r} not found")
    return path


class SparseTensor:
    """A ``SparseTensorProto`` (COO indices + values), densified on demand."""

    __slots__ = ("proto", "base_dir", "_dense")

    def __init__(self, proto: onnx.SparseTensorProto, base_dir: str | None = None):
        self.proto, self.base_dir, self._dense = proto, base_dir, None

    @property
    def name(self) -> str:
        return self.proto.values.name

    def numpy(self) -> np.ndarray:
        if self._dense is None:
            self._dense = _densify(self.proto, self.base_dir)
        return self._dense


def _densify(sp: onnx.SparseTensorProto, base_dir: str | None) -> np.ndarray:
    dims = [int(d) for d in sp.dims]
    values = _decode(sp.values, base_dir).reshape(-1)
    dtype = DType(sp.values.data_type)
    limits.check_elements(dims, dtype.itemsize_bits, f"sparse tensor {sp.values.name!r}")
    dense = np.zeros(dims, dtype=values.dtype)
    if values.size == 0:
        return dense
    indices = _decode(sp.indices, base_dir).astype(np.int64)
    flat = dense.reshape(-1)
    if indices.ndim == 1:  # linearized indices
        lin = indices
    else:
        lin = np.ravel_multi_index(tuple(indices.T), dims)
    if lin.shape[0] != values.shape[0] or (lin.size and (lin.min() < 0 or lin.max() >= flat.size)):
        raise ModelError(f"sparse tensor {sp.values.name!r}: indices do not fit shape {dims}")
    flat[lin] = values
    return dense
