"""The model library: published neuron models written as equation strings.

``library.get("cuba")`` returns a fresh :class:`NeuronModel`; ``library.names()`` lists
them. Each model's docstring (``model.doc``) cites where its equations and default
parameters come from. The equations are Brian2 syntax with units, and every model is
checked against Brian2 (``tests/test_brian2.py``).

=============  ==========================================  ==========================
name           model                                       default integrator
=============  ==========================================  ==========================
lif            LIF, decay input (tau dv/dt = El - v + I)   exact
lif_soft       the same with reset by subtraction          exact
lif_current    LIF, current input through C                exact
cuba           LIF + exponential currents (Brian2 CUBA)    exact
coba           LIF + exponential conductances (COBA)       exponential_euler
alif           LIF + spike-triggered threshold (LSNN)      exact
clif           SPAIC's 3-kernel current LIF                exact
izhikevich     Izhikevich 2003                             euler
adex           adaptive exponential IF (Brette-Gerstner)   euler
eif            exponential IF (Fourcaud-Trocme et al.)     euler
qif            quadratic IF                                euler
hh             Hodgkin-Huxley, Traub-Miles (Brian2 COBAHH) exponential_euler
=============  ==========================================  ==========================

All models but cuba take a constant input parameter ``I`` (per neuron): ``NeuronGroup(N, "lif",
params={"I": 20*mV})``. Initial values are 0 unless given (``init={"v": -70*mV}``).
"""

from __future__ import annotations

from collections.abc import Callable

from snncc.errors import NetworkError, ParameterError, did_you_mean
from snncc.frontend.models import NeuronModel
from snncc.units import cm, ms, msiemens, mV, nA, nS, pF, siemens, ufarad, umetre

_REGISTRY: dict[str, Callable[[], NeuronModel]] = {}


def register(name: str) -> Callable[[Callable[[], NeuronModel]], Callable[[], NeuronModel]]:
    """Decorator adding a model factory to the library."""
    def deco(fn: Callable[[], NeuronModel]) -> Callable[[], NeuronModel]:
        _REGISTRY[name] = fn
        return fn
    return deco


def names() -> list[str]:
    """Names of the library models."""
    return sorted(_REGISTRY)


def get(name: str, **params: object) -> NeuronModel:
    """A fresh copy of library model ``name``, with parameters overridden by ``params``.

    >>> from snncc.units import ms
    >>> get("lif", tau=20*ms).params["tau"]
    20. ms
    """
    if name not in _REGISTRY:
        raise NetworkError(f"unknown library model {name!r}; available: {', '.join(names())}"
                           f"{did_you_mean(str(name), names())}")
    model = _REGISTRY[name]()
    known = set(model.params) | {e.name for e in model.equations.parameters}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ParameterError(f"library model {name!r} has no parameter "
                             f"{', '.join(map(repr, unknown))}"
                             f"{did_you_mean(unknown[0], known)}; its parameters are "
                             f"{', '.join(sorted(known))}")
    return model.with_params(**params) if params else model


# ---------------------------------------------------------------------------------------
# Leaky integrate-and-fire family
# ---------------------------------------------------------------------------------------
_LIF_PARAMS = {"tau": 10 * ms, "El": -70 * mV, "Vt": -55 * mV, "Vr": -70 * mV}


