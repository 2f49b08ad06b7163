"""Elementwise ops without temporaries or slow selects: stand-ins for ``Sigmoid``,
``Tanh``, ``Relu``, ``Add`` and ``Mul``.

On small arrays a ufunc call costs more than its arithmetic, so four habits pay:

* **constants of the array's own kind**: a Python number must be converted on every
  ufunc call, a read-only 0-d array of the right dtype is NumPy's cheapest operand
  (:func:`constant`, cached per array type, dtype and value);
* **in place**: the sigmoid (1 + tanh(x/2)) / 2 computed into one buffer with
  ``ufunc(out=)`` makes one array instead of three;
* **a product with the mask instead of a select**: ``where(x > 0, g, 0)`` costs NumPy
  several times a multiplication by the boolean mask;
* **the arrays directly**: the first-order backward of ``Add`` and ``Mul`` compares shapes
  on the arrays and calls ``sum_to`` only for an input that was broadcast, where the
  reference's one formula for arrays and Tensors goes through ``sum_to`` every time.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.engine.ops import Add, Mul, Relu, Sigmoid, Tanh, output_of, select, sum_to

_CONSTANTS: dict = {}


def constant(value: float, like: Any) -> Any:
    """``value`` as a read-only 0-d array of ``like``'s dtype (cached), or ``value`` itself
    beside a Tensor."""
    k = _CONSTANTS.get((type(like), like.dtype, value))
    if k is not None:
        return k
    if not backend.is_array(like):                 # a Tensor (create_graph): a number will do
        return value
    k = _CONSTANTS[type(like), like.dtype, value] = backend.module_of(like).asarray(
        value, dtype=like.dtype)
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
        xp.tanh(z, z)                        # (out as the last positional argument: cheaper
        xp.multiply(z, half, z)              # than out= on arrays of a few numbers)
        xp.add(z, half, z)
        return z

    def backward(self, g: Any) -> Any:
        z = output_of(self, Sigmoid)
        return g * (z * (constant(1, g) - z))


class CachedConstantTanh(Tanh):
    """``Tanh`` whose backward takes its 1 as a cached constant."""

    def backward(self, g: Any) -> Any:
        z = output_of(self, Tanh)
        return g * (constant(1, g) - z * z)


def masked(mask: Any, g: Any) -> Any:
    """g where ``mask`` is true, else 0 (``mask`` may broadcast g). On the CPU, while g is
    finite, as the product g·mask: the same numbers (0·inf would be NaN where the select
    gives 0, hence the check). Otherwise the reference's select: for Tensors
    (``create_graph``), for a gradient with an inf or NaN, and on a GPU, where the check
    would wait for the device and the select is fast."""
    if backend.is_array(g) and backend.device_of(g) == "cpu" and \
            backend.module_of(g).isfinite(g).all():
        return g * mask
    return select(mask, g, 0)


class MaskRelu(Relu):
    """``Relu`` whose backward multiplies g by the mask x > 0 (:func:`masked`)."""

    def backward(self, g: Any) -> Any:
        return masked(self.saved[0].data > 0, g)


class ArrayAdd(Add):
    """``Add`` whose first-order backward compares shapes on the arrays and calls
    ``sum_to`` only where an input was broadcast."""

    def backward(self, g: Any) -> tuple:
        if graph.MODE.enabled:                          # create_graph: the reference
            return Add.backward(self, g)
        x, y = self.parents[0].data, self.parents[1].data
        return (g if g.shape == x.shape else sum_to(g, x.shape),
                g if g.shape == y.shape else sum_to(g, y.shape))


class ArrayMul(Mul):
    """``Mul`` whose first-order backward reads the two saved arrays directly and calls
    ``sum_to`` only where an input was broadcast."""

    def backward(self, g: Any) -> tuple:
        if graph.MODE.enabled:                          # create_graph: the reference
            return Mul.backward(self, g)
        px, py = self.saved
        x, y = px.data, py.data
        gx = gy = None
        if px.requires_grad:
            gx = g * y
            gx = gx if gx.shape == x.shape else sum_to(gx, x.shape)
        if py.requires_grad:
            gy = g * x
            gy = gy if gy.shape == y.shape else sum_to(gy, y.shape)
        return gx, gy
