"""``onyx conformance``: the ONNX backend test suite through onyx, with counts.

Runs every case of ``onnx.backend.test`` (node, simple, pytorch-converted, pytorch-operator,
real) with onyx's backend and prints passed / failed / excluded, for node cases and overall.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import unittest

from onyx.tools.table import format_table, paint
from onyx.tools.table import progress as progress_bar

# One exclude file, shared by the test suite and this command.
EXCLUDES = os.path.join(os.path.dirname(__file__), "conformance_excludes.txt")


def read_excludes(path: str) -> list[tuple[str, str]]:
    """``(pattern, reason)`` pairs from an exclude file: ``pattern  # reason`` per line."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pattern, _, reason = line.partition("#")
            pattern, reason = pattern.strip(), reason.strip()
            if not reason:
                raise ValueError(f"{path}: exclude {pattern!r} has no reason")
            out.append((pattern, reason))
    return out


def collect(backend_module, excludes: list[tuple[str, str]], device: str = "cpu"):
    """All suite cases for ``device`` as ``(category, name, test, excluded_reason)``."""
    import warnings

    import numpy as np

    from onyx.tools.node_data import ensure_node_data
    ensure_node_data()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # onnx recomputes its cases (inf/nan on purpose)
        import onnx.backend.test
        bt = onnx.backend.test.BackendTest(backend_module, "onyx_conformance")
    compiled = [(re.compile(p), r) for p, r in excludes]
    suffix = f"_{device}"
    for category, items in bt._test_items.items():
        for name, item in items.items():
            if not name.endswith(suffix):
                continue
            reason = next((r for p, r in compiled if p.search(name)), None)
            yield category, name, item, reason


def run_suite(backend_module=None, excludes_path: str = EXCLUDES, *, pattern: str | None = None,
              progress: bool = True) -> dict:
    import onyx.backend
    backend_module = backend_module or onyx.backend
    cases = list(collect(backend_module, read_excludes(excludes_path)))
    if pattern:
        rx = re.compile(pattern)
        cases = [c for c in cases if rx.search(re.sub(r"_(cpu|cuda)$", "", c[1]))]
    results = {"node": _zero(), "all": _zero(), "failures": []}
    bar = progress_bar(len(cases), "conformance", unit="case", enabled=progress)
    for category, name, item, reason in cases:
        if reason is not None:
            status = "excluded"
        else:
            status = _run_one(item)
            if status == "failed":
                results["failures"].append(name)
        for key in (("node", "all") if category == "NodeModel" else ("all",)):
            results[key][status] += 1
        bar.update(1)
    bar.close()
    return results


COUNTS = ("passed", "failed", "excluded", "skipped")


def _zero() -> dict:
    return dict.fromkeys(COUNTS, 0)


def _run_one(item) -> str:
    class Case(unittest.TestCase):
        pass
    Case.test = item.func
    result = unittest.TestResult()
    Case("test").run(result)
    if result.skipped:
        return "skipped"
    return "passed" if result.wasSuccessful() else "failed"


def add_parser(sub) -> None:
    p = sub.add_parser("conformance", help="run the ONNX backend test suite through onyx",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example (the whole suite takes minutes; -k picks cases):\n"
                              "  onyx conformance -k '^test_(abs|relu|softmax)' --failures")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.add_argument("-k", dest="pattern", help="only cases whose name matches this regex")
    p.add_argument("--failures", action="store_true", help="list the failing cases")
    p.set_defaults(func=main)


def main(args) -> int:
    res = run_suite(pattern=args.pattern, progress=not args.json)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        rows = [[title, *(res[key][k] for k in COUNTS), sum(res[key].values())]
                for key, title in (("node", "node cases"), ("all", "whole suite"))]
        print(format_table(["cases", *COUNTS, "total"], rows,
                           colours={2: lambda c: "red" if c != "0" else None}))
        if args.failures:
            for name in res["failures"]:
                print(paint("FAIL", "red"), name)
    return 0 if not res["failures"] else 1
