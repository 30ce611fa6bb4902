"""Turning a list of samples into a batch: ``default_collate`` and ``default_convert``.

``default_collate`` follows ``torch.utils.data.default_collate``: tensors are stacked along a
new first dimension, NumPy arrays and NumPy scalars become tensors of their own dtype, Python
floats become float64 and ints int64 tensors, strings stay lists, and dicts, namedtuples,
lists and tuples are collated field by field (a tuple of fields comes back as a list, as in
torch).

    >>> import onyx
    >>> batch = default_collate([(onyx.tensor([1., 2.]), 0), (onyx.tensor([3., 4.]), 1)])
    >>> batch[0].shape, batch[1].dtype
    (onyx.Size([2, 2]), onyx.int64)
"""

from __future__ import annotations

import collections.abc
import copy
from collections.abc import Callable

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.creation import from_numpy
from onyx.frontend.creation import tensor as _tensor
from onyx.frontend.tensor import Tensor

_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
          "found {}")


def stack_tensors(batch: list[Tensor]) -> Tensor:
    """``onyx.stack(batch, 0)`` done in NumPy: equal shapes required, dtypes promoted as torch."""
    shape = batch[0].shape
    for i, t in enumerate(batch):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    if any(t.requires_grad for t in batch):
        import onyx
        stack = getattr(onyx, "stack", None)
        if stack is not None:  # keep the autograd record when the op surface has one
            return stack(batch, 0)
    out_dtype = batch[0].dtype
    for t in batch[1:]:
        out_dtype = dtypes.promote_types(out_dtype, t.dtype)
    arrays = [t._data if t.dtype is out_dtype else t._data.astype(out_dtype.np) for t in batch]
    return Tensor._wrap(np.stack(arrays, axis=0))


def collate_tensor_fn(batch, *, collate_fn_map=None) -> Tensor:
    return stack_tensors(list(batch))


def collate_numpy_array_fn(batch, *, collate_fn_map=None) -> Tensor:
    if batch[0].dtype.kind in "SaUO":
        raise TypeError(_ERROR.format(batch[0].dtype))
    return collate([from_numpy(np.asarray(b)) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None) -> Tensor:
    # NumPy scalars keep their dtype (np.float32 -> float32), unlike Python floats
    return from_numpy(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None) -> Tensor:
    return _tensor(list(batch), dtype=dtypes.float64)


def collate_int_fn(batch, *, collate_fn_map=None) -> Tensor:
    # bool is an int: a batch of bools gives a bool tensor, mixed ints and floats a float one
    return _tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def _lookup(elem, collate_fn_map: dict):
    fn = collate_fn_map.get(type(elem))
    if fn is not None:
        return fn
    for kind, fn in collate_fn_map.items():
        if isinstance(elem, kind):
            return fn
    return None


def collate(batch, *, collate_fn_map: dict | None = None):
    """Collate ``batch`` recursively, using ``collate_fn_map[type]`` for the leaves."""
    elem = batch[0]
    fn = _lookup(elem, collate_fn_map) if collate_fn_map is not None else None
    if fn is not None:
        return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                  for key in elem}
        return _rebuild_mapping(elem, fields)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(collate(s, collate_fn_map=collate_fn_map)
                            for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # torch returns a list for tuples
        return _rebuild_sequence(elem, fields)
    raise TypeError(_ERROR.format(type(elem)))


def _rebuild_mapping(elem, fields: dict):
    if isinstance(elem, collections.abc.MutableMapping):
        # a copy keeps the mapping's type and any attributes it carries
        clone = copy.copy(elem)
        clone.update(fields)
        return clone
    try:
        return type(elem)(fields)
    except TypeError:  # the mapping type cannot be built from a dict
        return fields


def _rebuild_sequence(elem, fields: list):
    if isinstance(elem, collections.abc.MutableSequence):
        clone = copy.copy(elem)
        for i, value in enumerate(fields):
            clone[i] = value
        return clone
    try:
        return type(elem)(fields)
    except TypeError:  # the sequence type cannot be built from a list
        return fields


def default_collate(batch):
    """Batch a list of samples as ``torch.utils.data.default_collate`` does.

        >>> default_collate([{"x": 1.5}, {"x": 2.5}])["x"]
        tensor([1.5000, 2.5000], dtype=onyx.float64)
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Convert NumPy arrays and scalars in ``data`` to tensors, keeping its structure (the
    ``collate_fn`` of a loader that does not batch: ``batch_size=None``)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "SaUO" else from_numpy(data)
    if isinstance(data, np.bool_ | np.number):
        return from_numpy(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # a list, as torch
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, str | bytes):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data
