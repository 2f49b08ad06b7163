"""No hidden host round-trips: a training step on 'cuda' copies nothing back to the host.

Every device -> host transfer of the CuPy stand-in (``.get()``, ``.item()``, ``.tolist()``,
``bool()``, ``float()``, ``int()`` of a device array) is counted while a whole training step
runs on device='cuda': forward, loss, backward, optimizer update. The count must be zero;
only the explicit ``loss.item()`` afterwards may transfer (and must be counted, so the
counter itself is shown to work). On a real GPU, tests/test_gpu.py repeats this with CuPy.
"""
from __future__ import annotations

from typing import Any

import numpy as np
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


# ------------------------------------------------ input checks on the device (no sync)
def test_stand_in_wraps_bad_indices_as_cupy_does(fake_cuda: Any) -> None:
    """Why the checks must run on a GPU too: CuPy reads index 10 of 10 rows as row 0."""
    w = fake_cuda.asarray([[0.0], [1.0], [2.0]])
    idx = fake_cuda.asarray([3, -4])
    assert w[idx].get().ravel().tolist() == [0.0, 2.0]


@pytest.mark.parametrize("name, run, error, pattern", [
    ("embedding", lambda: nn.Embedding(10, 3).to("cuda")(tg.tensor([[1, 10]], device="cuda")),
     IndexError, r"embedding: index 10 is out of range for 10 embeddings"),
    ("nll_loss", lambda: F.nll_loss(tg.zeros(2, 3, device="cuda"),
                                    tg.tensor([0, 3], device="cuda")),
     IndexError, r"nll_loss: target 3 is out of bounds for 3 classes"),
    ("cross_entropy", lambda: F.cross_entropy(tg.zeros(2, 3, device="cuda"),
                                              tg.tensor([-1, 0], device="cuda")),
     IndexError, r"nll_loss: target -1 is out of bounds"),
    ("one_hot", lambda: F.one_hot(tg.tensor([0, 5], device="cuda"), 3),
     IndexError, r"one_hot: class 5 is out of range for 3 classes"),
    ("binary_cross_entropy", lambda: F.binary_cross_entropy(
        tg.tensor([0.5, float("nan")], device="cuda"), tg.tensor([1., 0.], device="cuda")),
     ValueError, r"binary_cross_entropy: input must be probabilities in \[0, 1\], got nan"),
])
def test_bad_input_on_cuda_is_reported_at_the_next_transfer(counted_cuda: list, name: str,
                                                             run: Any, error: type,
                                                             pattern: str) -> None:
    out = run()                                  # the check is queued on the device...
    assert counted_cuda == [], f"{name}: the check synced with the host: {counted_cuda}"
    with pytest.raises(error, match=pattern):    # ...and reported at the explicit copy
        out.sum().item()
    assert float(tg.ones(2, device="cuda").sum().item()) == 2.0   # reported once, then clear


def test_good_input_on_cuda_passes_its_checks(counted_cuda: list) -> None:
    emb = nn.Embedding(10, 3).to("cuda")
    out = emb(tg.tensor([0, 9], device="cuda"))
    loss = F.nll_loss(out, tg.tensor([2, 0], device="cuda"))
    assert counted_cuda == []
    np.testing.assert_allclose(loss.item(), -(emb.weight.detach().numpy()[0, 2]
                                              + emb.weight.detach().numpy()[9, 0]) / 2,
                               rtol=1e-6)
