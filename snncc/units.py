"""Physical units: dimensions, quantities and named units.

Values are stored in SI base units as floats (or float64 arrays). A :class:`Quantity`
carries a value and a :class:`Dimension`; any arithmetic result that is dimensionless is
returned as a plain float or ndarray, so ``(10*ms)/ms`` is the float ``10.0``.
"""

from __future__ import annotations

import ast
import difflib
import numbers
import operator
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import numpy as np

from snncc.errors import EquationSyntaxError, ParameterError, UnitError

__all__ = [
    "DIMENSIONLESS", "Dimension", "Quantity", "Unit", "check_dimension", "get_dimension",
    "get_value", "parse_unit", "time_to_seconds", "unit_namespace",
]

Number = int | float | Fraction
_BASE_NAMES = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")
_KEYWORDS = ("m", "kg", "s", "A", "K", "mol", "cd")


def _fraction(x: Any) -> Fraction:
    if isinstance(x, (bool, np.bool_)):
        raise TypeError("a dimension exponent must be a number, not a bool")
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (numbers.Rational, np.integer)):
        return Fraction(int(x.numerator), int(x.denominator))
    if isinstance(x, (numbers.Real, np.floating)):
        return Fraction(float(x)).limit_denominator(1000)
    raise TypeError(f"a dimension exponent must be a number, got {type(x).__name__}")


def _fmt_exp(f: Fraction) -> str:
    if f.denominator == 1:
        return str(f.numerator)
    if Fraction(float(f)) == f:
        return repr(float(f))
    return f"({f.numerator}/{f.denominator})"


class Dimension:
    """Exponents of the 7 SI base dimensions (m, kg, s, A, K, mol, cd); immutable."""

    __slots__ = ("_exps",)
    _exps: tuple[Fraction, ...]

    def __init__(self, m: Number = 0, kg: Number = 0, s: Number = 0, A: Number = 0,
                 K: Number = 0, mol: Number = 0, cd: Number = 0) -> None:
        object.__setattr__(self, "_exps", tuple(_fraction(e) for e in (m, kg, s, A, K, mol, cd)))

    @classmethod
    def _of(cls, exps: tuple[Fraction, ...]) -> Dimension:
        d = object.__new__(cls)
        object.__setattr__(d, "_exps", exps)
        return d

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Dimension is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Dimension, self._exps)

    @property
    def exponents(self) -> tuple[Fraction, ...]:
        """The exponents of (m, kg, s, A, K, mol, cd)."""
        return self._exps

    @property
    def is_dimensionless(self) -> bool:
        """True when every exponent is zero."""
        return not any(self._exps)

    def __mul__(self, other: Dimension) -> Dimension:
        if not isinstance(other, Dimension):
            return NotImplemented
        return Dimension._of(tuple(a + b for a, b in zip(self._exps, other._exps)))

    def __truediv__(self, other: Dimension) -> Dimension:
        if not isinstance(other, Dimension):
            return NotImplemented
        return Dimension._of(tuple(a - b for a, b in zip(self._exps, other._exps)))

    def __pow__(self, power: Number) -> Dimension:
        p = _fraction(power)
        return Dimension._of(tuple(a * p for a in self._exps))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dimension):
            return NotImplemented
        return self._exps == other._exps

    def __hash__(self) -> int:
        return hash(self._exps)

    def __repr__(self) -> str:
        parts = [f"{k}={_fmt_exp(e)}" for k, e in zip(_KEYWORDS, self._exps) if e]
        return f"Dimension({', '.join(parts)})"

    def __str__(self) -> str:
        name = _DIM_NAMES.get(self)
        if name is not None:
            return name
        parts = []
        for base, e in zip(_BASE_NAMES, self._exps):
            if e:
                parts.append(base if e == 1 else f"{base}**{_fmt_exp(e)}")
        return "*".join(parts)


DIMENSIONLESS = Dimension()

# ---------------------------------------------------------------------------------------------
# Quantity

_NOT = object()  # marks an operand type a Quantity does not handle


def _plain(x: Any) -> Any:
    """A plain number/array operand as float or float64 ndarray, or _NOT."""
    if isinstance(x, (bool, np.bool_, numbers.Real)):
        return float(x)
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "biuf":
            return _normalize(np.asarray(x, dtype=np.float64))
        return _NOT
    if isinstance(x, (list, tuple)):
        try:
            return _normalize(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError):
            return _NOT
    return _NOT


