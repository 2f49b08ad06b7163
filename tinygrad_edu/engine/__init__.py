"""The reading core: the whole engine, to be read in this order.

backend.py (arrays and devices) -> graph.py (nodes, grad mode, the backward walk)
-> ops.py (the primitives, each with its derivative) -> tensor.py (the Tensor).
"""
