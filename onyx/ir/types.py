"""Value types: tensors, sparse tensors, sequences, optionals and maps.

A shape is a tuple whose entries are ``int`` (known), ``str`` (a symbolic dimension kept by
name, e.g. ``"batch"``) or ``None`` (unknown); ``shape=None`` means the rank is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from onyx.ir.dtypes import DType

Dim = int | str | None
Shape = tuple[Dim, ...]


def format_shape(shape: Shape | None) -> str:
    if shape is None:
        return "[*]"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


@dataclass(frozen=True)
class TensorType:
    dtype: DType
    shape: Shape | None = None
    denotation: str = ""
    dim_denotations: tuple[str, ...] | None = None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def __str__(self) -> str:
        return f"{self.dtype.short}{format_shape(self.shape)}"


@dataclass(frozen=True)
class SparseTensorType:
    dtype: DType
    shape: Shape | None = None
    denotation: str = ""
    dim_denotations: tuple[str, ...] | None = None

    def __str__(self) -> str:
        return f"sparse<{self.dtype.short}{format_shape(self.shape)}>"


@dataclass(frozen=True)
class SequenceType:
    elem: object | None  # a type, or None when the element type is not declared
    denotation: str = ""

    def __str__(self) -> str:
        return f"seq<{self.elem}>"


@dataclass(frozen=True)
class OptionalType:
    elem: object | None
    denotation: str = ""

    def __str__(self) -> str:
        return f"opt<{self.elem}>"


@dataclass(frozen=True)
class MapType:
    key: DType
    value: object | None
    denotation: str = ""

    def __str__(self) -> str:
        return f"map<{self.key.short},{self.value}>"


def tensor(dtype: DType | int, shape: Shape | None = None) -> TensorType:
    """Shorthand: ``tensor(DType.FLOAT, (2, "n"))``."""
    return TensorType(DType(dtype), None if shape is None else tuple(shape))
