"""``onyx dump MODEL``: the IR as readable text or Graphviz dot; with ``--after-each``, the IR
after every pass of the optimizing pipeline, each with its timing and what it changed."""

from __future__ import annotations

import argparse

from onyx import ir


def add_parser(sub) -> None:
    p = sub.add_parser("dump", help="print a model's IR as text or Graphviz dot",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  onyx dump model.onnx\n"
                              "  onyx dump model.onnx --format dot > model.dot\n"
                              "  onyx dump model.onnx --after-each --level 2")
    p.add_argument("model", help="path of an .onnx file")
    p.add_argument("--format", choices=("text", "dot"), default="text")
    p.add_argument("--after-each", action="store_true",
                   help="run the optimizing pipeline and print the IR after every pass")
    p.add_argument("--level", type=int, default=2, choices=(0, 1, 2),
                   help="pipeline level for --after-each (default 2)")
    p.set_defaults(func=main)


def _render(model: ir.Model, fmt: str) -> str:
    return ir.to_dot(model.graph) if fmt == "dot" else ir.format_model(model)


def main(args) -> int:
    model = ir.load(args.model)
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
