"""The reading core, in reading order: backend.py (arrays and devices), graph.py (nodes,
grad mode, the backward walk), ops.py (the primitives and their derivatives), tensor.py."""
