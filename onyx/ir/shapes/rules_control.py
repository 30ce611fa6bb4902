"""Shape rules for control flow, sequences and optionals: If, Loop, Scan, SequenceMap,
Sequence*, SplitToSequence, ConcatFromSequence, Optional*.

Bodies are typed through ``ctx.infer_graph`` with their inputs bound to what the node feeds
them. A value that can differ between branches or iterations gets the type that covers both
(``union_types``): equal dims stay, others become unknown.
"""

from __future__ import annotations

from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.shapes.dims import generalize_shape, known, normalize_axis
from onyx.ir.shapes.infer import merge_types
from onyx.ir.shapes.registry import EMPTY_SEQUENCE, InferenceContext, shape_rule, tensor
from onyx.ir.typeproto import type_from_proto
from onyx.ir.types import OptionalType, SequenceType, TensorType

_SCALAR_I64 = TensorType(DType.INT64, ())
_SCALAR_BOOL = TensorType(DType.BOOL, ())


def union_types(a, b):
    """The most precise type that covers both ``a`` and ``b`` (``None`` if unknown)."""
    if a is None or b is None:
        return None
    if isinstance(a, TensorType) and isinstance(b, TensorType):
        if a.dtype != b.dtype:
            raise ShapeError(f"branches produce {a} and {b}: element types differ")
        return a if a == b else TensorType(a.dtype, generalize_shape(a.shape, b.shape))
    if type(a) is type(b) and isinstance(a, SequenceType | OptionalType):
        return type(a)(union_types(a.elem, b.elem))
    if a == b:
        return a
    raise ShapeError(f"branches produce {a} and {b}")


@shape_rule("If")
def _if(ctx: InferenceContext):
    then_g, else_g = ctx.graph_attr("then_branch"), ctx.graph_attr("else_branch")
    if then_g is None or else_g is None:
        return None
    cond = ctx.input_value(0)
    known_cond = cond is not None and cond.size == 1
    taken = (then_g if bool(cond.reshape(-1)[0]) else else_g) if known_cond else None
    then_t = ctx.infer_graph(then_g, [], dead=taken is else_g)
    else_t = ctx.infer_graph(else_g, [], dead=taken is then_g)
    if len(then_t) != len(else_t) or len(then_t) != ctx.num_outputs:
        raise ShapeError(f"branches have {len(then_t)} and {len(else_t)} outputs, the node "
                         f"{ctx.num_outputs}")
    if taken is not None:
        for i, out in enumerate(taken.outputs):
            data = ctx.data_of(out)
            if data is not None:
                ctx.set_value(i, data)
        return then_t if taken is then_g else else_t
    return [union_types(a, b) for a, b in zip(then_t, else_t, strict=True)]


# -- Loop
@shape_rule("Loop")
def _loop(ctx: InferenceContext):
    body = ctx.graph_attr("body")
    if body is None:
        return None
    carried = [ctx.input_type(i) for i in range(2, ctx.num_inputs)]
    n = len(carried)
    empty = [ctx.input_data(i) is EMPTY_SEQUENCE for i in range(2, ctx.num_inputs)]
    bound = _settle_body(ctx, body, [_SCALAR_I64, _SCALAR_BOOL], carried, [], 1, empty)
    outs = ctx.infer_graph(body, [_SCALAR_I64, _SCALAR_BOOL] + bound)
    finals = [_carry(b, o) for b, o in zip(bound, outs[1:1 + n], strict=False)]
    trips = ctx.input_scalar(0) if _runs_all_iterations(ctx, body) else None
    scans = [_stack(t, 0, None if trips is None else int(trips)) for t in outs[1 + n:]]
    return finals + scans


def _runs_all_iterations(ctx: InferenceContext, body) -> bool:
    """True when the loop cannot stop before M: no condition, or a true one passed through."""
    if not ctx.has_input(1):
        return True
    cond = ctx.input_value(1)
    if cond is None or cond.size != 1 or not bool(cond.reshape(-1)[0]) or not body.outputs:
        return False
    src = body.outputs[0]
    while src is not None and src.producer is not None and src.producer.op_type == "Identity":
        src = src.producer.inputs[0]
    return len(body.inputs) > 1 and src is body.inputs[1]


