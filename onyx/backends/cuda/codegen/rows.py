"""The row-program template behind every reduction-like kernel.

The input (shape ``S``) splits into kept dimensions (one "row" per kept coordinate ``o``) and
reduced dimensions (``r`` walks a row). A program is a list of passes over the row, each a
scalar reduction whose result later passes may use (max before exp, mean before variance:
two-pass forms stay accurate), then either stores at ``o`` (ReduceSum) or a final walk writing
one value per element (Softmax, LayerNormalization). Long rows get one block per row with a
shared-memory tree; short rows get one thread per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import prod

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.elementwise import MapBuilder, map_grid
from onyx.backends.cuda.codegen.indexing import Access, contiguous_strides, render_offset
from onyx.backends.cuda.codegen.kernel import PLACEHOLDER
from onyx.ir.dtypes import DType

BLOCK = 256
THREAD_ROW_MAX = 64     # rows up to this length: one thread per row


@dataclass(frozen=True)
class Pass:
    """``acc = update(acc, x)`` over the row; ``combine`` merges two partial accumulators;
    ``result`` (in scope as ``name`` afterwards) is ``finish`` of the total."""

    name: str
    acc_type: str
    init: str
    update: Callable[[str, str], str] | None     # None: a plain value (see render_rows)
    combine: Callable[[str, str], str] | None
    finish: Callable[[str], str] = lambda total: total


@dataclass
class RowProgram:
    in_shape: tuple[int, ...]
    axes: tuple[int, ...]                 # reduced axes, sorted
    element: Callable[[MapBuilder], str]  # emits statements for element ``i``; returns its var
    x_type: str                           # C type of that var
    passes: list[Pass]
    row_stores: list[tuple[str, str, DType]] = field(default_factory=list)   # (arg, expr, dtype)
    elem_writes: list[tuple[str, Callable[[MapBuilder, str], str], DType]] = field(
        default_factory=list)   # (arg, fn(mb, x) -> expr, dtype): one value per input element

    @property
    def kept(self) -> tuple[int, ...]:
        return tuple(d for k, d in enumerate(self.in_shape) if k not in self.axes)

    @property
    def reduced(self) -> tuple[int, ...]:
        return tuple(self.in_shape[k] for k in self.axes)


def render_rows(prog: RowProgram) -> tuple[str, tuple[str, ...], int, int]:
    """Source (named ``PLACEHOLDER``), args, grid and block of a row program."""
    strides = contiguous_strides(prog.in_shape)
    kept_acc = Access(tuple(s for k, s in enumerate(strides) if k not in prog.axes))
    red_acc = Access(tuple(strides[k] for k in prog.axes))
    n_out, r_len = prod(prog.kept), prod(prog.reduced)
    block_mode = r_len > THREAD_ROW_MAX
    base = render_offset("o", prog.kept, kept_acc)
    red = render_offset("r", prog.reduced, red_acc)
    mb = MapBuilder(prog.in_shape)
    x = prog.element(mb)
    elem_lines = list(mb.lines)
    params = dict(mb.params)
    body: list[str] = [f"const long long base = {base};"]
    r_loop = ("for (long long r = threadIdx.x; r < {R}LL; r += {T})" if block_mode
              else "for (long long r = 0; r < {R}LL; ++r)").format(R=r_len, T=BLOCK)
    for p in prog.passes:
        body += _pass_lines(p, r_loop, red, elem_lines, x, block_mode)
    stores = [f"{a}[o] = {ct.store(e, t)};" for a, e, t in prog.row_stores]
    if stores:
        body += (["if (threadIdx.x == 0) {"] + ["  " + s for s in stores] + ["}"]
                 if block_mode else stores)
    outs = [(a, t) for a, _, t in prog.row_stores]
    if prog.elem_writes:
        wb = MapBuilder(prog.in_shape, lines=list(elem_lines), params=params)
        writes = [f"{a}[i] = {ct.store(fn(wb, x), t)};" for a, fn, t in prog.elem_writes]
        lines = wb.lines
        if not any(re.search(rf"\b{x}\b", w) for w in writes + lines[len(elem_lines):]):
            lines = lines[len(elem_lines):]     # the write ignores the element (Hardmax)
        body.append(r_loop + " {")
        body.append(f"  const long long i = base + {red};")
        body += ["  " + ln for ln in lines] + ["  " + w for w in writes]
        body.append("}")
        params.update(wb.params)
        outs += [(a, t) for a, _, t in prog.elem_writes]
    return _assemble(prog, params, outs, body, block_mode, n_out)


def _pass_lines(p: Pass, r_loop: str, red: str, elem_lines: list[str], x: str,
                block_mode: bool) -> list[str]:
    """One pass: walk the row accumulating, then (block mode) a shared-memory tree."""
    if p.update is None:     # a value derived from earlier passes, no walk over the row
        return [f"const {p.acc_type} {p.name} = {p.finish('')};"]
    lines = [f"{p.acc_type} acc_{p.name} = {p.init};", r_loop + " {",
             f"  const long long i = base + {red};", *["  " + ln for ln in elem_lines],
             f"  acc_{p.name} = {p.update(f'acc_{p.name}', x)};", "}"]
    total = f"acc_{p.name}"
    if block_mode:
        lines += _tree(p)
        total = f"sh_{p.name}[0]"
    lines.append(f"const {p.acc_type} {p.name} = {p.finish(total)};")
    if block_mode:
        lines.append("__syncthreads();")   # every thread read the total before reuse
    return lines


def _tree(p: Pass) -> list[str]:
    return [f"sh_{p.name}[threadIdx.x] = acc_{p.name};", "__syncthreads();",
            f"for (int s = {BLOCK // 2}; s > 0; s >>= 1) {{",
            f"  if (threadIdx.x < s) sh_{p.name}[threadIdx.x] = "
            f"{p.combine(f'sh_{p.name}[threadIdx.x]', f'sh_{p.name}[threadIdx.x + s]')};",
            "  __syncthreads();", "}"]


def _assemble(prog, params, outs, body, block_mode, n_out):
    from onyx.backends.cuda.codegen.elementwise import _arg_order
    ins = sorted(params, key=_arg_order)
    plist = [f"const {ct.CTYPES[params[a]].storage}* __restrict__ {a}" for a in ins]
    plist += [f"{ct.CTYPES[t].storage}* __restrict__ {a}" for a, t in outs]
    shared = [f"  __shared__ {p.acc_type} sh_{p.name}[{BLOCK}];" for p in prog.passes
              if p.update is not None] \
        if block_mode else []
    if block_mode:
        loop = f"for (long long o = blockIdx.x; o < {n_out}LL; o += gridDim.x)"
        grid = max(1, min(n_out, 1 << 20))
    else:
        loop = (f"for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; "
                f"o < {n_out}LL; o += (long long)gridDim.x * blockDim.x)")
        grid = map_grid(n_out)
    src = "\n".join([
        ct.PRELUDE,
        f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) "
        f"{PLACEHOLDER}({', '.join(plist)}) {{",
        *shared, f"  {loop} {{", *["    " + b for b in body], "  }", "}", ""])
    return src, tuple(ins) + tuple(a for a, _ in outs), grid, BLOCK


def sum_pass(name: str, acc: str, term: Callable[[str], str],
             finish: Callable[[str], str] = lambda t: t) -> Pass:
    return Pass(name, acc, f"({acc})0", lambda a, x: f"{a} + ({term(x)})",
                lambda a, b: f"{a} + {b}", finish)


def max_pass(name: str, acc: str, sign: int = 1) -> Pass:
    """NaN-propagating max (``sign=-1``: min)."""
    if acc in ("float", "double"):
        fn = ("onyx_maxf" if sign > 0 else "onyx_minf") if acc == "float" else (
            "onyx_maxd" if sign > 0 else "onyx_mind")
        init = f"({acc})({'-' if sign > 0 else ''}ONYX_INF)"
        return Pass(name, acc, init, lambda a, x: f"{fn}({a}, {x})",
                    lambda a, b: f"{fn}({a}, {b})")
    op = ">" if sign > 0 else "<"
    return Pass(name, acc, "", lambda a, x: f"(({x}) {op} {a} ? ({x}) : {a})",
                lambda a, b: f"({b} {op} {a} ? {b} : {a})")


def axes_of(axes: Sequence[int], rank: int) -> tuple[int, ...] | None:
    out = set()
    for a in axes:
        a = int(a)
        if not -rank <= a < max(rank, 1):
            return None
        out.add(a % rank if rank else 0)
    return tuple(sorted(out))


SPLIT_MIN_ROW = 1 << 16     # rows at least this long, and few of them, reduce in two stages
SPLIT_MAX_ROWS = 64
_ACC_BYTES = {"float": 4, "double": 8, "long long": 8, "unsigned long long": 8}


def splits_for(prog: RowProgram) -> int:
    """Chunks per row for the two-stage form (1: one block per row is enough). Only a single
    scalar pass storing per row splits: later passes would need the whole row's result."""
    n_out, r_len = prod(prog.kept), prod(prog.reduced)
    if len(prog.passes) != 1 or prog.elem_writes or prog.passes[0].update is None or \
            n_out > SPLIT_MAX_ROWS or r_len < SPLIT_MIN_ROW:
        return 1
    return min(BLOCK * 4, max(2, -(-512 // n_out)), -(-r_len // 4096))


def render_two_stage(prog: RowProgram, splits: int) -> list[tuple[str, tuple[str, ...], int]]:
    """Stage 1: block ``o * splits + s`` reduces chunk ``s`` of row ``o`` into ``scratch0``;
    stage 2: one block per row combines its partials, finishes and stores."""
    (p,) = prog.passes
    strides = contiguous_strides(prog.in_shape)
    n_out, r_len = prod(prog.kept), prod(prog.reduced)
    chunk = -(-r_len // splits)
    base = render_offset("o", prog.kept,
                         Access(tuple(s for k, s in enumerate(strides) if k not in prog.axes)))
    red = render_offset("r", prog.reduced, Access(tuple(strides[k] for k in prog.axes)))
    mb = MapBuilder(prog.in_shape)
    x = prog.element(mb)
    from onyx.backends.cuda.codegen.elementwise import _arg_order
    ins = sorted(mb.params, key=_arg_order)
    scratch = f"{p.acc_type}* __restrict__ scratch0"
    one = [f"const long long o = blockIdx.x / {splits}, s = blockIdx.x % {splits};",
           f"const long long base = {base};",
           f"const long long r_end = (s + 1) * {chunk}LL < {r_len}LL ? (s + 1) * {chunk}LL "
           f": {r_len}LL;",
           f"{p.acc_type} acc_{p.name} = {p.init};",
           f"for (long long r = s * {chunk}LL + threadIdx.x; r < r_end; r += {BLOCK}) {{",
           f"  const long long i = base + {red};", *["  " + ln for ln in mb.lines],
           f"  acc_{p.name} = {p.update(f'acc_{p.name}', x)};", "}", *_tree(p),
           f"if (threadIdx.x == 0) scratch0[blockIdx.x] = sh_{p.name}[0];"]
    params1 = [f"const {ct.CTYPES[mb.params[a]].storage}* __restrict__ {a}" for a in ins]
    two = ["const long long o = blockIdx.x;", f"{p.acc_type} acc_{p.name} = {p.init};",
           f"for (int t = threadIdx.x; t < {splits}; t += {BLOCK}) acc_{p.name} = "
           f"{p.combine(f'acc_{p.name}', f'scratch0[o * {splits}LL + t]')};", *_tree(p),
           f"const {p.acc_type} {p.name} = {p.finish(f'sh_{p.name}[0]')};",
           "if (threadIdx.x == 0) {",
           *[f"  {a}[o] = {ct.store(e, t)};" for a, e, t in prog.row_stores], "}"]
    outs = [f"{ct.CTYPES[t].storage}* __restrict__ {a}" for a, _, t in prog.row_stores]
    return [(_kernel(p, [*params1, scratch], one), (*ins, "scratch0"), n_out * splits),
            (_kernel(p, [f"const {scratch}", *outs], two),
             ("scratch0", *(a for a, _, _ in prog.row_stores)), n_out)]


def scratch_size(prog: RowProgram, splits: int) -> int:
    return prod(prog.kept) * splits * _ACC_BYTES[prog.passes[0].acc_type]


def _kernel(p: Pass, params: list[str], body: list[str]) -> str:
    return "\n".join([
        ct.PRELUDE,
        f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) "
        f"{PLACEHOLDER}({', '.join(params)}) {{",
        f"  __shared__ {p.acc_type} sh_{p.name}[{BLOCK}];", *["  " + b for b in body], "}", ""])
