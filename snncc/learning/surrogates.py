"""Surrogate gradients, the public path: defined in :mod:`snncc.ir.surrogates` (the
autodiff pass, below the modelling API, differentiates with them); see there for the
table of surrogates and SPAIC's learner names."""

from snncc.ir.surrogates import (
    ALPHA,
    LEARNERS,
    X,
    check_alpha,
    default_alpha,
    derivative,
    names,
    primitive,
    resolve,
)

__all__ = ["ALPHA", "LEARNERS", "X", "check_alpha", "default_alpha", "derivative", "names",
           "primitive", "resolve"]