@register("lif")
def lif() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt = (El - v + I)/tau : volt (unless refractory)
        I : volt  # input, as a voltage (R times the input current)
        """,
        threshold="v > Vt", reset="v = Vr", refractory=2 * ms,
        params=dict(_LIF_PARAMS),
        name="lif",
        init={"v": "El"},
        doc="Leaky integrate-and-fire neuron, decay-input form: the input I (a voltage, "
            "R*I_syn) is low-pass filtered by the membrane, tau dv/dt = El - v + I; hard "
            "reset to Vr and an absolute refractory period during which v is clamped "
            "(Lapicque 1907; Gerstner, Kistler, Naud & Paninski 2014, Neuronal Dynamics, "
            "ch. 1.3). Defaults follow NEST's iaf_psc_* models (tau_m = 10 ms, E_L = "
            "V_reset = -70 mV, V_th = -55 mV, t_ref = 2 ms); it fires for I > Vt - El = "
            "15 mV.")


@register("lif_soft")
def lif_soft() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt = (El - v + I)/tau : volt
        I : volt  # input, as a voltage (R times the input current)
        """,
        threshold="v > Vt", reset="v -= Vt - Vr",
        params=dict(_LIF_PARAMS),
        name="lif_soft",
        init={"v": "El"},
        doc="Leaky integrate-and-fire neuron with soft reset ('reset by subtraction'): on a "
            "spike the threshold distance Vt - Vr is subtracted from v, so the overshoot "
            "above threshold is kept, as in ANN-to-SNN conversion (Rueckauer et al. 2017, "
            "Front. Neurosci. 11:682) and many trained SNNs; no refractory period. Same "
            "equation and defaults as 'lif' (NEST iaf_psc_* defaults).")


@register("lif_current")
def lif_current() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt = (El - v)/tau + I/C : volt (unless refractory)
        I : amp  # input current
        """,
        threshold="v > Vt", reset="v = Vr", refractory=2 * ms,
        params={**_LIF_PARAMS, "C": 250 * pF},
        name="lif_current",
        init={"v": "El"},
        doc="Leaky integrate-and-fire neuron, non-decay-input form: the input current I "
            "charges the membrane capacitance C directly, dv/dt = (El - v)/tau + I/C, as in "
            "NEST's iaf_psc_exp/iaf_psc_alpha (Rotter & Diesmann 1999, Biol. Cybern. "
            "81:381). Defaults are NEST's: C_m = 250 pF, tau_m = 10 ms, E_L = V_reset = "
            "-70 mV, V_th = -55 mV, t_ref = 2 ms; rheobase C*(Vt - El)/tau = 375 pA.")


@register("cuba")
def cuba() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt  = (ge + gi - (v - El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """,
        threshold="v > Vt", reset="v = Vr", refractory=5 * ms,
        params={"taum": 20 * ms, "taue": 5 * ms, "taui": 10 * ms, "Vt": -50 * mV,
                "Vr": -60 * mV, "El": -49 * mV},
        name="cuba",
        init={"v": "Vr"},
        doc="Current-based LIF with exponential synaptic currents (Brian2's CUBA example; "
            "Vogels & Abbott 2005, J. Neurosci. 25:10786, as benchmarked in Brette et al. "
            "2007, J. Comput. Neurosci. 23:349). Excitatory weight 1.62 mV, inhibitory "
            "-9 mV, p = 0.02 in the benchmark. El = -49 mV lies above threshold, so an "
            "isolated neuron fires regularly.")


