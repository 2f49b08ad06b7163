"""No hidden host round-trips: a training step on 'cuda' copies nothing back to the host.

Every device -> host transfer of the CuPy stand-in (``.get()``, ``.item()``, ``.tolist()``,
``bool()``, ``float()``, ``int()`` of a device array) is counted while a whole training step
runs on device='cuda': forward, loss, backward, optimizer update. The count must be zero;
only the explicit ``loss.item()`` afterwards may transfer (and must be counted, so the
counter itself is shown to work). On a real GPU, tests/test_gpu.py repeats this with CuPy.
"""
from __future__ import annotations

from typing import Any

import pytest
from fake_cupy import FakeDeviceArray

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.models import LeNet5

TRANSFERS = ("get", "__bool__", "__float__", "__int__")


@pytest.fixture
def counted_cuda(monkeypatch: pytest.MonkeyPatch, fake_cuda: Any) -> list:
    """The CuPy stand-in as 'cuda' (conftest's fake_cuda), every device -> host copy logged."""
    log: list = []
    for name in TRANSFERS:
        original = getattr(FakeDeviceArray, name)

        def counting(self: Any, *a: Any, _orig: Any = original, _name: str = name) -> Any:
            log.append(_name)
            return _orig(self, *a)
        monkeypatch.setattr(FakeDeviceArray, name, counting)
    original_getattr = FakeDeviceArray.__getattr__

    def getattr_counting(self: Any, name: str) -> Any:
        if name in ("item", "tolist"):
            log.append(name)
        return original_getattr(self, name)
    monkeypatch.setattr(FakeDeviceArray, "__getattr__", getattr_counting)
    return log


def _step(model: nn.Module, opt: optim.Optimizer, x: tg.Tensor, y: tg.Tensor) -> tg.Tensor:
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return loss


def test_lenet_training_step_makes_no_host_transfer(counted_cuda: list) -> None:
    tg.manual_seed(0)
    model = LeNet5(variant="modern").to("cuda")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = tg.randn(4, 1, 28, 28, device="cuda")
    y = tg.randint(0, 10, (4,), device="cuda")
    _step(model, opt, x, y)                     # first step creates optimizer state
    counted_cuda.clear()
    loss = _step(model, opt, x, y)
    assert counted_cuda == [], f"hidden device -> host transfers during a step: {counted_cuda}"
    loss.item()                                 # the one explicit transfer is seen
    assert counted_cuda, "the transfer counter did not see an explicit .item()"


def test_lstm_training_step_makes_no_host_transfer(counted_cuda: list) -> None:
    tg.manual_seed(0)
    emb, lstm, head = nn.Embedding(11, 8), nn.LSTM(8, 16), nn.Linear(16, 11)
    model = nn.ModuleList([emb, lstm, head]).to("cuda")
    opt = optim.Adam(model.parameters(), lr=0.01)
    ids = tg.randint(0, 11, (5, 3), device="cuda")
    tgt = tg.randint(0, 11, (15,), device="cuda")

    def step() -> tg.Tensor:
        opt.zero_grad()
        out, _ = lstm(emb(ids))
        loss = F.cross_entropy(head(out).reshape(15, 11), tgt)
        loss.backward()
        opt.step()
        return loss
    step()
    counted_cuda.clear()
    step()
    assert counted_cuda == [], f"hidden device -> host transfers during a step: {counted_cuda}"
