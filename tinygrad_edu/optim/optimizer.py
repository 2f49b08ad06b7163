"""``Optimizer``: the base class of every update rule (PyTorch's ``torch.optim.Optimizer``).

An optimizer holds

* ``param_groups``: a list of dicts, each with ``'params'`` (a list of tensors) and the
  hyper-parameters for them (``'lr'``, ``'momentum'``, ...). One group is the usual case;
  several let, say, the last layer learn faster than the rest::

      opt = optim.SGD([{"params": model.body.parameters()},
                       {"params": model.head.parameters(), "lr": 0.1}], lr=0.01)

* ``state``: per parameter, whatever the rule remembers between steps (SGD's momentum
  buffer, Adam's running moments), keyed by the parameter tensor itself.

A training step is always the same three lines::

    opt.zero_grad()        # forget the last step's gradients (set them to None)
    loss.backward()        # fill p.grad for every parameter
    opt.step()             # p <- update(p, p.grad, state[p])

``state_dict()`` has PyTorch's layout, with parameters replaced by their position
(0, 1, 2, ... across all groups in order)::

    {'state': {0: {'momentum_buffer': tensor(...)}, ...},
     'param_groups': [{'lr': 0.1, 'momentum': 0.9, ..., 'params': [0, 1, 2, 3]}]}

Updates are written with in-place tensor ops (``p.add_(...)``) under ``no_grad``, as
PyTorch's reference optimizers are, so a step records no graph.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.functional import gradients
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.creation import zeros_like


def _state_value(value: Any, param: Tensor, key: Any) -> Any:
    """A private copy of one saved state value, moved to where ``param`` lives.

    Tensors (ours, or torch's) become tensors: ``'step'`` stays a float32 scalar on
    the CPU (as in PyTorch); a floating-point buffer takes the parameter's device and
    dtype. Anything else (a Python number) is deep-copied.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu") and not isinstance(value, Tensor):
        value = Tensor(value.detach().cpu().numpy())          # a torch tensor
    elif backend.is_array(value):
        value = Tensor(value)                                  # a NumPy (or CuPy) array
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    value = value.detach()
    if key == "step":
        return value.to("cpu", backend.float32).clone()
    value = value.to(param.device)
    if backend.is_floating(value.dtype):
        value = value.to(param.dtype)
    return value.clone()


def keep_host_allocator() -> bool:
    """The reference for the fast lane's ``host_allocator`` override: leave the process's
    memory allocator as it is."""
    return False


class Optimizer:
    """Base class: keeps parameter groups and per-parameter state; subclasses define
    ``_update(group)``, which updates every parameter of one group in place.

    Args:
        params: an iterable of tensors, or of dicts ``{'params': [...], 'lr': ...}``
            (parameter groups).
        defaults: the hyper-parameters a group gets when it does not set them.
    """

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params should be an iterable of Tensors or dicts, but got "
                            f"a single Tensor of shape {tuple(params.shape)}; pass "
                            f"[tensor] or model.parameters()")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params must be an ordered iterable (a list, or "
                            f"model.parameters()), got a set whose order changes between runs")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list (did the model register "
                             f"its layers as attributes?)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # ------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (e.g. a layer unfrozen later) with its own settings.

        Settings the group leaves out are taken from ``defaults``. A parameter may
        belong to only one group.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict with a 'params' key, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise KeyError(f"{name}.add_param_group: the group has no 'params' key "
                           f"(keys: {sorted(param_group)})")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}.add_param_group: 'params' must be an ordered iterable, "
                            f"got a set")
        else:
            params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but params[{i}] is a "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (params[{i}], shape "
                                 f"{tuple(p.shape)}, made by {p.grad_fn}); optimize the "
                                 f"leaf it was computed from")
            if not backend.is_floating(p.dtype):
                raise TypeError(f"{name}: params[{i}] has dtype {p.dtype}; only "
                                f"floating-point tensors can be optimized")
        group = dict(param_group)
        group["params"] = params
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice in one parameter group")
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ------------------------------------------------------------ the step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default), or fill them with zeros.

        Gradients *accumulate* over ``backward()`` calls, so a training step starts
        here. ``None`` is cheaper than zeros and lets ``step`` skip unused parameters.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given.

        ``closure`` re-evaluates the model and returns the loss (needed by rules that
        look at the loss several times per step; accepted here for PyTorch parity).
        """
        graph.lane("host_allocator", keep_host_allocator)()   # the fast lane tunes it, once
        loss = None
        if closure is not None:
            with gradients.enable_grad():
                loss = closure()
        with gradients.no_grad():
            for group in self.param_groups:
                self._update(group)
        return loss

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__}: _update(group) is not implemented")

    @staticmethod
    def _grad(p: Tensor, maximize: bool) -> Tensor:
        """The gradient of ``p`` (negated for ``maximize``), checked against ``p``."""
        g = p.grad
        if g.device != p.device or g.shape != p.shape:
            raise RuntimeError(f"optimizer: parameter of shape {tuple(p.shape)} on '{p.device}' "
                               f"has a gradient of shape {tuple(g.shape)} on '{g.device}'")
        return -g if maximize else g

    # ------------------------------------------------------------ saving and loading
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``.

        Parameters are numbered in order over all groups. The state tensors are the
        optimizer's own (not copies), as in PyTorch; ``load_state_dict`` copies.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore groups' settings and the per-parameter state saved by ``state_dict``.

        The optimizer must have been built over parameters of the same shapes in the same
        groups. Values are copied to each parameter's device (a torch optimizer's state
        dict loads too).
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                             f"'param_groups', got {type(state_dict).__name__}"
                             + (f" with keys {sorted(state_dict)}"
                                if isinstance(state_dict, dict) else ""))
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter group(s), the optimizer has {len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(s['params'])} parameters in the state dict, but "
                                 f"{len(g['params'])} in the optimizer")
        id_map = {}
        for g, s in zip(self.param_groups, saved_groups):
            for p, saved_id in zip(g["params"], s["params"]):
                id_map[saved_id] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, value in state_dict["state"].items():
            if key not in id_map:
                continue
            p = id_map[key]
            for k, v in value.items():
                shape = tuple(getattr(v, "shape", ()))
                if k != "step" and shape not in ((), tuple(p.shape)):
                    raise ValueError(f"{name}.load_state_dict: state {k!r} of parameter {key} "
                                     f"has shape {tuple(v.shape)}, the parameter has "
                                     f"{tuple(p.shape)}")
            new_state[p] = {k: _state_value(v, p, k) for k, v in value.items()}
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            ng = {k: copy.deepcopy(v) for k, v in s.items() if k != "params"}
            ng["params"] = g["params"]
            new_groups.append(ng)
        self.state = new_state
        self.param_groups = new_groups

    # ------------------------------------------------------------ printing
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _zeros_state(p: Tensor) -> Tensor:
    """A zero buffer shaped, typed and placed like ``p``."""
    return zeros_like(p)


def _step_tensor() -> Tensor:
    """The step counter PyTorch keeps: a float32 scalar on the CPU, starting at 0."""
    return Tensor(0.0, dtype=backend.float32, device="cpu")


def _check_arg(optimizer: str, arg: str, value: Any, ok: bool, expected: str) -> None:
    """Raise a ``ValueError`` naming the optimizer, the argument, its value and the rule."""
    if not ok:
        raise ValueError(f"{optimizer}: invalid {arg}={value!r}; expected {expected}")
