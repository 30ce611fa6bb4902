"""The ONNX backend conformance suite (``onnx.backend.test``) run through ``onyx.backend``.

Excluded cases live in ``excludes.txt`` beside this file, one per line with its reason.
"""

import os

import onnx.backend.test

import onyx.backend
from onyx.tools.conformance import read_excludes
from onyx.tools.node_data import ensure_node_data

ensure_node_data()

backend_test = onnx.backend.test.BackendTest(onyx.backend, __name__)
for pattern, _reason in read_excludes(os.path.join(os.path.dirname(__file__), "excludes.txt")):
    backend_test.exclude(pattern)

globals().update(backend_test.test_cases)