@register("coba")
def coba() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt  = (ge*(Ee - v) + gi*(Ei - v) - (v - El) + I)/taum : volt (unless refractory)
        dge/dt = -ge/taue : 1  # excitatory conductance, relative to the leak conductance
        dgi/dt = -gi/taui : 1  # inhibitory conductance, relative to the leak conductance
        I : volt  # external input, as a voltage
        """,
        threshold="v > Vt", reset="v = Vr", refractory=5 * ms,
        params={"taum": 20 * ms, "taue": 5 * ms, "taui": 10 * ms, "Ee": 0 * mV,
                "Ei": -80 * mV, "El": -60 * mV, "Vt": -50 * mV, "Vr": -60 * mV},
        name="coba",
        init={"v": "El"},
        doc="Conductance-based LIF with exponential synaptic conductances (COBA benchmark "
            "of Brette et al. 2007, J. Comput. Neurosci. 23:349, after Vogels & Abbott "
            "2005, J. Neurosci. 25:10786). Conductances ge, gi are dimensionless, in units "
            "of the leak conductance (gL = 10 nS): the benchmark's 6 nS and 67 nS synapses "
            "are 'ge += 0.6' and 'gi += 6.7'. All parameters are the benchmark's "
            "(taum = 20 ms, taue = 5 ms, taui = 10 ms, Ee = 0 mV, Ei = -80 mV, El = Vr = "
            "-60 mV, Vt = -50 mV, refractory 5 ms); I is an added constant drive (0 in the "
            "benchmark). v is bilinear in (v, ge, gi), so it is integrated with "
            "exponential_euler by default.")


@register("alif")
def alif() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt = (El - v + I)/tau_m : volt (unless refractory)
        da/dt = -a/tau_a : 1  # threshold adaptation, +1 per spike
        I : volt  # input, as a voltage
        """,
        threshold="v > Vt + beta*a", reset="v = Vr\na += 1", refractory=2 * ms,
        params={"tau_m": 20 * ms, "tau_a": 200 * ms, "beta": 1.6 * mV, "El": -70 * mV,
                "Vt": -50 * mV, "Vr": -70 * mV},
        name="alif",
        init={"v": "El"},
        doc="Adaptive LIF with a spike-triggered threshold (the ALIF unit of LSNNs, Bellec "
            "et al. 2018, NeurIPS, 'Long short-term memory and learning-to-learn in "
            "networks of spiking neurons'): threshold Vt + beta*a, where a jumps by 1 per "
            "spike and decays with tau_a. Bellec et al. use a_{t+1} = rho*a_t + (1 - rho)*z_t "
            "and a threshold b0 + beta_B*a with beta_B = 1.6-1.8 (in threshold units) and "
            "tau_a = 200 ms to seconds; here the jump is 1 and beta (1.6 mV, 8% of the "
            "20 mV threshold distance) carries the unit. tau_m = 20 ms, tau_a = 200 ms, "
            "refractory 2 ms.")


@register("clif")
def clif() -> NeuronModel:
    return NeuronModel(
        """
        dM/dt = -M/tau_p + I : 1  # rising part of the PSP kernel
        dS/dt = -S/tau_q + I : 1  # decaying part of the PSP kernel
        dE/dt = -E/tau_m : 1      # reset kernel: +v_th per output spike
        V = M - S - E : 1
        I : hertz  # constant drive (per unit time)
        """,
        threshold="V > v_th", reset="E += v_th",
        params={"tau_p": 12 * ms, "tau_q": 8 * ms, "tau_m": 20 * ms, "v_th": 1.0},
        name="clif",
        doc="SPAIC's CLIF ('current LIF', 3-kernel model; SPAIC, Hong et al. 2023, Front. "
            "Neurosci. 16:1079357; spaic/Neuron/Neuron.py CLIFModel): V = M - S - E, where "
            "M and S low-pass the input with tau_p = 12 ms and tau_q = 8 ms (their "
            "difference is a double-exponential PSP) and E, the reset kernel, jumps by "
            "v_th at each spike and decays with tau_m = 20 ms (SPAIC's defaults; v_th = 1, "
            "dimensionless). Synaptic input adds to both kernels: on_pre='M += w; S += w' "
            "(SPAIC scales w by V0 = beta**(beta/(beta - 1))/(beta - 1), beta = tau_p/tau_q, "
            "so that a unit weight gives a PSP peak of 1: write 'M += V0*w; S += V0*w' with "
            "V0 as a synapse parameter to reproduce that). For a constant drive I the "
            "steady state is V = I*(tau_p - tau_q), so it fires for I > v_th/(tau_p - tau_q) "
            "= 250 Hz.")