def _settle_body(ctx: InferenceContext, body, before: list, carried: list, after: list,
                 skip: int, empty: list[bool]) -> list:
    """Loop-carried types that hold for every iteration: try the body once, widen if needed.

    The body's inputs are ``before + carried + after``; its carried outputs start at ``skip``.
    An initially empty sequence takes the element type the body gives it.
    """
    trial = ctx.infer_graph(body, before + carried + after, keep=False)
    produced = trial[skip:skip + len(carried)]
    produced += [None] * (len(carried) - len(produced))
    settled = []
    for c, p, e in zip(carried, produced, empty, strict=True):
        if e and isinstance(p, SequenceType):
            settled.append(p)
        else:
            settled.append(union_types(c, p) if c is not None and type(p) is type(c) else c)
    return settled


def _carry(initial, produced):
    """A loop-carried value's type over all iterations.

    An optional initial value whose body produces the bare element (a Loop that fills an
    empty optional on its first pass) is carried as the element type.
    """
    if isinstance(initial, OptionalType) and produced is not None and \
            not isinstance(produced, OptionalType):
        initial = initial.elem if initial.elem is not None else produced
    return union_types(initial, produced)


def _stack(elem, axis: int, length):
    """The type of per-iteration values ``elem`` stacked along ``axis``."""
    if not isinstance(elem, TensorType):
        return None
    if elem.shape is None:
        return TensorType(elem.dtype, None)
    axis = normalize_axis(axis, len(elem.shape) + 1)
    return TensorType(elem.dtype, elem.shape[:axis] + (length,) + elem.shape[axis:])


# -- Scan
def _ints_attr(ctx: InferenceContext, name: str, n: int) -> list[int]:
    v = ctx.attr(name)
    return [0] * n if v is None else [int(x) for x in v]


@shape_rule("Scan", since=9)
def _scan(ctx: InferenceContext):
    body = ctx.graph_attr("body")
    m = int(ctx.attr("num_scan_inputs", 0))
    if body is None:
        return None
    n = ctx.num_inputs - m
    states = [ctx.input_type(i) for i in range(n)]
    in_axes = _ints_attr(ctx, "scan_input_axes", m)
    slices, length = [], None
    for k in range(m):
        t = ctx.input_tensor(n + k)
        if t is None or t.shape is None:
            slices.append(None if t is None else TensorType(t.dtype, None))
            continue
        axis = normalize_axis(in_axes[k], len(t.shape))
        length = length if length is not None else t.shape[axis]
        slices.append(TensorType(t.dtype, t.shape[:axis] + t.shape[axis + 1:]))
    outs = ctx.infer_graph(body, states + slices)
    # Scan states keep one shape through all iterations (unlike Loop's carried values).
    finals = [merge_types(s, o) for s, o in zip(states, outs[:n], strict=False)]
    k_out = ctx.num_outputs - n
    out_axes = _ints_attr(ctx, "scan_output_axes", k_out)
    scans = [_stack(t, out_axes[j], length) for j, t in enumerate(outs[n:])]
    return finals + scans


@shape_rule("Scan", until=8)
def _scan_v8(ctx: InferenceContext):
    # Opset 8: inputs carry a batch dim 0 and the sequence dim 1; input 0 is sequence_lens.
    body = ctx.graph_attr("body")
    m = int(ctx.attr("num_scan_inputs", 0))
    if body is None:
        return None
    n = ctx.num_inputs - 1 - m
    batch = length = None
    states, slices = [], []
    for i in range(1, ctx.num_inputs):
        t = ctx.input_tensor(i)
        if t is None or t.shape is None:
            (states if i <= n else slices).append(None)
            continue
        batch = batch if batch is not None else t.shape[0]
        if i <= n:
            states.append(TensorType(t.dtype, t.shape[1:]))
        else:
            length = length if length is not None else t.shape[1]
            slices.append(TensorType(t.dtype, t.shape[2:]))
    outs = ctx.infer_graph(body, states + slices)
    finals = [_stack(t, 0, batch) for t in outs[:n]]
    scans = [_stack(_stack(t, 0, length), 0, batch) for t in outs[n:]]
    return finals + scans


