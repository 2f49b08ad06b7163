"""Numerical gradient checks: the test that decides whether a gradient is right.

Central differences approximate each column of the Jacobian J = ∂out/∂in:

    J[:, j] ≈ (f(x + eps·e_j) - f(x - eps·e_j)) / (2·eps)

and autograd gives each row (a backward pass with a one-hot upstream
gradient). ``gradcheck`` compares the two over the *whole* Jacobian in
float64, and also one vector-Jacobian product with a random upstream gradient
v (vᵀJ), which exercises gradient accumulation the one-hot rows may not.

>>> x = tg.randn(3, dtype=tg.float64, requires_grad=True)
>>> tg.gradcheck(lambda x: (x * x).tanh(), (x,))
True
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from tinygrad_edu import autograd, backend
from tinygrad_edu.tensor import Tensor


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> list[Tensor]:
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _check_inputs(inputs: Sequence[Tensor], where: str) -> None:
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if t.requires_grad and t.dtype != backend.float64:
            raise TypeError(f"{where}: inputs[{i}] has dtype {t.dtype}; central differences "
                            "need float64 inputs (float32 is too coarse for eps=1e-6)")


def numerical_jacobian(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6) -> list:
    """[out][in] -> host array of shape (out.numel(), in.numel()) by central differences."""
    # not under no_grad: ``fn`` may itself take gradients (gradgradcheck)
    outs = _outputs(fn, inputs)
    jac = [[backend.numpy_module.zeros((o.numel(), t.numel())) for t in inputs] for o in outs]
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        arr = t.data   # perturbed in place, element by element (any memory layout)
        for j in range(t.numel()):
            at = tuple(int(v) for v in backend.numpy_module.unravel_index(j, t.shape))
            orig = arr[at].item()
            arr[at] = orig + eps
            plus = [backend.to_host(o.data).astype("float64").ravel()
                    for o in _outputs(fn, inputs)]
            arr[at] = orig - eps
            minus = [backend.to_host(o.data).astype("float64").ravel()
                     for o in _outputs(fn, inputs)]
            arr[at] = orig
            for k in range(len(outs)):
                jac[k][i][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def analytical_jacobian(fn: Callable, inputs: Sequence[Tensor]) -> list:
    """[out][in] -> host array (out.numel(), in.numel()), one backward pass per row."""
    np = backend.numpy_module
    wanted = [t for t in inputs if t.requires_grad]
    outs = _outputs(fn, inputs)
    jac = [[np.zeros((o.numel(), t.numel())) for t in inputs] for o in outs]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o.numel()):
            onehot = o.xp.zeros(o.numel(), dtype=o.dtype)
            onehot[r] = 1
            grads = autograd.grad([o], wanted, [Tensor._wrap(onehot.reshape(o.shape), o.device)],
                                  retain_graph=True, allow_unused=True)
            gi = iter(grads)
            for i, t in enumerate(inputs):
                if t.requires_grad:
                    jac[k][i][r, :] = backend.to_host(next(gi).data).ravel()
    return jac


def gradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check autograd's gradients of ``fn`` at ``inputs`` against central differences.

    Every input with ``requires_grad=True`` must be float64. Fails with
    ``Jacobian mismatch for output k with respect to input i`` naming the
    worst element, where |analytical - numerical| > atol + rtol·|numerical|.
    """
    inputs = tuple(inputs)
    _check_inputs(inputs, "gradcheck")
    np = backend.numpy_module
    num = numerical_jacobian(fn, inputs, eps)
    ana = analytical_jacobian(fn, inputs)
    for k in range(len(num)):
        for i in range(len(inputs)):
            n, a = num[k][i], ana[k][i]
            bad = np.abs(a - n) > atol + rtol * np.abs(n)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                msg = (f"Jacobian mismatch for output {k} with respect to input {i}: "
                       f"{int(bad.sum())} of {bad.size} entries differ; first at "
                       f"[{r}, {c}]: numerical {n[r, c]:.8g}, analytical {a[r, c]:.8g} "
                       f"(max abs diff {np.abs(a - n).max():.3g})")
                if raise_exception:
                    raise AssertionError(msg)
                return False
    # one vector-Jacobian product with a random upstream gradient
    gen = np.random.default_rng(1234)
    outs = _outputs(fn, inputs)
    wanted = [t for t in inputs if t.requires_grad]
    vs, live = [], []
    for o in outs:
        if o.requires_grad:
            v = gen.standard_normal(o.shape)
            vs.append(v)
            live.append(o)
    if live:
        grads = autograd.grad(live, wanted,
                              [Tensor(v, dtype=o.dtype, device=o.device) for v, o in zip(vs, live)],
                              allow_unused=True)
        gi = iter(grads)
        live_idx = [k for k, o in enumerate(outs) if o.requires_grad]
        for i, t in enumerate(inputs):
            if not t.requires_grad:
                continue
            got = backend.to_host(next(gi).data).ravel()
            want = sum(v.ravel() @ num[k][i] for v, k in zip(vs, live_idx))
            bad = np.abs(got - want) > atol + rtol * np.abs(want)
            if bad.any():
                j = int(np.argwhere(bad)[0][0])
                msg = (f"vector-Jacobian product mismatch with respect to input {i} for a random "
                       f"upstream gradient: at element {j} numerical {want[j]:.8g}, analytical "
                       f"{got[j]:.8g}")
                if raise_exception:
                    raise AssertionError(msg)
                return False
    return True


def gradgradcheck(fn: Callable, inputs: Sequence[Tensor], grad_outputs: Any = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> vᵀ ∂fn/∂inputs.

    The gradient is computed with ``create_graph=True`` so it is itself a
    graph; its Jacobian is then compared with central differences.
    """
    inputs = tuple(inputs)
    _check_inputs(inputs, "gradgradcheck")
    np = backend.numpy_module
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        gen = np.random.default_rng(4321)
        grad_outputs = [Tensor(gen.standard_normal(o.shape), dtype=backend.float64,
                               device=o.device, requires_grad=True) for o in outs]
    n_in = len(inputs)
    wanted_idx = [i for i, t in enumerate(inputs) if t.requires_grad]

    def first_grads(*args: Tensor) -> tuple:
        xs, vs = args[:n_in], args[n_in:]
        ys = _outputs(fn, xs)
        return autograd.grad(ys, [xs[i] for i in wanted_idx], list(vs), create_graph=True,
                             allow_unused=True)

    return gradcheck(first_grads, inputs + tuple(grad_outputs), eps, atol, rtol, raise_exception)
