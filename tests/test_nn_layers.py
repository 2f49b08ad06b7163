"""Layers: forward and gradients against PyTorch, running statistics of batch norm,
numerical gradient checks in float64, initialisation, and error messages."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from conftest import torch_or_skip


def _to_torch(torch, module, tmod):
    """Copy our parameters and buffers into the torch module (same keys)."""
    sd = {k: torch.tensor(v.numpy()) for k, v in module.state_dict().items()}
    tmod.load_state_dict(sd, strict=True)
    return tmod


def _check_step(torch, ours, theirs, x_np, seed=0, rtol=1e-5, atol=1e-5):
    """One forward and backward with a random upstream gradient: outputs, input gradient and
    every parameter gradient agree."""
    x = tg.tensor(x_np, requires_grad=x_np.dtype.kind == "f")
    tx = torch.tensor(x_np, requires_grad=x_np.dtype.kind == "f")
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    v = np.random.default_rng(seed).standard_normal(tuple(y.shape)).astype(np.float32)
    (y * tg.tensor(v)).sum().backward()
    (ty * torch.tensor(v)).sum().backward()
    if x.requires_grad:
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)
        p.grad = None
        tparams[name].grad = None


# ---------------------------------------------------------------- simple layers vs torch
@pytest.mark.parametrize("name", ["ReLU", "Tanh", "Sigmoid", "Flatten", "Identity"])
def test_parameterless_layers_match_torch(name):
    torch = torch_or_skip()
    x = np.random.default_rng(0).standard_normal((3, 2, 4)).astype(np.float32)
    _check_step(torch, getattr(nn, name)(), getattr(torch.nn, name)(), x)


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_layers_match_torch(cls, dim):
    torch = torch_or_skip()
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32) * 10
    _check_step(torch, getattr(nn, cls)(dim=dim), getattr(torch.nn, cls)(dim=dim), x)


def test_mlp_matches_torch():
    torch = torch_or_skip()
    tg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3, bias=False), nn.Sigmoid())
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(),
                                 torch.nn.Linear(5, 3, bias=False), torch.nn.Sigmoid())
    _to_torch(torch, ours, theirs)
    x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    _check_step(torch, ours, theirs, x)


# ---------------------------------------------------------------- batch norm
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_training_then_eval_matches_torch(cls, shape, momentum):
    torch = torch_or_skip()
    ours = getattr(nn, cls)(3, momentum=momentum)
    theirs = getattr(torch.nn, cls)(3, momentum=momentum)
    rng = np.random.default_rng(3)
    with tg.no_grad():   # non-trivial γ, β so their gradients are tested too
        ours.weight.copy_(tg.tensor(rng.uniform(0.5, 2, 3).astype(np.float32)))
        ours.bias.copy_(tg.tensor(rng.standard_normal(3).astype(np.float32)))
    _to_torch(torch, ours, theirs)
    for step in range(3):
        x = (rng.standard_normal(shape) * 3 + step).astype(np.float32)
        _check_step(torch, ours, theirs, x, seed=step, rtol=1e-4, atol=1e-5)
    tsd = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), tsd[key].numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    assert ours.num_batches_tracked.item() == 3
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    _check_step(torch, ours, theirs, x, rtol=1e-5, atol=1e-5)


def test_batchnorm_running_stats_by_hand():
    bn = nn.BatchNorm1d(2, momentum=0.5)
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]], np.float32)
    bn(tg.tensor(x))
    mean, var_unbiased = x.mean(0), x.var(0, ddof=1)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * mean, rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * var_unbiased, rtol=1e-6)
    # training output uses the biased batch variance
    y = bn(tg.tensor(x)).detach().numpy()
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(x.var(0) + 1e-5), rtol=1e-5)


def test_batchnorm_without_running_stats_and_affine():
    x = tg.tensor([[1.0, 2.0], [3.0, 6.0]])
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert list(bn.state_dict()) == [] and list(bn.parameters()) == []
    bn.eval()   # no running stats: batch statistics even in eval mode
    np.testing.assert_allclose(bn(x).numpy(), [[-1, -1], [1, 1]], atol=1e-4)


def test_batchnorm_gradcheck_float64():
    rng = np.random.default_rng(4)
    x = tg.tensor(rng.standard_normal((4, 3, 2)), dtype=tg.float64, requires_grad=True)
    w = tg.tensor(rng.uniform(0.5, 2, 3), dtype=tg.float64, requires_grad=True)
    b = tg.tensor(rng.standard_normal(3), dtype=tg.float64, requires_grad=True)
    rm, rv = tg.zeros(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64)
    assert tg.gradcheck(lambda a, g, h: F.batch_norm(a, None, None, g, h, training=True),
                        (x, w, b))
    assert tg.gradcheck(lambda a, g, h: F.batch_norm(a, rm, rv, g, h, training=False),
                        (x, w, b))
    x2 = tg.tensor(rng.standard_normal((3, 2, 2, 2)), dtype=tg.float64, requires_grad=True)
    bn = nn.BatchNorm2d(2).double()
    assert tg.gradcheck(lambda a: F.batch_norm(a, None, None, bn.weight, bn.bias, True), (x2,))


# ---------------------------------------------------------------- layer norm
@pytest.mark.parametrize("normalized_shape,shape", [(5, (3, 5)), ((4, 5), (2, 3, 4, 5)),
                                                    ([5], (2, 3, 5))])
def test_layernorm_matches_torch(normalized_shape, shape):
    torch = torch_or_skip()
    ours = nn.LayerNorm(normalized_shape)
    theirs = torch.nn.LayerNorm(normalized_shape)
    rng = np.random.default_rng(5)
    with tg.no_grad():
        ours.weight.copy_(tg.tensor(rng.uniform(0.5, 2, ours.weight.shape).astype(np.float32)))
        ours.bias.copy_(tg.tensor(rng.standard_normal(ours.bias.shape).astype(np.float32)))
    _to_torch(torch, ours, theirs)
    x = (rng.standard_normal(shape) * 4 + 2).astype(np.float32)
    _check_step(torch, ours, theirs, x, rtol=1e-4, atol=1e-5)


def test_layernorm_by_hand_and_gradcheck():
    x = np.array([[1.0, 2.0, 3.0, 6.0]])
    y = nn.LayerNorm(4, eps=0.0)(tg.tensor(x, dtype=tg.float64)).detach().numpy()
    np.testing.assert_allclose(y, (x - 3.0) / math.sqrt(3.5), rtol=1e-12)
    rng = np.random.default_rng(6)
    a = tg.tensor(rng.standard_normal((2, 3, 4)), dtype=tg.float64, requires_grad=True)
    w = tg.tensor(rng.standard_normal((3, 4)), dtype=tg.float64, requires_grad=True)
    b = tg.tensor(rng.standard_normal((3, 4)), dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda u, v, c: F.layer_norm(u, (3, 4), v, c), (a, w, b))


def test_layernorm_without_affine_or_bias():
    assert list(nn.LayerNorm(3, elementwise_affine=False).state_dict()) == []
    assert list(nn.LayerNorm(3, bias=False).state_dict()) == ["weight"]


# ---------------------------------------------------------------- embedding
def test_embedding_matches_torch_with_padding():
    torch = torch_or_skip()
    ours = nn.Embedding(7, 3, padding_idx=2)
    theirs = torch.nn.Embedding(7, 3, padding_idx=2)
    np.testing.assert_array_equal(ours.weight.detach().numpy()[2], 0.0)
    _to_torch(torch, ours, theirs)
    idx = np.array([[0, 2, 2], [6, 0, 1]])
    _check_step(torch, ours, theirs, idx)


def test_embedding_gradient_sums_repeats_and_skips_padding():
    emb = nn.Embedding(4, 2, padding_idx=0)
    out = emb(tg.tensor([1, 1, 3, 0, 1]))
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_negative_padding_idx_and_from_pretrained():
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    table = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(tg.tensor([1, 0])).numpy(), [[3, 4], [1, 2]])


def test_embedding_max_norm_matches_torch():
    torch = torch_or_skip()
    ours = nn.Embedding(5, 3, max_norm=1.0)
    theirs = torch.nn.Embedding(5, 3, max_norm=1.0)
    with tg.no_grad():
        ours.weight.mul_(3.0)
    _to_torch(torch, ours, theirs)
    idx = np.array([0, 3, 3])
    np.testing.assert_allclose(ours(tg.tensor(idx)).detach().numpy(),
                               theirs(torch.tensor(idx)).detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-5)


def test_embedding_init_is_standard_normal():
    tg.manual_seed(0)
    w = nn.Embedding(2000, 50).weight.detach().numpy()
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1.0) < 0.01


# ---------------------------------------------------------------- dropout
def test_dropout_statistics_and_eval():
    tg.manual_seed(0)
    drop = nn.Dropout(p=0.3)
    y = drop(tg.ones(100_000)).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert abs(y.mean() - 1.0) < 0.02      # inverted dropout keeps the expectation
    drop.eval()
    np.testing.assert_array_equal(drop(tg.ones(10)).numpy(), np.ones(10))


def test_dropout_gradient_is_the_mask():
    tg.manual_seed(1)
    x = tg.ones(50, requires_grad=True)
    y = nn.Dropout(0.5)(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


# ---------------------------------------------------------------- initialisation
def test_default_initialisation_like_torch():
    tg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.detach().numpy()
    assert w.min() >= -bound and w.max() <= bound and w.std() == pytest.approx(
        bound / math.sqrt(3), rel=0.02)
    bn = nn.BatchNorm2d(4)
    np.testing.assert_array_equal(bn.weight.detach().numpy(), np.ones(4))
    np.testing.assert_array_equal(bn.bias.detach().numpy(), np.zeros(4))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(4))
    assert bn.num_batches_tracked.dtype == tg.int64 and bn.num_batches_tracked.shape == ()
    ln = nn.LayerNorm((2, 3))
    np.testing.assert_array_equal(ln.weight.detach().numpy(), np.ones((2, 3)))


def test_reprs_match_torch():
    torch = torch_or_skip()
    ours = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Dropout(0.25),
                         nn.LayerNorm(3), nn.Embedding(10, 3, padding_idx=0), nn.Flatten(),
                         nn.Softmax(dim=1), nn.CrossEntropyLoss())
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3),
                                 torch.nn.ReLU(), torch.nn.Dropout(0.25), torch.nn.LayerNorm(3),
                                 torch.nn.Embedding(10, 3, padding_idx=0), torch.nn.Flatten(),
                                 torch.nn.Softmax(dim=1), torch.nn.CrossEntropyLoss())
    assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------- errors
def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input, got 2D input of "
                                         r"shape \(2, 3\)"):
        nn.BatchNorm2d(3)(tg.randn(2, 3))
    with pytest.raises(ValueError, match="BatchNorm1d: expected 2D or 3D input, got 4D"):
        nn.BatchNorm1d(3)(tg.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="input has 5 channels .* num_features=3"):
        nn.BatchNorm1d(3)(tg.randn(2, 5))
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got "
                                         r"input shape \(1, 3\)"):
        nn.BatchNorm1d(3)(tg.randn(1, 3))
    with pytest.raises(ValueError, match="num_features must be positive, got 0"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match=r"running_mean has shape \(2,\), expected \(3,\)"):
        F.batch_norm(tg.randn(4, 3), tg.zeros(2), tg.ones(3))
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        F.batch_norm(tg.randn(4, 3), None, None, training=False)


def test_layernorm_errors():
    with pytest.raises(ValueError, match=r"normalized_shape=\[4\], expected input with shape "
                                         r"\[\*, 4\], but got input of shape \(2, 3\)"):
        nn.LayerNorm(4)(tg.randn(2, 3))
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(3,\), expected \(4,\)"):
        F.layer_norm(tg.randn(2, 4), (4,), weight=tg.ones(3))


def test_embedding_errors():
    with pytest.raises(IndexError, match="index 9 is out of range for 5 embeddings"):
        nn.Embedding(5, 2)(tg.tensor([1, 9]))
    with pytest.raises(TypeError, match="input must be an integer tensor"):
        nn.Embedding(5, 2)(tg.tensor([1.0]))
    with pytest.raises(ValueError, match=r"padding_idx must be within num_embeddings "
                                         r"\(-5..4\), got 5"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="must be positive, got \\(0, 2\\)"):
        nn.Embedding(0, 2)
    with pytest.raises(NotImplementedError, match="sparse gradients are not supported"):
        nn.Embedding(5, 2, sparse=True)
    with pytest.raises(ValueError, match=r"from_pretrained: embeddings must be 2-D"):
        nn.Embedding.from_pretrained(tg.ones(3))


def test_dropout_errors():
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, "
                                         "but got 1.5"):
        nn.Dropout(1.5)


def test_more_argument_errors():
    with pytest.raises(ValueError, match=r"_weight has shape \(2, 2\), expected \(3, 2\)"):
        nn.Embedding(3, 2, _weight=tg.ones(2, 2))
    with pytest.raises(ValueError, match=r"batch_norm: expected input of shape \(N, C, \.\.\.\) "
                                         r"with at least 2 dims, got shape \(3,\)"):
        F.batch_norm(tg.randn(3), None, None, training=True)