@register("izhikevich")
def izhikevich() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt = (0.04/ms/mV)*v**2 + (5/ms)*v + 140*mV/ms - u + I : volt
        du/dt = a*(b*v - u) : volt/second
        I : volt/second  # input (the paper's I, in mV/ms)
        """,
        threshold="v >= Vpeak", reset="v = c\nu += d",
        params={"a": 0.02 / ms, "b": 0.2 / ms, "c": -65 * mV, "d": 8 * mV / ms,
                "Vpeak": 30 * mV},
        name="izhikevich",
        init={"v": "c", "u": "b*c"},
        doc="Izhikevich simple model (Izhikevich 2003, IEEE Trans. Neural Netw. 14:1569): "
            "v' = 0.04 v^2 + 5 v + 140 - u + I, u' = a (b v - u), with v in mV and t in "
            "ms; on v >= 30 mV: v = c, u += d. Defaults are the paper's regular-spiking "
            "cell (a = 0.02, b = 0.2, c = -65 mV, d = 8); other classes by parameters "
            "(fast spiking a = 0.1; chattering c = -50 mV, d = 2; ...). Start from "
            "v = c, u = b*c. The paper integrates v with two 0.5 ms Euler half-steps; the "
            "v^2 term makes the automatic choice forward euler here.")


@register("adex")
def adex() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt = (gL*(EL - v) + gL*DeltaT*exp((v - VT)/DeltaT) + I - w)/C : volt
        dw/dt = (a*(v - EL) - w)/tauw : amp
        I : amp  # input current
        """,
        threshold="v > VT + 5*DeltaT", reset="v = Vr\nw += b",
        params={"C": 281 * pF, "gL": 30 * nS, "EL": -70.6 * mV, "VT": -50.4 * mV,
                "DeltaT": 2 * mV, "tauw": 144 * ms, "a": 4 * nS, "b": 0.0805 * nA,
                "Vr": -70.6 * mV},
        name="adex",
        init={"v": "EL"},
        doc="Adaptive exponential integrate-and-fire model (Brette & Gerstner 2005, J. "
            "Neurophysiol. 94:3637) with the paper's parameters, fitted to a detailed "
            "pyramidal-cell model: C = 281 pF, gL = 30 nS, EL = -70.6 mV, VT = -50.4 mV, "
            "DeltaT = 2 mV, tauw = 144 ms, a = 4 nS, b = 0.0805 nA, Vr = EL; the spike is "
            "cut at VT + 5*DeltaT as in Brian2's AdEx example. Rheobase about 0.58 nA.")


@register("eif")
def eif() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt = (EL - v + DeltaT*exp((v - VT)/DeltaT) + I)/tau : volt (unless refractory)
        I : volt  # input, as a voltage (R times the input current)
        """,
        threshold="v > Vcut", reset="v = Vr", refractory=2 * ms,
        params={"tau": 10 * ms, "EL": -65 * mV, "VT": -59.9 * mV, "DeltaT": 3.48 * mV,
                "Vcut": -30 * mV, "Vr": -68 * mV},
        name="eif",
        init={"v": "EL"},
        doc="Exponential integrate-and-fire model (Fourcaud-Trocme, Hansel, van Vreeswijk "
            "& Brunel 2003, J. Neurosci. 23:11628): tau dv/dt = EL - v + DeltaT exp((v - "
            "VT)/DeltaT) + I. Parameters are the paper's fit to the Wang-Buzsaki "
            "conductance model (tau = 10 ms, EL = -65 mV, VT = -59.9 mV, DeltaT = 3.48 mV, "
            "Vr = -68 mV; the same defaults as BrainPy's ExpIF), with the spike cut at "
            "-30 mV (where the exponential has already diverged) and a 2 ms refractory "
            "period. Fires for I above about 1.6 mV.")


@register("qif")
def qif() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt = (k*(v - El)*(v - Vc) + I)/tau : volt (unless refractory)
        I : volt  # input, as a voltage (R times the input current)
        """,
        threshold="v >= Vpeak", reset="v = Vr", refractory=2 * ms,
        params={"tau": 10 * ms, "El": -65 * mV, "Vc": -50 * mV, "k": 1 / (15 * mV),
                "Vpeak": 30 * mV, "Vr": -70 * mV},
        name="qif",
        init={"v": "El"},
        doc="Quadratic integrate-and-fire model (Ermentrout & Kopell 1986, SIAM J. Appl. "
            "Math. 46:233; Latham et al. 2000, J. Neurophysiol. 83:808; Izhikevich 2007, "
            "Dynamical Systems in Neuroscience, sec. 3.3.8): tau dv/dt = k (v - El)(v - "
            "Vc) + I, with rest El = -65 mV, critical voltage Vc = -50 mV and k = 1/(Vc - "
            "El) so that the membrane time constant at rest is tau = 10 ms (Latham et al.'s "
            "normalisation). The spike is cut at Vpeak = 30 mV and v reset to -70 mV; "
            "2 ms refractory period. Rheobase k (Vc - El)^2/4 = 3.75 mV.")


