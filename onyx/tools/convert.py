"""``onyx convert MODEL OUT --opset N``: move a model to another opset with onnx's version
converter, then verify the result before writing it: ``onnx.checker`` must accept it, and onyx
must compute the same outputs with the original and the converted model on random inputs.
Exit code 1 (and nothing written) when either check fails."""

from __future__ import annotations

import argparse

import numpy as np
import onnx

from onyx import ir
from onyx.ir.errors import ModelError
from onyx.tools.inputs import add_input_arguments, load_inputs, parse_dims
from onyx.tools.table import format_table, print_json

EXAMPLE = "onyx convert model.onnx model-op21.onnx --opset 21"


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert a model to another opset and verify it",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"example:\n  {EXAMPLE}")
    p.add_argument("model", help="path of an .onnx file")
    p.add_argument("output", help="where to write the converted .onnx file")
    p.add_argument("--opset", type=int, required=True, help="target ai.onnx opset version")
    add_input_arguments(p)
    p.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default 1e-5)")
    p.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (default 1e-6)")
    p.add_argument("--json", action="store_true", help="print the verification as JSON")
    p.set_defaults(func=main)


def convert(model: ir.Model, opset: int) -> onnx.ModelProto:
    """``model`` at ai.onnx ``opset`` through ``onnx.version_converter``."""
    if opset < 1:
        raise ValueError(f"--opset must be a positive opset version, got {opset}")
    from onnx import version_converter
    try:
        return version_converter.convert_version(model.to_onnx(), opset)
    except Exception as exc:  # the converter raises RuntimeError/ValidationError/IndexError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split("failed: ")[-1]  # drop the C++ file:line of its assertions
        raise ModelError(f"onnx's version converter cannot take this model from opset "
                         f"{model.opset} to {opset}: {first}") from None


def compare(expected: list, actual: list, names: list[str], rtol: float,
            atol: float) -> list[dict]:
    """Per output: max absolute difference and whether it is within tolerance."""
    rows = []
    for name, a, b in zip(names, expected, actual):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            rows.append({"output": name, "max_abs_diff": None, "ok": False,
                         "why": f"{a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}"})
            continue
        if a.dtype.kind in "fc":
            ok = bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
            diff = float(np.nanmax(np.abs(a - b))) if a.size else 0.0
        else:
            ok = bool(np.array_equal(a, b))
            diff = 0.0 if ok else None
        rows.append({"output": name, "max_abs_diff": diff, "ok": ok, "why": ""})
    return rows


def verify(model: ir.Model, converted: onnx.ModelProto, args, dims: dict[str, int]) -> dict:
    """Run the checker, then both models through onyx on the same inputs."""
    import onyx.backend
    try:
        onnx.checker.check_model(converted)
        checker = ""
    except onnx.checker.ValidationError as exc:
        checker = str(exc).strip().splitlines()[0]
    new = ir.from_onnx(converted, base_dir=model.base_dir)
    feeds = load_inputs(model, args.input, random=True, seed=args.seed, dims=dims)
    before = onyx.backend.prepare(model).executor
    after = onyx.backend.prepare(new).executor
    rows = compare(before.run(dict(feeds)), after.run(dict(feeds)), before.output_names,
                   args.rtol, args.atol)
    return {"from_opset": model.opset, "to_opset": new.opset, "checker": checker or "ok",
            "outputs": rows, "ok": not checker and all(r["ok"] for r in rows)}


def main(args) -> int:
    dims = parse_dims(args.dim)
    model = ir.load(args.model)
    converted = convert(model, args.opset)
    result = verify(model, converted, args, dims)
    if result["ok"]:
        ir.save(ir.from_onnx(converted, base_dir=model.base_dir), args.output)
    result["written"] = args.output if result["ok"] else None
    if args.json:
        print_json(result)
        return 0 if result["ok"] else 1
    print(f"opset {result['from_opset']} -> {result['to_opset']}; "
          f"onnx.checker: {result['checker']}")
    rows = [[r["output"], r["max_abs_diff"], "ok" if r["ok"] else f"DIFFERS {r['why']}".strip()]
            for r in result["outputs"]]
    print(format_table(["output", "max abs diff", "same outputs"], rows,
                       colours={2: lambda c: "green" if c == "ok" else "red"}))
    if result["ok"]:
        print(f"wrote {args.output}")
        return 0
    print(f"verification failed: {args.output} not written")
    return 1
