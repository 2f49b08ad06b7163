"""nn.Module: registration, traversal, modes, devices, state_dict keys equal to PyTorch's,
load_state_dict errors, the repr tree, and nn.utils gradient clipping."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from conftest import torch_or_skip


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.norm = nn.BatchNorm1d(3)
        self.inner = nn.Sequential(nn.ReLU(), nn.Linear(3, 2, bias=False))
        self.scale = nn.Parameter(tg.ones(2))

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return self.inner(self.norm(self.fc1(x))) * self.scale


def test_parameters_and_names():
    m = _Block()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "norm.weight", "norm.bias",
                     "inner.1.weight"]
    assert sum(p.numel() for p in m.parameters()) == 2 + 12 + 3 + 3 + 3 + 6
    assert [n for n, _ in m.named_buffers()] == ["norm.running_mean", "norm.running_var",
                                                 "norm.num_batches_tracked"]
    assert [n for n, _ in m.named_children()] == ["fc1", "norm", "inner"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "norm", "inner", "inner.0",
                                                 "inner.1"]
    assert len(list(m.modules())) == 6
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())


def test_state_dict_keys_equal_torch():
    torch = torch_or_skip()
    ours = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 6), nn.BatchNorm1d(6),
                         nn.ReLU(), nn.Dropout(0.1), nn.LayerNorm(6), nn.Linear(6, 2),
                         nn.Sequential(nn.BatchNorm1d(2, affine=False), nn.Tanh()))
    theirs = torch.nn.Sequential(
        torch.nn.Embedding(10, 4), torch.nn.Flatten(), torch.nn.Linear(8, 6),
        torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.LayerNorm(6),
        torch.nn.Linear(6, 2),
        torch.nn.Sequential(torch.nn.BatchNorm1d(2, affine=False), torch.nn.Tanh()))
    osd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(osd) == list(tsd)
    for k in tsd:
        assert tuple(osd[k].shape) == tuple(tsd[k].shape), k
        assert str(osd[k].dtype) == str(tsd[k].dtype).replace("torch.", ""), k
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    # and the torch values load back here, strictly
    ours.load_state_dict(tsd, strict=True)


def test_train_eval_propagate():
    m = _Block()
    assert m.training and m.inner[0].training
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())


def test_zero_grad():
    m = _Block()
    m(tg.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(np.abs(p.grad.numpy()).sum()) == 0.0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_to_dtype_keeps_parameter_objects():
    m = _Block()
    before = [id(p) for p in m.parameters()]
    m.double()
    assert [id(p) for p in m.parameters()] == before
    assert all(p.dtype == tg.float64 for p in m.parameters())
    assert m.norm.running_mean.dtype == tg.float64
    assert m.norm.num_batches_tracked.dtype == tg.int64      # integer buffers are not cast
    m.to("cpu")
    assert all(p.device == "cpu" for p in m.parameters())


def test_to_cuda_when_available():
    if not tg.cuda.is_available():
        pytest.skip("no CUDA device (CuPy with a GPU) on this machine")
    m = _Block().to("cuda")
    assert all(t.device == "cuda" for t in list(m.parameters()) + list(m.buffers()))
    y = m(tg.randn(5, 4, device="cuda"))
    y.sum().backward()
    assert m.fc1.weight.grad.device == "cuda"
    sd = m.state_dict()
    fresh = _Block()
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh.fc1.weight.detach().numpy(),
                                  m.fc1.weight.detach().cpu().numpy())


def test_load_state_dict_errors_name_the_keys():
    m = nn.Sequential(nn.Linear(2, 3))
    sd = m.state_dict()
    bad = dict(sd)
    bad["0.weight"] = tg.zeros(4, 2)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight: shape \(4, 2\) in the "
                                           r"state dict, but the model expects \(3, 2\)"):
        m.load_state_dict(bad)
    with pytest.raises(RuntimeError, match=r"Missing key\(s\) in state_dict: \['0\.bias'\]"):
        m.load_state_dict({"0.weight": sd["0.weight"]})
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\) in state_dict: \['extra'\]"):
        m.load_state_dict({**sd, "extra": tg.zeros(1)})
    with pytest.raises(RuntimeError, match="size mismatch"):      # even when not strict
        m.load_state_dict(bad, strict=False)
    keys = m.load_state_dict({"0.weight": sd["0.weight"]}, strict=False)
    assert keys.missing_keys == ["0.bias"] and keys.unexpected_keys == []


def test_load_state_dict_copies_values():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    with tg.no_grad():
        a.weight.fill_(7.0)
    assert float(b.weight.detach().numpy()[0, 0]) != 7.0    # a copy, not shared memory


def test_repr_tree_matches_torch():
    torch = torch_or_skip()
    ours = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3)),
                         nn.LogSoftmax(dim=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3),
                                 torch.nn.Sequential(torch.nn.ReLU(), torch.nn.BatchNorm2d(3)),
                                 torch.nn.LogSoftmax(dim=1))
    assert repr(ours) == repr(theirs)


def test_repr_with_extra_and_children_uses_torch_layout():
    class WithExtra(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def extra_repr(self) -> str:
            return "mode='x'"

    assert repr(WithExtra()) == ("WithExtra(\n  mode='x'\n  (fc): Linear(in_features=1, "
                                 "out_features=1, bias=True)\n)")


def test_assignment_before_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) before assigning "
                                             r"attribute 'fc'"):
        Broken()


# ---------------------------------------------------------------- nn.utils clipping
def _with_grads(values):
    ps = []
    for v in values:
        p = nn.Parameter(tg.tensor(np.asarray(v, np.float32)))
        p.grad = tg.tensor(np.asarray(v, np.float32))
        ps.append(p)
    return ps


def test_clip_grad_norm_by_hand():
    ps = _with_grads([[3.0, 0.0], [0.0, 4.0, 0.0]])          # total norm 5
    total = nn.utils.clip_grad_norm_(ps, max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 * coef, 0.0], rtol=1e-6)
    np.testing.assert_allclose(ps[1].grad.numpy(), [0.0, 4 * coef, 0.0], rtol=1e-6)
    ps = _with_grads([[0.3, 0.4]])                            # already short: untouched
    nn.utils.clip_grad_norm_(ps, max_norm=1.0)
    np.testing.assert_allclose(ps[0].grad.numpy(), [0.3, 0.4], rtol=1e-6)


def test_clip_grad_norm_inf_and_params_without_grad():
    ps = _with_grads([[1.0, -6.0], [2.0]])
    ps.append(nn.Parameter(tg.ones(2)))                       # no grad: skipped
    total = nn.utils.clip_grad_norm_(ps, max_norm=3.0, norm_type=math.inf)
    assert total.item() == pytest.approx(6.0)
    np.testing.assert_allclose(ps[0].grad.numpy(), np.array([1.0, -6.0]) * 3 / (6 + 1e-6),
                               rtol=1e-6)
    assert nn.utils.clip_grad_norm_(nn.Parameter(tg.ones(2)), 1.0).item() == 0.0


def test_clip_grad_norm_matches_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal(s).astype(np.float32) * 5 for s in [(3, 4), (4,), (2, 2, 2)]]
    for norm_type in (2.0, 1.0, 3.0, math.inf):
        ours = _with_grads(vals)
        theirs = [torch.nn.Parameter(torch.tensor(v)) for v in vals]
        for t, v in zip(theirs, vals):
            t.grad = torch.tensor(v)
        a = nn.utils.clip_grad_norm_(ours, 2.0, norm_type=norm_type)
        b = torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type=norm_type)
        assert a.item() == pytest.approx(b.item(), rel=1e-5)
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_nonfinite():
    ps = _with_grads([[float("inf"), 1.0]])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is non-finite"):
        nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    ps = _with_grads([[-3.0, 0.5, 2.0]])
    nn.utils.clip_grad_value_(ps, 1.0)
    np.testing.assert_array_equal(ps[0].grad.numpy(), [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value must be >= 0, got -1.0"):
        nn.utils.clip_grad_value_(ps, -1)
    with pytest.raises(TypeError, match="parameters must be Tensors, item 0 is list"):
        nn.utils.clip_grad_value_([[1.0]], 1.0)


def test_clip_inside_training_bounds_the_step():
    tg.manual_seed(0)
    model = nn.Linear(3, 1)
    loss = (model(tg.randn(8, 3) * 1000) ** 2).mean()
    loss.backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
    assert total.item() > 0.5
    after = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in model.parameters()))
    assert after == pytest.approx(0.5, rel=1e-5)


# ---------------------------------------------------------------- the 'cuda' path, without a GPU


def test_layers_losses_clipping_and_checkpoints_on_device(fake_cuda, tmp_path):
    import tinygrad_edu.functional as F
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 10, (6, 2))
    y = rng.integers(0, 3, 6)
    results = {}
    for dev in ("cpu", "cuda"):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Flatten(),
                              nn.Linear(8, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.LayerNorm(5),
                              nn.Linear(5, 3)).to(dev)
        x, t = tg.tensor(idx, device=dev), tg.tensor(y, device=dev)
        out = model(x)
        loss = (F.cross_entropy(out, t, weight=tg.ones(3, device=dev))
                + F.binary_cross_entropy_with_logits(out, tg.ones(6, 3, device=dev))
                + F.binary_cross_entropy(out.sigmoid(), tg.zeros(6, 3, device=dev))
                + F.mse_loss(out, tg.zeros(6, 3, device=dev)))
        loss.backward()
        total = nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        nn.utils.clip_grad_value_(model.parameters(), 0.01)
        assert total.device == dev and loss.device == dev
        tg.save(model.state_dict(), tmp_path / f"{dev}.npz")
        back = tg.load(tmp_path / f"{dev}.npz", map_location=dev)
        assert all(v.device == dev for v in back.values())
        s = model.summary((2,), dtypes=tg.int64, print_summary=False)
        assert s.total == 40 + 45 + 10 + 10 + 18
        results[dev] = (loss.item(), {k: v.numpy() for k, v in back.items()},
                        {n: p.grad.numpy() for n, p in model.named_parameters()})
    assert results["cuda"][0] == pytest.approx(results["cpu"][0], rel=1e-5)
    for i in (1, 2):
        for k, v in results["cpu"][i].items():
            assert type(results["cuda"][i][k]) is np.ndarray
            np.testing.assert_allclose(results["cuda"][i][k], v, rtol=1e-5, atol=1e-6,
                                       err_msg=k)
