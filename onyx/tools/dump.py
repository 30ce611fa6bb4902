"""``onyx dump MODEL``: the IR as readable text or Graphviz dot; with ``--after-each``, the IR
after every pass of the optimizing pipeline, each with its timing and what it changed; with
``--backend cuda``, the CUDA backend's plan: the kernels each node launches and the nodes that
fall back to NumPy (planning only: no GPU needed)."""

from __future__ import annotations

import argparse

from onyx import ir
from onyx.tools.inputs import add_dim_argument, parse_dims
from onyx.tools.table import format_table, print_json


def add_parser(sub) -> None:
    p = sub.add_parser("dump", help="print a model's IR as text or Graphviz dot",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  onyx dump model.onnx\n"
                              "  onyx dump model.onnx --format dot\n"
                              "  onyx dump model.onnx --after-each --level 2\n"
                              "  onyx dump model.onnx --backend cuda --dim batch=8")
    p.add_argument("model", help="path of an .onnx file")
    p.add_argument("--format", choices=("text", "dot"), default="text")
    p.add_argument("--after-each", action="store_true",
                   help="run the optimizing pipeline and print the IR after every pass")
    p.add_argument("--level", type=int, default=2, choices=(0, 1, 2),
                   help="pipeline level for --after-each (default 2)")
    p.add_argument("--backend", choices=("numpy", "cuda"), default="numpy",
                   help="cuda: list the CUDA plan (kernels per node, NumPy fallbacks)")
    add_dim_argument(p, "size of a symbolic dimension for the CUDA plan (default 1)")
    p.add_argument("--json", action="store_true", help="with --backend cuda: the plan as JSON")
    p.set_defaults(func=main)


def _render(model: ir.Model, fmt: str) -> str:
    return ir.to_dot(model.graph) if fmt == "dot" else ir.format_model(model)


def main(args) -> int:
    if args.json and args.backend != "cuda":
        raise ValueError("--json goes with --backend cuda (the IR itself is text or dot)")
    model = ir.load(args.model)
    if args.backend == "cuda":
        return _cuda_plan(model, args)
    if not args.after_each:
        print(_render(model, args.format), end="")
        return 0
    from onyx.passes import optimize

    print(f"=== input ({len(model.graph)} nodes)")
    print(_render(model, args.format), end="")

    def show(p, current, record) -> None:
        print(f"\n=== after {record.summary()}")
        if record.changed:
            print(_render(current, args.format), end="")

    _, report = optimize(model, level=args.level, after_each=show)
    print(f"\n=== pipeline: {len(report.records)} passes, {report.seconds * 1000:.1f} ms")
    return 0


def _cuda_plan(model: ir.Model, args) -> int:
    from onyx.tools.cuda_plan import plan_rows
    rows = plan_rows(model, parse_dims(args.dim))
    if rows is None:
        raise ImportError("this build of onyx has no CUDA code generator "
                          "(onyx.backends.cuda.plan)", name="onyx.backends.cuda.plan")
    if args.json:
        print_json(rows)
        return 0
    table = []
    for r in rows:
        kernels = ", ".join(f"{k['name']} {k['op']} grid{tuple(k['grid'])} "
                            f"block{tuple(k['block'])}" for k in r["kernels"])
        table.append([r["index"], r["node"], r["op"], r["runs_on"], kernels])
    print(format_table(["#", "node", "op", "runs on", "kernels"], table,
                       colours={3: lambda c: "yellow" if c == "numpy" else None}))
    counts = {w: sum(r["runs_on"] == w for r in rows) for w in ("cuda", "view", "numpy")}
    print(f"{len(rows)} nodes: {counts['cuda']} with CUDA kernels "
          f"({sum(len(r['kernels']) for r in rows)} kernels), {counts['view']} views, "
          f"{counts['numpy']} NumPy fallbacks (each a host round trip)")
    return 0
