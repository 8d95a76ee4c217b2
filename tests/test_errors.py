"""Bad input gets a clear snncc error, never a traceback from deep inside sympy/torch.

Each test feeds one kind of bad input and checks the exception class (always a
:class:`snncc.SnnccError` subclass), the key words of the message (what is wrong, where,
how to fix it) and, for text that could not be read, the ``line`` and ``column``.
Everything here builds at most a few tiny networks, so the whole file runs in seconds.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.errors import (
    EquationSyntaxError,
    IntegrationError,
    ModelError,
    NetworkError,
    ParameterError,
    ShapeError,
    SnnccError,
    UnitError,
    UnknownNameError,
)
from snncc.units import Hz, ms, mV, nA

LIF = """
dv/dt = (El - v)/tau : volt
El : volt
tau : second
"""
PARAMS = {"El": -60 * mV, "tau": 10 * ms}


def lif(**kw: object) -> sc.NeuronModel:
    """A small unit-aware LIF model; keyword arguments override its pieces."""
    args: dict = {"threshold": "v > -50*mV", "reset": "v = -60*mV", "params": PARAMS}
    args.update(kw)
    return sc.NeuronModel(args.pop("equations", LIF), **args)


def lif_eqs(rhs: str, extra: str = "") -> str:
    return f"dv/dt = {rhs} : volt\nEl : volt\ntau : second\n{extra}"


def lower(build) -> object:  # noqa: ANN001
    """Build objects inside a fresh network and lower it (no code generation)."""
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        build()
    return net.lower()


def group(model: sc.NeuronModel | None = None, n: int = 2, **kw: object) -> object:
    return lower(lambda: sc.NeuronGroup(n, model or lif(), name="G", **kw))


def connect(n_pre: int = 3, n_post: int = 4, pre_model: sc.NeuronModel | None = None,
            **ckw: object) -> object:
    """Lower a network of two groups joined by one Connection(**ckw)."""
    ckw.setdefault("on_pre", "v += 1*mV")

    def build() -> None:
        A = sc.NeuronGroup(n_pre, pre_model or lif(), name="A")
        B = sc.NeuronGroup(n_post, lif(), name="B")
        sc.Connection(A, B, name="C", **ckw)
    return lower(build)


def tiny_network(**mon: object) -> tuple[sc.Network, dict]:
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        G = sc.NeuronGroup(2, lif(), name="G")
        mons = {"spikes": sc.SpikeMonitor(G, name="spikes"),
                "vm": sc.StateMonitor(G, "v", record=[0], name="vm"),
                "rate": sc.PopulationRateMonitor(G, name="rate")}
    return net, mons


@pytest.fixture(scope="module")
def sim() -> object:
    net, _ = tiny_network()
    return net.compile(backend="torch", device="cpu")


def test_every_error_class_is_an_snncc_error() -> None:
    for cls in (EquationSyntaxError, IntegrationError, ModelError, NetworkError,
                ParameterError, ShapeError, UnitError, UnknownNameError):
        assert issubclass(cls, SnnccError)
        assert getattr(sc, cls.__name__) is cls


# ------------------------------------------------------------------ equation syntax
EQUATION_SYNTAX = [
    # (id, text, message regex, line, column)
    ("missing '='", "dv/dt (1 - v)/tau : volt", "cannot read this line", 1, 1),
    ("derivative not d/dt", "d v/dx = -v/tau : volt", "derivative with respect to 'x'", 1, 6),
    ("lhs is an expression", "v + 1 = -v/tau : volt", "invalid left-hand side", 1, 1),
    ("lhs starts with a digit", "1v = 2 : 1", "invalid left-hand side", 1, 1),
    ("unclosed bracket", "tau : second\ndv/dt = (1 - v/tau : volt",
     r"unclosed bracket '\('", 2, 9),
    ("unclosed flag bracket", "x : volt (shared", r"unclosed bracket '\('", 1, 10),
    ("unmatched bracket", "dv/dt = -v)/tau : volt", r"unmatched '\)'", 1, 11),
    ("'^' for power", "dv/dt = v^2/tau : volt", r"'\^' is not a power", 1, 10),
    ("empty expression", "dv/dt =  : volt", "missing expression after '='", 1, 8),
    ("trailing garbage", "dv/dt = -v/tau tau2 : volt", "invalid syntax", 1, 16),
    ("two '='", "v = = 2 : 1", "invalid syntax", 1, 5),
    ("unknown flag", "dv/dt = -v/tau : volt (unles refractory)",
     "unknown flag 'unles refractory'", 1, 24),
    ("duplicate definition", "tau : second\n  tau : second", r"'tau' is defined twice", 2, 3),
    ("parameter without unit", "dv/dt = -v/tau : volt\ntau", "parameter 'tau' needs a unit",
     2, 4),
    ("missing unit after ':'", "dv/dt = -v/tau : ", "missing unit after ':'", 1, 17),
    ("unknown unit", "dv/dt = -v/tau : volts", r"unknown unit 'volts' \(did you mean 'volt'",
     1, 18),
    ("number in a unit", "v : 2*volt", "unexpected number 2 in a unit", 1, 5),
    ("'^' in a unit", "v : volt^2", r"'\^' is not a power in a unit", 1, 9),
    ("infinite unit exponent", "x : metre**1e400", "exponent is not a finite number", 1, 12),
    ("error on line 3 of a block", "dv/dt = -v/tau : volt\ntau : second\nI = 3 +* v : volt",
     "invalid syntax", 3, 8),
    ("indented block", "\n    dv/dt = -v/tau tau2 : volt\n", "invalid syntax", 2, 20),
]


@pytest.mark.parametrize("text,message,line,column",
                         [c[1:] for c in EQUATION_SYNTAX], ids=[c[0] for c in EQUATION_SYNTAX])
def test_equation_syntax_errors(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(EquationSyntaxError, match=message) as info:
        sc.Equations(text)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert f"line {line}, column {column}" in str(err)
    # the offending line is shown with a caret under the column
    shown = text.splitlines()[line - 1]
    assert f"\n    {shown}\n    {' ' * (column - 1)}^" in str(err)


@pytest.mark.parametrize("name", ["t", "dt", "i", "N", "xi", "xi_1", "lastspike",
                                  "not_refractory"])
def test_reserved_names_cannot_be_defined(name: str) -> None:
    with pytest.raises(EquationSyntaxError, match=f"'{name}' is a reserved name") as info:
        sc.Equations(f"dv/dt = -v/tau : volt\n{name} : 1")
    assert info.value.line == 2


def test_underscore_and_function_names_cannot_be_defined() -> None:
    with pytest.raises(EquationSyntaxError, match="names starting with '_' are reserved"):
        sc.Equations("_x : 1")
    with pytest.raises(EquationSyntaxError, match="'exp' is the name of a function") as info:
        sc.Equations("tau : second\nexp = 2 : 1")
    assert info.value.line == 2


@pytest.mark.parametrize("text,flag,kind", [
    ("tau : second (unless refractory)", "unless refractory", "a parameter"),
    ("dv/dt = -v/tau : volt (shared)", "shared", "a differential equation"),
    ("I = v/tau : volt (constant)", "constant", "a subexpression"),
])
def test_flag_on_the_wrong_kind_of_line(text: str, flag: str, kind: str) -> None:
    with pytest.raises(EquationSyntaxError,
                       match=f"flag '{flag}' is not allowed on {kind}") as info:
        sc.Equations("tau : second\n" + text)
    assert info.value.line == 2


@pytest.mark.parametrize("second_line,error,message,at", [
    ("         + I)/tau : volts", EquationSyntaxError, "unknown unit 'volts'", "volts"),
    ("         + I)/tau : volt (unles refractory)", EquationSyntaxError, "unknown flag",
     "unles"),
    ("         + I^2)/tau : volt", EquationSyntaxError, r"'\^' is not a power", "^"),
    ("         + I)/tau +* 2 : volt", EquationSyntaxError, "invalid syntax", "*"),
    ("         + foo)/tau : volt", UnknownNameError, "unknown name 'foo'", "foo"),
    ("         + (I + 1*nA))/tau : volt", UnitError, "sum: volt vs amp", "I + 1"),
])
def test_error_on_a_continuation_line_names_that_line(second_line: str, error: type,
                                                      message: str, at: str) -> None:
    """A definition continued inside brackets: the error points into its second line."""
    eqs = f"dv/dt = (El - v   # leak\n{second_line}\nEl : volt\nI : volt\ntau : second"
    with pytest.raises(error, match=message) as info:
        group(lif(equations=eqs, params={**PARAMS, "I": 0 * mV}))
    shown = eqs.splitlines()[1]
    assert (info.value.line, info.value.column) == (2, shown.index(at) + 1), str(info.value)
    assert f"\n    {shown}\n" in str(info.value)


def test_equations_must_be_a_string() -> None:
    with pytest.raises(ModelError, match="equations must be a string, got int"):
        sc.Equations(42)


def test_event_driven_flag_on_a_neuron_model() -> None:
    with pytest.raises(ModelError, match=r"'v' \(line 1\) is marked \(event-driven\).*"
                                         "remove the flag"):
        sc.NeuronModel("dv/dt = -v/tau : volt (event-driven)\ntau : second")


def test_synaptic_differential_equation_needs_a_flag() -> None:
    with pytest.raises(ModelError, match=r"'w' \(line 1\) needs a flag: \(event-driven\)"):
        sc.SynapseModel("dw/dt = -w/tau : 1\ntau : second")


# ------------------------------------------------------------- statement / expression syntax
@pytest.mark.parametrize("reset,message,line,column", [
    ("v", "not a statement", 1, 1),
    ("v **= 2", "unsupported augmented assignment", 1, 1),
    ("v = = 1", "invalid syntax", 1, 5),
    ("v + 1 = 2", "cannot assign to expression|invalid syntax", 1, 1),
    ("\n    v = -60*mV\n    v += (1*mV\n", r"'\(' was never closed", 3, 10),
    ("v = -60*mV\nv = v^2", r"'\^' is not a power", 2, 6),
])
def test_statement_syntax_errors(reset: str, message: str, line: int, column: int) -> None:
    with pytest.raises(EquationSyntaxError, match=message) as info:
        lif(reset=reset)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert "model 'model' reset" in str(info.value)


@pytest.mark.parametrize("threshold,message,column", [
    ("v >", "invalid syntax", 1),
    ("v > exp", r"function 'exp' used without calling it \(expected exp\(...\)\)", 5),
    ("v > clip(v, a_min=1)", "clip\\(\\) takes no keyword arguments", 5),
    ("v > 'a'", "unexpected constant 'a'", 5),
    ("v.x > 1", "unsupported syntax 'Attribute'", 1),
])
def test_expression_syntax_errors(threshold: str, message: str, column: int) -> None:
    with pytest.raises(EquationSyntaxError, match=message) as info:
        group(lif(threshold=threshold))
    assert (info.value.line, info.value.column) == (1, column)
    assert "threshold" in str(info.value)


@pytest.mark.parametrize("kw,what", [({"threshold": 5}, "threshold"),
                                     ({"reset": ["v = 0*mV"]}, "reset")])
def test_code_must_be_a_string(kw: dict, what: str) -> None:
    with pytest.raises(ModelError, match=f"{what}: expected a string"):
        lif(**kw)


# ------------------------------------------------------------------------ unknown names
def test_unknown_name_in_equations() -> None:
    with pytest.raises(UnknownNameError, match="unknown name 'I'.*pass it in params=") as info:
        group(lif(equations=lif_eqs("(El - v)/tau + I")))
    assert (info.value.line, info.value.column) == (1, 24)
    assert "model 'model' equations" in str(info.value)


@pytest.mark.parametrize("kw,where,name,column", [
    ({"threshold": "v > Vthr"}, "threshold", "Vthr", 5),
    ({"reset": "v = Vreset"}, "reset", "Vreset", 5),
    ({"reset": "v = -60*mV; v += xq"}, "reset", "xq", 18),
    ({"refractory": "v > Vq"}, "refractory", "Vq", 5),
])
def test_unknown_name_in_model_code(kw: dict, where: str, name: str, column: int) -> None:
    with pytest.raises(UnknownNameError, match=f"model 'model' {where}: .*unknown name "
                                               f"'{name}'") as info:
        group(lif(**kw))
    assert (info.value.line, info.value.column) == (1, column)


def test_unknown_reset_target() -> None:
    with pytest.raises(UnknownNameError, match="unknown variable 'u'") as info:
        group(lif(reset="u = -60*mV"))
    assert info.value.column == 1


def test_unknown_name_in_init_string() -> None:
    with pytest.raises(UnknownNameError, match=r"NeuronGroup 'G' .*init of 'v'.*unknown name "
                                               "'Vr'"):
        group(init={"v": "Vr + rand()*mV"})


def test_init_of_an_unknown_variable() -> None:
    with pytest.raises(UnknownNameError, match="unknown initial value 'u'; known initial "
                                               "values: El, tau, v; init= sets state"):
        group(init={"u": -60 * mV})


def test_unknown_names_in_on_pre() -> None:
    with pytest.raises(UnknownNameError, match="on_pre: .*unknown name 'wx'") as info:
        connect(on_pre="v += wx")
    assert info.value.column == 6
    with pytest.raises(UnknownNameError, match="on_pre: .*unknown variable 'ge'"):
        connect(on_pre="ge += 1*mV")


def test_unknown_name_in_condition_weight_and_delay() -> None:
    with pytest.raises(UnknownNameError, match="Connection 'C' condition: .*unknown name 'k'"):
        connect(condition="i == k")
    with pytest.raises(UnknownNameError, match="Connection 'C' weight: .*unknown name 'q'"):
        connect(on_pre="v += w", weight="q*mV")
    with pytest.raises(UnknownNameError, match="Connection 'C' delay: .*unknown name 'q'"):
        connect(delay="q*ms")


def test_unknown_name_in_poisson_rates_string() -> None:
    with pytest.raises(UnknownNameError, match="PoissonGroup 'P' rates: .*unknown name 'q'"):
        lower(lambda: sc.PoissonGroup(3, "5*Hz*q", name="P"))


def test_lastspike_needs_a_refractory_period() -> None:
    with pytest.raises(UnknownNameError, match="unknown name 'lastspike'"):
        group(lif(threshold="lastspike > 1*ms"))


def test_unknown_function() -> None:
    with pytest.raises(UnknownNameError, match="unknown function 'foo'.*one of .*exp") as info:
        group(lif(equations=lif_eqs("(El - v)/tau*foo(1)")))
    assert info.value.column == 22


@pytest.mark.parametrize("rhs,message", [
    ("(El - v)/tau*exp(1, 2)", r"exp\(\) takes 1 argument, got 2"),
    ("clip(El - v, 0*mV)/tau", r"clip\(\) takes 3 arguments, got 2"),
    ("(El - v)/tau*rand(1)", r"rand\(\) takes 0 arguments, got 1"),
    ("maximum(El - v)/tau", r"maximum\(\) takes 2 arguments, got 1"),
])
def test_wrong_number_of_function_arguments(rhs: str, message: str) -> None:
    with pytest.raises(EquationSyntaxError, match=message) as info:
        group(lif(equations=lif_eqs(rhs)))
    assert info.value.line == 1


# ------------------------------------------------------------------------------- units
def test_sum_of_volt_and_amp() -> None:
    with pytest.raises(UnitError, match="dimension mismatch in a sum: volt vs amp") as info:
        group(lif(equations=lif_eqs("(El - v + 1*nA)/tau")))
    assert (info.value.line, info.value.column) == (1, 10)
    with pytest.raises(UnitError, match="cannot add volt and amp"):
        _ = 1 * mV + 1 * nA


def test_derivative_with_the_wrong_dimension() -> None:
    with pytest.raises(UnitError, match=r"right-hand side of dv/dt has dimension volt, "
                                        r"expected volt/second .*give parameters with units"):
        group(lif(equations=lif_eqs("(El - v)")))


def test_exp_of_a_dimensioned_value() -> None:
    with pytest.raises(UnitError, match=r"argument of exp\(\) must be dimensionless, got volt"):
        group(lif(equations=lif_eqs("(El - v)/tau*exp(v)")))


def test_exponent_with_units() -> None:
    with pytest.raises(UnitError, match="exponent must be dimensionless, got second"):
        group(lif(threshold="v**tau > 1"))


def test_threshold_compares_volt_to_amp() -> None:
    with pytest.raises(UnitError, match="threshold: .*comparison: volt vs amp"):
        group(lif(threshold="v > 1*nA"))


def test_reset_assigns_amp_to_volt() -> None:
    with pytest.raises(UnitError, match="assignment to 'v': volt vs amp") as info:
        group(lif(reset="v = 1*nA"))
    assert info.value.column == 5


def test_reset_multiplies_by_a_dimensioned_factor() -> None:
    with pytest.raises(UnitError, match=r"factor in 'v \*= ...' must be dimensionless"):
        group(lif(reset="v *= 2*mV"))


def test_init_string_with_the_wrong_dimension() -> None:
    with pytest.raises(UnitError, match="initial value of 'v' has dimension amp, expected "
                                        "volt"):
        group(init={"v": "3*nA"})


def test_init_quantity_with_the_wrong_dimension() -> None:
    with pytest.raises(UnitError, match="initial value of 'v' must have dimension volt, got "
                                        "3.* nA; give it in mV"):
        group(init={"v": 3 * nA})


def test_parameter_given_as_a_plain_number() -> None:
    with pytest.raises(UnitError, match=r"parameter 'El' has dimension volt but was given the "
                                        r"plain number -60; give it with units, e\.g\. "
                                        r"-60\*mV"):
        group(lif(params={"El": -60, "tau": 10 * ms}))


def test_parameter_with_the_wrong_dimension() -> None:
    with pytest.raises(UnitError, match="NeuronGroup 'G'.*parameter 'tau' must have "
                                        "dimension second, got 10.* mV"):
        group(lif(params={"El": -60 * mV, "tau": 10 * mV}))


def test_on_pre_adds_amp_to_a_volt_variable() -> None:
    with pytest.raises(UnitError, match="on_pre: .*assignment to 'v': volt vs amp"):
        connect(on_pre="v += 1*nA")


def test_subexpression_declared_with_the_wrong_unit() -> None:
    with pytest.raises(UnitError, match="subexpression 'I' is declared as amp but its "
                                        "expression has dimension volt"):
        group(lif(equations=LIF + "I = v : amp"))


@pytest.mark.parametrize("make,message", [
    (lambda: sc.Network(dt=1 * mV), "Network dt must be a time"),
    (lambda: lif(refractory=1 * mV), "refractory must be a time"),
    (lambda: sc.PoissonGroup(3, 5 * mV), r"rates must be in Hz \(e\.g\. 15\*Hz\)"),
    (lambda: sc.SpikeGeneratorGroup(3, [0, 1], [1, 2] * mV), "times must be times"),
    (lambda: connect(delay=1 * mV), "Connection 'C': delay must be a time"),
    (lambda: connect(delay="1*mV"), "delay must be a time.*got dimension volt"),
    (lambda: lower(lambda: sc.PoissonGroup(3, "5*mV", name="P")),
     "rates must be in Hz, got volt"),
])
def test_value_in_the_wrong_unit(make, message: str) -> None:  # noqa: ANN001
    with pytest.raises(UnitError, match=message):
        make()


# --------------------------------------------------------------------- model semantics
def test_threshold_must_be_a_condition() -> None:
    with pytest.raises(EquationSyntaxError, match="the threshold must be a condition "
                                                  r"\(expected a comparison"):
        group(lif(threshold="v + 1*mV"))


def test_connection_condition_must_be_a_condition() -> None:
    with pytest.raises(EquationSyntaxError, match="condition must be true or false"):
        connect(condition="i + j")


@pytest.mark.parametrize("kw,name,reason", [
    ({"equations": LIF.replace("El : volt", "El : volt (constant)"), "reset": "El = 0*mV"},
     "El", r"declared \(constant\)"),
    ({"equations": LIF + "I = v/tau : volt/second", "reset": "I = 0*volt/second"},
     "I", "not a variable"),
    ({"reset": "t = 0*ms"}, "t", "not a variable"),
    ({"reset": "Vr = 0*mV", "params": {**PARAMS, "Vr": -60 * mV}}, "Vr", "not a variable"),
])
def test_assignment_to_a_read_only_name(kw: dict, name: str, reason: str) -> None:
    with pytest.raises(EquationSyntaxError, match=f"cannot assign to '{name}': .*{reason}"):
        group(lif(**kw))


def test_params_cannot_set_a_state_variable() -> None:
    with pytest.raises(ParameterError, match="params sets 'v', which is a state variable; "
                                             "give its initial value in init="):
        group(params={"v": 1 * mV})


def test_subexpression_cycle() -> None:
    with pytest.raises(ModelError, match="cycle: a -> b -> a"):
        group(lif(equations=LIF + "a = b : volt\nb = a : volt"))


# -------------------------------------------------------------------- impossible values
@pytest.mark.parametrize("n,message", [(-1, "must be positive, got -1"),
                                       (0, "must be positive, got 0"),
                                       (2.5, "must be an integer, got 2.5"),
                                       (True, "must be an integer, got True")])
def test_bad_group_size(n: object, message: str) -> None:
    with pytest.raises(ParameterError, match=f"number of neurons {message}"):
        sc.NeuronGroup(n, lif())
    with pytest.raises(ParameterError, match=f"PoissonGroup: the number of neurons {message}"):
        sc.PoissonGroup(n, 5 * Hz)


@pytest.mark.parametrize("dt,message", [(0 * ms, "must be > 0"), (-1, "must be > 0"),
                                        (float("nan"), "must be a finite time"),
                                        (float("inf"), "must be a finite time")])
def test_bad_dt(dt: object, message: str) -> None:
    with pytest.raises(ParameterError, match=f"Network dt {message}"):
        sc.Network(dt=dt)


def test_bad_seed() -> None:
    with pytest.raises(ParameterError, match="seed must be a non-negative integer"):
        sc.Network(seed=-1)


def test_negative_refractory() -> None:
    with pytest.raises(ParameterError, match="model 'model': refractory must be >= 0"):
        lif(refractory=-1 * ms)


def test_negative_delay() -> None:
    with pytest.raises(ParameterError, match="synapse model 'synapse': delay must be >= 0"):
        sc.SynapseModel("w : volt", on_pre="v += w", delay=-1 * ms)
    with pytest.raises(ParameterError, match="Connection 'C': delays must be finite and >= 0"):
        connect(delay=-1 * ms)
    with pytest.raises(ParameterError, match="delay must be a finite time"):
        sc.SynapseModel("w : volt", on_pre="v += w", delay=float("nan"))


@pytest.mark.parametrize("value", ["abc", None])
def test_parameter_value_that_is_not_a_number(value: object) -> None:
    with pytest.raises(ParameterError, match=f"NeuronGroup 'G'.*'El' must be a number, a "
                                             f"Quantity.*got {type(value).__name__}"):
        group(lif(params={"El": value, "tau": 10 * ms}))


def test_parameter_list_mixing_units() -> None:
    with pytest.raises(UnitError, match="'El': a sequence mixes dimensions: amp, volt; give "
                                        "all values in one unit"):
        group(lif(params={"El": [1 * mV, 2 * nA], "tau": 10 * ms}))


def test_parameter_value_nan() -> None:
    with pytest.raises(ParameterError, match="'El' contains NaN"):
        group(lif(params={"El": float("nan") * mV, "tau": 10 * ms}))


def test_init_string_giving_non_finite_values() -> None:
    with pytest.raises(ParameterError, match="init of 'v'.*gives non-finite values"):
        group(init={"v": "log(-1 - i)*mV"})


# ------------------------------------------------------------------------------ shapes
def test_parameter_array_of_the_wrong_shape() -> None:
    with pytest.raises(ShapeError, match=r"'El' has shape \(3,\), expected a single value or "
                                         r"one value per element, shape \(2,\)"):
        group(lif(params={"El": np.ones(3) * mV, "tau": 10 * ms}))


def test_init_array_of_the_wrong_shape() -> None:
    with pytest.raises(ShapeError, match=r"'v' has shape \(3,\).*shape \(2,\)"):
        group(init={"v": np.ones(3) * mV})


def test_delay_array_of_the_wrong_shape() -> None:
    with pytest.raises(ShapeError, match=r"delay has shape \(5,\); expected one value or one "
                                         r"per synapse \(12,\)"):
        connect(delay=np.ones(5) * ms)


def test_weight_array_of_the_wrong_shape() -> None:
    with pytest.raises(ShapeError, match=r"Connection 'C': 'w' has shape \(5,\).*\(12,\)"):
        connect(on_pre="v += w", weight=np.ones(5) * mV)


def test_i_and_j_of_different_length() -> None:
    with pytest.raises(ShapeError, match=r"i and j must be 1-d arrays of the same length, got "
                                         r"shapes \(2,\) and \(1,\)"):
        connect(i=[0, 1], j=[0])


@pytest.mark.parametrize("i,j,message", [
    ([0, 3], [0, 1], r"i has values outside \[0, 3\) \(the presynaptic group\)"),
    ([0, 1], [0, 4], r"j has values outside \[0, 4\) \(the postsynaptic group\)"),
    ([0, -1], [0, 1], r"i has values outside \[0, 3\)"),
    ([0.5], [0], "i and j must be integer arrays"),
])
def test_i_j_out_of_range(i: list, j: list, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        connect(i=i, j=j)


def test_only_i_given() -> None:
    with pytest.raises(NetworkError, match="explicit connectivity needs both i= and j="):
        connect(i=[0])


def test_one_to_one_with_different_sizes() -> None:
    with pytest.raises(ShapeError, match="one_to_one needs groups of equal size, got 3 and 4"):
        connect(connect="one_to_one")


@pytest.mark.parametrize("record,cls,message", [
    ([0, 5], ParameterError, r"record indices must be integers in \[0, 2\), got \[0, 5\]"),
    ([-1], ParameterError, r"record indices must be integers in \[0, 2\)"),
    ([0.5], ParameterError, "record indices must be integers"),
    ([[0, 1]], ShapeError, r"1-d list of indices, got shape \(1, 2\)"),
    (False, ParameterError, "record=False records nothing"),
])
def test_bad_record_indices(record: object, cls: type, message: str) -> None:
    with pytest.raises(cls, match=message):
        sc.StateMonitor(sc.NeuronGroup(2, lif()), "v", record=record)


@pytest.mark.parametrize("variables", [[], 3, ["v", 1]])
def test_statemonitor_needs_variable_names(variables: object) -> None:
    with pytest.raises(ParameterError, match="StateMonitor needs variable names"):
        sc.StateMonitor(sc.NeuronGroup(2, lif()), variables)


# ------------------------------------------------------------------------ connectivity
@pytest.mark.parametrize("p", [1.5, -0.1, float("nan"), "0.5"])
def test_probability_outside_0_1(p: object) -> None:
    with pytest.raises(ParameterError, match=r"p must be a probability in \[0, 1\]"):
        connect(p=p)


def test_fan_in_too_large_or_negative() -> None:
    with pytest.raises(ParameterError, match="fan_in=10 exceeds the 3 presynaptic neurons"):
        connect(fan_in=10)
    with pytest.raises(ParameterError, match="fan_in must be a non-negative integer"):
        connect(fan_in=-1)


def test_unknown_connect_value() -> None:
    with pytest.raises(ParameterError, match="connect must be 'full' or 'one_to_one', got "
                                             "'all_to_all'; use p=, fan_in="):
        connect(connect="all_to_all")


def test_two_connectivity_rules() -> None:
    with pytest.raises(NetworkError, match=r"give one of connect=, i=/j=, fan_in= \(got "
                                           r"connect, fan_in\)"):
        connect(connect="full", fan_in=1)


def test_on_pre_from_a_group_that_never_spikes() -> None:
    silent = sc.NeuronModel(LIF, params=PARAMS)
    with pytest.raises(NetworkError, match="presynaptic group 'A' never spikes"):
        connect(pre_model=silent)


def test_connection_arguments_of_the_wrong_type() -> None:
    with pytest.raises(NetworkError, match="model must be a SynapseModel, got str"):
        connect(model="w : volt")
    with pytest.raises(NetworkError, match="expected a neuron group or a slice of one"):
        sc.Connection(3, 4)


def test_bad_subgroup_slices() -> None:
    g = sc.NeuronGroup(4, lif())
    with pytest.raises(NetworkError, match=r"subgroups are contiguous slices"):
        g[::2]
    with pytest.raises(NetworkError, match=r"\[3:1\] is empty"):
        g[3:1]


# ----------------------------------------------------------------- library and methods
def test_unknown_library_model() -> None:
    with pytest.raises(NetworkError, match="unknown model 'cubaa'.*library names: .*cuba"):
        sc.NeuronGroup(2, "cubaa")
    with pytest.raises(NetworkError, match="unknown library model 'lifx'; available: .*lif"):
        sc.library.get("lifx")
    with pytest.raises(NetworkError, match="model must be a NeuronModel.*got int"):
        sc.NeuronGroup(2, 42)


def test_unknown_integration_method() -> None:
    net = sc.Network(dt=0.1 * ms)
    with net:
        sc.NeuronGroup(2, lif(method="rk5"), name="G")
    with pytest.raises(IntegrationError, match="population 'G'.*unknown integration method "
                                               "'rk5'; valid methods are exact"):
        net.compile()
    net2, _ = tiny_network()
    with pytest.raises(IntegrationError, match="unknown integration method 'bogus'"):
        net2.compile(method="bogus")


def test_exact_forced_on_a_nonlinear_model() -> None:
    net = sc.Network(dt=0.1 * ms)
    with net:
        sc.NeuronGroup(2, lif(equations=lif_eqs("(El - v)**2/tau/mV"), method="exact"),
                       name="G")
    with pytest.raises(IntegrationError, match="method 'exact' cannot integrate these "
                                               "equations.*not linear in v.*'euler'"):
        net.compile()


@pytest.mark.parametrize("kw,message", [
    ({"backend": "tpu"}, "unknown backend 'tpu'; available: torch"),
    ({"fast": True}, "unknown compile option"),
    ({"dtype": torch.int32}, "dtype must be torch.float32 or torch.float64, got torch.int32"),
    ({"dtype": "float16"}, "dtype must be torch.float32 or torch.float64"),
    ({"batch": 0}, "batch must be a positive integer, got 0"),
    ({"device": "gpu7"}, "unknown device 'gpu7'"),
])
def test_bad_compile_arguments(kw: dict, message: str) -> None:
    net, _ = tiny_network()
    with pytest.raises(ParameterError, match=message):
        net.compile(**kw)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_device_without_cuda() -> None:
    net, _ = tiny_network()
    with pytest.raises(ParameterError, match="CUDA is not available here; use device='cpu'"):
        net.compile(device="cuda")


# --------------------------------------------------------------------- network building
def test_group_from_another_network() -> None:
    net1, net2 = sc.Network(), sc.Network()
    with net1:
        A = sc.NeuronGroup(2, lif(), name="A")
    with net2:
        B = sc.NeuronGroup(2, lif(), name="B")
        sc.Connection(A, B, on_pre="v += 1*mV", name="C")
        sc.SpikeMonitor(A, name="m")
    with pytest.raises(NetworkError, match="Connection 'C' refers to group 'A', which is not "
                                           "part of this network"):
        net2.lower()
    with pytest.raises(NetworkError, match="already belongs to network"):
        net2.add(A)
    with pytest.raises(NetworkError, match="cannot add 3; expected a group"):
        net2.add(3)


def test_monitor_of_a_group_from_another_network() -> None:
    net1, net2 = sc.Network(), sc.Network()
    with net1:
        A = sc.NeuronGroup(2, lif(), name="A")
    with net2:
        sc.NeuronGroup(2, lif(), name="B")
        sc.SpikeMonitor(A, name="m")
    with pytest.raises(NetworkError, match="SpikeMonitor 'm' refers to group 'A'"):
        net2.lower()


def test_empty_network() -> None:
    with pytest.raises(NetworkError, match="has no neuron groups"):
        sc.Network().compile()


def test_duplicate_and_invalid_object_names() -> None:
    net = sc.Network()
    with net:
        sc.NeuronGroup(2, lif(), name="A")
        sc.NeuronGroup(2, lif(), name="A")
    with pytest.raises(NetworkError, match="two objects in network 'net' are named 'A'; give "
                                           "them different names"):
        net.lower()
    net = sc.Network()
    with net:
        sc.NeuronGroup(2, lif(), name="my group")
    with pytest.raises(NetworkError, match="must be a Python identifier"):
        net.lower()


def test_statemonitor_of_an_unknown_variable() -> None:
    with pytest.raises(UnknownNameError, match="StateMonitor 'm': group 'G' has no variable "
                                               "'u'; it has v, El, tau"):
        lower(lambda: sc.StateMonitor(sc.NeuronGroup(2, lif(), name="G"), "u", name="m"))


def test_spikemonitor_of_a_group_without_threshold() -> None:
    silent = sc.NeuronModel(LIF, params=PARAMS)
    with pytest.raises(NetworkError, match="group 'G' never spikes"):
        lower(lambda: sc.SpikeMonitor(sc.NeuronGroup(2, silent, name="G")))


@pytest.mark.parametrize("monitor,attr", [("spikes", "i"), ("vm", "v"), ("rate", "rate")])
def test_monitor_data_read_before_running(monitor: str, attr: str) -> None:
    _, mons = tiny_network()
    with pytest.raises(NetworkError, match=f"'{monitor}' has no data: compile the network and "
                                           "run it first"):
        getattr(mons[monitor], attr)


# ---------------------------------------------------------------------- compiled network
def test_sim_get_of_an_unknown_variable(sim) -> None:  # noqa: ANN001
    with pytest.raises(NetworkError, match=re.escape("no state 'G.u'; known: G.v")):
        sim.get("G", "u")
    with pytest.raises(NetworkError, match="no state 'Z.v'"):
        sim.get("Z", "v")
    with pytest.raises(NetworkError, match="no monitor named 'zz'"):
        sim.monitor_data("zz")


@pytest.mark.parametrize("duration,cls,message", [
    (-1 * ms, ParameterError, "run duration must be >= 0"),
    (float("nan"), ParameterError, "run duration must be a finite time"),
    (1 * mV, UnitError, "run duration must be a time such as 0.1\\*ms"),
    ("1ms", UnitError, "run duration must be a time"),
])
def test_bad_run_duration(sim, duration: object, cls: type, message: str) -> None:  # noqa: ANN001
    with pytest.raises(cls, match=message):
        sim.run(duration)


def test_statemonitor_values_of_an_unrecorded_variable() -> None:
    net, mons = tiny_network()
    net.compile().run(0.2 * ms)
    with pytest.raises(NetworkError, match="StateMonitor 'vm' does not record 'El'; it "
                                           "records v"):
        mons["vm"].values("El")


# ------------------------------------------------------------------- spike sources
@pytest.mark.parametrize("rates,cls,message", [
    (-5 * Hz, ParameterError, "rates must be finite and >= 0"),
    (np.array([1, -1, 2]) * Hz, ParameterError, "rates must be finite and >= 0"),
    (float("nan"), ParameterError, "rates must be finite and >= 0"),
    (np.ones(4) * Hz, ShapeError, r"rates has shape \(4,\), expected one value or shape "
                                  r"\(3,\)"),
    (None, ParameterError, "rates must be a rate such as 15\\*Hz"),
])
def test_bad_poisson_rates(rates: object, cls: type, message: str) -> None:
    with pytest.raises(cls, match=message):
        sc.PoissonGroup(3, rates)


@pytest.mark.parametrize("indices,times,cls,message", [
    ([0, 1], [1, 2, 3] * ms, ShapeError, r"indices \(2,\) and times \(3,\) must be 1-d "
                                         "arrays of the same length"),
    ([0, 3], [1, 2] * ms, ParameterError, r"indices must be integers in \[0, 3\)"),
    ([0.5], [1] * ms, ParameterError, r"indices must be integers in \[0, 3\)"),
    ([0, 1], [1, -2] * ms, ParameterError, "times must be >= 0"),
    ([0], ["a"], ParameterError, "times must be numbers"),
])
def test_bad_spike_generator_arrays(indices: list, times: object, cls: type,
                                    message: str) -> None:
    with pytest.raises(cls, match=message):
        sc.SpikeGeneratorGroup(3, indices, times)


def test_spike_generator_neuron_spiking_twice_in_one_step() -> None:
    with pytest.raises(ParameterError, match=r"SpikeGeneratorGroup 'S': neuron 0 spikes twice "
                                             r"in time step 10 \(dt = 0.1 ms\); remove"):
        lower(lambda: sc.SpikeGeneratorGroup(3, [0, 0], [1.0, 1.01] * ms, name="S"))
