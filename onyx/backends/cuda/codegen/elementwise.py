"""The one table of C expressions per ONNX elementwise op, and the map-kernel renderer.

Each entry says which input dtypes the op accepts and how to spell it in C given its operands
already loaded in the compute type (float for float16/bfloat16). Fused groups and single nodes
render through the same ``MapBuilder``: loads with baked index arithmetic, one statement per
op, stores to contiguous outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.dtypes import FLOATS, INTS, NUMERIC, SIGNED, UNSIGNED
from onyx.backends.cuda.codegen.indexing import Access, numel, render_offset
from onyx.backends.cuda.codegen.kernel import PLACEHOLDER
from onyx.ir.dtypes import DType

Expr = Callable[[list, DType, dict], str]


@dataclass(frozen=True)
class Rule:
    """``dtypes``: accepted dtypes of the first data input; ``bool_out``: result is bool."""

    expr: Expr
    dtypes: frozenset
    arity: int | None = 1        # None: variadic (Sum, Max, ...)
    bool_out: bool = False


def _f(name: str) -> Expr:
    return lambda a, t, at: f"{ct.math_fn(name, t)}({a[0]})"


def _lit(x, t):
    return ct.literal(x, t)


def _fold(fn: Callable[[str, str, DType], str]) -> Expr:
    def expr(a, t, at):
        acc = a[0]
        for x in a[1:]:
            acc = fn(acc, x, t)
        return acc
    return expr


def _max(x, y, t):
    if t in FLOATS:
        return f"{'onyx_maxd' if ct.CTYPES[t].compute == 'double' else 'onyx_maxf'}({x}, {y})"
    return f"(({x}) > ({y}) ? ({x}) : ({y}))"


def _min(x, y, t):
    if t in FLOATS:
        return f"{'onyx_mind' if ct.CTYPES[t].compute == 'double' else 'onyx_minf'}({x}, {y})"
    return f"(({x}) < ({y}) ? ({x}) : ({y}))"


def _mod(a, t, at):
    x, y = a
    if t in FLOATS:
        r = f"{ct.math_fn('fmod', t)}({x}, {y})"
        if at.get("fmod", 0):
            return r
    elif at.get("fmod", 0) or t in UNSIGNED:
        return f"(({y}) == 0 ? ({x}) * 0 : ({x}) % ({y}))"
    else:   # a zero divisor yields 0, not a trap
        r = f"(({y}) == 0 ? ({x}) * 0 : ({x}) % ({y}))"
    # fmod=0: Python-style sign (the result takes the divisor's sign).
    return f"(({r}) != 0 && ((({r}) < 0) != (({y}) < 0)) ? ({r}) + ({y}) : ({r}))"


def _div(a, t, at):
    if t in INTS:
        return f"(({a[1]}) == 0 ? ({a[0]}) * 0 : ({a[0]}) / ({a[1]}))"
    return f"(({a[0]}) / ({a[1]}))"


def _pow(a, t, at):
    if t in FLOATS:
        return f"{ct.math_fn('pow', t)}({a[0]}, {a[1]})"
    return f"(({ct.CTYPES[t].compute})pow((double)({a[0]}), (double)({a[1]})))"


def _gelu(a, t, at):
    x, f = a[0], (lambda n: ct.math_fn(n, t))
    if at.get("approximate", "none") == "tanh":
        cube = f"({x}) * ({x}) * ({x})"
        inner = f"{_lit(0.7978845608028654, t)} * (({x}) + {_lit(0.044715, t)} * {cube})"
        return f"({_lit(0.5, t)} * ({x}) * ({_lit(1, t)} + {f('tanh')}({inner})))"
    scaled = f"({x}) * {_lit(0.7071067811865476, t)}"
    return f"({_lit(0.5, t)} * ({x}) * ({_lit(1, t)} + {f('erf')}({scaled})))"


def _clip(a, t, at):
    x = a[0]
    lo = a[1] if len(a) > 1 and a[1] is not None else (
        _lit(at["min"], t) if "min" in at else None)
    hi = a[2] if len(a) > 2 and a[2] is not None else (
        _lit(at["max"], t) if "max" in at else None)
    if lo is not None:
        x = f"(({x}) < ({lo}) ? ({lo}) : ({x}))"
    if hi is not None:
        x = f"(({x}) > ({hi}) ? ({hi}) : ({x}))"
    return x


def _isinf(a, t, at):
    x = a[0]
    pos = f"(({x}) == ONYX_INF)" if at.get("detect_positive", 1) else "false"
    neg = f"(({x}) == -ONYX_INF)" if at.get("detect_negative", 1) else "false"
    return f"({pos} || {neg})"


def _softplus(a, t, at):
    x, f = a[0], (lambda n: ct.math_fn(n, t))
    # log1p(exp(-|x|)) + max(x, 0): no overflow for large |x|.
    return f"({f('log1p')}({f('exp')}(-{f('fabs')}({x}))) + (({x}) > 0 ? ({x}) : {_lit(0, t)}))"


def _rule(expr, dtypes=FLOATS, arity=1, bool_out=False) -> Rule:
    return Rule(expr, frozenset(dtypes), arity, bool_out)


_F = FLOATS
_SIGNED_NUM = FLOATS | SIGNED
_CMP = NUMERIC | {DType.BOOL}

ELEMENTWISE: dict[str, Rule] = {
    "Identity": _rule(lambda a, t, at: a[0], ct.ALL),
    "Neg": _rule(lambda a, t, at: f"(-({a[0]}))", _SIGNED_NUM),
    "Abs": _rule(lambda a, t, at: a[0] if t in UNSIGNED else
                 f"(({a[0]}) < 0 ? -({a[0]}) : ({a[0]}))", NUMERIC),
    "Sign": _rule(lambda a, t, at: f"(({a[0]}) > 0 ? {_lit(1, t)} : {_lit(0, t)})"
                  if t in UNSIGNED else f"(({a[0]}) > 0 ? {_lit(1, t)} : (({a[0]}) < 0 ? "
                  f"{_lit(-1, t)} : ({a[0]})))", NUMERIC),
    "Exp": _rule(_f("exp")), "Log": _rule(_f("log")), "Sqrt": _rule(_f("sqrt")),
    "Erf": _rule(_f("erf")), "Sin": _rule(_f("sin")), "Cos": _rule(_f("cos")),
    "Tan": _rule(_f("tan")), "Asin": _rule(_f("asin")), "Acos": _rule(_f("acos")),
    "Atan": _rule(_f("atan")), "Sinh": _rule(_f("sinh")), "Cosh": _rule(_f("cosh")),
    "Asinh": _rule(_f("asinh")), "Acosh": _rule(_f("acosh")), "Atanh": _rule(_f("atanh")),
    "Tanh": _rule(_f("tanh")), "Floor": _rule(_f("floor")), "Ceil": _rule(_f("ceil")),
    "Round": _rule(_f("rint")),     # half to even, like NumPy
    "Reciprocal": _rule(lambda a, t, at: f"({_lit(1, t)} / ({a[0]}))"),
    "Sigmoid": _rule(lambda a, t, at:
                     f"({_lit(1, t)} / ({_lit(1, t)} + {ct.math_fn('exp', t)}(-({a[0]}))))"),
    "Relu": _rule(lambda a, t, at: f"(({a[0]}) < 0 ? {_lit(0, t)} : ({a[0]}))", _SIGNED_NUM),
    "LeakyRelu": _rule(lambda a, t, at:
                       f"(({a[0]}) < 0 ? {_lit(at.get('alpha', 0.01), t)} * ({a[0]}) : ({a[0]}))"),
    "Elu": _rule(lambda a, t, at: f"(({a[0]}) < 0 ? {_lit(at.get('alpha', 1.0), t)} * "
                 f"{ct.math_fn('expm1', t)}({a[0]}) : ({a[0]}))"),
    "Celu": _rule(lambda a, t, at: f"(({a[0]}) < 0 ? {_lit(at.get('alpha', 1.0), t)} * "
                  f"{ct.math_fn('expm1', t)}(({a[0]}) / {_lit(at.get('alpha', 1.0), t)}) "
                  f": ({a[0]}))"),
    "Selu": _rule(lambda a, t, at: f"({_lit(at.get('gamma', 1.0507009873554805), t)} * "
                  f"(({a[0]}) <= 0 ? {_lit(at.get('alpha', 1.6732632423543772), t)} * "
                  f"{ct.math_fn('expm1', t)}({a[0]}) : ({a[0]})))"),
    "ThresholdedRelu": _rule(lambda a, t, at:
                             f"(({a[0]}) > {_lit(at.get('alpha', 1.0), t)} ? ({a[0]}) : "
                             f"{_lit(0, t)})"),
    "HardSigmoid": _rule(lambda a, t, at: _clip(
        [f"({_lit(at.get('alpha', 0.2), t)} * ({a[0]}) + {_lit(at.get('beta', 0.5), t)})"],
        t, {"min": 0.0, "max": 1.0})),
    "HardSwish": _rule(lambda a, t, at: f"(({a[0]}) * " + _clip(
        [f"({_lit(1 / 6, t)} * ({a[0]}) + {_lit(0.5, t)})"], t, {"min": 0.0, "max": 1.0}) + ")"),
    "Softplus": _rule(_softplus),
    "Softsign": _rule(lambda a, t, at:
                      f"(({a[0]}) / ({_lit(1, t)} + {ct.math_fn('fabs', t)}({a[0]})))"),
    "Mish": _rule(lambda a, t, at: f"(({a[0]}) * {ct.math_fn('tanh', t)}"
                  f"({_softplus(a, t, at)}))"),
    "Gelu": _rule(_gelu),
    "Swish": _rule(lambda a, t, at: f"(({a[0]}) / ({_lit(1, t)} + {ct.math_fn('exp', t)}"
                   f"(-{_lit(at.get('alpha', 1.0), t)} * ({a[0]}))))"),
    "Shrink": _rule(lambda a, t, at: f"(({a[0]}) < -{_lit(at.get('lambd', 0.5), t)} ? ({a[0]}) + "
                    f"{_lit(at.get('bias', 0.0), t)} : (({a[0]}) > {_lit(at.get('lambd', 0.5), t)}"
                    f" ? ({a[0]}) - {_lit(at.get('bias', 0.0), t)} : {_lit(0, t)}))"),
    "IsNaN": _rule(lambda a, t, at: f"(({a[0]}) != ({a[0]}))", bool_out=True),
    "IsInf": _rule(_isinf, bool_out=True),
    "Not": _rule(lambda a, t, at: f"(!({a[0]}))", {DType.BOOL}),
    "BitwiseNot": _rule(lambda a, t, at: f"(({ct.CTYPES[t].compute})(~({a[0]})))", INTS),
    "Clip": _rule(_clip, NUMERIC, arity=3),
    "Add": _rule(lambda a, t, at: f"(({a[0]}) + ({a[1]}))", NUMERIC, 2),
    "Sub": _rule(lambda a, t, at: f"(({a[0]}) - ({a[1]}))", NUMERIC, 2),
    "Mul": _rule(lambda a, t, at: f"(({a[0]}) * ({a[1]}))", NUMERIC, 2),
    "Div": _rule(_div, NUMERIC, 2),
    "Pow": _rule(_pow, NUMERIC, 2),
    "Mod": _rule(_mod, NUMERIC, 2),
    "PRelu": _rule(lambda a, t, at: f"(({a[0]}) < 0 ? ({a[1]}) * ({a[0]}) : ({a[0]}))",
                   _SIGNED_NUM, 2),
    "BitShift": _rule(lambda a, t, at: f"(({a[0]}) "
                      f"{'<<' if at.get('direction') == 'LEFT' else '>>'} ({a[1]}))", UNSIGNED, 2),
    "BitwiseAnd": _rule(lambda a, t, at: f"(({a[0]}) & ({a[1]}))", INTS, 2),
    "BitwiseOr": _rule(lambda a, t, at: f"(({a[0]}) | ({a[1]}))", INTS, 2),
    "BitwiseXor": _rule(lambda a, t, at: f"(({a[0]}) ^ ({a[1]}))", INTS, 2),
    "And": _rule(lambda a, t, at: f"(({a[0]}) && ({a[1]}))", {DType.BOOL}, 2),
    "Or": _rule(lambda a, t, at: f"(({a[0]}) || ({a[1]}))", {DType.BOOL}, 2),
    "Xor": _rule(lambda a, t, at: f"(({a[0]}) != ({a[1]}))", {DType.BOOL}, 2),
    "Equal": _rule(lambda a, t, at: f"(({a[0]}) == ({a[1]}))", _CMP, 2, True),
    "Less": _rule(lambda a, t, at: f"(({a[0]}) < ({a[1]}))", NUMERIC, 2, True),
    "Greater": _rule(lambda a, t, at: f"(({a[0]}) > ({a[1]}))", NUMERIC, 2, True),
    "LessOrEqual": _rule(lambda a, t, at: f"(({a[0]}) <= ({a[1]}))", NUMERIC, 2, True),
    "GreaterOrEqual": _rule(lambda a, t, at: f"(({a[0]}) >= ({a[1]}))", NUMERIC, 2, True),
    "Sum": _rule(_fold(lambda x, y, t: f"(({x}) + ({y}))"), NUMERIC, None),
    "Mean": _rule(lambda a, t, at: f"({_fold(lambda x, y, t: f'(({x}) + ({y}))')(a, t, at)}"
                  f" / {_lit(len(a), t)})", FLOATS, None),
    "Max": _rule(_fold(_max), NUMERIC, None),
    "Min": _rule(_fold(_min), NUMERIC, None),
}
# Cast and Where are elementwise too but type-changing; MapBuilder.apply handles them.
SPECIAL = ("Cast", "Where")


def supports(op_type: str, in_dtypes: Sequence[DType | None], out_dtypes: Sequence[DType]) -> bool:
    """Whether ``op_type`` on these dtypes renders as elementwise C."""
    if any(t is not None and t not in ct.CTYPES for t in (*in_dtypes, *out_dtypes)):
        return False
    if op_type == "Cast":
        return True
    if op_type == "Where":
        return in_dtypes[0] is DType.BOOL
    rule = ELEMENTWISE.get(op_type)
    return rule is not None and in_dtypes[0] in rule.dtypes and (
        rule.arity is None or len(in_dtypes) <= rule.arity)


@dataclass
class MapBuilder:
    """Statements of one element's computation; values are named ``v<n>`` in compute types."""

    shape: tuple[int, ...]
    lines: list[str] = field(default_factory=list)
    params: dict[str, DType] = field(default_factory=dict)   # arg name -> storage dtype
    outputs: list[tuple[str, str, DType]] = field(default_factory=list)

    def _new(self, expr: str, dtype: DType) -> str:
        name = f"v{len(self.lines)}"
        self.lines.append(f"const {ct.CTYPES[dtype].compute} {name} = {expr};")
        return name

    def _new_typed(self, expr: str, c_type: str) -> str:
        name = f"v{len(self.lines)}"
        self.lines.append(f"const {c_type} {name} = {expr};")
        return name

    def load(self, arg: str, dtype: DType, access: Access, *, index: str = "i",
             shape: tuple[int, ...] | None = None) -> str:
        """Element of ``arg`` for position ``index`` of ``shape`` (default: the map's shape)."""
        self.params[arg] = dtype
        offset = render_offset(index, self.shape if shape is None else shape, access)
        return self._new(ct.load(f"{arg}[{offset}]", dtype), dtype)

    def apply(self, op_type: str, attrs: dict, args: list, out_dtype: DType) -> str:
        """``args``: ``(var, dtype)`` or ``None`` for a missing optional input."""
        if op_type == "Cast":
            return self._new(ct.convert(args[0][0], args[0][1], out_dtype), out_dtype)
        if op_type == "Where":
            (c, _), (x, tx), (y, ty) = args
            return self._new(f"(({c}) ? ({ct.convert(x, tx, out_dtype)}) : "
                             f"({ct.convert(y, ty, out_dtype)}))", out_dtype)
        rule = ELEMENTWISE[op_type]
        t = args[0][1]
        # Mixed-type operands (Pow's exponent, PRelu's slope) compute in the first input's type.
        vals = [None if a is None else ct.convert(a[0], a[1], t) if a[1] != t else a[0]
                for a in args]
        expr = rule.expr(vals, t, attrs)
        if rule.bool_out:
            return self._new(expr, DType.BOOL)
        return self._new(ct.convert(expr, t, out_dtype) if out_dtype != t else expr, out_dtype)

    def store(self, arg: str, var: str, dtype: DType) -> None:
        self.outputs.append((arg, var, dtype))

    def render(self) -> tuple[str, int]:
        """The kernel source (named ``PLACEHOLDER``) and its element count."""
        n = numel(self.shape)
        params = [f"const {ct.CTYPES[t].storage}* __restrict__ {a}"
                  for a, t in sorted(self.params.items(), key=lambda p: _arg_order(p[0]))]
        params += [f"{ct.CTYPES[t].storage}* __restrict__ {a}" for a, _, t in self.outputs]
        body = "\n    ".join(self.lines + [f"{a}[i] = {ct.store(v, t)};"
                                           for a, v, t in self.outputs])
        src = (f"{ct.PRELUDE}\nextern \"C\" __global__ void __launch_bounds__({MAP_THREADS}) "
               f"{PLACEHOLDER}({', '.join(params)}) {{\n"
               f"  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < {n}LL;"
               f" i += (long long)gridDim.x * blockDim.x) {{\n    {body}\n  }}\n}}\n")
        return src, n

    def args(self) -> tuple[str, ...]:
        ins = sorted(self.params, key=_arg_order)
        return tuple(ins) + tuple(a for a, _, _ in self.outputs)


MAP_THREADS = 256
MAX_BLOCKS = 65536


def map_grid(n: int) -> int:
    """Blocks for a grid-stride loop over ``n`` elements."""
    return max(1, min((n + MAP_THREADS - 1) // MAP_THREADS, MAX_BLOCKS))


def _arg_order(arg: str) -> tuple[int, int]:
    kind = {"in": 0, "out": 1, "scratch": 2}[arg.rstrip("0123456789")]
    return kind, int(arg[len(arg.rstrip("0123456789")):])
