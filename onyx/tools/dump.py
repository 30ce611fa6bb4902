"""``onyx dump MODEL``: the IR as readable text, or as Graphviz dot."""

from __future__ import annotations

import argparse

from onyx import ir


def add_parser(sub) -> None:
    p = sub.add_parser("dump", help="print a model's IR as text or Graphviz dot",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  onyx dump model.onnx\n"
                              "  onyx dump model.onnx --format dot > model.dot")
    p.add_argument("model", help="path of an .onnx file")
    p.add_argument("--format", choices=("text", "dot"), default="text")
    p.set_defaults(func=main)


def main(args) -> int:
    model = ir.load(args.model)
    if args.format == "dot":
        print(ir.to_dot(model.graph), end="")
    else:
        print(ir.format_model(model), end="")
    return 0
