"""Losses: forward and gradients against PyTorch, numerical gradient checks, stability at
logits of ±1e4, and every error message."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from conftest import torch_or_skip

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off

REDUCTIONS = ["mean", "sum", "none"]


def _pair(torch, arr, requires_grad=True):
    """The same values as a tinygrad_edu tensor and a torch tensor (both leaves)."""
    a = tg.tensor(arr, requires_grad=requires_grad and arr.dtype.kind == "f")
    t = torch.tensor(arr, requires_grad=requires_grad and arr.dtype.kind == "f")
    return a, t


def _compare(torch, ours, theirs, inputs, rtol=1e-5, atol=1e-6):
    """Forward values equal, and the gradients of Σ(loss · v) w.r.t. every input equal."""
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(),
                               rtol=rtol, atol=atol)
    v = np.random.default_rng(3).standard_normal(tuple(ours.shape)).astype(np.float32)
    (ours * tg.tensor(v)).sum().backward()
    (theirs * torch.tensor(v)).sum().backward()
    for a, t in inputs:
        assert a.grad is not None, "missing gradient"
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


# ---------------------------------------------------------------- table of cases
def _ce_cases():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    target = np.array([0, 3, 1, 1, 2, 3])
    target_ign = np.array([0, -100, 1, 2, -100, 3])
    target_ign7 = np.array([7, 3, 7, 1, 2, 0])
    weight = np.array([0.5, 2.0, 1.0, 3.0], np.float32)
    spatial = rng.standard_normal((2, 4, 3, 2)).astype(np.float32)
    spatial_t = rng.integers(0, 4, (2, 3, 2))
    probs = rng.dirichlet(np.ones(4), 6).astype(np.float32)
    cases = []
    for red in REDUCTIONS:
        cases += [
            (f"plain-{red}", logits, target, {"reduction": red}),
            (f"weight-{red}", logits, target, {"reduction": red, "weight": weight}),
            (f"ignore-{red}", logits, target_ign, {"reduction": red}),
            (f"ignore7-weight-{red}", logits, target_ign7,
             {"reduction": red, "ignore_index": 7, "weight": weight}),
            (f"spatial-{red}", spatial, spatial_t, {"reduction": red}),
            (f"smooth-{red}", logits, target_ign, {"reduction": red, "label_smoothing": 0.2}),
            (f"smooth-weight-{red}", logits, target,
             {"reduction": red, "label_smoothing": 0.1, "weight": weight}),
            (f"probs-{red}", logits, probs, {"reduction": red}),
        ]
    return cases


def _kw(torch, kw, ours):
    out = dict(kw)
    if "weight" in out:
        out["weight"] = tg.tensor(kw["weight"]) if ours else torch.tensor(kw["weight"])
    return out


@pytest.mark.parametrize("name,logits,target,kw", _ce_cases(), ids=lambda c: c
                         if isinstance(c, str) else "")
def test_cross_entropy_matches_torch(name, logits, target, kw):
    torch = torch_or_skip()
    x, tx = _pair(torch, logits)
    y, ty = _pair(torch, target, requires_grad=False)
    ours = F.cross_entropy(x, y, **_kw(torch, kw, True))
    theirs = torch.nn.functional.cross_entropy(tx, ty, **_kw(torch, kw, False))
    assert tuple(ours.shape) == tuple(theirs.shape)
    _compare(torch, ours, theirs, [(x, tx)])
    # the module form gives the same numbers
    mod = nn.CrossEntropyLoss(**_kw(torch, kw, True))(x.detach(), y)
    np.testing.assert_allclose(mod.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, weighted):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    logp = np.log(rng.dirichlet(np.ones(5), 7)).astype(np.float32)
    target = np.array([0, 4, -100, 2, 2, 1, -100])
    w = rng.uniform(0.5, 2, 5).astype(np.float32) if weighted else None
    x, tx = _pair(torch, logp)
    ours = F.nll_loss(x, tg.tensor(target), None if w is None else tg.tensor(w),
                      reduction=reduction)
    theirs = torch.nn.functional.nll_loss(tx, torch.tensor(target),
                                          None if w is None else torch.tensor(w),
                                          reduction=reduction)
    _compare(torch, ours, theirs, [(x, tx)])
    mod = nn.NLLLoss(None if w is None else tg.tensor(w), reduction=reduction)
    np.testing.assert_allclose(mod(x.detach(), tg.tensor(target)).numpy(),
                               theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_nll_loss_spatial_none_keeps_target_shape():
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    logp = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    target = rng.integers(0, 3, (2, 4, 5))
    x, tx = _pair(torch, logp)
    ours = F.nll_loss(x, tg.tensor(target), reduction="none")
    theirs = torch.nn.functional.nll_loss(tx, torch.tensor(target), reduction="none")
    assert tuple(ours.shape) == (2, 4, 5)
    _compare(torch, ours, theirs, [(x, tx)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss"])
def test_regression_losses_match_torch(fn, reduction):
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32)
    x, tx = _pair(torch, a)
    y, ty = _pair(torch, b)
    ours = getattr(F, fn)(x, y, reduction=reduction)
    theirs = getattr(torch.nn.functional, fn)(tx, ty, reduction=reduction)
    _compare(torch, ours, theirs, [(x, tx), (y, ty)])
    module = {"mse_loss": nn.MSELoss, "l1_loss": nn.L1Loss}[fn](reduction=reduction)
    np.testing.assert_allclose(module(x.detach(), y.detach()).numpy(),
                               theirs.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, weighted):
    torch = torch_or_skip()
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.98, (4, 3)).astype(np.float32)
    y = rng.uniform(0, 1, (4, 3)).astype(np.float32)        # soft targets are allowed
    w = rng.uniform(0.5, 2, (3,)).astype(np.float32) if weighted else None
    x, tx = _pair(torch, p)
    t, tt = _pair(torch, y)
    ours = F.binary_cross_entropy(x, t, None if w is None else tg.tensor(w), reduction)
    theirs = torch.nn.functional.binary_cross_entropy(
        tx, tt, None if w is None else torch.tensor(w), reduction=reduction)
    _compare(torch, ours, theirs, [(x, tx), (t, tt)], rtol=1e-4, atol=1e-5)
    mod = nn.BCELoss(None if w is None else tg.tensor(w), reduction=reduction)
    np.testing.assert_allclose(mod(x.detach(), t.detach()).numpy(), theirs.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("extra", ["none", "weight", "pos_weight"])
def test_bce_with_logits_matches_torch(reduction, extra):
    torch = torch_or_skip()
    rng = np.random.default_rng(6)
    z = (rng.standard_normal((5, 3)) * 4).astype(np.float32)
    z[0, 0] = 0.0                                    # the kink of max(-x, 0)
    z[1, 1], z[2, 2] = 1e4, -1e4
    y = rng.integers(0, 2, (5, 3)).astype(np.float32)
    kw_ours, kw_torch = {}, {}
    if extra != "none":
        w = rng.uniform(0.5, 3, (3,)).astype(np.float32)
        kw_ours[extra], kw_torch[extra] = tg.tensor(w), torch.tensor(w)
    x, tx = _pair(torch, z)
    t, tt = _pair(torch, y)
    ours = F.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw_ours)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(tx, tt, reduction=reduction,
                                                                  **kw_torch)
    _compare(torch, ours, theirs, [(x, tx), (t, tt)], rtol=1e-5, atol=1e-4)
    mod = nn.BCEWithLogitsLoss(reduction=reduction, **kw_ours)
    np.testing.assert_allclose(mod(x.detach(), t.detach()).numpy(), theirs.detach().numpy(),
                               rtol=1e-5, atol=1e-4)


# ---------------------------------------------------------------- without torch
def test_cross_entropy_hand_value():
    # -log(e² / (e² + 2)) = log(1 + 2e⁻²)
    got = F.cross_entropy(tg.tensor([[2.0, 0.0, 0.0]]), tg.tensor([0])).item()
    assert got == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    logits = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]])
    x = tg.tensor(logits, requires_grad=True)
    F.cross_entropy(x, tg.tensor([2, 0]), reduction="sum").backward()
    e = np.exp(logits - logits.max(1, keepdims=True))
    want = e / e.sum(1, keepdims=True) - np.eye(3)[[2, 0]]
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_bce_with_logits_gradient_at_zero_is_half_minus_target():
    # d/dx [-(y log σ(x) + (1-y) log(1-σ(x)))] = σ(x) - y = 0.5 - y at x = 0
    x = tg.tensor([0.0, 0.0], requires_grad=True)
    F.binary_cross_entropy_with_logits(x, tg.tensor([0.0, 1.0]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -0.5], rtol=1e-7)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_cross_entropy_is_stable_at_huge_logits(scale):
    logits = np.array([[scale, 0.0, -scale], [0.0, scale, 1.0]], np.float32)
    x = tg.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor([2, 1]))
    loss.backward()
    assert math.isfinite(loss.item())
    assert np.isfinite(x.grad.numpy()).all()
    # hand value: row 0 target logit is -scale below the max: loss = 2e4 for scale=+1e4
    want0 = (max(scale, 0, -scale) - (-scale))
    want1 = max(scale, 0, 1) - scale + math.log(sum(math.exp(v - max(scale, 0, 1))
                                                    for v in (0.0, scale, 1.0)))
    assert loss.item() == pytest.approx((want0 + want1) / 2, rel=1e-6)


def test_huge_logits_match_torch():
    torch = torch_or_skip()
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1.0], [3.0, -1e4, 1e4]], np.float32)
    target = np.array([2, 1, 0])
    x, tx = _pair(torch, logits)
    _compare(torch, F.cross_entropy(x, tg.tensor(target)),
             torch.nn.functional.cross_entropy(tx, torch.tensor(target)), [(x, tx)])
    y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], np.float32)
    x, tx = _pair(torch, logits)
    ours = F.binary_cross_entropy_with_logits(x, tg.tensor(y))
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(tx, torch.tensor(y))
    assert math.isfinite(ours.item())
    _compare(torch, ours, theirs, [(x, tx)])


def test_bce_is_finite_at_probabilities_zero_and_one():
    p = tg.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(p, tg.tensor([0.0, 1.0, 1.0, 0.0]), reduction="none")
    loss.sum().backward()
    # log is clamped at -100 as in PyTorch: right answers cost 0, wrong ones 100
    np.testing.assert_allclose(loss.detach().numpy(), [0.0, 0.0, 100.0, 100.0], atol=1e-4)
    assert np.isfinite(p.grad.numpy()).all()


def test_sigmoid_of_huge_logit_through_bce_is_finite():
    x = tg.tensor([1e4, -1e4], requires_grad=True)
    loss = F.binary_cross_entropy(x.sigmoid(), tg.tensor([0.0, 1.0]))
    loss.backward()
    assert math.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()


def test_ignored_targets_contribute_nothing():
    x = tg.tensor([[1.0, 2.0], [5.0, -3.0], [0.3, 0.1]], requires_grad=True)
    full = F.cross_entropy(x, tg.tensor([1, -100, 0]), reduction="sum")
    part = F.cross_entropy(x[[0, 2]], tg.tensor([1, 0]), reduction="sum")
    assert full.item() == pytest.approx(part.item(), rel=1e-6)
    full.backward()
    np.testing.assert_array_equal(x.grad.numpy()[1], [0.0, 0.0])


# ---------------------------------------------------------------- gradcheck (float64)
def _f64(shape, seed, lo=None, hi=None):
    rng = np.random.default_rng(seed)
    a = rng.uniform(lo, hi, shape) if lo is not None else rng.standard_normal(shape)
    return tg.tensor(a, dtype=tg.float64, requires_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_losses(reduction):
    x = _f64((4, 3), 0)
    w = tg.tensor([0.5, 2.0, 1.0], dtype=tg.float64)
    tgt = tg.tensor([2, -100, 0, 1])
    assert tg.gradcheck(lambda a: F.cross_entropy(a, tgt, w, reduction=reduction,
                                                  label_smoothing=0.1), (x,))
    assert tg.gradcheck(lambda a: F.nll_loss(a, tgt, w, reduction=reduction), (x,))
    y = _f64((4, 3), 1)
    assert tg.gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), (x, y))
    p, q = _f64((4, 3), 2, 0.05, 0.95), _f64((4, 3), 3, 0.0, 1.0)
    assert tg.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), (p, q))
    pw = tg.tensor([1.0, 2.0, 0.5], dtype=tg.float64)
    assert tg.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, reduction=reduction, pos_weight=pw), (x, q))


# ---------------------------------------------------------------- error messages
def test_bad_reduction_is_named():
    x, t = tg.randn(3, 2), tg.tensor([0, 1, 1])
    with pytest.raises(ValueError, match="reduction must be one of .* got 'avg'"):
        F.cross_entropy(x, t, reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of .* got 'avg'"):
        nn.MSELoss(reduction="avg")


def test_float_target_for_nll_is_refused():
    with pytest.raises(TypeError, match="nll_loss: target must hold int64 class indices"):
        F.nll_loss(tg.randn(3, 2), tg.tensor([0.0, 1.0, 1.0]))


def test_out_of_range_target_is_named():
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        F.cross_entropy(tg.randn(2, 3), tg.tensor([0, 5]))


def test_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\).*got \(3,\)"):
        F.nll_loss(tg.randn(4, 3), tg.tensor([0, 1, 2]))


def test_class_weight_shape_is_checked():
    with pytest.raises(ValueError, match=r"weight has shape \(2,\), expected one weight per "
                                         r"class \(3,\)"):
        F.cross_entropy(tg.randn(4, 3), tg.tensor([0, 1, 2, 0]), weight=tg.ones(2))


def test_regression_shape_mismatch():
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(2, 3\) and target shape "
                                         r"\(3,\) must match"):
        F.mse_loss(tg.randn(2, 3), tg.randn(3))


def test_bce_rejects_values_outside_zero_one():
    with pytest.raises(ValueError, match="must be probabilities in \\[0, 1\\].*with_logits"):
        F.binary_cross_entropy(tg.tensor([0.5, 1.5]), tg.tensor([0.0, 1.0]))


def test_loss_module_argument_errors():
    with pytest.raises(ValueError, match="label_smoothing must be between 0 and 1, got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(TypeError, match="weight must be a Tensor or None, got list"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])


def test_class_weight_is_a_buffer_like_torch():
    torch = torch_or_skip()
    w = np.array([1.0, 2.0], np.float32)
    ours = nn.CrossEntropyLoss(weight=tg.tensor(w)).state_dict()
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w)).state_dict()
    assert list(ours) == list(theirs)
    ours = nn.BCEWithLogitsLoss(pos_weight=tg.tensor(w)).state_dict()
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)).state_dict()
    assert list(ours) == list(theirs)
