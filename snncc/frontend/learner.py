"""SPAIC's ``Learner``: a network member that says how the network trains.

SPAIC users write, inside a network::

    self.learner = Learner(trainable=self, algorithm="STCA", alpha=0.5)
    self.learner.set_optimizer("Adam", 0.001)
    self.learner.set_schedule("StepLR", step_size=10)

and in the loop ``learner.optim_zero_grad()``, ``loss.backward()``,
``learner.optim_step()``, ``learner.optim_schedule()``. Here the learner picks the
surrogate gradient of the network-level BPTT (:mod:`snncc.frontend.training`):
``net.build()`` of a network holding a ``Learner`` builds for training as
``net.build(learner=algorithm, alpha=alpha)`` would. ``trainable`` narrows what trains:
the network or an assembly (every connection in it), connections, projections, or neuron
groups (the connections into them); the other weights are frozen. Gradients pass through
every group and connection regardless, so SPAIC's ``pathway`` is accepted and not needed.

Plasticity rules (SPAIC's STDP learners) are synapse models here, not learners: see
:mod:`snncc.learning.plasticity`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from snncc.errors import NetworkError, ParameterError, check_names, did_you_mean
from snncc.frontend.assembly import Assembly, Projection
from snncc.frontend.objects import NetworkObject
from snncc.ir import surrogates

#: SPAIC's optimizer spellings that differ from torch's class names.
_OPTIM_ALIASES = {"Rpop": "Rprop", "Adamx": "Adamax"}
_PLASTICITY = ("stdp", "nearest_online_stdp", "full_online_stdp", "rstdp", "rstdpet",
               "postpreintstdp", "tempotron")


def _torch_class(kind: str, name: str) -> Any:
    """``torch.optim.<name>`` (``kind="optimizer"``, SPAIC's spellings accepted) or
    ``torch.optim.lr_scheduler.<name>`` (``kind="schedule"``)."""
    import torch

    if kind == "optimizer":
        module, real = torch.optim, _OPTIM_ALIASES.get(name, name)
        choices = {k: v for k, v in vars(module).items() if isinstance(v, type)
                   and issubclass(v, torch.optim.Optimizer) and v is not torch.optim.Optimizer}
    else:
        module, real = torch.optim.lr_scheduler, name
        choices = {k: v for k, v in vars(module).items() if isinstance(v, type)
                   and k.endswith(("LR", "Plateau", "Restarts"))}
    if real not in choices:
        raise ParameterError(f"Learner: unknown {kind} {name!r}; use one of "
                             f"{', '.join(sorted(choices))}{did_you_mean(real, choices)}")
    return choices[real]


def _check_options(cls: Any, kwargs: dict[str, Any], taken: Sequence[str]) -> None:
    """Refuse keyword options that ``cls`` (a torch optimizer or scheduler) does not
    take, before it is built (``taken``: the ones the learner passes itself)."""
    import inspect

    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    check_names(f"Learner: {cls.__name__}", "option", kwargs,
                [k for k in params if k not in taken and k != "self"], kind=ParameterError,
                fix="see the torch documentation of " + cls.__name__)


class Learner(NetworkObject):
    """How the network trains (SPAIC's ``Learner``; see the module docstring).

    Args:
        trainable: what trains: the network, assemblies, connections, projections or
            groups (the connections into them), one or a list; default: everything.
        algorithm: ``"STCA"`` (rectangle surrogate), ``"STBP"`` (gaussian), ``"sbp"``
            (arctangent) or any surrogate name of :mod:`snncc.learning.surrogates`.
        alpha: the surrogate's sharpness (per unit of the threshold distance).
        detach_reset: leave the reset out of the backward pass.
        pathway: accepted for SPAIC code; gradients always pass through everything.
    """

    _kind = "learner"

    def __init__(self, trainable: Any = None, algorithm: str = "STCA", *,
                 alpha: float | None = None, detach_reset: bool = False,
                 pathway: Any = None, name: str | None = None) -> None:
        if str(algorithm).lower() in _PLASTICITY:
            raise ParameterError(
                f"Learner: {algorithm!r} is a plasticity rule; in snncc it is a synapse "
                "model: Connection(pre, post, model=snncc.learning.plasticity.stdp(...)) "
                "(or triplet_stdp / reward_stdp); a Learner trains by BPTT ('STCA', "
                "'STBP', 'sbp' or a surrogate name)")
        self.surrogate = surrogates.resolve(str(algorithm))
        self.algorithm = str(algorithm)
        self.alpha = None if alpha is None else surrogates.check_alpha(alpha)
        self.detach_reset = bool(detach_reset)
        # kept in tuples: what a learner names is not a reference the build follows
        self._targets: tuple[Any, ...] | None = None if trainable is None else tuple(
            trainable if isinstance(trainable, (list, tuple)) else [trainable])
        self._pathway = (pathway,)  # accepted, unused (see the module docstring)
        self._optim: tuple[str, float, dict[str, Any]] | None = None
        self._sched: tuple[str, dict[str, Any]] | None = None
        self.optimizer: Any = None
        self.scheduler: Any = None
        super().__init__(name)

    # ------------------------------------------------------------- the build
    def _build_leaves(self) -> list[NetworkObject]:
        return []  # nothing to simulate

    def _attach(self, net: Any, owners: dict[str, NetworkObject]) -> None:
        """Freeze the weights that do not train (``owners``: build name -> the user's
        object); build the optimizer and scheduler."""
        from snncc.frontend.network import Connection, NeuronGroup  # it imports this module

        chosen: set[int] | None = None
        if self._targets is not None:
            chosen = set()
            for t in self._targets:
                if not isinstance(t, (Assembly, Connection, Projection, NeuronGroup)):
                    raise NetworkError(f"Learner '{self.name}': trainable must be networks, "
                                       "assemblies, connections, projections or groups, "
                                       f"got {t!r}")
                chosen.add(id(t))
                if isinstance(t, Assembly):
                    chosen |= {id(m) for m in t.walk()}
        trainer = net._trainer
        for c in trainer.plan.connections:  # a connection in it, or one into a group in it
            trains = chosen is None or id(owners.get(c.name)) in chosen \
                or id(owners.get(c.post)) in chosen
            trainer.weights[c.name].requires_grad_(trains)
        self.optimizer = self.scheduler = None
        if self._optim is not None:
            self._build_optimizer()

    def parameters(self) -> Iterator[Any]:
        """The weights this learner trains (after the network's build)."""
        net = self.network
        if net is None or getattr(net, "_trainer", None) is None:
            raise NetworkError(f"Learner '{self.name}': build the network first "
                               "(net.build())")
        return net.parameters()

    # ----------------------------------------------------- optimizer, schedule
    def set_optimizer(self, optim_name: str, optim_lr: float, **kwargs: Any) -> None:
        """Use ``torch.optim.<optim_name>`` with learning rate ``optim_lr`` (SPAIC's
        names, ``"Adam"``, ``"SGD"``, ``"RMSprop"``, ... and its ``"Rpop"``)."""
        _check_options(_torch_class("optimizer", optim_name), kwargs, ("params", "lr"))
        self._optim = (optim_name, float(optim_lr), dict(kwargs))
        net = self.network
        if net is not None and getattr(net, "_trainer", None) is not None:
            self._build_optimizer()

    def set_schedule(self, lr_schedule_name: str, **kwargs: Any) -> None:
        """Use ``torch.optim.lr_scheduler.<lr_schedule_name>`` (``"StepLR"``, ...)."""
        _check_options(_torch_class("schedule", lr_schedule_name), kwargs, ("optimizer",))
        self._sched = (lr_schedule_name, dict(kwargs))
        if self.optimizer is not None:
            self._build_scheduler()

    def _build_optimizer(self) -> None:
        assert self._optim is not None
        name, lr, kw = self._optim
        params = list(self.parameters())
        if not params:
            raise NetworkError(f"Learner '{self.name}': nothing to train; trainable= "
                               "names no connection of the trained network")
        self.optimizer = _torch_class("optimizer", name)(params, lr=lr, **kw)
        if self._sched is not None:
            self._build_scheduler()

    def _build_scheduler(self) -> None:
        assert self._sched is not None
        name, kw = self._sched
        self.scheduler = _torch_class("schedule", name)(self.optimizer, **kw)

    def _need(self, what: str) -> Any:
        obj = self.optimizer if what == "optimizer" else self.scheduler
        if obj is None:
            call = "set_optimizer" if what == "optimizer" else "set_schedule"
            raise NetworkError(f"Learner '{self.name}': no {what}; call learner.{call}(...) "
                               "and build the network")
        return obj

    def optim_zero_grad(self) -> None:
        """``optimizer.zero_grad()``."""
        self._need("optimizer").zero_grad()

    def optim_step(self) -> None:
        """``optimizer.step()``."""
        self._need("optimizer").step()

    def optim_schedule(self, *metrics: Any) -> None:
        """``scheduler.step()`` (``ReduceLROnPlateau`` takes the metric)."""
        self._need("scheduler").step(*metrics)

    optim_shedule = optim_schedule  # SPAIC's spelling

    def __repr__(self) -> str:
        return (f"Learner({self.algorithm!r} -> {self.surrogate}, name={self.name!r})")


def learners_of(net: Any) -> Sequence[Learner]:
    """The visible learners of ``net``."""
    return [m for m in net.walk() if isinstance(m, Learner) and not m.hidden]


__all__ = ["Learner", "learners_of"]
