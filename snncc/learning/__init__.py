"""Learning: surrogate gradients (:mod:`snncc.learning.surrogates`, defined in
:mod:`snncc.ir.surrogates` for the autodiff pass) and plasticity rules written as synapse
code (:mod:`snncc.learning.plasticity`)."""

from snncc.learning.plasticity import reward_stdp, stdp, triplet_stdp

__all__ = ["reward_stdp", "stdp", "triplet_stdp"]
