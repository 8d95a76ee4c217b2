"""Tests of snncc.units."""

from __future__ import annotations

import pickle
from fractions import Fraction

import numpy as np
import pytest

from snncc.errors import EquationSyntaxError, UnitError
from snncc.units import (
    DIMENSIONLESS,
    Dimension,
    Hz,
    Quantity,
    Unit,
    amp,
    check_dimension,
    farad,
    get_dimension,
    get_value,
    kHz,
    metre,
    mM,
    ms,
    msecond,
    mV,
    nA,
    nS,
    ns,
    nsiemens,
    parse_unit,
    pF,
    second,
    siemens,
    time_to_seconds,
    uF,
    unit_namespace,
    volt,
)

VOLT = Dimension(m=2, kg=1, s=-3, A=-1)
TIME = Dimension(s=1)


# -- Dimension --------------------------------------------------------------------------------

def test_dimension_algebra() -> None:
    assert volt.dim == VOLT
    assert VOLT / Dimension(A=1) == Dimension(m=2, kg=1, s=-3, A=-2)
    assert VOLT * Dimension(A=1) == Dimension(m=2, kg=1, s=-3)
    assert TIME ** -1 == Hz.dim
    assert (VOLT / VOLT).is_dimensionless
    assert not VOLT.is_dimensionless
    assert DIMENSIONLESS == Dimension()
    assert hash(Dimension(s=1)) == hash(TIME)
    assert len({Dimension(s=1), TIME, VOLT}) == 2
    assert VOLT != TIME
    assert VOLT.exponents[0] == Fraction(2)


def test_dimension_fractional_powers() -> None:
    assert (VOLT ** 2) ** 0.5 == VOLT
    assert (VOLT ** 2) ** Fraction(1, 2) == VOLT
    assert (TIME ** 0.5).exponents[2] == Fraction(1, 2)
    assert (TIME ** Fraction(1, 3)) ** 3 == TIME


def test_dimension_is_immutable_and_picklable() -> None:
    with pytest.raises(AttributeError):
        VOLT._exps = ()  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(VOLT)) == VOLT


@pytest.mark.parametrize(("dim", "text"), [
    (VOLT, "volt"),
    (DIMENSIONLESS, "1"),
    (siemens.dim / metre.dim ** 2, "siemens/metre**2"),
    (amp.dim / metre.dim ** 2, "amp/metre**2"),
    (farad.dim / metre.dim ** 2, "farad/metre**2"),
    (VOLT / TIME, "volt/second"),
    (TIME, "second"),
    (TIME ** -1, "hertz"),
    (Dimension(A=1), "amp"),
    (Dimension(m=1), "metre"),
    (TIME ** -0.5, "second**-0.5"),
    (Dimension(m=2, kg=1, s=-3, A=-1, K=1), "metre**2*kilogram*second**-3*amp**-1*kelvin"),
])
def test_dimension_str(dim: Dimension, text: str) -> None:
    assert str(dim) == text


# -- Quantity arithmetic ----------------------------------------------------------------------

def test_units_and_products() -> None:
    assert isinstance(mV, Unit) and str(mV) == "mV" and repr(mV) == "mV"
    assert str(msecond) == "msecond"
    q = 10 * ms
    assert isinstance(q, Quantity) and not isinstance(q, Unit)
    assert q.dim == TIME and q.value == pytest.approx(0.01)
    assert ns.value == 1e-9 and ns.dim == TIME
    assert nS.value == 1e-9 and nS.dim == siemens.dim and nsiemens.value == nS.value
    assert (mV * nA).dim == Dimension(m=2, kg=1, s=-3)


def test_dimensionless_results_are_plain() -> None:
    r = (10 * ms) / ms
    assert r == 10.0 and type(r) is float
    assert type((5 * kHz) * (2 * ms)) is float
    a = (np.arange(3) * mV) / mV
    assert type(a) is np.ndarray and a.dtype == np.float64
    assert np.allclose(a, [0, 1, 2])


