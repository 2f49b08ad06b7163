"""The autograd functions (``torch.autograd``'s): grad mode, scopes, ``grad``, ``backward``.

The switches set the engine's per-thread :data:`~tinygrad_edu.engine.graph.MODE`;
``backward`` and ``grad`` run its backward walk (``graph.run_backward``): ``backward``
adds into every leaf's ``.grad``, ``grad`` returns the gradients of the tensors you
name, and with ``create_graph=True`` those gradients can be differentiated again.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import graph
from tinygrad_edu.engine.tensor import Tensor, root_grad
from tinygrad_edu.functional.creation import zeros_like


def is_grad_enabled() -> bool:
    """True when new ops record a graph (in this thread)."""
    return graph.MODE.enabled


def set_grad_enabled(mode: bool = True) -> Any:
    """Turn graph recording on or off inside a ``with`` block (or a decorated function)."""
    return graph.switch("enabled", bool(mode))


def no_grad() -> Any:
    """``with tg.no_grad():`` record nothing (evaluation, optimizer updates)."""
    return graph.switch("enabled", False)


def enable_grad() -> Any:
    """``with tg.enable_grad():`` record again inside a ``no_grad`` block."""
    return graph.switch("enabled", True)


def scope(name: str) -> Any:
    """Label the ops made inside, e.g. ``'lstm/l0/t=3'`` (scopes nest with '/'). Labels
    only name the graph (the views draw one cluster per time step)."""
    return graph.switch("scope", name if graph.MODE.scope is None
                        else f"{graph.MODE.scope}/{name}")


def retain_grads() -> Any:
    """During ``backward`` inside this block, every tensor of the graph keeps ``.grad``."""
    return graph.switch("retain_all", True)


def backward_hook(fn: Any) -> Any:
    """Call ``fn(tensor, grad, passed)`` at every tensor the backward walk visits (``passed``:
    the (input, contribution) pairs its node sent on). The graph views record the real
    walk with it; it never changes the result."""
    return graph.switch("hook", fn)


def _listed(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [] if x is None else [x]


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Add d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    outs, given = _listed(tensors), _listed(grad_tensors)
    roots = [root_grad(o, given[i] if i < len(given) else None, i, "backward")
             for i, o in enumerate(outs)]
    walk = graph.lane("run_backward", graph.run_backward)    # the fast lane may stand in
    walk(outs, roots, create_graph if retain_graph is None else retain_graph, create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated
    (``torch.autograd.grad``). With ``create_graph=True`` they can be differentiated again:

    >>> x = tg.tensor(3.0, requires_grad=True)
    >>> (dy,) = tg.grad(x ** 3, [x], create_graph=True)    # 3x² = 27
    >>> (d2y,) = tg.grad(dy, [x])                           # 6x = 18

    An input the outputs do not depend on raises, unless ``allow_unused``; then its
    gradient is zeros (PyTorch gives None: here the result is always a tensor).
    """
    outs, ins, given = _listed(outputs), _listed(inputs), _listed(grad_outputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) does not require grad")
    roots = [root_grad(o, given[i] if i < len(given) else None, i, "grad")
             for i, o in enumerate(outs)]
    found = graph.lane("run_backward", graph.run_backward)(
        outs, roots, create_graph if retain_graph is None else retain_graph, create_graph,
        inputs=ins)
    result = []
    for i, t in enumerate(ins):
        if id(t) not in found and not allow_unused:
            raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) was not used to compute "
                               "the outputs; pass allow_unused=True to get zeros for it")
        result.append(found[id(t)] if id(t) in found else zeros_like(t))
    return tuple(result)
