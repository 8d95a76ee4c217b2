"""Plasticity presets: the STDP family written as :class:`~snncc.SynapseModel` code.

Every preset returns an ordinary synapse model (equation strings plus ``on_pre`` /
``on_post`` statements), so it runs through the same passes and generated code as any
hand-written model, on every backend; ``print(model.equations.text, model.on_pre,
model.on_post)`` shows exactly what is simulated. Parameters land in ``model.params``
and can be overridden per connection (``Connection(..., params={"wmax": 2.0})``).

* :func:`stdp`: pair-based STDP (Song, Miller & Abbott 2000) with all-to-all or
  nearest-spike pairing (Morrison, Diesmann & Gerstner 2008) and additive (hard bounds) or
  multiplicative (soft bounds; Guetig et al. 2003, cf. van Rossum et al. 2000) updates;
* :func:`triplet_stdp`: the triplet rule of Pfister & Gerstner 2006 (traces r1, r2, o1,
  o2; all-to-all or nearest-spike; their visual-cortex fit by default);
* :func:`reward_stdp`: reward-modulated STDP (Izhikevich 2007; Brian2's example): STDP
  into an eligibility trace, turned into weight change by a reward (dopamine) signal
  through clock-driven synaptic equations.

Conventions (those of Brian2's STDP examples): the synaptic weight is the dimensionless
synaptic variable ``w``, kept in ``[wmin, wmax]`` (an initial weight outside is clipped at
its synapse's first event); traces live on the synapse and are
event-driven (advanced exactly between spikes); within one step ``on_pre`` runs before
``on_post``; ``on_pre_effect`` (default ``"ge += w"``) is the transmission, run first in
``on_pre`` with the weight before this spike's update (scale it to your neuron's units,
e.g. ``"ge += w*nS"``). Every weight change is a product with a trace that only a spike
of the other side sets, so a synapse whose presynaptic (postsynaptic) neuron never fired
is never potentiated (depressed), whatever the other side does. Times are Quantities or
bare numbers in ms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from snncc.errors import ParameterError, UnitError
from snncc.frontend.models import SynapseModel
from snncc.units import Quantity, second, time_to_seconds

__all__ = ["PAIRINGS", "TRIPLET_FITS", "UPDATES", "reward_stdp", "stdp", "triplet_stdp"]

PAIRINGS = ("all_to_all", "nearest")
UPDATES = ("additive", "multiplicative")

# Pfister & Gerstner 2006, Table 4, visual cortex data (Sjostrom et al. 2001); the
# pair time constants tau_plus = 16.8 ms, tau_minus = 33.7 ms are Bi & Poo's.
TRIPLET_FITS: dict[str, dict[str, float]] = {
    "all_to_all": {"tau_plus": 16.8, "tau_minus": 33.7, "tau_x": 101.0, "tau_y": 125.0,
                   "A2plus": 5e-10, "A3plus": 6.2e-3, "A2minus": 7e-3, "A3minus": 2.3e-4},
    "nearest": {"tau_plus": 16.8, "tau_minus": 33.7, "tau_x": 714.0, "tau_y": 40.0,
                "A2plus": 8.8e-11, "A3plus": 5.3e-2, "A2minus": 6.6e-3, "A3minus": 3.1e-3},
}


# ------------------------------------------------------------------------- checks
def _choice(fn: str, arg: str, value: object, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ParameterError(f"{fn}: {arg} must be one of {', '.join(map(repr, options))}, "
                             f"got {value!r}")
    return value


def _tau(fn: str, arg: str, value: object) -> Quantity:
    """A positive time constant as a Quantity in seconds."""
    try:
        secs = time_to_seconds(value, f"{fn}: {arg}")
    except UnitError as exc:
        raise ParameterError(f"{exc}; give it like 20*ms (a bare number means ms)") from None
    if not secs > 0:
        raise ParameterError(f"{fn}: {arg} must be a positive time such as 20*ms, got "
                             f"{value}")
    return secs * second


def _number(fn: str, arg: str, value: object) -> float:
    if isinstance(value, Quantity) and not value.dim.is_dimensionless:
        raise ParameterError(f"{fn}: {arg} must be a plain number (the weight w is "
                             f"dimensionless), got {value}")
    try:
        if isinstance(value, (bool, str)):
            raise TypeError
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParameterError(f"{fn}: {arg} must be a number, got {type(value).__name__} "
                             f"{value!r}") from None
    if not math.isfinite(x):
        raise ParameterError(f"{fn}: {arg} must be finite, got {value!r}")
    return x


def _bounds(fn: str, wmin: object, wmax: object) -> tuple[float, float]:
    lo, hi = _number(fn, "wmin", wmin), _number(fn, "wmax", wmax)
    if not hi > lo:
        raise ParameterError(f"{fn}: wmax must be greater than wmin, got wmin={lo!r}, "
                             f"wmax={hi!r}")
    return lo, hi


def _effect(fn: str, on_pre_effect: object) -> str:
    if on_pre_effect is None:
        return ""
    if not isinstance(on_pre_effect, str):
        raise ParameterError(f"{fn}: on_pre_effect must be a statement string such as "
                             f"'ge += w' (or None), got {type(on_pre_effect).__name__}")
    return on_pre_effect.strip()


def _lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _potentiate(update: str, amount: str) -> str:
    """``w`` after potentiation by ``amount`` (>= 0), within [wmin, wmax]."""
    if update == "additive":
        return f"w = clip(w + {amount}, wmin, wmax)"
    return f"w = clip(w + ({amount})*(wmax - w), wmin, wmax)"


def _depress(update: str, amount: str) -> str:
    """``w`` after depression by ``amount`` (>= 0), within [wmin, wmax]."""
    if update == "additive":
        return f"w = clip(w - {amount}, wmin, wmax)"
    return f"w = clip(w - ({amount})*(w - wmin), wmin, wmax)"


# -------------------------------------------------------------------------- presets
def stdp(*, pairing: str = "all_to_all", update: str = "additive",
         taupre: float | Quantity = 20.0, taupost: float | Quantity = 20.0, Apre: float = 0.01,
         Apost: float = -0.0105, wmin: float = 0.0, wmax: float = 1.0,
         on_pre_effect: str | None = "ge += w", name: str = "stdp") -> SynapseModel:
    """Pair-based STDP with event-driven traces (Song, Miller & Abbott 2000; Brian2's
    STDP example).

    A presynaptic spike adds ``Apre`` to the trace ``apre`` (time constant ``taupre``)
    and changes ``w`` by the postsynaptic trace ``apost``; a postsynaptic spike adds
    ``Apost`` to ``apost`` (``taupost``) and changes ``w`` by ``apre``. So a pre spike
    ``dt`` before a post spike changes ``w`` by ``Apre*exp(-dt/taupre)``, a post spike
    before a pre spike by ``Apost*exp(-dt/taupost)``.

    Args:
        pairing: ``"all_to_all"`` (every earlier spike of the other side counts: traces
            add up) or ``"nearest"`` (only the most recent one: a spike sets its trace to
            the amplitude; Morrison, Diesmann & Gerstner 2008, symmetric nearest-spike).
        update: ``"additive"`` (``w += dw``, hard bounds by clipping) or
            ``"multiplicative"`` (soft bounds: potentiation scaled by ``wmax - w``,
            depression by ``w - wmin``: Guetig et al. 2003 with mu = 1; cf. van Rossum,
            Bi & Turrigiano 2000).
        taupre, taupost: trace time constants (times; bare numbers mean ms).
        Apre: potentiation amplitude (dimensionless, >= 0 for multiplicative).
        Apost: depression amplitude, negative as in Brian2 (<= 0 for multiplicative).
        wmin, wmax: weight bounds (dimensionless, ``wmin < wmax``).
        on_pre_effect: the transmission run first on a presynaptic spike, or None.
        name: the model's name (in errors and generated code).

    Returns:
        A :class:`~snncc.SynapseModel` with variables ``w``, ``apre``, ``apost``.
    """
    fn = "stdp"
    pairing = _choice(fn, "pairing", pairing, PAIRINGS)
    update = _choice(fn, "update", update, UPDATES)
    tp, tq = _tau(fn, "taupre", taupre), _tau(fn, "taupost", taupost)
    a_pre, a_post = _number(fn, "Apre", Apre), _number(fn, "Apost", Apost)
    lo, hi = _bounds(fn, wmin, wmax)
    if update == "multiplicative" and (a_pre < 0 or a_post > 0):
        raise ParameterError(f"{fn}: multiplicative STDP needs Apre >= 0 (potentiation) and "
                             f"Apost <= 0 (depression), got Apre={a_pre!r}, Apost={a_post!r}; "
                             "use update='additive' for other signs")
    effect = _effect(fn, on_pre_effect)
    op = "+=" if pairing == "all_to_all" else "="
    if update == "additive":
        on_pre_w, on_post_w = "w = clip(w + apost, wmin, wmax)", _potentiate(update, "apre")
    else:
        on_pre_w, on_post_w = _depress(update, "-apost"), _potentiate(update, "apre")
    return SynapseModel(
        """
        w : 1
        dapre/dt = -apre/taupre : 1 (event-driven)
        dapost/dt = -apost/taupost : 1 (event-driven)
        """,
        on_pre=_lines(effect, f"apre {op} Apre", on_pre_w),
        on_post=_lines(f"apost {op} Apost", on_post_w),
        params={"taupre": tp, "taupost": tq, "Apre": a_pre, "Apost": a_post, "wmin": lo,
                "wmax": hi},
        name=name,
        doc=f"pair-based STDP ({pairing.replace('_', '-')} pairing, {update} update)")


def triplet_stdp(*, pairing: str = "all_to_all", update: str = "additive",
                 tau_plus: float | Quantity | None = None,
                 tau_minus: float | Quantity | None = None,
                 tau_x: float | Quantity | None = None, tau_y: float | Quantity | None = None,
                 A2plus: float | None = None,
                 A3plus: float | None = None, A2minus: float | None = None,
                 A3minus: float | None = None, wmin: float = 0.0, wmax: float = 1.0,
                 on_pre_effect: str | None = "ge += w", name: str = "triplet_stdp"
                 ) -> SynapseModel:
    """Triplet STDP (Pfister & Gerstner 2006, J Neurosci 26:9673).

    Presynaptic traces ``r1`` (``tau_plus``), ``r2`` (``tau_x``), postsynaptic traces
    ``o1`` (``tau_minus``), ``o2`` (``tau_y``), each jumping by 1 at a spike of its side
    (``"all_to_all"``) or set to 1 (``"nearest"``, the nearest-spike model). At a
    presynaptic spike ``w -= o1*(A2minus + A3minus*r2)``, at a postsynaptic spike
    ``w += r1*(A2plus + A3plus*o2)``, where ``r2`` and ``o2`` are read *before* this
    spike's own increment (the paper's ``t - epsilon``): the weight statement comes
    first in the event code. Unset parameters take the paper's visual-cortex fit for the
    chosen pairing (:data:`TRIPLET_FITS`, Table 4); its minimal models are
    ``A2plus=0, A3minus=0`` with the other values refitted.

    Args:
        pairing: ``"all_to_all"`` or ``"nearest"`` (traces saturate at 1).
        update: ``"additive"`` (hard bounds, the paper's) or ``"multiplicative"``
            (potentiation scaled by ``wmax - w``, depression by ``w - wmin``).
        tau_plus, tau_minus, tau_x, tau_y: trace time constants (times; bare numbers: ms).
        A2plus, A3plus, A2minus, A3minus: pair and triplet amplitudes (>= 0,
            dimensionless; ``A2minus`` and ``A3minus`` depress).
        wmin, wmax: weight bounds (``wmin < wmax``).
        on_pre_effect: the transmission run first on a presynaptic spike, or None.
        name: the model's name.

    Returns:
        A :class:`~snncc.SynapseModel` with variables ``w``, ``r1``, ``r2``, ``o1``,
        ``o2``.
    """
    fn = "triplet_stdp"
    pairing = _choice(fn, "pairing", pairing, PAIRINGS)
    update = _choice(fn, "update", update, UPDATES)
    fit = TRIPLET_FITS[pairing]
    given = {"tau_plus": tau_plus, "tau_minus": tau_minus, "tau_x": tau_x, "tau_y": tau_y,
             "A2plus": A2plus, "A3plus": A3plus, "A2minus": A2minus, "A3minus": A3minus}
    params: dict[str, object] = {}
    for arg, value in given.items():
        value = fit[arg] if value is None else value
        if arg.startswith("tau"):
            params[arg] = _tau(fn, arg, value)
            continue
        params[arg] = _number(fn, arg, value)
        if params[arg] < 0:  # type: ignore[operator]
            raise ParameterError(f"{fn}: {arg} must be >= 0 (the sign of each term is fixed "
                                 f"by the rule), got {value!r}")
    params["wmin"], params["wmax"] = _bounds(fn, wmin, wmax)
    effect = _effect(fn, on_pre_effect)
    op = "+=" if pairing == "all_to_all" else "="
    return SynapseModel(
        """
        w : 1
        dr1/dt = -r1/tau_plus : 1 (event-driven)
        dr2/dt = -r2/tau_x : 1 (event-driven)
        do1/dt = -o1/tau_minus : 1 (event-driven)
        do2/dt = -o2/tau_y : 1 (event-driven)
        """,
        on_pre=_lines(effect, _depress(update, "o1*(A2minus + A3minus*r2)"),
                      f"r1 {op} 1", f"r2 {op} 1"),
        on_post=_lines(_potentiate(update, "r1*(A2plus + A3plus*o2)"),
                       f"o1 {op} 1", f"o2 {op} 1"),
        params=params, name=name,
        doc=f"triplet STDP (Pfister & Gerstner 2006, {pairing.replace('_', '-')}, "
            f"{update} update)")


def reward_stdp(*, taupre: float | Quantity = 20.0, taupost: float | Quantity = 20.0,
                Apre: float = 0.01, Apost: float = -0.0105, tau_c: float | Quantity = 1000.0,
                tau_d: float | Quantity = 200.0, tau_w: float | Quantity = 1.0,
                reward: str | None = None, wmin: float = 0.0,
                wmax: float = 1.0, on_pre_effect: str | None = "ge += w",
                name: str = "reward_stdp") -> SynapseModel:
    """Reward-modulated STDP (Izhikevich 2007, Cereb Cortex 17:2443; Brian2's
    "reward-modulated STDP" example), built on clock-driven synaptic equations.

    Pair-based STDP (all-to-all, as :func:`stdp`) does not change ``w`` but the
    eligibility trace ``c`` (``dc/dt = -c/tau_c``, clock-driven). The weight follows
    ``c`` times the reward signal ``d`` every step::

        dw/dt = c*d*where(c*d > 0, wmax - w, w - wmin)/tau_w   (clock-driven)

        # i.e. it relaxes towards wmax at rate c*d/tau_w while c*d > 0, towards wmin
        # while c*d < 0 (soft bounds: w never leaves [wmin, wmax])

    integrated by exponential Euler, exact for ``c*d`` frozen over a step.

    The reward signal:

    * ``reward=None`` (default): each synapse has a dopamine concentration ``d``,
      ``dd/dt = -d/tau_d`` (clock-driven). Deliver a reward between runs by adding to
      it: ``sim.get("S", "d").add_(0.5)`` (what Brian2's example does with a dopamine
      Synapses onto the synapses).
    * an expression over neuron variables, e.g. ``reward="d_post"``: the dopamine is a
      variable of the postsynaptic group (say ``dd/dt = -d/tau_d : 1`` in its model),
      raised by the spikes of a dopamine group through an ordinary connection
      (``Connection(dopamine, post, on_pre="d += 0.5")``): a reward delivered by spikes,
      without the host. Use a state variable: constant parameters are folded into the
      generated code.

    Args:
        taupre, taupost, Apre, Apost: the STDP window, as for :func:`stdp` (an
            all-to-all pair adds ``Apre*exp(-dt/taupre)`` to ``c``, ...).
        tau_c: eligibility time constant (1 s in Izhikevich 2007).
        tau_d: dopamine time constant (0.2 s), with ``reward=None``.
        tau_w: time scale of the weight change (``dw/dt`` has the units of ``c*d/tau_w``;
            Brian2's example: 1 ms).
        reward: None (the synaptic ``d``) or an expression for the reward signal.
        wmin, wmax: weight bounds (``wmin < wmax``).
        on_pre_effect: the transmission run first on a presynaptic spike, or None.
        name: the model's name.

    Returns:
        A :class:`~snncc.SynapseModel` with variables ``w``, ``c``, ``apre``, ``apost``
        (and ``d`` with ``reward=None``).

    Example (a reward delivered from the host; here a post spike follows each pre spike
    by 2 ms, so ``c`` grows, and a reward turns it into potentiation)::

        >>> import numpy as np, torch, snncc as sc
        >>> from snncc.learning import reward_stdp
        >>> from snncc.units import ms
        >>> net = sc.Network(dt=0.1*ms, seed=0)
        >>> with net:
        ...     pre = sc.SpikeGeneratorGroup(1, [0, 0], np.array([5, 25])*ms)
        ...     post = sc.SpikeGeneratorGroup(1, [0, 0], np.array([7, 27])*ms)
        ...     S = sc.Connection(pre, post, reward_stdp(on_pre_effect=None), weight=0.5)
        >>> sim = net.compile(dtype=torch.float64)
        >>> _ = sim.run(30*ms)
        >>> float(sim.get(S.name, "w")[0, 0])  # no reward yet: no change
        0.5
        >>> _ = sim.get(S.name, "d").fill_(1.0)  # reward!
        >>> _ = sim.run(10*ms)
        >>> bool(sim.get(S.name, "w")[0, 0] > 0.5)
        True
    """
    fn = "reward_stdp"
    tp, tq = _tau(fn, "taupre", taupre), _tau(fn, "taupost", taupost)
    tc, tw = _tau(fn, "tau_c", tau_c), _tau(fn, "tau_w", tau_w)
    a_pre, a_post = _number(fn, "Apre", Apre), _number(fn, "Apost", Apost)
    lo, hi = _bounds(fn, wmin, wmax)
    effect = _effect(fn, on_pre_effect)
    params: Mapping[str, object] = {"taupre": tp, "taupost": tq, "tau_c": tc, "tau_w": tw,
                                    "Apre": a_pre, "Apost": a_post, "wmin": lo, "wmax": hi}
    if reward is None:
        signal = "d"
        dopamine = "dd/dt = -d/tau_d : 1 (clock-driven)"
        params = {**params, "tau_d": _tau(fn, "tau_d", tau_d)}
    else:
        if not isinstance(reward, str) or not reward.strip():
            raise ParameterError(f"{fn}: reward must be None (a synaptic dopamine variable "
                                 f"d) or an expression such as 'd_post', got {reward!r}")
        signal = f"({reward.strip()})"
        dopamine = ""
    equations = _lines(
        "dc/dt = -c/tau_c : 1 (clock-driven)",
        dopamine,
        f"dw/dt = c*{signal}*where(c*{signal} > 0, wmax - w, w - wmin)/tau_w : 1 "
        "(clock-driven)",
        "dapre/dt = -apre/taupre : 1 (event-driven)",
        "dapost/dt = -apost/taupost : 1 (event-driven)")
    return SynapseModel(
        equations,
        on_pre=_lines(effect, "apre += Apre", "c += apost"),
        on_post=_lines("apost += Apost", "c += apre"),
        params=params, name=name,
        doc="reward-modulated STDP (Izhikevich 2007), soft weight bounds")
