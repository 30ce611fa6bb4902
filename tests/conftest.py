"""Shared test fixtures."""

import pytest

from onyx.tools.node_data import ensure_node_data


@pytest.fixture(scope="session")
def node_data():
    return ensure_node_data()
