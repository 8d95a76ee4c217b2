"""Shared pytest configuration.

* ``@pytest.mark.gpu``: skipped when CUDA is not available.
* ``@pytest.mark.brian2``: skipped when brian2 cannot be imported.
* ``fresh_seed``: a random seed drawn from ``os.urandom`` for tests that want fresh
  random inputs on every run. It is printed (so pytest shows it with the output of a
  failing test) and attached to the failure report; set ``SNNCC_TEST_SEED=<seed>`` to
  rerun a failure with the same inputs.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

SEED_ENV = "SNNCC_TEST_SEED"

# Triton picks compiled or interpreted kernels when it is first imported: without CUDA,
# make sure it is the interpreter whoever imports it first (snncc.kernels.import_triton
# does the same)
if not importlib.util.find_spec("torch") or not __import__("torch").cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def _brian2_available() -> bool:
    if importlib.util.find_spec("brian2") is None:
        return False
    try:
        import brian2  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not usable"
        return False
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    need_gpu = [it for it in items if it.get_closest_marker("gpu") is not None]
    need_b2 = [it for it in items if it.get_closest_marker("brian2") is not None]
    if need_gpu and not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
        for it in need_gpu:
            it.add_marker(skip)
    if need_b2 and not _brian2_available():
        skip = pytest.mark.skip(reason="needs brian2 (pip install brian2)")
        for it in need_b2:
            it.add_marker(skip)


def draw_seed() -> int:
    """A fresh 31-bit seed from ``os.urandom`` (or ``$SNNCC_TEST_SEED`` if set)."""
    forced = os.environ.get(SEED_ENV)
    if forced:
        return int(forced)
    return int.from_bytes(os.urandom(4), "little") % 2**31


def seed_message(seed: int, where: str = "") -> str:
    """The line printed for a seed: how to rerun with the same random inputs."""
    head = f"{where}: " if where else ""
    return f"{head}seed = {seed} (rerun with {SEED_ENV}={seed})"


@pytest.fixture
def fresh_seed(request: pytest.FixtureRequest) -> int:
    """A fresh random seed, printed and recorded for the failure report."""
    seed = draw_seed()
    print(seed_message(seed, request.node.nodeid))
    request.node.user_properties.append(("seed", seed))
    return seed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        seeds = [v for k, v in item.user_properties if k == "seed"]
        if seeds:
            report.sections.append(("random seed", "\n".join(
                seed_message(s, item.nodeid) for s in seeds)))
