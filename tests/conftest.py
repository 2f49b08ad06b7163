"""Test configuration: the default device can be switched for a whole run.

    TG_DEVICE=cuda pytest      # every tensor created without a device goes to the GPU
"""
from __future__ import annotations

import os
import sys
import types

import pytest
from hypothesis import settings

import tinygrad_edu as tg
from tinygrad_edu.engine import backend

settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("ci")

DEVICE = os.environ.get("TG_DEVICE", "cpu")
if DEVICE != "cpu":
    tg.set_default_device(DEVICE)


def torch_or_skip():
    """Import torch or skip the test with a stated reason."""
    return pytest.importorskip("torch", reason="PyTorch is not installed: parity test skipped "
                               "(tools/setup.sh installs it only from a local wheel, or with "
                               "TG_WITH_TORCH=1)")


@pytest.fixture(params=["lane on", "lane off"])
def lane(request: pytest.FixtureRequest):
    """Run a test with the fast lane on, then off (tg.fast): both must give the same
    results. Modules opt in with ``pytestmark = pytest.mark.usefixtures("lane")``."""
    with tg.fast(request.param == "lane on"):
        yield request.param


@pytest.fixture
def device() -> str:
    """The device the tests run on ('cpu' unless TG_DEVICE says otherwise)."""
    return DEVICE


@pytest.fixture
def fake_cuda():
    """The CuPy stand-in (tests/fake_cupy.py) as the 'cuda' array module, restored after.

    It raises where CuPy raises (a host array in a device op, an implicit conversion to
    NumPy), so code that runs under it keeps to the tensor's own array module.
    """
    from fake_cupy import module, special_module   # noqa: PLC0415 - helper beside this file
    fake = module()
    previous = backend._cuda, backend._cuda_checked
    backend._cuda, backend._cuda_checked = fake, True
    backend._generators.pop("cuda", None)
    names = ("cupyx", "cupyx.scipy", "cupyx.scipy.special")
    saved = {n: sys.modules.get(n) for n in names}
    special = special_module()
    sys.modules.update({"cupyx": types.SimpleNamespace(scipy=types.SimpleNamespace(
        special=special)), "cupyx.scipy": types.SimpleNamespace(special=special),
        "cupyx.scipy.special": special})
    try:
        yield fake
    finally:
        backend._cuda, backend._cuda_checked = previous
        backend._generators.pop("cuda", None)
        backend._pending.clear()
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
