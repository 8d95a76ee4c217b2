"""What the printers of all targets share: sympy dispatches each elementary function to
``_print_<name>``; every target prints them through its own ``_print_Function``."""

from __future__ import annotations

ELEMENTARY = ("exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos",
              "atan", "floor", "ceiling", "sign", "Abs", "erf")


def route_elementary(cls: type) -> type:
    """Class decorator: ``_print_exp``, ``_print_log``, ... all call
    ``cls._print_Function``."""
    for name in ELEMENTARY:
        setattr(cls, f"_print_{name}", cls._print_Function)
    return cls
