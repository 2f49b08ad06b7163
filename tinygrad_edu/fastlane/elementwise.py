"""Small elementwise ops without temporaries: stand-ins for ``Sigmoid`` and ``Tanh``.

On small arrays a ufunc call costs more than its arithmetic, so two habits pay:

* **constants of the array's own kind**: a Python number must be converted on every
  ufunc call, a read-only 0-d array of the right dtype is NumPy's cheapest operand
  (:func:`constant`, cached per array type, dtype and value);
* **in place**: the sigmoid (1 + tanh(x/2)) / 2 computed into one buffer with
  ``ufunc(out=)`` makes one array instead of three.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.ops import Sigmoid, Tanh, output_of

_CONSTANTS: dict = {}


def constant(value: float, like: Any) -> Any:
    """``value`` as a read-only 0-d array of ``like``'s dtype (cached), or ``value`` itself
    beside a Tensor."""
    if not backend.is_array(like):                 # a Tensor (create_graph): a number will do
        return value
    key = (type(like), like.dtype, value)
    k = _CONSTANTS.get(key)
    if k is None:
        k = _CONSTANTS[key] = backend.module_of(like).asarray(value, dtype=like.dtype)
        if hasattr(k, "flags"):
            k.flags.writeable = False
    return k


class InplaceSigmoid(Sigmoid):
    """``Sigmoid`` computed in one buffer; same formula, same backward."""

    def forward(self, x: Any) -> Any:
        half = constant(0.5, x)
        z = x * half
        if not z.ndim:                       # NumPy gives a 0-d result as a scalar: no out=
            return backend.module_of(x).tanh(z) * half + half
        xp = backend.module_of(z)
        xp.tanh(z, out=z)
        xp.multiply(z, half, out=z)
        xp.add(z, half, out=z)
        return z

    def backward(self, g: Any) -> Any:
        z = output_of(self, Sigmoid)
        return g * (z * (constant(1, g) - z))


class CachedConstantTanh(Tanh):
    """``Tanh`` whose backward takes its 1 as a cached constant."""

    def backward(self, g: Any) -> Any:
        z = output_of(self, Tanh)
        return g * (constant(1, g) - z * z)