def test_addition_and_errors() -> None:
    assert (3 * mV + 2 * mV).value == pytest.approx(5e-3)
    assert (3 * mV - 5 * mV).value == pytest.approx(-2e-3)
    assert (3 * mV + 0).value == pytest.approx(3e-3)
    assert sum([1 * mV, 2 * mV]).value == pytest.approx(3e-3)
    with pytest.raises(UnitError, match="cannot add volt and amp"):
        _ = 3 * mV + 2 * nA
    with pytest.raises(UnitError, match="cannot subtract amp from volt"):
        _ = 3 * mV - 2 * nA
    with pytest.raises(UnitError, match="volt"):
        _ = 3 * mV + 2
    with pytest.raises(UnitError, match="volt"):
        _ = 1 - 3 * mV
    assert Quantity(2.0) + 1 == 3.0


def test_multiplication_division_power() -> None:
    assert (2 * mV * 3).value == pytest.approx(6e-3)
    assert (mV / 2).value == pytest.approx(5e-4)
    inv = 1 / (2 * ms)
    assert inv.dim == Hz.dim and inv.value == pytest.approx(500.0)
    sq = (3 * mV) ** 2
    assert sq.dim == VOLT ** 2
    root = sq ** 0.5
    assert root.dim == VOLT and root.value == pytest.approx(3e-3)
    assert np.sqrt(sq).dim == VOLT
    assert (-(2 * mV)).value == pytest.approx(-2e-3)
    assert abs(-2 * mV).value == pytest.approx(2e-3)
    with pytest.raises(UnitError, match="exponent"):
        _ = mV ** (2 * mV)
    with pytest.raises(UnitError, match="exponent"):
        _ = 2 ** mV


def test_numpy_arrays() -> None:
    q = np.arange(3) * mV
    assert isinstance(q, Quantity) and isinstance(q.value, np.ndarray)
    assert q.value.dtype == np.float64 and len(q) == 3
    q2 = np.array([1, 2]) * mV
    assert isinstance(q2, Quantity) and np.allclose(q2.value, [1e-3, 2e-3])
    assert isinstance(np.float64(2.0) * mV, Quantity)
    assert isinstance(q[1], Quantity) and q[1].value == pytest.approx(1e-3)
    assert [x.dim for x in q] == [VOLT] * 3
    assert isinstance(q + 1 * mV, Quantity)
    assert q.mean().value == pytest.approx(1e-3)
    with pytest.raises(UnitError):
        np.asarray(q)
    assert np.allclose(np.asarray(Quantity(np.ones(2))), 1.0)
    with pytest.raises(UnitError, match="dimensionless"):
        np.exp(q)
    assert np.exp((2 * ms) / ms) == pytest.approx(np.exp(2.0))


def test_comparisons() -> None:
    assert 1 * mV < 2 * mV
    assert 2 * mV >= 2 * mV
    assert 1 * volt > 999 * mV
    assert 10 * ms == 0.01 * second
    assert (1 * mV == 1 * nA) is False
    assert (1 * mV != 1 * nA) is True
    assert mV != "mV"
    with pytest.raises(UnitError, match="cannot compare volt and amp"):
        _ = 1 * mV < 1 * nA
    with pytest.raises(UnitError):
        _ = 1 * mV > 0
    assert list(np.arange(3) * mV > 0.5 * mV) == [False, True, True]
    assert {mV, mV} == {mV}


def test_float_and_int_need_dimensionless() -> None:
    assert float(Quantity(2.5)) == 2.5
    with pytest.raises(UnitError, match=r"0\.01 second is not dimensionless; divide by a unit, "
                                        r"e\.g\. x/ms"):
        float(10 * ms)
    with pytest.raises(UnitError, match="not dimensionless"):
        int(3 * mV)


@pytest.mark.parametrize(("q", "text"), [
    (10 * ms, "10. ms"),
    (-70 * mV, "-70. mV"),
    (0.5 * second, "500. ms"),
    (2 * second, "2. s"),
    (200 * pF, "200. pF"),
    (0.3 * nA, "300. pA"),
    (5000 * Hz, "5. kHz"),
    (3 * mM, "3. mM"),
    (np.arange(3) * mV, "array([0., 1., 2.]) mV"),
    (5 * volt / second, "5. volt/second"),
])
def test_repr(q: Quantity, text: str) -> None:
    assert repr(q) == text
    assert str(q) == text


def test_in_unit() -> None:
    assert (3 * mV).in_unit(volt) == pytest.approx(0.003)
    assert (2 * second).in_unit(ms) == pytest.approx(2000.0)
    assert np.allclose((np.arange(2) * volt).in_unit(mV), [0.0, 1000.0])
    with pytest.raises(UnitError):
        (3 * mV).in_unit(ms)


