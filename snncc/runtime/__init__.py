"""Runtime: compiled networks, layers and the trainable network as ``torch.nn.Module``s.

It takes the IR and plain data (monitor objects to bind, training plans, compiled layers)
from the frontend and never imports it: the package layers of ``pyproject.toml``
(``[tool.importlinter]``) put the runtime below the frontend.
"""
