"""The ONNX backend conformance suite (``onnx.backend.test``) run through ``onyx.backend``.

Excluded cases live in ``onyx/tools/conformance_excludes.txt`` (shared with ``onyx conformance``),
one per line with its reason.
"""

import onnx.backend.test

import onyx.backend
from onyx.tools.conformance import EXCLUDES, read_excludes
from onyx.tools.node_data import ensure_node_data

ensure_node_data()

backend_test = onnx.backend.test.BackendTest(onyx.backend, __name__)
for pattern, _reason in read_excludes(EXCLUDES):
    backend_test.exclude(pattern)

globals().update(backend_test.test_cases)
