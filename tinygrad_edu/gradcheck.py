"""Numerical gradient checks: the test that decides whether a gradient is right.

Central differences approximate each column of the Jacobian J = ∂out/∂in::

    J[:, j] ≈ (f(x + eps·e_j) - f(x - eps·e_j)) / (2·eps)

and autograd gives each row (a backward pass with a one-hot upstream gradient).
``gradcheck`` compares the two over the *whole* Jacobian in float64, then one
vector-Jacobian product with a random upstream gradient v (vᵀJ), which exercises
gradient accumulation that one-hot rows may not. Two entries agree only when both
are finite and close (or are the same infinity): a NaN never agrees with anything.

>>> x = tg.randn(3, dtype=tg.float64, requires_grad=True)
>>> tg.gradcheck(lambda x: (x * x).tanh(), (x,))
True
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.creation import zeros
from tinygrad_edu.functional.gradients import grad, no_grad


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


def _unravel(j: int, shape: tuple) -> tuple:
    """The index of element j of a row-major array of ``shape``."""
    index = []
    for s in reversed(shape):
        index.append(j % s)
        j //= s
    return tuple(reversed(index))


def _flat(t: Tensor) -> Tensor:
    """The values of ``t`` as a float64 vector on the CPU, cut from any graph."""
    return t.detach().to("cpu").double().reshape(-1).clone()


def numerical_jacobian(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6) -> list:
    """[out][in] -> a NumPy array of shape (out.numel(), in.numel()), by central differences:
    each input element in turn is nudged by ±eps (in place)."""
    return [[j.numpy() for j in row] for row in _numerical(fn, inputs, eps)]


def analytical_jacobian(fn: Callable, inputs: Sequence[Tensor]) -> list:
    """[out][in] -> a NumPy array of shape (out.numel(), in.numel()), one backward per row."""
    return [[j.numpy() for j in row] for row in _analytical(fn, inputs)]


def _numerical(fn: Callable, inputs: Sequence[Tensor], eps: float) -> list:
    outs = _outputs(fn, inputs)            # not under no_grad: fn may take gradients itself
    jac = [[zeros(o.numel(), t.numel(), dtype=backend.float64) for t in inputs] for o in outs]
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        for j in range(t.numel()):
            at = _unravel(j, t.shape)
            orig = t[at].item()
            with no_grad():
                t[at] = orig + eps
            plus = [_flat(o) for o in _outputs(fn, inputs)]
            with no_grad():
                t[at] = orig - eps
            minus = [_flat(o) for o in _outputs(fn, inputs)]
            with no_grad():
                t[at] = orig
            for k in range(len(outs)):
                jac[k][i][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _analytical(fn: Callable, inputs: Sequence[Tensor]) -> list:
    wanted = [t for t in inputs if t.requires_grad]
    outs = _outputs(fn, inputs)
    jac = [[zeros(o.numel(), t.numel(), dtype=backend.float64) for t in inputs] for o in outs]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o.numel()):
            onehot = zeros(o.numel(), dtype=o.dtype, device=o.device)
            onehot[r] = 1
            grads = iter(grad([o], wanted, [onehot.reshape(o.shape)], retain_graph=True,
                              allow_unused=True))
            for i, t in enumerate(inputs):
                if t.requires_grad:
                    jac[k][i][r, :] = _flat(next(grads))
    return jac


def mismatch(actual: Tensor, expected: Tensor, atol: float, rtol: float) -> Tensor:
    """True where ``actual`` and ``expected`` disagree: |a - e| > atol + rtol·|e|, or one is
    not finite. They agree only when both are finite and close, or are the same infinity;
    a NaN disagrees with everything, NaN included."""
    both_finite = actual.isfinite() & expected.isfinite()
    a, e = actual.where(both_finite, 0.0), expected.where(both_finite, 0.0)
    close = both_finite & ((a - e).abs() <= atol + rtol * e.abs())
    same_infinity = actual.isinf() & (actual == expected)
    return ~(close | same_infinity)


def _report(what: str, bad: Tensor, ana: Tensor, num: Tensor, raise_exception: bool) -> bool:
    if not bad.any().item():
        return True
    first = tuple(int(a[0]) for a in bad.numpy().nonzero())
    msg = (f"{what}: {int(bad.sum().item())} of {bad.numel()} entries differ; first at "
           f"{list(first)}: numerical {num[first].item():.8g}, analytical "
           f"{ana[first].item():.8g}")
    if raise_exception:
        raise AssertionError(msg)
    return False


def gradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check autograd's gradients of ``fn`` at ``inputs`` against central differences.

    Every input with ``requires_grad=True`` must be float64. A failure names the output
    and input (``Jacobian mismatch for output k with respect to input i``) and the first
    entry where |analytical - numerical| > atol + rtol·|numerical|, or where either is
    not finite.
    """
    inputs = tuple(inputs)
    _check_inputs(inputs, "gradcheck")
    num = _numerical(fn, inputs, eps)
    ana = _analytical(fn, inputs)
    for k in range(len(num)):
        for i in range(len(inputs)):
            if not _report(f"Jacobian mismatch for output {k} with respect to input {i}",
                           mismatch(ana[k][i], num[k][i], atol, rtol), ana[k][i], num[k][i],
                           raise_exception):
                return False
    # one vector-Jacobian product with a random upstream gradient
    gen = backend.host_generator(1234)
    outs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    live = [k for k, o in enumerate(_outputs(fn, inputs)) if o.requires_grad]
    wanted = [t for t in inputs if t.requires_grad]
    if not outs or not wanted:
        return True
    vs = [Tensor(gen.standard_normal(o.shape), dtype=backend.float64) for o in outs]
    grads = iter(grad(outs, wanted, [v.to(o.device, o.dtype) for v, o in zip(vs, outs)],
                      allow_unused=True))
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        got = _flat(next(grads))
        want = sum(v.reshape(-1) @ num[k][i] for v, k in zip(vs, live))
        if not _report(f"vector-Jacobian product mismatch with respect to input {i} for a "
                       "random upstream gradient", mismatch(got, want, atol, rtol), got, want,
                       raise_exception):
            return False
    return True


def gradgradcheck(fn: Callable, inputs: Sequence[Tensor], grad_outputs: Any = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> vᵀ ∂fn/∂inputs.

    The gradient is computed with ``create_graph=True`` so it is itself a graph; its
    Jacobian is then compared with central differences.
    """
    inputs = tuple(inputs)
    _check_inputs(inputs, "gradgradcheck")
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        gen = backend.host_generator(4321)
        grad_outputs = [Tensor(gen.standard_normal(o.shape), dtype=backend.float64,
                               device=o.device, requires_grad=True) for o in outs]
    n_in = len(inputs)
    wanted = [i for i, t in enumerate(inputs) if t.requires_grad]

    def first_grads(*args: Tensor) -> tuple:
        xs, vs = args[:n_in], args[n_in:]
        return grad(_outputs(fn, xs), [xs[i] for i in wanted], list(vs), create_graph=True,
                    allow_unused=True)

    return gradcheck(first_grads, inputs + tuple(grad_outputs), eps, atol, rtol,
                     raise_exception)
