"""Tiled GEMM: MatMul (batched, broadcasting, 1-D operands) and Gemm (trans, alpha, beta, C).

One template, parameterised by C snippets: ``load_a(b, m, k)``, ``load_b(b, k, n)`` (compute
typed element of batch ``b``; only called in bounds) and an epilogue storing ``acc`` at
``(b, m, n)``. Conv reuses it as an implicit GEMM. Two bodies: a SIMT kernel (64x64 tile,
4x4 per thread, any numeric type) and a WMMA tensor-core kernel (fp16/bf16 in, fp32
accumulate; TF32 for float32 when allowed) for sm_80 and newer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.dtypes import FLOATS, NUMERIC
from onyx.backends.cuda.codegen.indexing import (
    Access,
    broadcast_access,
    broadcast_shapes,
    render_offset,
)
from onyx.backends.cuda.codegen.kernel import PLACEHOLDER, NodePlan
from onyx.backends.cuda.codegen.registry import NodeContext, planner
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError

TILE = 64
BIG = 128     # SIMT tile for large products: 8x8 outputs per thread, double-buffered


@dataclass(frozen=True)
class GemmSpec:
    batch: int
    m: int
    n: int
    k: int
    load_a: Callable[[str, str, str], str]
    load_b: Callable[[str, str, str], str]
    epilogue: Callable[[str, str, str, str], list[str]]   # (b, m, n, acc) -> statements
    params: tuple[str, ...]        # C parameter declarations, in args order
    args: tuple[str, ...]
    acc: str                       # accumulator C type
    mode: str = "simt"             # "simt" | "wmma_f16" | "wmma_bf16" | "tf32"
    helpers: str = ""              # device functions the loaders call (named after the kernel)


def choose_mode(ctx: NodeContext, dtype: DType) -> str:
    if ctx.sm >= 80 or (dtype is DType.FLOAT16 and ctx.sm >= 70):
        if dtype is DType.FLOAT16:
            return "wmma_f16"
        if dtype is DType.BFLOAT16:
            return "wmma_bf16"
        if dtype is DType.FLOAT and ctx.allow_tf32:
            return "tf32"
    return "simt"


def render_gemm(spec: GemmSpec) -> tuple[str, tuple[int, int, int], int]:
    """Source (named ``PLACEHOLDER``), grid and threads per block."""
    big = spec.mode == "simt" and spec.m >= BIG and spec.n >= BIG
    tile = BIG if big else TILE
    grid = ((spec.n + tile - 1) // tile, (spec.m + tile - 1) // tile, spec.batch)
    if grid[1] > 65535 or grid[2] > 65535:
        raise ShapeError(f"GEMM grid {grid} too large for one launch")
    body = (_simt_big(spec) if big else _simt(spec)) if spec.mode == "simt" else _wmma(spec)
    head = ct.PRELUDE + ("#include <mma.h>\n" if spec.mode != "simt" else "")
    threads = 256 if spec.mode == "simt" else 128
    src = (f"{head}\n{spec.helpers}\nextern \"C\" __global__ void __launch_bounds__({threads}) "
           f"{PLACEHOLDER}({', '.join(spec.params)}) {{\n{body}}}\n")
    return src, grid, threads


def _tile_loads(spec: GemmSpec, bk: int, a_store: str, b_store: str, threads: int,
                zero: str) -> list[str]:
    return [
        f"  for (int e = threadIdx.x; e < {TILE * bk}; e += {threads}) {{",
        f"    const int mm = e / {bk}, kk = e % {bk};",
        "    const long long m = m0 + mm, k = k0 + kk;",
        f"    {a_store.format(r='mm', c='kk')} = (m < {spec.m}LL && k < {spec.k}LL) ? "
        f"{spec.load_a('b', 'm', 'k')} : {zero};",
        "  }",
        f"  for (int e = threadIdx.x; e < {TILE * bk}; e += {threads}) {{",
        f"    const int kk = e / {TILE}, nn = e % {TILE};",
        "    const long long k = k0 + kk, n = n0 + nn;",
        f"    {b_store.format(r='kk', c='nn')} = (n < {spec.n}LL && k < {spec.k}LL) ? "
        f"{spec.load_b('b', 'k', 'n')} : {zero};",
        "  }",
    ]


def _head() -> list[str]:
    return ["  const long long b = blockIdx.z;",
            f"  const long long m0 = (long long)blockIdx.y * {TILE}, "
            f"n0 = (long long)blockIdx.x * {TILE};"]


def _simt(spec: GemmSpec) -> str:
    acc, bk = spec.acc, 16
    lines = _head() + [
        f"  __shared__ {acc} As[{bk}][{TILE + 1}];",
        f"  __shared__ {acc} Bs[{bk}][{TILE}];",
        "  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;",
        f"  {acc} c[4][4];",
        f"  for (int i = 0; i < 4; ++i) for (int j = 0; j < 4; ++j) c[i][j] = ({acc})0;",
        f"  for (long long k0 = 0; k0 < {spec.k}LL; k0 += {bk}) {{",
        *_tile_loads(spec, bk, "As[{c}][{r}]", "Bs[{r}][{c}]", 256, f"({acc})0"),
        "    __syncthreads();",
        "    #pragma unroll",
        f"    for (int kk = 0; kk < {bk}; ++kk) {{",
        f"      {acc} a[4], bv[4];",
        "      for (int i = 0; i < 4; ++i) { a[i] = As[kk][ty + 16 * i]; "
        "bv[i] = Bs[kk][tx + 16 * i]; }",
        "      for (int i = 0; i < 4; ++i) for (int j = 0; j < 4; ++j) c[i][j] += a[i] * bv[j];",
        "    }",
        "    __syncthreads();",
        "  }",
        "  for (int i = 0; i < 4; ++i) for (int j = 0; j < 4; ++j) {",
        "    const long long m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;",
        f"    if (m < {spec.m}LL && n < {spec.n}LL) {{",
        *["      " + s for s in spec.epilogue("b", "m", "n", "c[i][j]")],
        "    }",
        "  }",
    ]
    return "\n".join(lines) + "\n"


def _big_loads(spec: GemmSpec, k0: str) -> list[str]:
    """Four A and four B elements of the K-slice at ``k0`` into registers ``ra``/``rb``."""
    return [
        "    for (int j = 0; j < 4; ++j) {",
        "      const int e = threadIdx.x + 256 * j;",
        f"      const long long m = m0 + e / 8, k = {k0} + e % 8;",
        f"      ra[j] = (m < {spec.m}LL && k < {spec.k}LL) ? {spec.load_a('b', 'm', 'k')} : "
        f"({spec.acc})0;",
        f"      const long long kb = {k0} + e / {BIG}, n = n0 + e % {BIG};",
        f"      rb[j] = (n < {spec.n}LL && kb < {spec.k}LL) ? {spec.load_b('b', 'kb', 'n')} : "
        f"({spec.acc})0;",
        "    }",
    ]


def _big_stash(buf: str) -> list[str]:
    return ["    for (int j = 0; j < 4; ++j) {",
            "      const int e = threadIdx.x + 256 * j;",
            f"      As[{buf}][e % 8][e / 8] = ra[j]; Bs[{buf}][e / {BIG}][e % {BIG}] = rb[j];",
            "    }"]


def _simt_big(spec: GemmSpec) -> str:
    """128x128 tile, K-slices of 8 double-buffered in shared memory with the next slice
    prefetched into registers while the current one is multiplied."""
    acc = spec.acc
    lines = [
        "  const long long b = blockIdx.z;",
        f"  const long long m0 = (long long)blockIdx.y * {BIG}, "
        f"n0 = (long long)blockIdx.x * {BIG};",
        f"  __shared__ __align__(16) {acc} As[2][8][{BIG}];",
        f"  __shared__ __align__(16) {acc} Bs[2][8][{BIG}];",
        "  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;",
        f"  {acc} c[8][8], ra[4], rb[4];",
        f"  for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) c[i][j] = ({acc})0;",
        "  {", *_big_loads(spec, "0LL"), *_big_stash("0"), "  }",
        "  __syncthreads();",
        "  int buf = 0;",
        f"  for (long long k0 = 0; k0 < {spec.k}LL; k0 += 8) {{",
        f"    const bool more = k0 + 8 < {spec.k}LL;",
        "    if (more) {", *["  " + ln for ln in _big_loads(spec, "(k0 + 8)")], "    }",
        "    #pragma unroll",
        "    for (int kk = 0; kk < 8; ++kk) {",
        f"      {acc} a[8], bv[8];",
        "      for (int i = 0; i < 4; ++i) {",
        "        a[i] = As[buf][kk][ty * 4 + i]; a[i + 4] = As[buf][kk][64 + ty * 4 + i];",
        "        bv[i] = Bs[buf][kk][tx * 4 + i]; bv[i + 4] = Bs[buf][kk][64 + tx * 4 + i];",
        "      }",
        "      for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) c[i][j] += a[i] * bv[j];",
        "    }",
        "    if (more) {", *["  " + ln for ln in _big_stash("buf ^ 1")], "    }",
        "    __syncthreads();",
        "    buf ^= 1;",
        "  }",
        "  for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) {",
        "    const long long m = m0 + (i < 4 ? ty * 4 + i : 60 + ty * 4 + i), "
        "n = n0 + (j < 4 ? tx * 4 + j : 60 + tx * 4 + j);",
        f"    if (m < {spec.m}LL && n < {spec.n}LL) {{",
        *["      " + s for s in spec.epilogue("b", "m", "n", "c[i][j]")],
        "    }",
        "  }",
    ]
    return "\n".join(lines) + "\n"


_FRAG = {"wmma_f16": ("__half", "__float2half", 16, "__half"),
         "wmma_bf16": ("__nv_bfloat16", "__float2bfloat16", 16, "__nv_bfloat16"),
         "tf32": ("float", "wmma::__float_to_tf32", 8, "wmma::precision::tf32")}


def _wmma(spec: GemmSpec) -> str:
    elem, _, fk, prec = _FRAG[spec.mode]
    bk, lda, ldb, ldc = 16, 16 + (4 if spec.mode == "tf32" else 8), TILE + 8, TILE + 4
    frag_a = f"wmma::fragment<wmma::matrix_a, 16, 16, {fk}, {prec}, wmma::row_major>"
    frag_b = f"wmma::fragment<wmma::matrix_b, 16, 16, {fk}, {prec}, wmma::row_major>"
    lines = _head() + [
        "  using namespace nvcuda;",
        f"  __shared__ __align__(32) {elem} As[{TILE} * {lda}];",
        f"  __shared__ __align__(32) {elem} Bs[{bk} * {ldb}];",
        f"  __shared__ __align__(32) float Cs[{TILE} * {ldc}];",
        "  const int warp = threadIdx.x / 32, wm = (warp / 2) * 32, wn = (warp % 2) * 32;",
        f"  wmma::fragment<wmma::accumulator, 16, 16, {fk}, float> c[2][2];",
        "  for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j) wmma::fill_fragment(c[i][j], "
        "0.0f);",
        f"  for (long long k0 = 0; k0 < {spec.k}LL; k0 += {bk}) {{",
        *_tile_loads(spec, bk, f"As[{{r}} * {lda} + {{c}}]", f"Bs[{{r}} * {ldb} + {{c}}]", 128,
                     {"wmma_f16": "__float2half(0.0f)",
                      "wmma_bf16": "__float2bfloat16(0.0f)"}.get(spec.mode, "0.0f")),
        "    __syncthreads();",
        f"    for (int kk = 0; kk < {bk}; kk += {fk}) {{",
        f"      {frag_a} a[2];",
        f"      {frag_b} bf[2];",
        "      for (int i = 0; i < 2; ++i) {",
        f"        wmma::load_matrix_sync(a[i], As + (wm + 16 * i) * {lda} + kk, {lda});",
        f"        wmma::load_matrix_sync(bf[i], Bs + kk * {ldb} + wn + 16 * i, {ldb});",
    ]
    if spec.mode == "tf32":
        lines += ["        for (int t = 0; t < a[i].num_elements; ++t) "
                  "a[i].x[t] = wmma::__float_to_tf32(a[i].x[t]);",
                  "        for (int t = 0; t < bf[i].num_elements; ++t) "
                  "bf[i].x[t] = wmma::__float_to_tf32(bf[i].x[t]);"]
    lines += [
        "      }",
        "      for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j) "
        "wmma::mma_sync(c[i][j], a[i], bf[j], c[i][j]);",
        "    }",
        "    __syncthreads();",
        "  }",
        "  for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j)",
        f"    wmma::store_matrix_sync(Cs + (wm + 16 * i) * {ldc} + wn + 16 * j, c[i][j], {ldc}, "
        "wmma::mem_row_major);",
        "  __syncthreads();",
    ]
    return "\n".join(lines + _wmma_epilogue(spec, ldc)) + "\n"


def _wmma_epilogue(spec: GemmSpec, ldc: int) -> list[str]:
    """Accumulators went through shared memory, so the epilogue sees plain (m, n) floats."""
    return [
        f"  for (int e = threadIdx.x; e < {TILE * TILE}; e += 128) {{",
        f"    const long long m = m0 + e / {TILE}, n = n0 + e % {TILE};",
        f"    if (m < {spec.m}LL && n < {spec.n}LL) {{",
        f"      const float acc = Cs[(e / {TILE}) * {ldc} + e % {TILE}];",
        *["      " + s for s in spec.epilogue("b", "m", "n", "acc")],
        "    }",
        "  }",
    ]


def _elem(arg: str, dtype: DType, offset: str, to: str) -> str:
    v = ct.load(f"{arg}[{offset}]", dtype)
    return v if ct.CTYPES[dtype].compute == to else f"(({to})({v}))"


def _store_elem(dtype: DType, mode: str) -> str:
    """What the tile holds: tf32/wmma modes store the fragment element type."""
    return {"wmma_f16": "__float2half", "wmma_bf16": "__float2bfloat16"}.get(mode, "")


def acc_for(dtype: DType) -> str | None:
    if dtype in FLOATS:
        return "double" if dtype is DType.DOUBLE else "float"
    return "long long" if dtype in NUMERIC else None


def _batch_offset(shape: tuple[int, ...], batch: tuple[int, ...], mat: int) -> str:
    """Offset of batch ``b`` (contiguous over ``batch``) into an operand of batch ``shape``."""
    acc = broadcast_access(shape, batch)
    return render_offset("b", batch, Access(tuple(s * mat for s in acc.strides)))


@planner("MatMul")
def plan_matmul(ctx: NodeContext) -> NodePlan | None:
    (sa, sb), dt = ctx.in_shapes[:2], ctx.in_dtypes[0]
    if ctx.in_dtypes[1] != dt or acc_for(dt) is None or ctx.out_dtypes[0] != dt:
        return None
    if not sa or not sb:
        return None
    a = (1, *sa) if len(sa) == 1 else sa
    b = (*sb, 1) if len(sb) == 1 else sb
    if a[-1] != b[-2]:
        raise ShapeError(f"MatMul: inner dimensions of {list(sa)} and {list(sb)} differ")
    batch = broadcast_shapes(a[:-2], b[:-2])
    m, k, n = a[-2], a[-1], b[-1]
    bo_a, bo_b = _batch_offset(a[:-2], batch, m * k), _batch_offset(b[:-2], batch, k * n)
    nb = 1
    for d in batch:
        nb *= d
    mode = choose_mode(ctx, dt)
    return _gemm_plan(ctx, dt, mode, nb, m, n, k,
                      lambda b_, m_, k_: f"{bo_a} + {m_} * {k}LL + {k_}",
                      lambda b_, k_, n_: f"{bo_b} + {k_} * {n}LL + {n_}", None)


def _gemm_plan(ctx, dt, mode, nb, m, n, k, off_a, off_b, bias) -> NodePlan:
    acc = "float" if mode != "simt" else acc_for(dt)
    tile_t = acc if mode in ("simt", "tf32") else None
    conv = _store_elem(dt, mode)

    def load(arg, off):
        def fn(b_, r, c):
            v = _elem(arg, dt, off(b_, r, c), "float" if mode != "simt" else acc)
            return f"{conv}({v})" if conv else v
        return fn
    del tile_t
    out_t = ctx.out_dtypes[0]
    alpha = ctx.attr("alpha", 1.0) if ctx.node.op_type == "Gemm" else 1.0

    def epilogue(b_, m_, n_, a_):
        y = a_ if alpha == 1.0 else f"({ct.literal(alpha, DType.DOUBLE)} * {a_})"
        if bias is not None:
            y = f"({y} + {bias(m_, n_)})"
        return [f"out0[(long long){b_} * {m * n}LL + {m_} * {n}LL + {n_}] = "
                f"{ct.store(y, out_t)};"]
    params = [f"const {ct.CTYPES[dt].storage}* __restrict__ in0",
              f"const {ct.CTYPES[dt].storage}* __restrict__ in1"]
    args = ["in0", "in1"]
    if bias is not None:
        params.append(f"const {ct.CTYPES[ctx.in_dtypes[2]].storage}* __restrict__ in2")
        args.append("in2")
    params.append(f"{ct.CTYPES[out_t].storage}* __restrict__ out0")
    args.append("out0")
    spec = GemmSpec(nb, m, n, k, load("in0", off_a), load("in1", off_b), epilogue,
                    tuple(params), tuple(args), acc, mode)
    src, grid, threads = render_gemm(spec)
    return NodePlan((ctx.kernel(src, grid=grid, block=threads, args=spec.args,
                                op=f"{ctx.node.op_type}[{mode}]"),))


@planner("Gemm")
def plan_gemm(ctx: NodeContext) -> NodePlan | None:
    sa, sb, dt = ctx.in_shapes[0], ctx.in_shapes[1], ctx.in_dtypes[0]
    if acc_for(dt) is None or ctx.in_dtypes[1] != dt or ctx.out_dtypes[0] != dt:
        return None
    if len(sa) != 2 or len(sb) != 2:
        return None
    ta, tb = ctx.attr("transA", 0), ctx.attr("transB", 0)
    m, k = (sa[1], sa[0]) if ta else sa
    k2, n = (sb[1], sb[0]) if tb else sb
    if k != k2:
        raise ShapeError(f"Gemm: inner dimensions of {list(sa)} and {list(sb)} differ "
                         f"(transA={ta}, transB={tb})")
    bias = None
    beta = ctx.attr("beta", 1.0)
    if ctx.has_input(2) and beta != 0.0:
        acc_c = broadcast_access(ctx.in_shapes[2], (m, n))
        sm_, sn_ = acc_c.strides
        cdt = ctx.in_dtypes[2]

        def bias(m_, n_):
            v = _elem("in2", cdt, f"{m_} * {sm_}LL + {n_} * {sn_}LL", "double")
            return v if beta == 1.0 else f"{ct.literal(beta, DType.DOUBLE)} * {v}"
    mode = choose_mode(ctx, dt)
    return _gemm_plan(ctx, dt, mode, 1, m, n, k,
                      (lambda b_, m_, k_: f"{k_} * {m}LL + {m_}") if ta
                      else (lambda b_, m_, k_: f"{m_} * {k}LL + {k_}"),
                      (lambda b_, k_, n_: f"{n_} * {k}LL + {k_}") if tb
                      else (lambda b_, k_, n_: f"{k_} * {n}LL + {n_}"), bias)