def test_helpers() -> None:
    assert get_dimension(3 * mV) == VOLT
    assert get_dimension(3) == DIMENSIONLESS
    assert get_dimension(np.float32(1.0)) == DIMENSIONLESS
    assert get_dimension(np.ones(3)) == DIMENSIONLESS
    assert get_value(3 * mV) == pytest.approx(3e-3)
    assert get_value(7) == 7
    check_dimension(3 * nA, amp.dim, "I")
    with pytest.raises(UnitError, match="I must have dimension amp, got volt"):
        check_dimension(3 * mV, amp.dim, "I")
    ns_ = unit_namespace()
    for name in ("ms", "mV", "nS", "ns", "siemens", "metre", "meter", "Hz", "ufarad", "umolar"):
        assert name in ns_
    assert ns_["uF"] is uF


# -- parse_unit -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "dim"), [
    ("1", DIMENSIONLESS),
    ("volt", VOLT),
    ("mV", VOLT),
    ("siemens/meter**2", siemens.dim / metre.dim ** 2),
    ("volt/second", VOLT / TIME),
    ("amp*metre**-2", amp.dim / metre.dim ** 2),
    ("(volt/second)**0.5", (VOLT / TIME) ** Fraction(1, 2)),
    ("second**-0.5", TIME ** Fraction(-1, 2)),
    ("Hz", TIME ** -1),
    ("1/second", TIME ** -1),
    ("  uF / cm**2 ", farad.dim / metre.dim ** 2),
    ("metre**(1/2)", Dimension(m=Fraction(1, 2))),
])
def test_parse_unit_valid(text: str, dim: Dimension) -> None:
    assert parse_unit(text) == dim


def test_parse_unit_error_position() -> None:
    src = "dv/dt = -v/tau : volt/secnd"
    with pytest.raises(EquationSyntaxError, match="unknown unit 'secnd'") as info:
        parse_unit("volt/secnd", source=src, line=1, column=18, where="G")
    err = info.value
    assert (err.line, err.column) == (1, 23)
    assert err.expected == "a unit such as volt, second, siemens, amp, 1"
    assert src[err.column - 1:].startswith("secnd")


@pytest.mark.parametrize(("text", "bad", "message"), [
    ("volts", "volts", "unknown unit 'volts'"),
    ("volt + 2", "+ 2", "invalid unit expression"),
    ("2*volt", "2*volt", "unexpected number"),
    ("volt^2", "^2", r"'\^' is not a power"),
    ("volt**x", "x", "invalid exponent"),
    ("volt/(", "(", "invalid unit expression"),
])
def test_parse_unit_invalid(text: str, bad: str, message: str) -> None:
    src = f"x : {text}\nv : volt"
    with pytest.raises(EquationSyntaxError, match=message) as info:
        parse_unit(text, source=src, line=1, column=5)
    err = info.value
    assert err.line == 1
    assert src.splitlines()[0][err.column - 1:] == bad


def test_parse_unit_second_line() -> None:
    src = "v : volt\nw : amp/scond"
    with pytest.raises(EquationSyntaxError) as info:
        parse_unit("amp/scond", source=src, line=2, column=5)
    assert (info.value.line, info.value.column) == (2, 9)


def test_parse_unit_empty() -> None:
    with pytest.raises(EquationSyntaxError, match="missing unit"):
        parse_unit("   ")


# -- time_to_seconds --------------------------------------------------------------------------

def test_time_to_seconds() -> None:
    assert time_to_seconds(5, "dt") == pytest.approx(0.005)
    assert time_to_seconds(0.1, "dt") == pytest.approx(1e-4)
    assert time_to_seconds(np.float32(5.0), "dt") == pytest.approx(0.005)
    assert time_to_seconds(5 * ms, "dt") == pytest.approx(0.005)
    r = time_to_seconds(1 * second, "dt")
    assert r == 1.0 and type(r) is float
    with pytest.raises(UnitError, match=r"dt must be a time such as 0\.1\*ms, got 5\. mV"):
        time_to_seconds(5 * mV, "dt")
    with pytest.raises(UnitError, match="duration"):
        time_to_seconds("5 ms", "duration")
    with pytest.raises(UnitError):
        time_to_seconds(True, "dt")
