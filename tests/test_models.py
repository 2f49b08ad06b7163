"""The models: LeNet-5 (classic and modern) and the Keras-style CNN — parameter counts by
hand from the paper and the lectures, the C3 connection table, the subsampling layer, and
parity of the modern LeNet-5 with the same network written in PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.models import LENET5_C3_TABLE, KerasCNN, LeNet5, PartialConv2d, Subsampling2d
from conftest import torch_or_skip

# LeCun et al. (1998), Table I: rows are S2 maps, columns C3 maps, X = connected.
PAPER_TABLE_I = [
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
]


def _own_counts(model, names):
    return {n: sum(p.numel() for p in getattr(model, n).parameters()) for n in names}


def test_c3_table_is_the_papers_table_one():
    for out_map, inputs in enumerate(LENET5_C3_TABLE):
        column = {row for row in range(6) if PAPER_TABLE_I[row][out_map] == "X"}
        assert set(inputs) == column, f"C3 map {out_map}"
    assert sum(len(c) for c in LENET5_C3_TABLE) == 60


def test_classic_lenet5_parameter_counts():
    model = LeNet5("classic")
    counts = _own_counts(model, ["c1", "s2", "c3", "s4", "c5", "f6", "output"])
    assert counts == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164,
                      "output": 850}
    assert sum(p.numel() for p in model.parameters()) == 60850
    assert model.c3.weight.shape == (60, 5, 5)


def test_classic_lenet5_summary_shows_the_paper_counts():
    s = LeNet5("classic").summary((1, 32, 32), print_summary=False)
    assert [(r["name"], r["params"]) for r in s.rows] == [
        ("c1", 156), ("s2", 12), ("c3", 1516), ("s4", 32), ("c5", 48120), ("f6", 10164),
        ("output", 850)]
    assert [r["output_shape"] for r in s.rows] == [
        (None, 6, 28, 28), (None, 6, 14, 14), (None, 16, 10, 10), (None, 16, 5, 5),
        (None, 120, 1, 1), (None, 84), (None, 10)]
    assert s.total == 60850
    text = str(s)
    for number in ("156", "1,516", "48,120", "10,164", "850", "60,850"):
        assert number in text


def test_modern_lenet5_counts_and_shapes():
    model = LeNet5("modern")
    counts = _own_counts(model, ["c1", "c3", "c5", "f6", "output"])
    assert counts == {"c1": 156, "c3": 2416, "c5": 48120, "f6": 10164, "output": 850}
    assert sum(p.numel() for p in model.parameters()) == 61706
    assert model(tg.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_lenet5_input_errors():
    with pytest.raises(ValueError, match=r"LeNet5\('classic'\): expected input of shape "
                                         r"\(N, 1, 32, 32\) \(pad MNIST's 28x28 by 2"):
        LeNet5("classic")(tg.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"variant must be 'classic' or 'modern', got 'new'"):
        LeNet5("new")


def test_partial_conv_equals_masked_full_conv():
    """C3 = an ordinary conv whose unconnected kernels are zero: compare with F.conv2d on a
    bank built by hand from the table, and check unconnected slots get no gradient."""
    tg.manual_seed(0)
    c3 = PartialConv2d(6, 16, 5, LENET5_C3_TABLE).double()
    x = tg.randn(2, 6, 14, 14, dtype=tg.float64)
    bank = np.zeros((16, 6, 5, 5))
    w = c3.weight.detach().numpy()
    k = 0
    for o, inputs in enumerate(LENET5_C3_TABLE):
        for i in inputs:
            bank[o, i] = w[k]
            k += 1
    want = F.conv2d(x, tg.tensor(bank), c3.bias.detach())
    got = c3(x)
    np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    full = c3.full_weight()
    assert full.shape == (16, 6, 5, 5)
    np.testing.assert_array_equal(full.detach().numpy() == 0, bank == 0)


def test_partial_conv_gradcheck():
    tg.manual_seed(1)
    layer = PartialConv2d(3, 2, 2, [(0, 2), (1,)]).double()
    x = tg.randn(1, 3, 3, 3, dtype=tg.float64, requires_grad=True)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 4 + 2
    assert tg.gradcheck(lambda x, w, b: F.conv2d(x, _bank(w), b), (x, layer.weight, layer.bias))
    y = layer(x)
    y.sum().backward()
    assert layer.weight.grad.shape == (3, 2, 2)


def _bank(w):
    """The (2, 3, 2, 2) bank of connections [(0, 2), (1,)] built by stacking (reference)."""
    z = tg.zeros(2, 2, dtype=w.dtype)
    return tg.stack([tg.stack([w[0], z, w[1]]), tg.stack([z, w[2], z])])


def test_partial_conv_errors():
    with pytest.raises(ValueError, match=r"connections lists 2 output maps, expected "
                                         r"out_channels=3"):
        PartialConv2d(2, 3, 3, [(0,), (1,)])
    with pytest.raises(ValueError, match=r"output map 1 reads input map 4, but there are only "
                                         r"2 input maps"):
        PartialConv2d(2, 2, 3, [(0,), (4,)])


def test_subsampling_formula_by_hand():
    """out = f(bias + coefficient · (x1 + x2 + x3 + x4)) per 2x2 window and map, with f the
    logistic sigmoid of the slide or LeCun's scaled tanh 1.7159·tanh(2a/3) (the default)."""
    layer = Subsampling2d(2, activation="sigmoid").double()
    with tg.no_grad():
        layer.weight.copy_(tg.tensor([0.5, -1.0], dtype=tg.float64))
        layer.bias.copy_(tg.tensor([0.1, 0.2], dtype=tg.float64))
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4) / 10
    sums = x.reshape(1, 2, 2, 2, 2, 2).sum(axis=(3, 5))
    a = (np.array([0.1, 0.2])[None, :, None, None]
         + np.array([0.5, -1.0])[None, :, None, None] * sums)
    np.testing.assert_allclose(layer(tg.tensor(x)).detach().numpy(), 1 / (1 + np.exp(-a)),
                               rtol=1e-10)
    layer.activation = "tanh"
    np.testing.assert_allclose(layer(tg.tensor(x)).detach().numpy(),
                               1.7159 * np.tanh(2 * a / 3), rtol=1e-10)
    assert sum(p.numel() for p in layer.parameters()) == 4
    xt = tg.tensor(x, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: layer(x), (xt, layer.weight, layer.bias))


