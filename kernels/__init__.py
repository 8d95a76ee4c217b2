"""Hand-written kernel primitives that generated code calls (shipped as
``snncc.kernels``). The torch backend needs none; the Triton primitives arrive with the
Triton backend."""
