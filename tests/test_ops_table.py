"""docs/ops.md must match the registries (regenerate with tools/gen_ops_table.py)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("gen_ops_table", ROOT / "tools" /
                                                  "gen_ops_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_ops_table"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_ops_table_is_up_to_date():
    text = _generator().render()
    current = (ROOT / "docs" / "ops.md").read_text() if (ROOT / "docs" / "ops.md").exists() \
        else ""
    assert current == text, ("docs/ops.md is out of date: regenerate it with "
                             "`.venv/bin/python tools/gen_ops_table.py`")


def test_vjp_rule_coverage():
    rows = _generator().collect()
    names = {r.name for r in rows if r.domain == ""}
    with_rules = [r.name for r in rows if r.vjp == "yes"]
    assert len(with_rules) >= 120, f"only {len(with_rules)} ops have VJP rules"
    assert {"Conv", "MatMul", "Softmax", "LayerNormalization", "Gather"} <= set(with_rules)
    assert len(names) > 180