@register("hh")
def hh() -> NeuronModel:
    area = 20000 * umetre**2
    return NeuronModel(
        """
        dv/dt = (gl*(El - v) + ge*(Ee - v) + gi*(Ei - v)
                 - g_na*(m*m*m)*h*(v - ENa) - g_kd*(n*n*n*n)*(v - EK) + I)/Cm : volt
        dm/dt = alpha_m*(1 - m) - beta_m*m : 1
        dn/dt = alpha_n*(1 - n) - beta_n*n : 1
        dh/dt = alpha_h*(1 - h) - beta_h*h : 1
        dge/dt = -ge/taue : siemens
        dgi/dt = -gi/taui : siemens
        alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV - v + VT)/(4*mV))/ms : Hz
        beta_m = 0.28*(mV**-1)*5*mV/exprel((v - VT - 40*mV)/(5*mV))/ms : Hz
        alpha_h = 0.128*exp((17*mV - v + VT)/(18*mV))/ms : Hz
        beta_h = 4/(1 + exp((40*mV - v + VT)/(5*mV)))/ms : Hz
        alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV - v + VT)/(5*mV))/ms : Hz
        beta_n = 0.5*exp((10*mV - v + VT)/(40*mV))/ms : Hz
        I : amp  # input current
        """,
        threshold="v > -20*mV", refractory=3 * ms,
        params={"Cm": (1 * ufarad * cm**-2) * area, "gl": (5e-5 * siemens * cm**-2) * area,
                "El": -60 * mV, "EK": -90 * mV, "ENa": 50 * mV,
                "g_na": (100 * msiemens * cm**-2) * area,
                "g_kd": (30 * msiemens * cm**-2) * area, "VT": -63 * mV,
                "taue": 5 * ms, "taui": 10 * ms, "Ee": 0 * mV, "Ei": -80 * mV},
        name="hh",
        init={"v": "El"},
        doc="Hodgkin-Huxley neuron with conductance-based exponential synapses, exactly "
            "Brian2's COBAHH example (Brette et al. 2007, J. Comput. Neurosci. 23:349, "
            "benchmark 3), with Traub & Miles 1991 sodium and delayed-rectifier kinetics "
            "written with exprel (safe at the removable singularities). Membrane area "
            "20000 um**2: Cm = 1 uF/cm2, gl = 0.05 mS/cm2, g_na = 100 mS/cm2, g_kd = "
            "30 mS/cm2; El = -60 mV, EK = -90 mV, ENa = 50 mV, VT = -63 mV; synapses "
            "taue = 5 ms, taui = 10 ms, Ee = 0 mV, Ei = -80 mV (6 nS and 67 nS weights in "
            "the benchmark). A spike is v crossing -20 mV, with a 3 ms refractory period "
            "that only prevents double counting (v is not clamped). Integrated with "
            "exponential_euler by default, as in the example. I is an added current "
            "(0 in the benchmark); even with I = 0 an isolated neuron fires, at about "
            "13 Hz. Start the gates at rest with init={'m': 'alpha_m/(alpha_m + beta_m)', "
            "...}.")
