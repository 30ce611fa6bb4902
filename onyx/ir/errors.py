"""The onyx error hierarchy.

Every failure that bad input can cause is an ``OnyxError``; messages name the op, the node,
the opset and the shapes involved so a user can find the culprit without a debugger.
"""

from __future__ import annotations


class OnyxError(Exception):
    """Base class of every error onyx raises on purpose."""


class ModelError(OnyxError):
    """A model (file, proto or graph) is malformed or unsafe."""


class UnsupportedOpError(OnyxError):
    """No implementation exists for an op in the requested opset or backend."""

    def __init__(self, op_type: str, domain: str = "", opset: int | None = None,
                 node: str | None = None, backend: str = "numpy", detail: str = ""):
        where = f" (node {node!r})" if node else ""
        dom = domain or "ai.onnx"
        ver = f" opset {opset}" if opset is not None else ""
        extra = f": {detail}" if detail else ""
        super().__init__(f"unsupported op {dom}::{op_type}{ver}{where} on the {backend} "
                         f"backend{extra}")
        self.op_type, self.domain, self.opset, self.node = op_type, domain, opset, node


class ShapeError(OnyxError):
    """Shapes or types that do not fit together."""


class InputError(OnyxError):
    """A missing, unknown or mismatched input fed to a model."""


class GraphError(ModelError):
    """A graph breaks an IR invariant (SSA, order, dangling use, cycle)."""


class LimitError(ModelError):
    """A declared size exceeds a configured limit (checked before anything is allocated)."""


class NodeError(OnyxError):
    """A kernel failed on a node; wraps the cause with the node's identity and input shapes."""


def describe_node(node) -> str:
    """``Conv 'conv1' (opset 13)`` — the way errors name a node."""
    name = f" {node.name!r}" if getattr(node, "name", "") else ""
    dom = f"{node.domain}::" if getattr(node, "domain", "") else ""
    return f"{dom}{node.op_type}{name}"
