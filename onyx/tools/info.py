"""``onyx info MODEL``: what a model is made of. IR and opset versions, producer, inputs and
outputs with dtypes and shapes, parameter count and bytes, a histogram of its ops, and which
backend runs each op (the NumPy backend's kernel registry; the CUDA backend's kernel plan)."""

from __future__ import annotations

import argparse
import os
from collections import Counter

from onyx import ir
from onyx.backends.numpy.registry import lookup
from onyx.tools.table import format_table, print_json

EXAMPLE = "onyx info model.onnx"


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="summarize a model: opsets, inputs, parameters, ops",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"examples:\n  {EXAMPLE}\n  onyx info model.onnx --json")
    p.add_argument("model", help="path of an .onnx file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=main)


def _io(values: list[ir.Value]) -> list[dict]:
    out = []
    for v in values:
        t = v.type
        if isinstance(t, ir.TensorType):
            shape = None if t.shape is None else [d if d is not None else "?" for d in t.shape]
            out.append({"name": v.name, "dtype": _dtype_name(t.dtype), "shape": shape})
        else:
            out.append({"name": v.name, "dtype": str(t) if t is not None else "?", "shape": None})
    return out


def _dtype_name(dtype: ir.DType) -> str:
    try:
        return str(dtype.numpy)  # float32, bfloat16, ... as NumPy and ml_dtypes spell them
    except Exception:  # a dtype with no NumPy counterpart
        return dtype.name.lower()


def _parameters(graph: ir.Graph) -> dict:
    count = nbytes = 0
    for v in graph.initializers.values():
        n = 1
        for d in v.const.shape:
            n *= d
        count += n
        nbytes += (n * v.const.dtype.itemsize_bits + 7) // 8
    return {"tensors": len(graph.initializers), "count": count, "bytes": nbytes}


def numpy_support(model: ir.Model, domain: str, op_type: str) -> str:
    """``kernel`` when the NumPy backend has one at the model's opset, ``function`` for a
    model-local function (run from its body), else ``missing``."""
    if any(k[:2] == (domain, op_type) for k in model.functions):
        return "function"
    if domain in ("", "ai.onnx"):
        opset = model.opset
    else:
        opset = model.opset_imports.get(domain, 1)
    return "kernel" if lookup(op_type, domain, opset) is not None else "missing"


def summarize(model: ir.Model, path: str = "") -> dict:
    """Everything ``onyx info`` prints, as plain data."""
    from onyx.tools.cuda_plan import cuda_support

    histogram = Counter((n.domain, n.op_type) for n in model.graph.all_nodes())
    cuda = cuda_support(model)
    ops = []
    for (domain, op_type), count in sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0])):
        ops.append({"op": op_type, "domain": domain, "count": count,
                    "numpy": numpy_support(model, domain, op_type),
                    "cuda": cuda.get((domain, op_type)) if cuda is not None else None})
    return {
        "path": path,
        "ir_version": model.ir_version,
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "opsets": {d or "ai.onnx": v for d, v in sorted(model.opset_imports.items())},
        "inputs": _io([v for v in model.graph.inputs if v.const is None]),
        "outputs": _io(model.graph.outputs),
        "parameters": _parameters(model.graph),
        "nodes": sum(histogram.values()),
        "functions": [f"{d}::{n}" for d, n, _ in model.functions],
        "ops": ops,
        "cuda_planned": cuda is not None,
    }


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _shape(shape) -> str:
    return "?" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def _print(info: dict) -> None:
    opsets = ", ".join(f"{d} {v}" for d, v in info["opsets"].items())
    p = info["parameters"]
    print(f"model       {info['path']}")
    print(f"ir_version  {info['ir_version']}    opsets  {opsets}")
    print(f"producer    {info['producer'] or '-'}")
    print(f"parameters  {p['count']:,} in {p['tensors']} initializers "
          f"({_human_bytes(p['bytes'])})")
    print(f"nodes       {info['nodes']}" + (f" ({len(info['functions'])} local functions)"
                                            if info["functions"] else ""))
    for title in ("inputs", "outputs"):
        print(f"\n{title}")
        rows = [[v["name"], v["dtype"], _shape(v["shape"])] for v in info[title]]
        print(format_table(["name", "dtype", "shape"], rows))
    print("\nops")
    headers = ["op", "count", "numpy"] + (["cuda"] if info["cuda_planned"] else [])
    rows = []
    for o in info["ops"]:
        name = f"{o['domain']}::{o['op']}" if o["domain"] else o["op"]
        row = [name, o["count"], o["numpy"]]
        if info["cuda_planned"]:
            row.append(o["cuda"] or "missing")
        rows.append(row)
    print(format_table(headers, rows, colours={2: _status_colour, 3: _status_colour}))


def _status_colour(word: str) -> str:
    return "red" if word == "missing" else "green" if word in ("kernel", "function") else "yellow"


def main(args) -> int:
    model = ir.load(args.model)
    info = summarize(model, os.path.basename(args.model))
    if args.json:
        print_json(info)
    else:
        _print(info)
    return 0
