"""Fixtures shared by the test modules."""

import pytest
from test_predict import tiny_checkpoint


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets its own empty graph/feature cache, never the user's."""
    monkeypatch.setenv("NNPROF_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def real_cache(tmp_path_factory, monkeypatch):
    """One cache dir for the whole session, so each real model is exported only once."""
    monkeypatch.setenv("NNPROF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "real-model-cache"))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A tiny trained checkpoint, built once per test module."""
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")
