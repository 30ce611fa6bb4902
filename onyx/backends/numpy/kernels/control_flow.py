"""Control-flow kernels: If, Loop, Scan (opset 8 batched form and 9+) and SequenceMap.

Bodies arrive as callable subgraphs (``outputs = body(*inputs)``, a list); the executor has
already bound the outer-scope values they read. Scan outputs are gathered per iteration and
stacked on a new axis once the loop ends.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.backends.numpy.values import describe_value
from onyx.ir import limits
from onyx.ir.errors import InputError, LimitError, ShapeError
from onyx.ir.types import TensorType

# A Loop whose trip count and condition never stop it would otherwise spin forever; raise the
# cap (``control_flow.MAX_LOOP_ITERATIONS = ...``) for legitimately longer loops.
MAX_LOOP_ITERATIONS: int = 10_000_000


def _truth(cond, what: str) -> bool:
    """The boolean held by a one-element condition tensor."""
    arr = np.asarray(cond)
    if arr.size != 1:
        raise ShapeError(f"{what} must hold exactly one element, got {describe_value(arr)}")
    return bool(arr.reshape(-1)[0])


def _count(value, what: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ShapeError(f"{what} must be a scalar, got {describe_value(arr)}")
    return int(arr.reshape(-1)[0])


class _ScanAccumulator:
    """Per-iteration values of one scan output; stacked on a new leading axis at the end."""

    def __init__(self, body, index: int):
        self.body, self.index = body, index
        self.items: list[np.ndarray] = []
        self.nbytes = 0

    def add(self, value) -> None:
        if not isinstance(value, np.ndarray):
            value = np.asarray(value)
        if self.items and (value.shape != self.items[0].shape
                           or value.dtype != self.items[0].dtype):
            raise ShapeError(f"scan output {self.index} changed from "
                             f"{describe_value(self.items[0])} to {describe_value(value)} "
                             f"between iterations")
        self.nbytes += value.nbytes
        if self.nbytes > limits.max_tensor_bytes:
            raise LimitError(f"scan output {self.index} grew past {limits.max_tensor_bytes} "
                             f"bytes (onyx.ir.limits.max_tensor_bytes)")
        self.items.append(value)

    def stacked(self, reverse: bool = False) -> np.ndarray:
        if not self.items:
            return _empty_scan_output(self.body, self.index)
        items = self.items[::-1] if reverse else self.items
        return np.stack(items)


def _empty_scan_output(body, index: int) -> np.ndarray:
    """A zero-iteration scan output, shaped from the body's declared output type."""
    t = body.graph.outputs[index].type
    if not isinstance(t, TensorType):
        raise ShapeError(f"scan output {index} ran for zero iterations and its body output "
                         f"type {t} is not a tensor type")
    try:
        dtype = t.dtype.numpy
    except ValueError:
        dtype = np.float32
    dims = [d if isinstance(d, int) else 0 for d in (t.shape or ())]
    return np.zeros([0, *dims], dtype)


def _check_body_arity(body, n_in: int, n_out_min: int, op: str) -> None:
    if body.num_inputs != n_in:
        raise ShapeError(f"{op} body takes {body.num_inputs} inputs, the node supplies {n_in}")
    if body.num_outputs < n_out_min:
        raise ShapeError(f"{op} body returns {body.num_outputs} outputs, at least {n_out_min} "
                         f"are needed")


# ----------------------------------------------------------------------------------- If
@kernel("If")
def if_(cond, *, then_branch, else_branch) -> tuple:
    branch = then_branch if _truth(cond, "If condition") else else_branch
    return tuple(branch())


# --------------------------------------------------------------------------------- Loop
@kernel("Loop")
def loop(M=None, cond=None, *v_initial, body) -> tuple:
    n_carried = len(v_initial)
    _check_body_arity(body, 2 + n_carried, 1 + n_carried, "Loop")
    trip_count = None if M is None else _count(M, "Loop trip count M")
    keep_going = True if cond is None else _truth(cond, "Loop condition")
    carried = list(v_initial)
    scans = [_ScanAccumulator(body, k) for k in range(1 + n_carried, body.num_outputs)]
    i = 0
    while keep_going and (trip_count is None or i < trip_count):
        if i >= MAX_LOOP_ITERATIONS:
            raise LimitError(f"Loop ran {i} iterations without stopping (trip count "
                             f"{'none' if trip_count is None else trip_count}); the cap is "
                             f"control_flow.MAX_LOOP_ITERATIONS")
        outs = body(np.array(i, np.int64), np.array(keep_going), *carried)
        keep_going = _truth(outs[0], "Loop body condition output")
        carried = list(outs[1:1 + n_carried])
        for acc, value in zip(scans, outs[1 + n_carried:]):
            acc.add(value)
        i += 1
    return tuple(carried + [acc.stacked() for acc in scans])