@shape_rule("SequenceMap")
def _sequence_map(ctx: InferenceContext):
    body = ctx.graph_attr("body")
    if body is None:
        return None
    elems = []
    for i in range(ctx.num_inputs):
        t = ctx.input_type(i)
        elems.append(t.elem if isinstance(t, SequenceType) else t)
    outs = ctx.infer_graph(body, elems)
    return [SequenceType(t) for t in outs]


# -- sequences
@shape_rule("SequenceEmpty")
def _sequence_empty(ctx: InferenceContext):
    ctx.set_value(0, EMPTY_SEQUENCE)
    return SequenceType(TensorType(DType(ctx.attr("dtype", int(DType.FLOAT))), None))


@shape_rule("SequenceConstruct")
def _sequence_construct(ctx: InferenceContext):
    elem = ctx.input_type(0)
    for i in range(1, ctx.num_inputs):
        elem = union_types(elem, ctx.input_type(i))
    return SequenceType(elem)


@shape_rule("SequenceInsert")
def _sequence_insert(ctx: InferenceContext):
    seq, t = ctx.input_type(0), ctx.input_type(1)
    if not isinstance(seq, SequenceType):
        return SequenceType(t) if t is not None and seq is None else None
    if seq.elem is None or ctx.input_data(0) is EMPTY_SEQUENCE:
        return SequenceType(t)
    return SequenceType(union_types(seq.elem, t))


@shape_rule("SequenceAt")
def _sequence_at(ctx: InferenceContext):
    seq = ctx.input_type(0)
    return seq.elem if isinstance(seq, SequenceType) else None


@shape_rule("SequenceErase")
def _sequence_erase(ctx: InferenceContext):
    return ctx.input_type(0)


@shape_rule("SequenceLength")
def _sequence_length(ctx: InferenceContext):
    return _SCALAR_I64


@shape_rule("SplitToSequence")
def _split_to_sequence(ctx: InferenceContext):
    t = ctx.input_tensor(0)
    if t is None:
        return None
    if t.shape is None:
        return SequenceType(TensorType(t.dtype, None))
    axis = normalize_axis(ctx.attr("axis", 0), len(t.shape))
    dim = t.shape[axis]
    if not ctx.has_input(1):
        keep = bool(ctx.attr("keepdims", 1))
        shape = t.shape[:axis] + ((1,) if keep else ()) + t.shape[axis + 1:]
        return SequenceType(TensorType(t.dtype, shape))
    split = ctx.input_ints(1)
    size = None
    if split is not None and ctx.input_rank(1) == 0:
        size = split[0] if known(dim) and dim % split[0] == 0 else None
    elif split is not None and len(set(split)) == 1:
        size = split[0]
    return SequenceType(TensorType(t.dtype, t.shape[:axis] + (size,) + t.shape[axis + 1:]))


@shape_rule("ConcatFromSequence")
def _concat_from_sequence(ctx: InferenceContext):
    seq = ctx.input_type(0)
    elem = seq.elem if isinstance(seq, SequenceType) else None
    if not isinstance(elem, TensorType):
        return None
    if elem.shape is None:
        return TensorType(elem.dtype, None)
    new_axis = bool(ctx.attr("new_axis", 0))
    rank = len(elem.shape) + (1 if new_axis else 0)
    axis = normalize_axis(ctx.attr("axis"), rank)
    if new_axis:
        return tensor(elem.dtype, elem.shape[:axis] + (None,) + elem.shape[axis:])
    return tensor(elem.dtype, elem.shape[:axis] + (None,) + elem.shape[axis + 1:])


# -- optionals
@shape_rule("Optional")
def _optional(ctx: InferenceContext):
    if ctx.has_input(0):
        return OptionalType(ctx.input_type(0))
    tp = ctx.attr("type")
    return None if tp is None else OptionalType(type_from_proto(tp))


@shape_rule("OptionalGetElement")
def _optional_get_element(ctx: InferenceContext):
    t = ctx.input_type(0)
    return t.elem if isinstance(t, OptionalType) else t


@shape_rule("OptionalHasElement")
def _optional_has_element(ctx: InferenceContext):
    return _SCALAR_BOOL