def test_keras_cnn_counts_by_hand():
    model = KerasCNN()
    s = model.summary((1, 28, 28), print_summary=False)
    by_type = [(r["type"], r["params"], r["output_shape"]) for r in s.rows if r["params"]]
    assert by_type == [
        ("Conv2d", 32 * (1 * 9 + 1), (None, 32, 26, 26)),      # 320
        ("Conv2d", 64 * (32 * 9 + 1), (None, 64, 11, 11)),     # 18,496
        ("Conv2d", 64 * (64 * 9 + 1), (None, 64, 3, 3)),       # 36,928
        ("Linear", 64 * (576 + 1), (None, 64)),                # 36,928
        ("Linear", 10 * (64 + 1), (None, 10)),                 # 650
    ]
    assert s.total == 93322
    dropped = KerasCNN(dropout=0.5)
    assert sum(p.numel() for p in dropped.parameters()) == 93322
    assert sum(isinstance(m, nn.Dropout) for m in dropped.modules()) == 2


def _torch_modern_lenet(torch):
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 120, 5), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10)).double()


def test_modern_lenet5_matches_torch_through_sgd_steps():
    torch = torch_or_skip()
    tg.manual_seed(0)
    ours = LeNet5("modern").double()
    theirs = _torch_modern_lenet(torch)
    pairs = [(ours.c1, theirs[0]), (ours.c3, theirs[3]), (ours.c5, theirs[6]),
             (ours.f6, theirs[9]), (ours.output, theirs[11])]
    with torch.no_grad():
        for a, b in pairs:
            b.weight.copy_(torch.tensor(a.weight.detach().numpy()))
            b.bias.copy_(torch.tensor(a.bias.detach().numpy()))
    rng = np.random.default_rng(0)
    opt = optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    for _ in range(3):
        x = rng.standard_normal((4, 1, 28, 28))
        y = rng.integers(0, 10, 4)
        loss = F.cross_entropy(ours(tg.tensor(x)), tg.tensor(y))
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        assert abs(loss.item() - tloss.item()) < 1e-10
        opt.zero_grad()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss.backward()
        topt.step()
    for a, b in pairs:
        np.testing.assert_allclose(a.weight.detach().numpy(), b.weight.detach().numpy(),
                                   rtol=1e-9, atol=1e-11)


def test_classic_lenet5_learns_a_small_batch():
    tg.manual_seed(0)
    model = LeNet5("classic")
    x = tg.randn(16, 1, 32, 32)
    y = tg.tensor([i % 10 for i in range(16)])
    opt = optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_subsampling_activation_error():
    with pytest.raises(ValueError, match=r"activation must be 'tanh' .* or 'sigmoid', got 'relu'"):
        Subsampling2d(6, activation="relu")
