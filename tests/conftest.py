"""Fixtures shared by the test modules."""

import pytest
from test_predict import tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A tiny trained checkpoint, built once per test module."""
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")
