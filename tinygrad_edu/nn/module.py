"""``nn.Module``: a container of parameters, buffers and sub-modules.

A module owns its trainable tensors (``nn.Parameter``) and its children; the
framework finds them by attribute assignment, so ``self.fc = nn.Linear(4, 2)``
is all it takes to register ``fc.weight`` and ``fc.bias``. Calling a module
runs ``forward`` inside a graph scope named after its attribute path
(``'LeNet5/c1'``), which is how the graph views group ops by layer.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.functional import gradients
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.nn.summary import summary


class Parameter(Tensor):
    """A tensor that a Module registers as trainable (``requires_grad=True`` by default).

    >>> p = nn.Parameter(tg.zeros(3))
    >>> p.requires_grad
    True

    ``path`` is its name in the module that registered it first, as
    ``model.named_parameters()`` writes it (``'c1.weight'``; None until registered):
    the graph views label a parameter with it even when they are not given the model.
    """
    __slots__ = ("path",)

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = Tensor([], dtype=backend.float32)
        super().__init__(data, device=data.device if isinstance(data, Tensor) else None)
        self.path: str | None = None
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model. Subclasses define ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_scope_name", type(self).__name__)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attribute {name!r}")
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
            if getattr(value, "path", None) is None:     # the first module to register it
                value.path = name
        elif isinstance(value, Module):
            object.__setattr__(value, "_scope_name", name)
            self._modules[name] = value
            for sub, p in value.named_parameters():     # 'weight' -> 'c1.weight' -> ...
                if getattr(p, "path", None) == sub:      # (a weight tied elsewhere keeps its)
                    p.path = f"{name}.{sub}"
        elif name in self.__dict__.get("_buffer_names", ()) and isinstance(value, Tensor):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, for an absent optional parameter such as bias)."""
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is state but not trained (BatchNorm's running mean)."""
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        if tensor is None:
            object.__setattr__(self, name, None)
        else:
            self.__dict__.pop(name, None)
            self._buffers[name] = tensor

    def add_module(self, name: str, module: "Module | None") -> None:
        setattr(self, name, module)

    register_module = add_module

    # ------------------------------------------------------------ traversal
    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, e.g. ('fc1.weight', ...), each parameter once."""
        seen: set = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in modules:
            for name, p in m._parameters.items():
                if p is None or (remove_duplicate and id(p) in seen):
                    continue
                seen.add(id(p))
                yield (f"{mprefix}.{name}" if mprefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every trainable parameter, each once (what an optimizer needs)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in modules:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mprefix}.{name}" if mprefix else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo: set | None = None,
                      prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """(dotted path, module) for this module and all below it (iteratively, pre-order)."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            path, m = stack.pop()
            if id(m) in memo:
                continue
            memo.add(id(m))
            yield path, m
            kids = [(f"{path}.{n}" if path else n, c) for n, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def get_submodule(self, target: str) -> "Module":
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules:
                raise AttributeError(f"get_submodule: {type(m).__name__} has no submodule "
                                     f"{part!r} (path {target!r})")
            m = m._modules[part]
        return m

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every sub-module (children first) and on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and devices
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch norm uses batch statistics)."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters (None, or zeros)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = p.grad.detach() * 0

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """Move (and/or cast) every parameter and buffer in place: ``model.to('cuda')``.

        The Parameter objects stay the same, so an optimizer built before still works.
        """
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:                                  # a dtype or a device
            try:
                dtype = backend.as_dtype(a)
            except TypeError:
                device = a
        dev = backend.normalize_device(device) if device is not None else None
        dt = backend.as_dtype(dtype) if dtype is not None else None
        with gradients.no_grad():
            for t in list(self.parameters()) + list(self.buffers()):
                moved = t.detach().to(device=dev, dtype=dt if backend.is_floating(t.dtype)
                                      else None)
                if moved is not t:
                    t.set_(moved)
                t.grad = None
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self) -> "Module":
        return self.to("cuda")

    def double(self) -> "Module":
        return self.to(backend.float64)

    def float(self) -> "Module":
        return self.to(backend.float32)

    # ------------------------------------------------------------ state
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by its dotted name (PyTorch's keys).

        >>> list(nn.Linear(2, 3).state_dict())
        ['weight', 'bias']
        """
        out: OrderedDict = OrderedDict()
        for mprefix, m in self.named_modules(prefix=prefix.rstrip(".")):
            skip = m.__dict__.get("_non_persistent", set())
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mprefix}.{name}" if mprefix else name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in skip:
                    out[f"{mprefix}.{name}" if mprefix else name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> Any:
        """Copy values into this module's parameters and buffers, by key.

        With ``strict=True`` (default) the keys must match exactly; a shape mismatch is
        an error even with ``strict=False``. As in PyTorch, every problem is listed in one
        ``RuntimeError``; unlike PyTorch, nothing is copied unless everything fits (the
        model is never left half loaded). Values may be Tensors, NumPy arrays or anything
        array-like (a torch tensor works too).
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append(f"Missing key(s) in state_dict: {missing}")
        if strict and unexpected:
            errors.append(f"Unexpected key(s) in state_dict: {unexpected}")
        values = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                if hasattr(value, "detach") and hasattr(value, "cpu"):   # e.g. a torch tensor
                    value = value.detach().cpu().numpy()
                value = Tensor(value, device="cpu")
            if tuple(value.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {key}: shape {tuple(value.shape)} in the "
                              f"state dict, but the model expects {tuple(target.shape)}")
                continue
            try:                                   # convert everything before copying anything
                values[key] = value.detach().to(target.device).to(target.dtype)
            except (TypeError, ValueError) as e:
                errors.append(f"can't convert {key} ({value.dtype}) to {target.dtype}: {e}")
        if errors:
            raise RuntimeError(f"load_state_dict: error(s) in loading state_dict for "
                               f"{type(self).__name__}:\n\t" + "\n\t".join(errors))
        with gradients.no_grad():
            for key, value in values.items():
                own[key].copy_(value)
        return _IncompatibleKeys(missing, unexpected)

    def summary(self, input_shape: Any, **kwargs: Any) -> Any:
        """Keras-style table of each layer's output shape and parameter count.

        ``input_shape`` leaves out the batch dim: ``model.summary((1, 28, 28))``.
        Prints the table and returns an ``nn.Summary`` (rows and totals); see
        ``tinygrad_edu.nn.summary.summary`` for the options.
        """
        return summary(self, input_shape, **kwargs)

    # ------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: forward() is not implemented")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with gradients.scope(self._scope_name):
            return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """One line of constructor arguments shown in ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        extra = self.extra_repr()
        if not lines and "\n" not in extra:
            return f"{type(self).__name__}({extra})"
        lines = (extra.split("\n") if extra else []) + lines    # PyTorch's layout
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules)
                      | set(self._buffers))


class _IncompatibleKeys(tuple):
    """(missing_keys, unexpected_keys), as PyTorch returns from load_state_dict."""

    def __new__(cls, missing: list, unexpected: list) -> "_IncompatibleKeys":
        obj = super().__new__(cls, (missing, unexpected))
        return obj

    @property
    def missing_keys(self) -> list:
        return self[0]

    @property
    def unexpected_keys(self) -> list:
        return self[1]


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))``.

    Children are named '0', '1', ... (or by an OrderedDict's keys), as in PyTorch.
    """

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, input: Any) -> Any:
        for m in self._modules.values():
            input = m(input)
        return input

    def __getitem__(self, idx: Any) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return mods[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (children '0', '1', ...)."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        for m in modules or []:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Any) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, idx: int) -> Module:
        return list(self._modules.values())[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of named modules whose parameters are registered."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Any:
        return self._modules.keys()

    def items(self) -> Any:
        return self._modules.items()

    def values(self) -> Any:
        return self._modules.values()
