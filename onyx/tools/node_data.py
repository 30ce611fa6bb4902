"""The ONNX node conformance data: written from onnx's own test-case definitions.

The onnx wheel ships the model tests but not ``backend/test/data/node``; onnx builds that folder
from ``onnx.backend.test.case.node``. ``ensure_node_data()`` writes it the same way (one folder per
case with ``model.onnx`` and ``test_data_set_N/{input,output}_M.pb``) when it is missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings

import onnx
from onnx import numpy_helper


def node_data_dir() -> str:
    # located from onnx's own folder: importing onnx.backend.test would compute every case
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")


def ensure_node_data() -> str:
    """Create the node test data if it is missing; return its folder."""
    target = node_data_dir()
    stamp = target + ".complete"
    if os.path.exists(stamp) and os.path.isdir(target):
        return target
    import numpy as np
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the cases compute inf/nan on purpose
        import onnx.backend.test.case.node as node_cases
        cases = node_cases.collect_testcases(None)
    tmp = tempfile.mkdtemp(prefix=".node-", dir=os.path.dirname(target))
    for case in cases:
        _write_case(case, os.path.join(tmp, case.name))
    if os.path.exists(target):
        shutil.rmtree(target)
    os.replace(tmp, target)
    open(stamp, "w").close()
    return target


def _write_case(case, folder: str) -> None:
    os.makedirs(folder)
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    graph = case.model.graph
    for i, (inputs, outputs) in enumerate(case.data_sets):
        ds = os.path.join(folder, f"test_data_set_{i}")
        os.makedirs(ds)
        for j, value in enumerate(inputs):
            _write_value(os.path.join(ds, f"input_{j}.pb"), value, graph.input[j])
        for j, value in enumerate(outputs):
            _write_value(os.path.join(ds, f"output_{j}.pb"), value, graph.output[j])


def _write_value(path: str, value, info: onnx.ValueInfoProto) -> None:
    kind = info.type.WhichOneof("value")
    if kind == "map_type":
        proto = numpy_helper.from_dict(value, info.name)
    elif kind == "sequence_type":
        proto = numpy_helper.from_list(value, info.name)
    elif kind == "optional_type":
        proto = numpy_helper.from_optional(value, info.name)
    elif isinstance(value, onnx.TensorProto):
        proto = value
    else:
        proto = numpy_helper.from_array(value, info.name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def backend_data_dir() -> str:
    return os.path.dirname(node_data_dir())


def backend_model_paths(kinds=("node", "simple", "pytorch-converted", "pytorch-operator")
                        ) -> list[str]:
    """Paths of every ``model.onnx`` in the backend test data of the given kinds."""
    import glob
    ensure_node_data()
    paths = []
    for kind in kinds:
        paths += sorted(glob.glob(os.path.join(backend_data_dir(), kind, "*", "model.onnx")))
    return paths
