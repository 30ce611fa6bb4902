"""Every subcommand's ``--help`` shows at least one example, and every example works as
written: each is run (in a folder holding the ``model.onnx`` and ``x.npy`` they name) and must
exit 0. ``onyx demo``'s example is run by tests/tools/test_demo.py, which checks its output;
``kernels`` is tested by its own file."""

import shlex

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onyx.tools.cli import COMMANDS, examples, main

TESTED_ELSEWHERE = {"demo", "kernels"}


EXAMPLES = [(c, line) for c in COMMANDS if c not in TESTED_ELSEWHERE for line in examples(c)]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    w = numpy_helper.from_array(np.full((3, 2), 0.5, np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Relu", ["h"], ["y"], name="act")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, ["batch", 3])],
                          [helper.make_tensor_value_info("y", 1, ["batch", 2])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]),
              str(tmp_path / "model.onnx"))
    np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: onyx {command}") and "example" in text
    assert examples(command), f"onyx {command} --help shows no example"


@pytest.mark.parametrize(("command", "line"), EXAMPLES, ids=[line for _, line in EXAMPLES])
def test_example_runs_as_written(command, line, workdir, capsys):
    argv = shlex.split(line)[1:]
    if command == "dump" and "--backend" in argv:
        pytest.importorskip("onyx.backends.cuda.plan", reason="no CUDA planner in this build")
    assert main(argv) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip()


def test_the_run_example_wrote_its_outputs(workdir):
    (line,) = [ln for c, ln in EXAMPLES if c == "run" and " -o " in ln]
    assert main(shlex.split(line)[1:]) == 0
    np.testing.assert_allclose(np.load(workdir / "out" / "y.npy"), np.full((2, 2), 1.5))


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
