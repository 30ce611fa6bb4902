"""Every code block of README.md and docs/*.md runs.

Per file, in order, in a fresh working folder: ```python blocks share one namespace (a later
block may use what an earlier one defined); in ```bash / ```console blocks each line starting
with ``onyx `` is run through the command line's ``main`` and must exit 0 (``$ `` prompts are
allowed; other lines, such as ``pip install``, are not run). A block preceded by the line
``<!-- docs-test: skip REASON -->`` is not run, and REASON must say why. Blocks in other
languages (```text, ```json, plain ```) are output or formats, not code.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!-- docs-test: skip (.+) -->$")
SHELL = {"bash", "sh", "shell", "console"}


def blocks(path: Path) -> list[tuple[str, int, str, str | None]]:
    """``(language, first line number, code, skip reason)`` of each fenced block."""
    out, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        prev = lines[i - 1].strip() if i else ""
        skip = SKIP.match(prev)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        out.append((m.group(1), i + 2, "\n".join(lines[i + 1:end]),
                    skip.group(1) if skip else None))
        i = end + 1
    return out


def run_shell(code: str, where: str) -> int:
    from onyx.tools.cli import main
    ran = 0
    for k, line in enumerate(code.splitlines()):
        line = line.strip().removeprefix("$ ")
        if not line.startswith("onyx "):
            continue
        argv = shlex.split(line, comments=True)[1:]
        assert main(argv) == 0, f"{where}+{k}: `{line}` failed"
        ran += 1
    return ran


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_code_blocks_run(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))  # blocks may import examples.*
    namespace: dict = {"__name__": "__docs__"}
    for lang, line, code, skip in blocks(path):
        where = f"{path.name}:{line}"
        if skip is not None:
            assert len(skip.split()) >= 3, f"{where}: a skipped block needs a reason"
            continue
        if lang == "python":
            exec(compile(code, where, "exec"), namespace)  # noqa: S102  (our own docs)
        elif lang in SHELL:
            run_shell(code, where)
    capsys.readouterr()


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    shell = [code for lang, _, code, _ in blocks(ROOT / "README.md") if lang == "bash"]
    assert "onyx demo" in shell[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert shell[1].strip() in ci, "README's test command must be what .ci/run runs"
    assert text.index(shell[0]) < text.index(shell[1]) < text.index("```python")


def test_docs_links_resolve():
    for path in FILES:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text("utf-8")):
            if "://" in target:
                continue
            assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def test_a_failing_block_is_reported(tmp_path):
    doc = tmp_path / "bad.md"
    doc.write_text("text\n\n```python\nx = 1\n```\n\n```python\nraise RuntimeError('boom')\n"
                   "```\n", encoding="utf-8")
    (first, second) = blocks(doc)
    assert first[:3] == ("python", 4, "x = 1") and second[1] == 8
    with pytest.raises(RuntimeError, match="boom"):
        exec(compile(second[2], "bad.md:8", "exec"), {})
    with pytest.raises(AssertionError, match="failed"):
        run_shell("$ onyx info does-not-exist.onnx", "bad.md:1")
