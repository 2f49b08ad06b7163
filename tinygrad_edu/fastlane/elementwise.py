"""Elementwise ops without temporaries or slow selects: stand-ins for ``Sigmoid``,
``Tanh`` and ``Relu``.

On small arrays a ufunc call costs more than its arithmetic, so two habits pay:

* **constants of the array's own kind**: a Python number must be converted on every
  ufunc call, a read-only 0-d array of the right dtype is NumPy's cheapest operand
  (:func:`constant`, cached per array type, dtype and value);
* **in place**: the sigmoid (1 + tanh(x/2)) / 2 computed into one buffer with
  ``ufunc(out=)`` makes one array instead of three;
* **a product with the mask instead of a select**: ``where(x > 0, g, 0)`` costs NumPy
  several times a multiplication by the boolean mask.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.ops import Relu, Sigmoid, Tanh, output_of, select

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


class MaskRelu(Relu):
    """``Relu`` whose backward multiplies g by the mask x > 0. Where the mask is 0 that
    gives 0·g: ±0 for a finite g, NaN for an infinite or NaN one, where the reference's
    select gives 0; so a gradient with a non-finite entry takes the select. On the CPU
    only: on a GPU that test would wait for the device, and its select is fast."""

    def backward(self, g: Any) -> Any:
        x = self.saved[0].data
        if not backend.is_array(g) or backend.device_of(g) != "cpu":
            return super().backward(g)      # create_graph, or a GPU (a check would sync)
        out = g * (x > 0)
        if backend.module_of(out).isnan(out.sum()):          # some 0·inf or NaN: be exact
            return select(x > 0, g, 0)
        return out
