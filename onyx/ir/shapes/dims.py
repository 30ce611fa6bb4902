"""Dimension arithmetic for shape rules: known ints, symbolic names and unknowns.

A dimension is an ``int`` (known), a ``str`` (a symbolic name such as ``"batch"``) or ``None``
(unknown). The rules here keep a symbolic name wherever a dimension passes through unchanged
and only give up (``None``) when the answer truly depends on values nobody knows.

    >>> broadcast_shapes(("N", 1, 3), (4, 1))
    ('N', 4, 3)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from onyx.ir.errors import ShapeError
from onyx.ir.types import Dim, Shape, format_shape


def known(d: Dim) -> bool:
    return isinstance(d, int)


def all_known(dims: Iterable[Dim]) -> bool:
    return all(isinstance(d, int) for d in dims)


def broadcast_dim(a: Dim, b: Dim) -> Dim:
    """Numpy broadcasting of one dimension pair; raises ``ValueError`` on known mismatches."""
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    if known(a) and known(b):
        raise ValueError(f"{a} vs {b}")
    # One side is known and not 1: the other must be 1 or equal to it, either way the result.
    if known(a):
        return a
    if known(b):
        return b
    return None  # two different symbols, or a symbol and an unknown


def broadcast_shapes(*shapes: Shape | None) -> Shape | None:
    """Multidirectional broadcast; ``None`` (unknown rank) in gives ``None`` out."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = [1] * rank
    for s in shapes:
        padded = (1,) * (rank - len(s)) + tuple(s)
        for i, d in enumerate(padded):
            try:
                out[i] = broadcast_dim(out[i], d)
            except ValueError:
                raise ShapeError("cannot broadcast shapes " + " and ".join(
                    format_shape(x) for x in shapes)) from None
    return tuple(out)


def merge_dim(a: Dim, b: Dim) -> Dim:
    """Two facts about one dimension; raises ``ValueError`` when two known sizes disagree."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if known(a) and known(b):
        raise ValueError(f"{a} vs {b}")
    if known(b):
        return b
    return a  # a known size or the first name wins


def merge_shapes(a: Shape | None, b: Shape | None, what: str = "shapes") -> Shape | None:
    """Shapes that must be equal: the most precise of both, or ``ShapeError`` if they clash."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        raise ShapeError(f"{what} {format_shape(a)} and {format_shape(b)} differ in rank")
    try:
        return tuple(merge_dim(x, y) for x, y in zip(a, b, strict=True))
    except ValueError:
        raise ShapeError(f"{what} {format_shape(a)} and {format_shape(b)} differ") from None


def check_dim(a: Dim, b: Dim, what: str) -> Dim:
    """Merge two dims that must match, naming ``what`` in the error."""
    try:
        return merge_dim(a, b)
    except ValueError:
        raise ShapeError(f"{what}: {a} vs {b}") from None


def generalize_dim(a: Dim, b: Dim) -> Dim:
    """A dimension that covers both (If branches, loop iterations): equal or unknown."""
    return a if a == b else None


def generalize_shape(a: Shape | None, b: Shape | None) -> Shape | None:
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(generalize_dim(x, y) for x, y in zip(a, b, strict=True))


def product(dims: Iterable[Dim]) -> Dim:
    """The product of dims: an int when all are known, a lone name times ones keeps the name."""
    total, names, unknown = 1, [], False
    for d in dims:
        if known(d):
            total *= d
        elif d is None:
            unknown = True
        else:
            names.append(d)
    if total == 0:
        return 0
    if unknown:
        return None
    if not names:
        return total
    return names[0] if len(names) == 1 and total == 1 else None


def total_of(dims: Sequence[Dim]) -> tuple[int, Counter] | None:
    """``(known product, multiset of names)``, or ``None`` if a dimension is unknown."""
    total, names = 1, Counter()
    for d in dims:
        if d is None:
            return None
        if known(d):
            total *= d
        else:
            names[d] += 1
    return total, names


def quotient(numerator: Sequence[Dim], denominator: Sequence[Dim]) -> Dim:
    """``prod(numerator) / prod(denominator)`` when names cancel (a Reshape's -1)."""
    num, den = total_of(numerator), total_of(denominator)
    if num is None or den is None or den[0] == 0:
        return None
    rest = num[1] - den[1]
    if den[1] - num[1] or num[0] % den[0]:
        return None
    value = num[0] // den[0]
    names = list(rest.elements())
    if not names:
        return value
    return names[0] if len(names) == 1 and value == 1 else None


def add(a: Dim, b: Dim) -> Dim:
    if known(a) and known(b):
        return a + b
    if a == 0:
        return b
    if b == 0:
        return a
    return None


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` in ``[-rank, rank)`` as a non-negative index, or ``ShapeError``."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def normalize_axes(axes: Iterable[int], rank: int, what: str = "axes") -> list[int]:
    out = [normalize_axis(int(a), rank, what) for a in axes]
    if len(set(out)) != len(out):
        raise ShapeError(f"{what} {list(axes)} repeat an axis")
    return out
