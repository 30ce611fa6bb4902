"""``onyx check MODEL``: does optimization change the model's outputs? Does onyx agree with an
oracle?

Runs the model unoptimized and optimized (``--level``) through onyx on the same inputs (given
with ``-i`` or random), and with ``--against`` also in onnxruntime or onnx.reference, then
prints the largest difference of every output. ``--bisect`` runs the pipeline one pass at a
time and names the first pass after which an output moves beyond tolerance, with what that
pass changed. Exit code 0 when everything agrees, 1 when not.
"""

from __future__ import annotations

import argparse

from onyx import ir
from onyx.tools.convert import compare
from onyx.tools.inputs import add_input_arguments, inputs_from_args
from onyx.tools.table import format_table, paint, print_json


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="compare a model's outputs unoptimized, optimized and in "
                       "an oracle", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  onyx check model.onnx --random --against onnxruntime\n"
                              "  onyx check model.onnx -i x=x.npy --bisect --level 2")
    p.add_argument("model", help="path of an .onnx file")
    add_input_arguments(p, random_flag=True)
    p.add_argument("--level", type=int, default=2, help="optimization level to check (1 or 2)")
    p.add_argument("--against", choices=("onnxruntime", "reference"),
                   help="also run the model in this oracle and compare")
    p.add_argument("--bisect", action="store_true",
                   help="find the first pass after which the outputs differ")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    import onyx.backend
    from onyx.passes.pipeline import optimize
    model = ir.load(args.model)
    random = args.random or not args.input
    feeds = inputs_from_args(model, args, random=random)
    base = onyx.backend.prepare(model).executor
    expected = base.run(dict(feeds))
    names = base.output_names
    rows = [dict(r, compared="optimized") for r in compare(
        expected, _run(optimize(model, args.level)[0], feeds), names, args.rtol, args.atol)]
    if args.against:
        oracle = _oracle(model, feeds, args.against)
        rows += [dict(r, compared=args.against) for r in compare(
            oracle, expected, names, args.rtol, args.atol)]
    culprit = _bisect(model, feeds, expected, args) if args.bisect else None
    ok = all(r["ok"] for r in rows) and culprit is None
    if args.json:
        print_json({"ok": ok, "outputs": rows, "first_bad_pass": culprit})
        return 0 if ok else 1
    _print(rows, args)
    if args.bisect:
        print("bisect: every pass keeps the outputs" if culprit is None else
              f"bisect: outputs differ first after pass {culprit['pass']!r} (step "
              f"{culprit['step']})\n  removed: {culprit['removed'] or '-'}\n"
              f"  added:   {culprit['added'] or '-'}")
    return 0 if ok else 1


def _run(model: ir.Model, feeds: dict) -> list:
    import onyx.backend
    return onyx.backend.prepare(model).executor.run(dict(feeds))


def _oracle(model: ir.Model, feeds: dict, which: str) -> list:
    proto = ir.to_onnx(model)
    if which == "onnxruntime":
        import onnxruntime
        session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        return session.run(None, dict(feeds))
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(proto).run(None, dict(feeds))


def _bisect(model: ir.Model, feeds: dict, expected: list, args) -> dict | None:
    """Run the pipeline pass by pass; the first pass whose result differs, with its diff."""
    from onyx.passes.infra import run_pipeline
    from onyx.passes.pipeline import copy_model, passes_for_level
    copy = copy_model(model)
    copy.ir_version = max(copy.ir_version, 4)
    before = _nodes(copy)
    found: list[dict] = []
    state = {"step": 0, "before": before}

    def after_each(p, m, record) -> None:
        state["step"] += 1
        now = _nodes(m)
        if not found and record.changed:
            rows = compare(expected, _run(m, feeds), [v.name for v in m.graph.outputs],
                           args.rtol, args.atol)
            if not all(r["ok"] for r in rows):
                found.append({"pass": record.name, "step": state["step"],
                              "removed": sorted(state["before"] - now),
                              "added": sorted(now - state["before"])})
        state["before"] = now

    run_pipeline(copy, passes_for_level(args.level), verify=False, after_each=after_each)
    return found[0] if found else None


def _nodes(model: ir.Model) -> set[str]:
    return {f"{n.op_type} {n.name!r}" if n.name else n.op_type for n in model.graph}


def _print(rows: list[dict], args) -> None:
    table = [(r["compared"], r["output"], "-" if r["max_abs_diff"] is None else
              f"{r['max_abs_diff']:.3g}", "ok" if r["ok"] else f"DIFFERS {r['why']}".strip())
             for r in rows]
    print(format_table(["compared with onyx", "output", "max abs diff", "result"], table,
                       colours={3: lambda s: "green" if s == "ok" else "red"}))
    bad = sum(not r["ok"] for r in rows)
    summary = (f"all outputs within rtol={args.rtol:g}, atol={args.atol:g}" if not bad else
               f"{bad} comparison(s) beyond rtol={args.rtol:g}, atol={args.atol:g}")
    print(paint(summary, "green" if not bad else "red"))
