"""Memory after backward: a freed graph keeps its structure, not its arrays.

The beginner's training loop keeps every step's loss tensor in a list. Each loss holds
its graph (the views can still draw it), but after a plain ``backward()`` the graph holds
Ghosts (shape, dtype, name, the node) instead of arrays: memory grows by the structure
only, a few KiB per node, never by the activations.
"""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import optim, viz
from tinygrad_edu.models import LeNet5

#: the stated bound: what one kept LeNet-5 step may add once its backward has run
PER_STEP_BYTES = 48 * 1024


def _lenet_step(model, opt, x, y) -> tg.Tensor:
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def _rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RSS from /proc")
@pytest.mark.parametrize("fast", [True, False])
def test_a_thousand_kept_losses_keep_no_activations(fast: bool) -> None:
    tg.manual_seed(0)
    model = LeNet5(variant="modern")
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = tg.randn(16, 1, 28, 28), tg.randint(0, 10, (16,))
    losses = []
    with tg.fast(fast):
        for _ in range(100):                         # warm-up: optimizer state, allocator
            losses.append(_lenet_step(model, opt, x, y))
        before = _rss()
        for _ in range(900):
            losses.append(_lenet_step(model, opt, x, y))
        after = _rss()
        # one step's activations, for scale: what each kept graph would hold if not freed
        tracemalloc.start()
        held = F.cross_entropy(model(x), y)
        activations = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del held
    per_step = (after - before) / 900
    assert per_step < PER_STEP_BYTES, f"{per_step / 1024:.1f} KiB kept per step"
    assert activations > 20 * PER_STEP_BYTES, activations      # the bound means something
    assert len(losses) == 1000 and np.isfinite(losses[-1].item())


def test_a_freed_graph_still_draws_and_retain_graph_keeps_values() -> None:
    tg.manual_seed(0)
    model = LeNet5(variant="modern")
    x, y = tg.randn(2, 1, 28, 28), tg.randint(0, 10, (2,))
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    g = viz.trace(loss, model=model)                  # structure survives the freeing
    assert len(g.ops) > 10 and all(t.shape is not None for t in g.tensors.values())
    source = viz.draw(loss, model=model).source                  # and is drawn, op by op
    assert all(op in source for op in ("window", "matmul", "relu"))
    loss2 = F.cross_entropy(model(x), y)
    hidden = loss2.grad_fn.parents[0]
    loss2.backward(retain_graph=True)                 # kept: values for the explorer
    assert hidden.data is not None
    loss2.backward()                                  # and a second backward works
    mine = model(x)                                   # a tensor the user holds keeps its data
    F.cross_entropy(mine, y).backward()
    assert mine.detach().numpy().shape == (2, 10)