# --------------------------------------------------------------------------------- Scan
def _normalize_axis(axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank


def _scan_steps(body, states: list, slices: list, n_steps: int) -> tuple[list, list]:
    """Run ``body`` over ``n_steps`` positions; ``slices[k](t)`` gives input k at step t."""
    n_state = len(states)
    scans = [_ScanAccumulator(body, k) for k in range(n_state, body.num_outputs)]
    for t in range(n_steps):
        outs = body(*states, *[s(t) for s in slices])
        states = list(outs[:n_state])
        for acc, value in zip(scans, outs[n_state:]):
            acc.add(value)
    return states, scans


@kernel("Scan", since=9)
def scan(*args, body, num_scan_inputs, scan_input_axes=None, scan_input_directions=None,
         scan_output_axes=None, scan_output_directions=None) -> tuple:
    n_state = len(args) - num_scan_inputs
    if n_state < 0:
        raise ShapeError(f"Scan has {len(args)} inputs, fewer than num_scan_inputs="
                         f"{num_scan_inputs}")
    _check_body_arity(body, len(args), n_state, "Scan")
    xs = [np.asarray(x) for x in args[n_state:]]
    in_axes = scan_input_axes or [0] * len(xs)
    in_dirs = scan_input_directions or [0] * len(xs)
    if len(in_axes) != len(xs) or len(in_dirs) != len(xs):
        raise ShapeError(f"Scan has {len(xs)} scan inputs but scan_input_axes={in_axes}, "
                         f"scan_input_directions={in_dirs}")
    moved = [np.moveaxis(x, _normalize_axis(a, x.ndim, "scan_input_axes entry"), 0)
             for x, a in zip(xs, in_axes)]
    lengths = {m.shape[0] for m in moved}
    if len(lengths) > 1:
        raise ShapeError(f"Scan inputs {[describe_value(x) for x in xs]} have different "
                         f"lengths {sorted(lengths)} along their scan axes")
    n_steps = lengths.pop() if lengths else 0
    if n_steps > MAX_LOOP_ITERATIONS:  # zero-size slices make a long axis cheap to feed
        raise LimitError(f"Scan over {n_steps} steps exceeds control_flow.MAX_LOOP_ITERATIONS")
    slices = [_step_reader(m, d, n_steps) for m, d in zip(moved, in_dirs)]
    states, scans = _scan_steps(body, list(args[:n_state]), slices, n_steps)
    n_out = len(scans)
    out_axes = scan_output_axes or [0] * n_out
    out_dirs = scan_output_directions or [0] * n_out
    if len(out_axes) != n_out or len(out_dirs) != n_out:
        raise ShapeError(f"Scan has {n_out} scan outputs but scan_output_axes={out_axes}, "
                         f"scan_output_directions={out_dirs}")
    outputs = []
    for acc, axis, direction in zip(scans, out_axes, out_dirs):
        y = acc.stacked(reverse=bool(direction))
        outputs.append(np.moveaxis(y, 0, _normalize_axis(axis, y.ndim, "scan_output_axes "
                                                                         "entry")))
    return tuple(states + outputs)


def _step_reader(x: np.ndarray, direction: int, n_steps: int):
    if direction:
        return lambda t: x[n_steps - 1 - t]
    return lambda t: x[t]


@kernel("Scan", since=8, until=8)
def scan_batched(sequence_lens=None, *args, body, num_scan_inputs, directions=None) -> tuple:
    """Scan-8: axis 0 of every input is a batch axis, axis 1 of scan inputs is time."""
    n_state = len(args) - num_scan_inputs
    if n_state < 0 or num_scan_inputs < 1:
        raise ShapeError(f"Scan has {len(args)} state/scan inputs, num_scan_inputs="
                         f"{num_scan_inputs}")
    _check_body_arity(body, len(args), n_state, "Scan")
    inits, xs = list(args[:n_state]), [np.asarray(x) for x in args[n_state:]]
    if any(x.ndim < 2 for x in xs) or len({x.shape[:2] for x in xs}) != 1:
        raise ShapeError(f"Scan-8 scan inputs need equal (batch, sequence) leading axes, got "
                         f"{[describe_value(x) for x in xs]}")
    batch, max_len = xs[0].shape[:2]
    dirs = directions or [0] * len(xs)
    if batch == 0:
        raise ShapeError("Scan-8 with a batch of 0 has no state shapes to return")
    lens = _batch_lengths(sequence_lens, batch, max_len)
    per_batch = []
    for b in range(batch):
        n = int(lens[b])
        slices = [_step_reader(x[b], d, n) for x, d in zip(xs, dirs)]
        states, scans = _scan_steps(body, [s[b] for s in inits], slices, n)
        per_batch.append(states + [_pad_time(acc.stacked(), max_len) for acc in scans])
    return tuple(np.stack([np.asarray(r[k]) for r in per_batch])
                 for k in range(len(per_batch[0])))


def _batch_lengths(sequence_lens, batch: int, max_len: int) -> np.ndarray:
    if sequence_lens is None:
        return np.full(batch, max_len, np.int64)
    lens = np.asarray(sequence_lens).reshape(-1)
    if lens.shape[0] != batch or np.any(lens < 0) or np.any(lens > max_len):
        raise ShapeError(f"sequence_lens {lens.tolist()} must hold {batch} lengths in "
                         f"[0, {max_len}]")
    return lens


def _pad_time(y: np.ndarray, max_len: int) -> np.ndarray:
    """Zero-fill a batch entry's scan output past its sequence length."""
    if y.shape[0] == max_len:
        return y
    pad = [(0, max_len - y.shape[0])] + [(0, 0)] * (y.ndim - 1)
    return np.pad(y, pad)


# -------------------------------------------------------------------------- SequenceMap
@kernel("SequenceMap", since=17)
def sequence_map(input_sequence, *additional_inputs, body) -> tuple:
    if not isinstance(input_sequence, list):
        raise InputError(f"SequenceMap input 0 must be a sequence, got "
                         f"{describe_value(input_sequence)}")
    _check_body_arity(body, 1 + len(additional_inputs), 1, "SequenceMap")
    n = len(input_sequence)
    for k, extra in enumerate(additional_inputs):
        if isinstance(extra, list) and len(extra) != n:
            raise ShapeError(f"SequenceMap input {k + 1} has {len(extra)} elements, input 0 "
                             f"has {n}")
    results: list[list] = [[] for _ in range(body.num_outputs)]
    for i in range(n):
        args = [x[i] if isinstance(x, list) else x for x in additional_inputs]
        for acc, value in zip(results, body(input_sequence[i], *args)):
            acc.append(value)
    return tuple(results)
