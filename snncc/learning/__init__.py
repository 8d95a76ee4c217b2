"""Learning: surrogate gradients (:mod:`snncc.learning.surrogates`) and plasticity rules
written as synapse code (:mod:`snncc.learning.plasticity`)."""

from snncc.learning.plasticity import reward_stdp, stdp, triplet_stdp

__all__ = ["reward_stdp", "stdp", "triplet_stdp"]
