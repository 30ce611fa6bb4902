"""``onyx optimize IN OUT [--level N]``: run the pass pipeline and save the optimized model,
printing what each pass did (time, nodes removed/added/changed)."""

from __future__ import annotations

import argparse
import dataclasses

from onyx import ir
from onyx.passes import PASSES, optimize
from onyx.tools.table import print_json


def add_parser(sub) -> None:
    p = sub.add_parser("optimize", help="optimize a model with the pass pipeline",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="passes, in order: " + ", ".join(PASSES) + "\n\nexamples:\n"
                              "  onyx optimize model.onnx model.opt.onnx\n"
                              "  onyx optimize model.onnx out.onnx --level 1 --notes")
    p.add_argument("input", help="path of an .onnx file")
    p.add_argument("output", help="where to write the optimized .onnx file")
    p.add_argument("--level", type=int, choices=(0, 1, 2), default=2,
                   help="0: nothing, 1: cleanup and folding, 2: also fusions (default)")
    p.add_argument("--notes", action="store_true",
                   help="also print why rewrites were skipped")
    p.add_argument("--json", action="store_true", help="print the pass records as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    model = ir.load(args.input)
    optimized, report = optimize(model, level=args.level)
    ir.save(optimized, args.output)
    if args.json:
        print_json({"output": args.output, "seconds": report.seconds,
                    "passes": [dataclasses.asdict(r) for r in report.records]})
    else:
        print(report.format(notes=args.notes))
    return 0
