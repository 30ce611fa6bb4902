"""``onyx run MODEL``: run a model on the NumPy backend and print (or save) its outputs."""

from __future__ import annotations

import argparse

import numpy as np

from onyx import ir
from onyx.tools.inputs import add_input_arguments, inputs_from_args, save_outputs
from onyx.tools.table import print_json


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a model and print or save its outputs",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  onyx run model.onnx -i x=x.npy -o out/\n"
                              "  onyx run model.onnx --random --seed 1 --dim batch=8 --json")
    p.add_argument("model", help="path of an .onnx file")
    add_input_arguments(p, random_flag=True)
    p.add_argument("-o", "--output-dir", help="write each output as NAME.npy into this folder")
    p.add_argument("--json", action="store_true",
                   help="print the outputs as JSON (dtype, shape, values)")
    p.set_defaults(func=main)


def main(args) -> int:
    model = ir.load(args.model)
    feeds = inputs_from_args(model, args, random=args.random)
    import onyx.backend  # prepares like the Backend API does (expands Gradient ops, ...)
    executor = onyx.backend.prepare(model).executor
    outputs = executor.run(feeds)
    if args.output_dir:
        for path in save_outputs(executor.output_names, outputs, args.output_dir):
            print(f"wrote {path}")
        return 0
    if args.json:
        print_json({name: _as_json(value) for name, value in zip(executor.output_names, outputs)})
        return 0
    with np.printoptions(precision=5, suppress=True, threshold=50, edgeitems=3):
        for name, value in zip(executor.output_names, outputs):
            if isinstance(value, np.ndarray):
                print(f"{name}: {value.dtype}{list(value.shape)}")
                print(value)
            else:
                print(f"{name}: {value!r}")
    return 0


def _as_json(value) -> dict:
    if isinstance(value, np.ndarray):
        values = value.astype(object) if value.dtype.kind == "c" else value
        return {"dtype": str(value.dtype), "shape": list(value.shape),
                "values": [str(v) for v in values.ravel()] if value.dtype.kind in "cOSU"
                else value.tolist()}
    if isinstance(value, list):
        return {"sequence": [_as_json(v) for v in value]}
    return {"value": None if value is None else repr(value)}