def _normalize(v: Any) -> Any:
    """numpy scalars and 0-d arrays become float; arrays become float64 arrays."""
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            return float(v)
        return v if v.dtype == np.float64 else v.astype(np.float64)
    return float(v)


def _make(value: Any, dim: Dimension) -> Any:
    """A Quantity, or the plain float/ndarray when ``dim`` is dimensionless."""
    value = _normalize(value)
    if dim.is_dimensionless:
        return value
    q = object.__new__(Quantity)
    q.value = value
    q.dim = dim
    return q


def _fmt_number(x: float) -> str:
    if not np.isfinite(x):
        return str(x)
    x = float(f"{x:.12g}")
    if x == 0 or 1e-4 <= abs(x) < 1e9:
        return np.format_float_positional(x)
    return np.format_float_scientific(x)


def _is_plain_zero(x: Any) -> bool:
    return (isinstance(x, (numbers.Real, np.number)) and not isinstance(x, np.ndarray)
            and x == 0)


class Quantity:
    """A value in SI base units (float or float64 ndarray) with a :class:`Dimension`."""

    __slots__ = ("dim", "value")
    __array_priority__ = 1000
    value: Any
    dim: Dimension

    def __init__(self, value: Any, dim: Dimension = DIMENSIONLESS) -> None:
        if not isinstance(dim, Dimension):
            raise TypeError(f"dim must be a Dimension, got {type(dim).__name__}")
        if isinstance(value, Quantity):
            raise TypeError("the value of a Quantity must be a number or array, not a Quantity")
        v = _plain(value)
        if v is _NOT:
            raise TypeError(f"the value of a Quantity must be a number or a numeric array, "
                            f"got {type(value).__name__}")
        self.value = v
        self.dim = dim

    # -- conversions ---------------------------------------------------------------------------
    def _not_dimensionless(self) -> UnitError:
        example = _EXAMPLE_UNIT.get(self.dim) or f"({self.dim})"
        return UnitError(f"{_fmt_si(self)} is not dimensionless; divide by a unit, "
                         f"e.g. x/{example}")

    def __float__(self) -> float:
        if not self.dim.is_dimensionless:
            raise self._not_dimensionless()
        return float(self.value)

    def __int__(self) -> int:
        if not self.dim.is_dimensionless:
            raise self._not_dimensionless()
        return int(self.value)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if not self.dim.is_dimensionless:
            raise self._not_dimensionless()
        return np.array(self.value, dtype=dtype, copy=True if copy else None)

    def __bool__(self) -> bool:
        return bool(self.value)

    def in_unit(self, unit: Any) -> Any:
        """The value expressed in ``unit`` (a float or ndarray); dimensions must match."""
        d = get_dimension(unit)
        if d != self.dim:
            raise UnitError(f"cannot express {self} in {unit}: {self.dim} is not {d}")
        return _normalize(self.value / get_value(unit))

    # -- array protocol ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the value (``()`` for a scalar)."""
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        """Number of array dimensions of the value (0 for a scalar)."""
        return np.ndim(self.value)

    @property
    def size(self) -> int:
        """Number of elements of the value (1 for a scalar)."""
        return int(np.size(self.value))

    def __len__(self) -> int:
        if not isinstance(self.value, np.ndarray):
            raise TypeError("len() of a scalar quantity")
        return len(self.value)

    def __getitem__(self, key: Any) -> Quantity:
        if not isinstance(self.value, np.ndarray):
            raise TypeError("a scalar quantity cannot be indexed")
        return Quantity(self.value[key], self.dim)

    def __setitem__(self, key: Any, item: Any) -> None:
        if not isinstance(self.value, np.ndarray):
            raise TypeError("a scalar quantity does not support item assignment")
        if get_dimension(item) != self.dim and not _is_plain_zero(item):
            raise UnitError(f"cannot assign {get_dimension(item)} to an element of {self.dim}")
        self.value[key] = get_value(item)

    def __iter__(self) -> Iterator[Quantity]:
        if not isinstance(self.value, np.ndarray):
            raise TypeError("a scalar quantity is not iterable")
        for v in self.value:
            yield Quantity(v, self.dim)

    def sum(self, axis: Any = None, **kwargs: Any) -> Any:
        """Sum of the elements (same dimension)."""
        return _make(np.sum(self.value, axis=axis, **kwargs), self.dim)

    def mean(self, axis: Any = None, **kwargs: Any) -> Any:
        """Mean of the elements (same dimension)."""
        return _make(np.mean(self.value, axis=axis, **kwargs), self.dim)

    def min(self, axis: Any = None, **kwargs: Any) -> Any:
        """Smallest element (same dimension)."""
        return _make(np.min(self.value, axis=axis, **kwargs), self.dim)

    def max(self, axis: Any = None, **kwargs: Any) -> Any:
        """Largest element (same dimension)."""
        return _make(np.max(self.value, axis=axis, **kwargs), self.dim)

    # -- arithmetic ----------------------------------------------------------------------------
    def _operand(self, other: Any) -> tuple[Any, Dimension] | None:
        if isinstance(other, Quantity):
            return other.value, other.dim
        v = _plain(other)
        return None if v is _NOT else (v, DIMENSIONLESS)

    def _addsub(self, other: Any, subtract: bool, reflected: bool) -> Any:
        op = self._operand(other)
        if op is None:
            return NotImplemented
        ov, od = op
        if od != self.dim and not _is_plain_zero(other):
            a, b = (other, self) if reflected else (self, other)
            da, db = (_dim_word(other), str(self.dim)) if reflected else (str(self.dim),
                                                                          _dim_word(other))
            what = f"subtract {db} from {da}" if subtract else f"add {da} and {db}"
            raise UnitError(f"cannot {what}: {a} {'-' if subtract else '+'} {b}")
        a, b = (ov, self.value) if reflected else (self.value, ov)
        return _make(a - b if subtract else a + b, self.dim)

    def __add__(self, other: Any) -> Any:
        return self._addsub(other, False, False)

    def __radd__(self, other: Any) -> Any:
        return self._addsub(other, False, True)

    def __sub__(self, other: Any) -> Any:
        return self._addsub(other, True, False)

    def __rsub__(self, other: Any) -> Any:
        return self._addsub(other, True, True)

    def __mul__(self, other: Any) -> Any:
        op = self._operand(other)
        if op is None:
            return NotImplemented
        return _make(self.value * op[0], self.dim * op[1])

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
        op = self._operand(other)
        if op is None:
            return NotImplemented
        return _make(self.value / op[0], self.dim / op[1])

    def __rtruediv__(self, other: Any) -> Any:
        op = self._operand(other)
        if op is None:
            return NotImplemented
        return _make(op[0] / self.value, op[1] / self.dim)

    def _same_dim(self, other: Any, what: str) -> Any:
        op = self._operand(other)
        if op is not None and op[1] != self.dim:
            raise UnitError(f"cannot {what} {self.dim} and {_dim_word(other)}")
        return op

    def __floordiv__(self, other: Any) -> Any:
        op = self._same_dim(other, "floor-divide")
        return NotImplemented if op is None else _normalize(self.value // op[0])

    def __rfloordiv__(self, other: Any) -> Any:
        op = self._same_dim(other, "floor-divide")
        return NotImplemented if op is None else _normalize(op[0] // self.value)

    def __mod__(self, other: Any) -> Any:
        op = self._same_dim(other, "take the modulo of")
        return NotImplemented if op is None else _make(self.value % op[0], self.dim)

    def __pow__(self, exponent: Any) -> Any:
        op = self._operand(exponent)
        if op is None:
            return NotImplemented
        e, ed = op
        if not ed.is_dimensionless:
            raise UnitError(f"an exponent must be dimensionless, got {ed}")
        if self.dim.is_dimensionless:
            return _make(np.power(self.value, e), DIMENSIONLESS)
        if isinstance(e, np.ndarray):
            raise UnitError("the exponent of a quantity with units must be a single number")
        if not float(e).is_integer() and np.any(np.asarray(self.value) < 0):
            raise ValueError(f"cannot raise the negative quantity {self} to the power {e}")
        return _make(self.value ** e, self.dim ** e)

    def __rpow__(self, base: Any) -> Any:
        op = self._operand(base)
        if op is None:
            return NotImplemented
        if not self.dim.is_dimensionless:
            raise UnitError(f"an exponent must be dimensionless, got {self.dim}")
        if not op[1].is_dimensionless:
            return NotImplemented
        return _normalize(np.power(op[0], self.value))

    def __neg__(self) -> Any:
        return _make(-self.value, self.dim)

    def __pos__(self) -> Any:
        return _make(+self.value, self.dim)

    def __abs__(self) -> Any:
        return _make(abs(self.value), self.dim)

    # -- comparisons ---------------------------------------------------------------------------
    def _compare(self, other: Any, op: Callable[[Any, Any], Any], symbol: str) -> Any:
        o = self._operand(other)
        if o is None:
            return NotImplemented
        if o[1] != self.dim:
            if op is operator.eq or op is operator.ne:
                return op is operator.ne
            raise UnitError(f"cannot compare {self.dim} and {_dim_word(other)}: "
                            f"{self} {symbol} {other}")
        result = op(self.value, o[0])
        return result if isinstance(result, np.ndarray) else bool(result)

    def __lt__(self, other: Any) -> Any:
        return self._compare(other, operator.lt, "<")

    def __le__(self, other: Any) -> Any:
        return self._compare(other, operator.le, "<=")

    def __gt__(self, other: Any) -> Any:
        return self._compare(other, operator.gt, ">")

    def __ge__(self, other: Any) -> Any:
        return self._compare(other, operator.ge, ">=")

    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        return self._compare(other, operator.eq, "==")

    def __ne__(self, other: object) -> Any:  # type: ignore[override]
        return self._compare(other, operator.ne, "!=")

    def __hash__(self) -> int:
        if isinstance(self.value, np.ndarray):
            raise TypeError("an array quantity is unhashable")
        return hash(self.value) if self.dim.is_dimensionless else hash((self.value, self.dim))

    # -- numpy ufuncs --------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """Arithmetic ufuncs follow the operators; other ufuncs need dimensionless inputs."""
        if method != "__call__" or kwargs:
            return NotImplemented
        if ufunc in _UFUNC_BINARY and len(inputs) == 2:
            name, rname = _UFUNC_BINARY[ufunc]
            a, b = inputs
            return getattr(a, name)(b) if isinstance(a, Quantity) else getattr(b, rname)(a)
        if ufunc in _UFUNC_UNARY and len(inputs) == 1:
            return _UFUNC_UNARY[ufunc](inputs[0])
        if ufunc in (np.maximum, np.minimum, np.fmax, np.fmin):
            d = get_dimension(inputs[0])
            if get_dimension(inputs[1]) != d:
                raise UnitError(f"{ufunc.__name__}() of {d} and {get_dimension(inputs[1])}")
            return _make(ufunc(get_value(inputs[0]), get_value(inputs[1])), d)
        if ufunc in (np.isnan, np.isfinite, np.isinf, np.signbit, np.sign):
            return ufunc(get_value(inputs[0]))
        for x in inputs:
            if not get_dimension(x).is_dimensionless:
                raise UnitError(f"{ufunc.__name__}() needs dimensionless arguments, got "
                                f"{get_dimension(x)}; divide by a unit first")
        return ufunc(*(get_value(x) for x in inputs))

    # -- printing ------------------------------------------------------------------------------
    def _display(self) -> tuple[Any, str]:
        scales = _DISPLAY.get(self.dim)
        if self.dim.is_dimensionless:
            return self.value, ""
        if scales is None:
            return self.value, str(self.dim)
        v = np.abs(np.asarray(self.value, dtype=np.float64))
        v = v[np.isfinite(v) & (v > 0)]
        if v.size == 0:
            scale, label = next((s, n) for s, n in scales if s == 1.0)
        else:
            ref = float(v.max())
            scale, label = next(((s, n) for s, n in scales if ref / s >= 1.0 - 1e-12),
                                scales[-1])
        return self.value / scale, label

    def __str__(self) -> str:
        value, label = self._display()
        if isinstance(value, np.ndarray):
            text = np.array_repr(value)
        else:
            text = _fmt_number(value)
        return f"{text} {label}" if label else text

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        value, label = self._display()
        if not spec or isinstance(value, np.ndarray):
            return str(self)
        text = format(value, spec)
        return f"{text} {label}" if label else text


def _fmt_si(q: Quantity) -> str:
    """The SI value with the dimension name, e.g. '0.01 second'."""
    v = np.array_repr(q.value) if isinstance(q.value, np.ndarray) else repr(q.value)
    return f"{v} {q.dim}"


def _dim_word(x: Any) -> str:
    if isinstance(x, Quantity):
        return str(x.dim)
    return "a dimensionless number"


_UFUNC_BINARY: dict[np.ufunc, tuple[str, str]] = {
    np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
    np.floor_divide: ("__floordiv__", "__rfloordiv__"), np.power: ("__pow__", "__rpow__"),
    np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"),
    np.greater: ("__gt__", "__lt__"), np.greater_equal: ("__ge__", "__le__"),
    np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__"),
}
_UFUNC_UNARY: dict[np.ufunc, Callable[[Any], Any]] = {
    np.negative: operator.neg, np.positive: operator.pos, np.absolute: abs,
    np.sqrt: lambda x: x ** 0.5, np.square: lambda x: x ** 2, np.reciprocal: lambda x: 1.0 / x,
}


class Unit(Quantity):
    """A named unit, e.g. ``Unit(1e-3, Dimension(s=1), "ms")``; ``str(unit)`` is its name."""

    __slots__ = ("name",)

    def __init__(self, scale: float, dim: Dimension, name: str) -> None:
        super().__init__(float(scale), dim)
        self.name = name

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)


# ---------------------------------------------------------------------------------------------
# Units

_LEN, _MASS, _TIME, _CUR = Dimension(m=1), Dimension(kg=1), Dimension(s=1), Dimension(A=1)
_TEMP, _AMOUNT, _LUM = Dimension(K=1), Dimension(mol=1), Dimension(cd=1)
_FREQ = _TIME ** -1
_FORCE = _MASS * _LEN / _TIME ** 2
_ENERGY = _FORCE * _LEN
_POWER = _ENERGY / _TIME
_VOLT = _POWER / _CUR
_OHM = _VOLT / _CUR
_SIEMENS = _OHM ** -1
_CHARGE = _CUR * _TIME
_FARAD = _CHARGE / _VOLT
_PRESSURE = _FORCE / _LEN ** 2
_VOLUME = _LEN ** 3
_CONC = _AMOUNT / _VOLUME

_UNITS: dict[str, Unit] = {}


def _unit(name: str, scale: float, dim: Dimension) -> Unit:
    u = Unit(scale, dim, name)
    _UNITS[name] = u
    return u


metre = _unit("metre", 1.0, _LEN)
meter = _unit("meter", 1.0, _LEN)
kilogram = _unit("kilogram", 1.0, _MASS)
gram = _unit("gram", 1e-3, _MASS)
second = _unit("second", 1.0, _TIME)
amp = _unit("amp", 1.0, _CUR)
ampere = _unit("ampere", 1.0, _CUR)
kelvin = _unit("kelvin", 1.0, _TEMP)
mole = _unit("mole", 1.0, _AMOUNT)
mol = _unit("mol", 1.0, _AMOUNT)
candela = _unit("candela", 1.0, _LUM)
volt = _unit("volt", 1.0, _VOLT)
ohm = _unit("ohm", 1.0, _OHM)
siemens = _unit("siemens", 1.0, _SIEMENS)
farad = _unit("farad", 1.0, _FARAD)
hertz = _unit("hertz", 1.0, _FREQ)
Hz = _unit("Hz", 1.0, _FREQ)
coulomb = _unit("coulomb", 1.0, _CHARGE)
watt = _unit("watt", 1.0, _POWER)
joule = _unit("joule", 1.0, _ENERGY)
newton = _unit("newton", 1.0, _FORCE)
pascal = _unit("pascal", 1.0, _PRESSURE)
liter = _unit("liter", 1e-3, _VOLUME)
litre = _unit("litre", 1e-3, _VOLUME)
molar = _unit("molar", 1e3, _CONC)
# time
ms = _unit("ms", 1e-3, _TIME)
us = _unit("us", 1e-6, _TIME)
ns = _unit("ns", 1e-9, _TIME)
msecond = _unit("msecond", 1e-3, _TIME)
usecond = _unit("usecond", 1e-6, _TIME)
nsecond = _unit("nsecond", 1e-9, _TIME)
# voltage
mV = _unit("mV", 1e-3, _VOLT)
uV = _unit("uV", 1e-6, _VOLT)
kV = _unit("kV", 1e3, _VOLT)
mvolt = _unit("mvolt", 1e-3, _VOLT)
uvolt = _unit("uvolt", 1e-6, _VOLT)
kvolt = _unit("kvolt", 1e3, _VOLT)
# current
mA = _unit("mA", 1e-3, _CUR)
uA = _unit("uA", 1e-6, _CUR)
nA = _unit("nA", 1e-9, _CUR)
pA = _unit("pA", 1e-12, _CUR)
mamp = _unit("mamp", 1e-3, _CUR)
uamp = _unit("uamp", 1e-6, _CUR)
namp = _unit("namp", 1e-9, _CUR)
pamp = _unit("pamp", 1e-12, _CUR)
# conductance (nS is nanosiemens; ns is nanosecond)
mS = _unit("mS", 1e-3, _SIEMENS)
uS = _unit("uS", 1e-6, _SIEMENS)
nS = _unit("nS", 1e-9, _SIEMENS)
msiemens = _unit("msiemens", 1e-3, _SIEMENS)
usiemens = _unit("usiemens", 1e-6, _SIEMENS)
nsiemens = _unit("nsiemens", 1e-9, _SIEMENS)
# capacitance
uF = _unit("uF", 1e-6, _FARAD)
nF = _unit("nF", 1e-9, _FARAD)
pF = _unit("pF", 1e-12, _FARAD)
ufarad = _unit("ufarad", 1e-6, _FARAD)
nfarad = _unit("nfarad", 1e-9, _FARAD)
pfarad = _unit("pfarad", 1e-12, _FARAD)
# resistance
kohm = _unit("kohm", 1e3, _OHM)
Mohm = _unit("Mohm", 1e6, _OHM)
Gohm = _unit("Gohm", 1e9, _OHM)
# frequency
kHz = _unit("kHz", 1e3, _FREQ)
MHz = _unit("MHz", 1e6, _FREQ)
khertz = _unit("khertz", 1e3, _FREQ)
Mhertz = _unit("Mhertz", 1e6, _FREQ)
# length
cm = _unit("cm", 1e-2, _LEN)
mm = _unit("mm", 1e-3, _LEN)
um = _unit("um", 1e-6, _LEN)
nm = _unit("nm", 1e-9, _LEN)
cmetre = _unit("cmetre", 1e-2, _LEN)
cmeter = _unit("cmeter", 1e-2, _LEN)
mmetre = _unit("mmetre", 1e-3, _LEN)
mmeter = _unit("mmeter", 1e-3, _LEN)
umetre = _unit("umetre", 1e-6, _LEN)
umeter = _unit("umeter", 1e-6, _LEN)
nmetre = _unit("nmetre", 1e-9, _LEN)
nmeter = _unit("nmeter", 1e-9, _LEN)
# concentration
mM = _unit("mM", 1.0, _CONC)
uM = _unit("uM", 1e-3, _CONC)
mmolar = _unit("mmolar", 1.0, _CONC)
umolar = _unit("umolar", 1e-3, _CONC)


def unit_namespace() -> dict[str, Unit]:
    """All named units, by name (a fresh dict)."""
    return dict(_UNITS)


def _build_dim_names() -> dict[Dimension, str]:
    singles = [("1", DIMENSIONLESS), ("metre", _LEN), ("kilogram", _MASS), ("second", _TIME),
               ("amp", _CUR), ("kelvin", _TEMP), ("mole", _AMOUNT), ("candela", _LUM),
               ("volt", _VOLT), ("ohm", _OHM), ("siemens", _SIEMENS), ("farad", _FARAD),
               ("hertz", _FREQ), ("coulomb", _CHARGE), ("watt", _POWER), ("joule", _ENERGY),
               ("newton", _FORCE), ("pascal", _PRESSURE)]
    names: dict[Dimension, str] = {}
    for name, d in singles:
        names.setdefault(d, name)
    composites = []
    for name, d in singles[1:]:
        if name in ("hertz", "candela", "kelvin", "pascal", "newton"):
            continue
        for suffix, sd in (("/second", _TIME ** -1), ("/metre**2", _LEN ** -2),
                           ("/metre**3", _LEN ** -3), ("/metre", _LEN ** -1),
                           ("/second**2", _TIME ** -2), ("*second", _TIME),
                           ("*metre", _LEN), ("*metre**2", _LEN ** 2)):
            if name not in ("metre", "second") or suffix[1:].split("*")[0] != name:
                composites.append((name + suffix, d * sd))
    for name, d in composites:
        names.setdefault(d, name)
    for power in (2, 3, -1, -2, -3, Fraction(1, 2), Fraction(-1, 2)):
        for name, d in singles[1:] + composites:
            if name == "hertz":
                continue
            shown = f"({name})" if any(c in name for c in "*/") else name
            names.setdefault(d ** power, f"{shown}**{_fmt_exp(Fraction(power))}")
    return names


_DIM_NAMES = _build_dim_names()

_DISPLAY: dict[Dimension, list[tuple[float, str]]] = {
    _TIME: [(1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")],
    _VOLT: [(1e3, "kV"), (1.0, "V"), (1e-3, "mV"), (1e-6, "uV")],
    _CUR: [(1.0, "A"), (1e-3, "mA"), (1e-6, "uA"), (1e-9, "nA"), (1e-12, "pA")],
    _SIEMENS: [(1.0, "S"), (1e-3, "mS"), (1e-6, "uS"), (1e-9, "nS"), (1e-12, "pS")],
    _FARAD: [(1.0, "F"), (1e-3, "mF"), (1e-6, "uF"), (1e-9, "nF"), (1e-12, "pF")],
    _OHM: [(1e9, "Gohm"), (1e6, "Mohm"), (1e3, "kohm"), (1.0, "ohm")],
    _FREQ: [(1e6, "MHz"), (1e3, "kHz"), (1.0, "Hz")],
    _LEN: [(1.0, "m"), (1e-3, "mm"), (1e-6, "um"), (1e-9, "nm")],
    _MASS: [(1.0, "kg"), (1e-3, "g")],
    _CONC: [(1e3, "M"), (1.0, "mM"), (1e-3, "uM"), (1e-6, "nM")],
    _CHARGE: [(1.0, "C"), (1e-9, "nC"), (1e-12, "pC")],
    _TEMP: [(1.0, "K")], _AMOUNT: [(1.0, "mol")], _LUM: [(1.0, "cd")],
    _POWER: [(1.0, "W")], _ENERGY: [(1.0, "J")], _FORCE: [(1.0, "N")],
    _PRESSURE: [(1.0, "Pa")], _VOLUME: [(1.0, "m^3"), (1e-3, "l")],
}
_EXAMPLE_UNIT: dict[Dimension, str] = {
    _TIME: "ms", _VOLT: "mV", _CUR: "nA", _SIEMENS: "nS", _FARAD: "pF", _OHM: "Mohm",
    _FREQ: "Hz", _LEN: "um", _CONC: "mM", _MASS: "kilogram", _CHARGE: "coulomb",
}

# ---------------------------------------------------------------------------------------------
# Parsing the unit of an equation line

_UNIT_EXPECTED = "a unit such as volt, second, siemens, amp, 1"


def parse_unit(text: str, *, source: str | None = None, line: int = 1, column: int = 1,
               where: str | None = None) -> Dimension:
    """The dimension of a unit expression such as ``"siemens/metre**2"`` or ``"1"``.

    ``column`` is the 1-based column where ``text`` starts in line ``line`` of ``source``
    (``text`` itself when no source is given); errors point into that source.
    """
    src = source if source is not None else text
    body = text.lstrip()
    lead = len(text) - len(body)
    body = body.rstrip()

    def fail(message: str, offset: int, expected: str | None = _UNIT_EXPECTED
             ) -> EquationSyntaxError:
        return EquationSyntaxError(message, source=src, line=line, column=column + lead + offset,
                                   expected=expected, where=where)

    if not body:
        raise fail("missing unit", 0)
    try:
        tree = ast.parse(body, mode="eval")
    except (RecursionError, MemoryError):
        raise fail("the unit expression is nested too deeply", 0) from None
    except SyntaxError as exc:
        offset = exc.offset - 1 if exc.offset and 0 < exc.offset <= len(body) else len(body)
        if exc.lineno and exc.lineno > 1:
            offset = len(body)
        raise fail("invalid unit expression", offset) from None
    return _UnitWalker(body, fail).dim(tree.body)


def char_column(line: str, byte_offset: int) -> int:
    """The character offset in ``line`` of a UTF-8 byte offset, which is what Python's
    ``ast`` reports as ``col_offset`` (``"ｖ > Vx"``: byte 6 is character 4)."""
    return len(line.encode("utf-8")[:max(byte_offset, 0)].decode("utf-8", errors="ignore"))


class _UnitWalker:
    """Evaluates the dimension of a parsed unit expression."""

    def __init__(self, body: str, fail: Callable[..., EquationSyntaxError]) -> None:
        self.body = body
        self.fail = fail

    def col(self, byte_offset: int) -> int:
        return char_column(self.body, byte_offset)

    def at(self, node: ast.AST) -> int:
        return self.col(getattr(node, "col_offset", 0))

    def op_at(self, node: ast.BinOp) -> int:
        """Offset of the operator of ``node`` (after the left operand and its parentheses)."""
        i = self.col(node.left.end_col_offset or 0)
        while i < len(self.body) and self.body[i] in " )":
            i += 1
        return i

    def dim(self, node: ast.AST) -> Dimension:
        if isinstance(node, ast.Name):
            unit = _UNITS.get(node.id)
            if unit is None:
                guess = node.id.replace("μ", "u").replace("µ", "u")
                close = difflib.get_close_matches(guess, list(_UNITS), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail(f"unknown unit '{node.id}'{hint}", self.at(node))
            return unit.dim
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if node.value == 1:
                return DIMENSIONLESS
            raise self.fail(f"unexpected number {node.value!r} in a unit (only the literal 1 "
                            "is allowed)", self.at(node))
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mult):
                return self.dim(node.left) * self.dim(node.right)
            if isinstance(node.op, ast.Div):
                return self.dim(node.left) / self.dim(node.right)
            if isinstance(node.op, ast.Pow):
                return self.dim(node.left) ** self.exponent(node.right)
            if isinstance(node.op, ast.BitXor):
                raise self.fail("'^' is not a power in a unit", self.op_at(node),
                                expected="'**' for powers, e.g. metre**2")
            raise self.fail("invalid unit expression", self.op_at(node))
        raise self.fail("invalid unit expression", self.at(node))

    def exponent(self, node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if not np.isfinite(node.value):
                raise self.fail("the exponent is not a finite number", self.at(node),
                                expected="a number such as 2, -1 or 0.5")
            return _fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            e = self.exponent(node.operand)
            return -e if isinstance(node.op, ast.USub) else e
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult,
                                                                ast.Div)):
            a, b = self.exponent(node.left), self.exponent(node.right)
            if isinstance(node.op, ast.Div):
                if b == 0:
                    raise self.fail("division by zero in an exponent", self.op_at(node),
                                    expected="a number such as 2, -1 or 0.5")
                return a / b
            return a + b if isinstance(node.op, ast.Add) else (
                a - b if isinstance(node.op, ast.Sub) else a * b)
        raise self.fail("invalid exponent in a unit", self.at(node),
                        expected="a number such as 2, -1 or 0.5")


# ---------------------------------------------------------------------------------------------
# Helpers for values that may or may not carry units


def get_dimension(x: Any) -> Dimension:
    """The dimension of a Quantity; plain numbers and arrays are dimensionless."""
    if isinstance(x, Quantity):
        return x.dim
    if isinstance(x, (numbers.Number, np.generic, np.ndarray)):
        return DIMENSIONLESS
    if isinstance(x, (list, tuple)):
        dims = {get_dimension(e) for e in x}
        if len(dims) > 1:
            raise UnitError(f"a sequence mixes dimensions: {', '.join(sorted(map(str, dims)))}")
        return dims.pop() if dims else DIMENSIONLESS
    raise UnitError(f"expected a number or a quantity, got {type(x).__name__} {x!r}")


def get_value(x: Any) -> Any:
    """The SI value of a Quantity (float or ndarray), or the plain number/array itself."""
    if isinstance(x, Quantity):
        return x.value
    if isinstance(x, (list, tuple)):
        get_dimension(x)
        return np.asarray([get_value(e) for e in x], dtype=np.float64)
    return x


def check_dimension(x: Any, dim: Dimension, what: str) -> None:
    """Raise UnitError unless ``x`` has dimension ``dim``."""
    actual = get_dimension(x)
    if actual != dim:
        raise UnitError(f"{what} must have dimension {dim}, got {actual}")


def time_to_seconds(x: Any, what: str) -> float:
    """A time in seconds; a Quantity must be a time, a bare number means milliseconds."""
    if isinstance(x, Quantity) and x.dim == _TIME:
        v: Any = x.value
    elif isinstance(x, Quantity) and x.dim.is_dimensionless:
        v = x.value * 1e-3
    elif isinstance(x, (numbers.Real, np.integer, np.floating)) and not isinstance(
            x, (bool, np.bool_)):
        v = float(x) * 1e-3
    else:
        got = str(x) if isinstance(x, Quantity) else repr(x)
        raise UnitError(f"{what} must be a time such as 0.1*ms, got {got}")
    if np.ndim(v) != 0:
        raise UnitError(f"{what} must be a single time such as 0.1*ms, got an array")
    if not np.isfinite(v):
        raise ParameterError(f"{what} must be a finite time such as 0.1*ms, got {x}")
    return float(v)
