"""Optimizers and learning-rate schedulers: hand-derived steps, PyTorch parity, state dicts."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.optim.lr_scheduler import CosineAnnealingLR, StepLR

from conftest import torch_or_skip


def _param(values, dtype=tg.float64) -> nn.Parameter:
    return nn.Parameter(tg.tensor(values, dtype=dtype))


def _quadratic_steps(opt_factory, w0, steps: int) -> list:
    """Minimise E(w) = Σ w²/2 (so ∂E/∂w = w); return w after each step."""
    w = _param(w0)
    opt = opt_factory([w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (w * w).sum().mul(0.5).backward()
        opt.step()
        out.append(w.detach().numpy().copy())
    return out


# ---------------------------------------------------------------- hand-derived steps (no torch)
def test_sgd_momentum_two_steps_by_hand() -> None:
    # lr 0.1, μ 0.9, g = w.  Step 1: b = g = [1, -2]; w = [0.9, -1.8].
    # Step 2: g = [0.9, -1.8]; b = 0.9·[1, -2] + g = [1.8, -3.6]; w = [0.72, -1.44].
    ws = _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, momentum=0.9), [1.0, -2.0], 2)
    np.testing.assert_allclose(ws[0], [0.9, -1.8], rtol=0, atol=1e-15)
    np.testing.assert_allclose(ws[1], [0.72, -1.44], rtol=0, atol=1e-15)


def test_sgd_dampening_nesterov_weight_decay_by_hand() -> None:
    # dampening 0.5, step 2: b = 0.9·1 + 0.5·0.9 = 1.35, w = 0.9 - 0.135 = 0.765
    ws = _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5), [1.0], 2)
    np.testing.assert_allclose([w[0] for w in ws], [0.9, 0.765], atol=1e-15)
    # nesterov, step 1: b = 1, g' = 1 + 0.9 = 1.9, w = 0.81;
    # step 2: g = 0.81, b = 0.9 + 0.81 = 1.71, g' = 0.81 + 0.9·1.71 = 2.349, w = 0.5751
    ws = _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), [1.0], 2)
    np.testing.assert_allclose([w[0] for w in ws], [0.81, 0.5751], atol=1e-15)
    # weight decay 0.1 without momentum: g = 1.1·w, so w <- 0.89·w each step
    ws = _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, weight_decay=0.1), [1.0, -2.0], 2)
    np.testing.assert_allclose(ws[1], [0.89 ** 2, -2 * 0.89 ** 2], atol=1e-15)
    # maximize climbs: w <- w + lr·g = 1.1·w
    ws = _quadratic_steps(lambda p: optim.SGD(p, lr=0.1, maximize=True), [1.0], 1)
    np.testing.assert_allclose(ws[0], [1.1], atol=1e-15)


def test_adam_and_rmsprop_first_step_by_hand() -> None:
    # Adam step 1: m = 0.1g, v = 0.001g², m̂ = g, v̂ = g²,
    # so Δw = -lr·g/(|g| + ε) ≈ -lr·sign(g)
    ws = _quadratic_steps(lambda p: optim.Adam(p, lr=0.1), [1.0, -2.0], 1)
    np.testing.assert_allclose(ws[0], [1 - 0.1 / (1 + 1e-8), -2 + 0.1 / (1 + 0.5e-8)],
                               atol=1e-14)
    # RMSprop step 1 (α 0.99): s = 0.01g², Δw = -lr·g/(0.1|g| + ε) ≈ -10·lr·sign(g)
    ws = _quadratic_steps(lambda p: optim.RMSprop(p, lr=0.01), [1.0, -2.0], 1)
    np.testing.assert_allclose(ws[0], [1 - 0.01 / (0.1 + 1e-8), -2 + 0.02 / (0.2 + 1e-8)],
                               atol=1e-14)
    # AdamW decays first: w = 1·(1 - 0.1·0.5) = 0.95, then the Adam step of 0.1
    ws = _quadratic_steps(lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.5), [1.0], 1)
    np.testing.assert_allclose(ws[0], [0.95 - 0.1 / (1 + 1e-8)], atol=1e-14)


def test_adam_second_step_bias_correction_by_hand() -> None:
    # g1 = 1 -> w1 = 1 - 0.1/(1+ε) = 0.9 (ε negligible); g2 = 0.9
    # m2 = 0.9·0.1 + 0.1·0.9 = 0.18, m̂ = 0.18/0.19; v2 = 0.999·0.001 + 0.001·0.81
    b1, b2, lr = 0.9, 0.999, 0.1
    w1 = 1 - lr / (1 + 1e-8)
    m2 = b1 * (1 - b1) * 1 + (1 - b1) * w1
    v2 = b2 * (1 - b2) * 1 + (1 - b2) * w1 ** 2
    w2 = w1 - lr / (1 - b1 ** 2) * m2 / (math.sqrt(v2) / math.sqrt(1 - b2 ** 2) + 1e-8)
    ws = _quadratic_steps(lambda p: optim.Adam(p, lr=lr), [1.0], 2)
    np.testing.assert_allclose([w[0] for w in ws], [w1, w2], atol=1e-14)


def test_lesson10_rule_equals_sgd_momentum_weight_decay() -> None:
    """w_t = w_{t-1} - η∂E/∂w + α·Δw_{t-1} - λη·w_{t-1} is SGD(momentum=α, weight_decay=λ).

    Derivation: SGD keeps b_t = α·b_{t-1} + (∂E/∂w + λw_{t-1}) (b_1 = the first such
    gradient) and steps w_t = w_{t-1} - η·b_t. So
    Δw_t = -η·b_t = α·(-η·b_{t-1}) - η∂E/∂w - λη·w_{t-1}
         = α·Δw_{t-1} - η∂E/∂w - λη·w_{t-1},   with Δw_0 = 0.
    """
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    eta, alpha, lam = 0.05, 0.9, 0.01
    w_ref, last = np.array([0.5, -1.0, 2.0]), np.zeros(3)
    w = _param(w_ref.copy())
    opt = optim.SGD([w], lr=eta, momentum=alpha, weight_decay=lam)
    Xt, yt = tg.tensor(X, dtype=tg.float64), tg.tensor(y, dtype=tg.float64)
    for _ in range(8):
        dE = 2 * X.T @ (X @ w_ref - y) / len(y)          # E = mean((Xw - y)²), by hand
        new = w_ref - eta * dE + alpha * last - lam * eta * w_ref
        last, w_ref = new - w_ref, new
        opt.zero_grad()
        ((Xt @ w - yt) ** 2).mean().backward()
        opt.step()
        np.testing.assert_allclose(w.detach().numpy(), w_ref, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- behaviour
def test_zero_grad_set_to_none_and_zeros() -> None:
    w = _param([1.0, 2.0])
    opt = optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    (w * 3).sum().backward()
    opt.zero_grad()
    assert w.grad is None


def test_params_without_grad_are_left_alone_and_version_bumps_once() -> None:
    a, b = _param([1.0]), _param([2.0])
    opt = optim.Adam([a, b], lr=0.1)
    (a * 2).sum().backward()
    v0 = a._version
    opt.step()
    assert a._version == v0 + 1
    assert b.item() == 2.0 and b not in opt.state
    assert opt.state[a]["step"].item() == 1.0


def test_step_with_closure_returns_the_loss() -> None:
    w = _param([3.0])
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()          # ∂/∂w = 2w = 6
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0 and w.item() == pytest.approx(3.0 - 0.6, abs=1e-15)


def test_param_groups_have_their_own_lr() -> None:
    a, b = _param([1.0]), _param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a + b).sum().backward()                    # both gradients are 1
    opt.step()
    assert a.item() == pytest.approx(0.9, abs=1e-15)
    assert b.item() == pytest.approx(0.5, abs=1e-15)
    c = _param([3.0])
    opt.add_param_group({"params": c, "momentum": 0.9})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.9
    assert "Parameter Group 2" in repr(opt)


def test_optimizer_errors() -> None:
    w = _param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="got a set"):
        optim.Adam({w}, lr=0.1)
    with pytest.raises(ValueError, match=r"invalid lr=-1"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match=r"invalid nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"invalid betas"):
        optim.Adam([w], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match=r"invalid alpha"):
        optim.RMSprop([w], alpha=2.0)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([w, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([tg.tensor([1, 2])], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(KeyError, match="no 'params' key"):
        opt.add_param_group({"lr": 0.1})
    with pytest.raises(ValueError, match=r"has 0 parameter group\(s\), the optimizer has 1"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    other = optim.SGD([_param([1.0]), _param([2.0])], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the state dict"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"lr": 0.1})
    bad = {"state": {0: {"momentum_buffer": tg.zeros(2, dtype=tg.float64)}},
           "param_groups": [dict(opt.state_dict()["param_groups"][0])]}
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' of parameter 0 has shape "
                                         r"\(2,\), the parameter has \(1,\)"):
        opt.load_state_dict(bad)


def _train(opt, params, steps: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = tg.tensor(rng.normal(size=(4, 3)), dtype=tg.float64)
        opt.zero_grad()
        loss = ((x @ params[0] + params[1]) ** 2).mean()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    lambda p: optim.Adam(p, lr=0.05, amsgrad=True),
    lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
], ids=["sgd", "adam", "rmsprop"])
def test_state_dict_round_trip_continues_identically(make) -> None:
    init = [np.array([[0.5], [-1.0], [0.3]]), np.array([0.1])]
    pa = [_param(v) for v in init]
    oa = make(pa)
    _train(oa, pa, 3)
    sd = oa.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert sd["param_groups"][0]["params"] == [0, 1] and sorted(sd["state"]) == [0, 1]
    pb = [_param(p.detach().numpy().copy()) for p in pa]
    ob = make(pb)
    ob.load_state_dict(sd)
    for key, value in sd["state"][0].items():          # loaded state is a copy
        assert ob.state[pb[0]][key] is not value
    _train(oa, pa, 4, seed=1)
    _train(ob, pb, 4, seed=1)
    for a, b in zip(pa, pb):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


# ---------------------------------------------------------------- PyTorch parity
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5)),
    ("RMSprop", dict(lr=0.005, centered=True, weight_decay=0.1, eps=1e-6)),
]


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


def _torch_mlp(torch, model: nn.Module):
    tm = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                        for k, v in model.state_dict().items()})
    return tm


def _groups(params: list, two_groups: bool) -> list:
    if not two_groups:
        return params
    return [{"params": params[:2], "lr": 0.003}, {"params": params[2:]}]


def _run_both(torch, name: str, kwargs: dict, steps: int, two_groups: bool = False):
    tg.manual_seed(0)
    model = _mlp()
    tmodel = _torch_mlp(torch, model)
    opt = getattr(optim, name)(_groups(list(model.parameters()), two_groups), **kwargs)
    topt = getattr(torch.optim, name)(_groups(list(tmodel.parameters()), two_groups), **kwargs)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x = rng.normal(size=(16, 6)).astype(np.float32)
        y = rng.integers(0, 3, size=16)
        opt.zero_grad()
        F.cross_entropy(model(tg.tensor(x)), tg.tensor(y)).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)),
                                          torch.from_numpy(y)).backward()
        topt.step()
    return model, tmodel, opt, topt


@pytest.mark.parametrize("name,kwargs", CONFIGS,
                         ids=[f"{n}-{'-'.join(sorted(k))}" for n, k in CONFIGS])
def test_ten_steps_match_pytorch(name: str, kwargs: dict) -> None:
    torch = torch_or_skip()
    model, tmodel, opt, topt = _run_both(torch, name, kwargs, steps=10)
    for (key, p), tp in zip(model.named_parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=0, atol=1e-5,
                                   err_msg=f"{name}{kwargs}: parameter {key}")
    # the optimizer state has PyTorch's keys and values
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for i, tstate in theirs["state"].items():
        assert sorted(ours["state"][i]) == sorted(tstate), f"state keys of parameter {i}"
        for k, v in tstate.items():
            np.testing.assert_allclose(ours["state"][i][k].numpy(), v.numpy(), rtol=1e-4,
                                       atol=1e-6, err_msg=f"state {k!r} of parameter {i}")
    for g, tgp in zip(ours["param_groups"], theirs["param_groups"]):
        assert g["params"] == tgp["params"]
        for k in ("lr", "weight_decay"):
            assert g[k] == tgp[k]


def test_two_param_groups_match_pytorch() -> None:
    torch = torch_or_skip()
    model, tmodel, _, _ = _run_both(torch, "SGD", dict(lr=0.1, momentum=0.9), 10,
                                    two_groups=True)
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
])
def test_load_pytorch_optimizer_state_and_continue(name: str, kwargs: dict) -> None:
    torch = torch_or_skip()
    _, tmodel, _, topt = _run_both(torch, name, kwargs, steps=5)
    model = _mlp()
    model.load_state_dict(tmodel.state_dict())
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    opt.load_state_dict(topt.state_dict())
    rng = np.random.default_rng(7)
    for _ in range(5):
        x = rng.normal(size=(16, 6)).astype(np.float32)
        y = rng.integers(0, 3, size=16)
        opt.zero_grad()
        F.cross_entropy(model(tg.tensor(x)), tg.tensor(y)).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)),
                                          torch.from_numpy(y)).backward()
        topt.step()
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=0, atol=1e-5)


# ---------------------------------------------------------------- schedulers
def _lrs(sched, epochs: int) -> list:
    out = []
    for _ in range(epochs):
        out.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step()
    return out


def test_step_lr_by_hand() -> None:
    opt = optim.SGD([_param([1.0])], lr=0.1)
    lrs = _lrs(StepLR(opt, step_size=2, gamma=0.5), 6)
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rtol=1e-15)
    assert opt.param_groups[0]["initial_lr"] == 0.1


def test_cosine_annealing_follows_the_closed_form() -> None:
    opt = optim.SGD([_param([1.0])], lr=0.2)
    T, lo = 10, 0.01
    lrs = _lrs(CosineAnnealingLR(opt, T_max=T, eta_min=lo), T + 1)
    want = [lo + (0.2 - lo) * (1 + math.cos(math.pi * t / T)) / 2 for t in range(T + 1)]
    np.testing.assert_allclose(lrs, want, rtol=1e-12, atol=1e-15)
    assert lrs[-1] == pytest.approx(lo)


def test_scheduler_state_dict_and_errors() -> None:
    opt = optim.SGD([_param([1.0])], lr=0.1)
    sched = StepLR(opt, step_size=3, gamma=0.1)
    _lrs(sched, 4)
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4 and sd["base_lrs"] == [0.1]
    opt2 = optim.SGD([_param([1.0])], lr=0.1)
    sched2 = StepLR(opt2, step_size=3, gamma=0.1)
    sched2.load_state_dict(sd)
    assert sched2.last_epoch == 4 and sched2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive integer"):
        CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        StepLR("sgd", step_size=1)
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(optim.SGD([_param([1.0])], lr=0.1), step_size=1, last_epoch=3)


@pytest.mark.parametrize("kind", ["step", "cosine"])
def test_schedulers_match_pytorch(kind: str) -> None:
    torch = torch_or_skip()
    opt = optim.SGD([_param([1.0])], lr=0.3)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.3)
    if kind == "step":
        ours, theirs = StepLR(opt, 3, gamma=0.7), torch.optim.lr_scheduler.StepLR(topt, 3, 0.7)
    else:
        ours = CosineAnnealingLR(opt, T_max=7, eta_min=0.02)
        theirs = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=7, eta_min=0.02)
    np.testing.assert_allclose(_lrs(ours, 25), _lrs(theirs, 25), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- the 'cuda' path (stand-in)


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: optim.Adam(p, lr=0.05, amsgrad=True, weight_decay=0.1),
    lambda p: optim.AdamW(p, lr=0.05),
    lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
], ids=["sgd", "adam", "adamw", "rmsprop"])
def test_optimizers_on_cuda_match_cpu(fake_cuda, make) -> None:
    init = [np.array([[0.5], [-1.0], [0.3]]), np.array([0.1])]
    cpu = [_param(v) for v in init]
    gpu = [nn.Parameter(tg.tensor(v, dtype=tg.float64, device="cuda")) for v in init]
    ocpu, ogpu = make(cpu), make(gpu)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = rng.normal(size=(4, 3))
        for params, opt, dev in ((cpu, ocpu, "cpu"), (gpu, ogpu, "cuda")):
            opt.zero_grad(set_to_none=False)
            xt = tg.tensor(x, dtype=tg.float64, device=dev)
            ((xt @ params[0] + params[1]) ** 2).mean().backward()
            opt.step()
    for a, b in zip(cpu, gpu):
        assert b.device == "cuda"
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=0, atol=1e-12)
    moved = make([nn.Parameter(tg.tensor(v, dtype=tg.float64, device="cuda")) for v in init])
    moved.load_state_dict(ocpu.state_dict())            # cpu state onto cuda parameters
    for st in moved.state.values():
        for k, v in st.items():
            assert v.device == ("cpu" if k == "step" else "cuda")
