"""``load`` and ``save``: ``.onnx`` files (with external data) <-> ``Model``.

External data is read lazily and only from inside the model's folder; ``save`` writes tensors
over ``size_threshold`` bytes to one data file beside the model when asked, and always when the
model would not fit in one protobuf message (2 GB). Writes go to a temporary file that is
renamed into place, so a failure leaves any earlier file intact.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from onyx.ir import limits
from onyx.ir.core import AttrType, Graph, Model
from onyx.ir.dtypes import DType
from onyx.ir.errors import ModelError
from onyx.ir.serde import from_onnx, to_onnx
from onyx.ir.tensor import Tensor

PROTOBUF_LIMIT = 2**31 - 1
_ALIGN = 4096


def load(source, *, check: bool = False) -> Model:
    """Load a model from a path, ``bytes`` or a ``ModelProto``.

        >>> m = load(open(path, "rb").read())   # doctest: +SKIP
    """
    base_dir = None
    if isinstance(source, onnx.ModelProto):
        proto = source
    else:
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
        else:
            path = os.fspath(source)
            if not os.path.isfile(path):
                raise ModelError(f"no model file at {path!r}")
            size = os.path.getsize(path)
            if size > PROTOBUF_LIMIT:
                raise ModelError(f"{path!r} is {size} bytes, over protobuf's 2 GB limit; "
                                 f"large weights belong in external data")
            with open(path, "rb") as f:
                data = f.read()
            base_dir = os.path.dirname(os.path.abspath(path))
        proto = parse_model(data)
    if check:
        try:
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError as exc:
            raise ModelError(f"onnx.checker rejects the model: {exc}") from None
    return from_onnx(proto, base_dir)


def parse_model(data: bytes) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(f"not a valid ONNX model ({len(data)} bytes): {exc}") from None
    if not proto.HasField("graph"):
        raise ModelError(f"not a valid ONNX model ({len(data)} bytes): no graph found")
    return proto


def save(model: Model, path, *, external_data: bool | None = None,
         size_threshold: int = 1024, location: str | None = None) -> None:
    """Write ``model`` to ``path``.

    ``external_data``: ``True`` moves every tensor of at least ``size_threshold`` bytes to
    ``location`` (default ``<file name>.data``) beside the model; ``None`` does so only when the
    model would be too big for one protobuf message; ``False`` never (and fails if too big).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ModelError(f"folder {folder!r} does not exist")
    tensors = list(_initializer_tensors(model.graph))
    total = sum(t.nbytes for t in tensors)
    if external_data is None:
        external_data = total > PROTOBUF_LIMIT - 64 * 2**20
    location = location or os.path.basename(path) + ".data"
    if os.path.isabs(location) or ".." in location.replace("\\", "/").split("/"):
        raise ModelError(f"external data location {location!r} must stay in the model's folder")
    stubs: dict[int, onnx.TensorProto] = {}
    data_tmp = None
    try:
        if external_data:
            big = [t for t in tensors if t.nbytes >= size_threshold and t.dtype is not DType.STRING]
            if big:
                data_tmp = _write_data(big, folder, location, stubs)
        proto = to_onnx(model, external=stubs)
        if proto.ByteSize() > PROTOBUF_LIMIT:
            raise ModelError("model is over 2 GB as one protobuf message; save it with "
                             "external_data=True")
        _atomic_write(path, proto.SerializeToString())
        if data_tmp is not None:
            os.replace(data_tmp, os.path.join(folder, location))
            data_tmp = None
    finally:
        if data_tmp is not None and os.path.exists(data_tmp):
            os.unlink(data_tmp)


def _initializer_tensors(g: Graph):
    for v in g.initializers.values():
        yield v.const
    for node in g._nodes:
        for a in node.attributes.values():
            if a.type is AttrType.GRAPH:
                yield from _initializer_tensors(a.value)
            elif a.type is AttrType.GRAPHS:
                for sub in a.value:
                    yield from _initializer_tensors(sub)


def _write_data(tensors: list[Tensor], folder: str, location: str,
                stubs: dict[int, onnx.TensorProto]) -> str:
    fd, tmp = tempfile.mkstemp(prefix=".onyx-", suffix=".data", dir=folder)
    with os.fdopen(fd, "wb") as f:
        for t in tensors:
            if id(t) in stubs:
                continue
            pad = (-f.tell()) % _ALIGN
            f.write(b"\0" * pad)
            offset = f.tell()
            length = _write_tensor_bytes(f, t)
            stub = onnx.TensorProto(name=t.name, data_type=int(t.dtype), dims=list(t.shape))
            stub.data_location = onnx.TensorProto.EXTERNAL
            for k, v in (("location", location), ("offset", str(offset)),
                         ("length", str(length))):
                stub.external_data.add(key=k, value=v)
            if t.doc_string:
                stub.doc_string = t.doc_string
            stubs[id(t)] = stub
    return tmp


def _write_tensor_bytes(f, t: Tensor) -> int:
    arr = t.numpy()
    if arr.dtype.itemsize * 8 == t.dtype.itemsize_bits and arr.dtype.kind != "O":
        arr = np.ascontiguousarray(arr)
        if arr.dtype.byteorder == ">":
            arr = arr.byteswap().view(arr.dtype.newbyteorder("<"))
        chunk = 64 * 2**20 // max(arr.itemsize, 1)
        flat = arr.reshape(-1)
        for start in range(0, flat.size, chunk):
            f.write(memoryview(flat[start:start + chunk]).cast("B"))
        return arr.nbytes
    raw = numpy_helper.from_array(arr).raw_data  # packed 4-bit / 2-bit types
    f.write(raw)
    return len(raw)


def _atomic_write(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".onyx-", suffix=".onnx", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


__all__ = ["load", "save", "parse_model", "limits"]
