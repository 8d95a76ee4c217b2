"""The expression printers: the C branch against exact values, and every printer's
function table against the functions the IR and the frontend can produce.

The C test prints ~50 IR expressions with :class:`~snncc.backends.printing.CPrinter`,
compiles them with the system C (and C++) compiler, runs them at fresh random inputs
and compares with the exact value of the same expression at the same (rounded) inputs,
computed by sympy in 30 digits. Tolerances: double ``rtol 1e-12`` plus ``atol 1e-13``
(a sum of O(1) terms may cancel to a few ulps of its terms; cases with tiny values use no
``atol``); float ``rtol 2e-5, atol 2e-5`` (a few float ulps). The values of the Python
branch (torch, Triton) are checked through torch and the Triton interpreter by
``test_triton_primitives.py``, ``test_codegen_safety.py`` and the equivalence suite.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy
from sympy.codegen.cfunctions import expm1, log1p

import snncc.ir.functions as ir_functions
from snncc.backends.printing import SYNTAX_ENTRIES, CPrinter, c_float, c_functions
from snncc.backends.torch.printer import TorchPrinter
from snncc.backends.triton.printer import TritonPrinter
from snncc.frontend.expressions import FUNCTION_NAMES, Expression, NameInfo, sym
from snncc.ir.functions import clip, exprel, rand, randn, sigmoid

X, Y, P, U, Z = (sym(n) for n in "xypuz")
#: input domains: x, y real; p positive; u in (-1, 1); z zero
DOMAINS = {
    "x": lambda rng, n: rng.uniform(-3.0, 3.0, n),
    "y": lambda rng, n: rng.uniform(-3.0, 3.0, n),
    "p": lambda rng, n: rng.uniform(0.05, 4.0, n),
    "u": lambda rng, n: rng.uniform(-0.95, 0.95, n),
    "z": lambda rng, n: np.zeros(n),
}
NAMES = {n: n for n in DOMAINS}
N_POINTS = 12


def _case(name: str, expr: sympy.Basic, *, atol: float = 1e-13, float_ok: bool = True
          ) -> pytest.param:
    return pytest.param(expr, atol, float_ok, id=name)


CASES = [
    # every elementary function the IR holds
    _case("exp", sympy.exp(X)), _case("log", sympy.log(P)), _case("sin", sympy.sin(X)),
    _case("cos", sympy.cos(X)), _case("tan", sympy.tan(U)), _case("tanh", sympy.tanh(X)),
    _case("sinh", sympy.sinh(X)), _case("cosh", sympy.cosh(X)),
    _case("asin", sympy.asin(U)), _case("acos", sympy.acos(U)), _case("atan", sympy.atan(X)),
    _case("floor", sympy.floor(X * Y)), _case("ceiling", sympy.ceiling(X * Y)),
    _case("sign", sympy.sign(X)), _case("sign_0", sympy.sign(Z)),
    _case("abs", sympy.Abs(X)), _case("erf", sympy.erf(X)),
    _case("expm1", expm1(U)), _case("log1p", log1p(U)),
    _case("int", sympy.sign(X * Y) * sympy.floor(sympy.Abs(X * Y))),
    _case("log10", sympy.log(P, 10)),
    # modulo and floor division (Python semantics: the sign of the divisor)
    _case("mod", sympy.Mod(X, Y)), _case("mod_neg", sympy.Mod(X, -P)),
    _case("floordiv", sympy.floor(X / P)),
    # IR functions
    _case("clip", clip(X, -1, 1)), _case("clip_sym", clip(X, Y, Y + 2)),
    _case("clip_inf", clip(X, -sympy.oo, Y)),
    _case("exprel", exprel(X)), _case("exprel_0", exprel(Z)),
    _case("exprel_tiny", exprel(sympy.Rational(1, 10**10) * X)),
    _case("sigmoid", sigmoid(X)), _case("sigmoid_large", sigmoid(300 * X)),
    # conditions and where
    _case("lt", X < Y), _case("le", X <= Y), _case("gt", X > Y), _case("ge", X >= P),
    _case("eq", sympy.Eq(Z, 0)), _case("ne", sympy.Ne(X, Y)),
    _case("and", sympy.And(X > 0, Y < 1)), _case("or", sympy.Or(X > 1, Y < -1)),
    _case("not", sympy.Not(sympy.And(X > 0, Y > 0))),
    _case("true", sympy.true), _case("false", sympy.false),
    _case("where", sympy.Piecewise((X, X > Y), (Y, True))),
    _case("where_nested", sympy.Piecewise((1, X > 1), (sympy.exp(Y), Y < 0), (2.5, True))),
    _case("min", sympy.Min(X, Y)), _case("max3", sympy.Max(X, Y, P)),
    # powers
    _case("square", X**2), _case("cube_sum", (X + Y) ** 3), _case("pow8", U**8),
    _case("pow9", U**9), _case("inverse", 1 / P), _case("pow_neg2", P**-2),
    _case("pow_neg9", P**-9), _case("sqrt", sympy.sqrt(P)), _case("rsqrt", 1 / sympy.sqrt(P)),
    _case("pow_frac", P ** sympy.Rational(5, 2)), _case("cbrt", P ** sympy.Rational(1, 3)),
    _case("pow_neg_frac", P ** sympy.Rational(-3, 2)), _case("pow_sym", P**Y),
    _case("exp2", 2**X), _case("pow_float", P ** sympy.Float(0.37)),
    # numbers
    _case("pi_e", sympy.pi * X + sympy.E), _case("third", X / 3 + sympy.Rational(2, 7) * Y),
    _case("folded", sympy.log(2) * X + sympy.sqrt(3) / 7),
    _case("inf", sympy.oo + 0 * X), _case("neg_inf", -sympy.oo + 0 * X),
    _case("nan", sympy.nan + 0 * X),
    _case("tiny", sympy.Float("1e-300") * P, atol=0.0, float_ok=False),
    _case("subnormal", sympy.Float("4.9e-321") + 0 * X, atol=0.0, float_ok=False),
    _case("huge", sympy.Float("1.7e308") * sympy.Min(U, 0.5), atol=0.0, float_ok=False),
    _case("integer_ratio", sympy.Integer(7) / 2 * X - 1),
]


def _compiler(cxx: bool) -> str:
    names = ("c++", "g++", "clang++") if cxx else ("cc", "gcc", "clang")
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no {'C++' if cxx else 'C'} compiler found (tried {', '.join(names)})")


def _c_program(printer: CPrinter, exprs: list[sympy.Basic], inputs: dict[str, np.ndarray]
               ) -> str:
    t = printer.dtype
    lines = ["#include <math.h>", "#include <stdbool.h>", "#include <stdio.h>", "",
             printer.helpers()]
    for name, values in inputs.items():
        # hex literals: the inputs exactly
        lines.append(f"static const {t} IN_{name}[{values.size}] = "
                     f"{{{', '.join(float(v).hex() for v in values)}}};")
    args = ", ".join(f"{t} {n}" for n in inputs)
    for k, expr in enumerate(exprs):
        lines.append(f"static double f{k}({args}) {{ return (double)({printer.doprint(expr)}); }}")
    call = ", ".join(f"IN_{n}[i]" for n in inputs)
    lines += ["int main(void) {", f"    for (int i = 0; i < {N_POINTS}; i++) {{"]
    lines += [f'        printf("%a\\n", f{k}({call}));' for k in range(len(exprs))]
    lines += ["    }", "    return 0;", "}"]
    return "\n".join(lines) + "\n"


def _exact(expr: sympy.Basic, point: dict[str, float]) -> float:
    """``expr`` at ``point`` in 40 digits (the binary inputs are exact there; exact
    rationals would make sympy factor huge integers in powers), rounded to a double."""
    value = expr.subs({sym(n): sympy.Float(v, 40) for n, v in point.items()})
    if value in (sympy.true, sympy.false):
        return 1.0 if value == sympy.true else 0.0
    value = value.evalf(30)
    if value.has(sympy.nan):
        return math.nan
    return float(value)


def _run_c(exprs: list[sympy.Basic], dtype: str, cxx: bool, seed: int, tmp_path: Path
           ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Values [case, point] of ``exprs`` computed by compiled C code, and the inputs."""
    rng = np.random.default_rng(seed)
    inputs = {n: make(rng, N_POINTS) for n, make in DOMAINS.items()}
    if dtype == "float":
        inputs = {n: v.astype(np.float32).astype(np.float64) for n, v in inputs.items()}
    source = tmp_path / ("exprs.cpp" if cxx else "exprs.c")
    source.write_text(_c_program(CPrinter(NAMES, dtype), exprs, inputs))
    exe = tmp_path / "exprs"
    std = "-std=c++17" if cxx else "-std=c99"  # hex float literals: C99, C++17
    build = subprocess.run([_compiler(cxx), std, "-O1", "-Wall", "-Werror", "-o", str(exe),
                            str(source), "-lm"], capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, f"{source} does not compile:\n{build.stderr}"
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True)
    values = np.array([float.fromhex(v) for v in out.stdout.split()])
    return values.reshape(N_POINTS, len(exprs)).T, inputs


def _check_c(dtype: str, cxx: bool, seed: int, tmp_path: Path) -> None:
    cases = [c.values for c in CASES if dtype == "double" or c.values[2]]
    ids = [c.id for c in CASES if dtype == "double" or c.values[2]]
    got, inputs = _run_c([c[0] for c in cases], dtype, cxx, seed, tmp_path)
    rtol = 1e-12 if dtype == "double" else 2e-5
    failures = []
    for k, ((expr, atol, _), name) in enumerate(zip(cases, ids)):
        atol = atol if dtype == "double" else max(atol, 2e-5)
        for i in range(N_POINTS):
            point = {n: float(v[i]) for n, v in inputs.items()}
            want, value = _exact(expr, point), float(got[k, i])
            same = (math.isnan(want) and math.isnan(value)) or value == want \
                or abs(value - want) <= rtol * abs(want) + atol
            if not same:
                failures.append(f"{name}: {CPrinter(NAMES, dtype).doprint(expr)} at {point}: "
                                f"got {value!r}, exact {want!r}")
    assert not failures, f"seed {seed}:\n" + "\n".join(failures[:20])


def test_c_double_matches_exact_values(tmp_path: Path, fresh_seed: int) -> None:
    _check_c("double", False, fresh_seed, tmp_path)


def test_c_float_matches_exact_values(tmp_path: Path, fresh_seed: int) -> None:
    _check_c("float", False, fresh_seed, tmp_path)


def test_cxx_double_matches_exact_values(tmp_path: Path, fresh_seed: int) -> None:
    _check_c("double", True, fresh_seed, tmp_path)


# ------------------------------------------------------------------ C syntax details
def test_c_literals() -> None:
    assert c_float(0.1) == "0.1" and c_float(0.1, "f") == "0.1f"
    assert c_float(math.inf) == "INFINITY" and c_float(-math.inf) == "(-INFINITY)"
    assert c_float(math.nan) == "NAN" and c_float(5e-324) == "5e-324"
    assert float(c_float(math.pi)) == math.pi  # repr digits: the same double


def test_c_printer_syntax() -> None:
    pr = CPrinter(NAMES)
    assert pr.doprint(sympy.And(X > 0, sympy.Or(Y < 0, P > 1))) == \
        "((x > 0.0) && ((p > 1.0) || (y < 0.0)))"
    assert pr.doprint(sympy.Not(sympy.And(X > 0, Y > 0))) == "(!((x > 0.0) && (y > 0.0)))"
    assert pr.doprint(sympy.Piecewise((X, X > Y), (Y, True))) == "((x > y) ? x : y)"
    assert pr.doprint(X / 2) == "x/2.0"  # no integer division
    assert pr.doprint(X**3) == "(x*x*x)" and pr.doprint(X**-2) == "(1.0/(x*x))"
    assert pr.doprint(P**Y) == "pow(p, y)"
    assert pr.doprint(sympy.log(2) * X) == "x*0.6931471805599453"  # evaluated here
    f = CPrinter(NAMES, "float")
    assert [f.doprint(e) for e in (sympy.exp(X), sympy.Min(X, 1), P**Y)] == \
        ["expf(x)", "fminf(1.0f, x)", "powf(p, y)"]
    assert f.doprint(sympy.log(2) * X) == "x*0.6931471805599453f"
    assert "expm1f" in f.helpers() and "expm1(" in pr.helpers()


def test_c_printer_refusals() -> None:
    pr = CPrinter({"x": "x"})
    with pytest.raises(ValueError, match="'gamma'"):
        pr.doprint(sympy.gamma(X))
    with pytest.raises(ValueError, match="Heaviside"):
        pr.doprint(sympy.Heaviside(X))
    with pytest.raises(KeyError, match="'y'"):
        pr.doprint(X + Y)
    with pytest.raises(ValueError, match="not available"):
        pr.doprint(X + rand.new())
    with pytest.raises(ValueError, match="division by zero"):
        pr.doprint(sympy.zoo * X)
    with pytest.raises(ValueError, match="'long double'"):
        CPrinter({}, "long double")


def test_c_printer_draws_get_distinct_streams() -> None:
    streams = [5]
    code = CPrinter({"x": "x"}, draw=lambda k, kind: f"{kind}_{k}()", streams=streams
                    ).doprint(X * rand.new() + randn.new())
    assert streams == [7] and "rand_5()" in code and "randn_6()" in code


# ------------------------------------------------------------------ table completeness
_ARITY = {"clip": "(x, y, p)", "where": "(x > 0, x, y)", "ifelse": "(x > 0, x, y)",
          "minimum": "(x, y)", "maximum": "(x, y)", "rand": "()", "randn": "()"}
#: the frontend's operators that become functions
_OPERATORS = ["x % y", "x // y", "x if x > y else y", "not (x > 0 and y < 1)", "x ** 0.5",
              "1 / sqrt(x)"]


def _frontend_exprs() -> list[sympy.Basic]:
    def resolve(name: str) -> NameInfo:
        return NameInfo(sym(name), None)

    texts = [f"{f}{_ARITY.get(f, '(x)')}" for f in FUNCTION_NAMES] + _OPERATORS
    return [Expression(t).to_sympy(resolve, check_units=False)[0] for t in texts]


def _needed_entries() -> set[str]:
    """Every table name the printers may be asked for: the IR's functions, the
    functions and operators of the frontend, and the syntax entries."""
    ir = {obj.__name__ for obj in vars(ir_functions).values()
          if isinstance(obj, type) and issubclass(obj, sympy.Function)
          and obj.__module__ == ir_functions.__name__}
    frontend = {"where" if isinstance(a, sympy.Piecewise) else type(a).__name__
                for e in _frontend_exprs() for a in e.atoms(sympy.core.function.Application)
                if not isinstance(a, sympy.logic.boolalg.BooleanFunction)}  # and, or, not
    return (ir | frontend | set(SYNTAX_ENTRIES)) - {"rand", "randn"}  # draws: a hook


TABLES = {
    "torch": TorchPrinter.functions, "torch-scalar": TorchPrinter.scalar_functions,
    "triton": TritonPrinter.functions, "c-double": c_functions("double"),
    "c-float": c_functions("float"),
}


def test_needed_entries_cover_the_ir() -> None:
    needed = _needed_entries()
    assert {"clip", "exprel", "sigmoid", "Mod", "Min", "where", "floor", "sign"} <= needed
    assert {"exp", "log", "sin", "asin", "Abs", "ceiling"} <= needed


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_every_function_has_a_table_entry(table: dict[str, object]) -> None:
    missing = _needed_entries() - set(table)
    assert not missing, f"no printer entry for {sorted(missing)}"


def _printers() -> list[object]:
    names = {"x": "x", "y": "y", "p": "p"}
    draw = (lambda k, kind: f"{kind}{k}")  # noqa: E731
    return [TorchPrinter(names, {"x"}), TorchPrinter(names, set()),
            TritonPrinter(names, draw), CPrinter(names, draw=draw),
            CPrinter(names, "float", draw=draw)]


@pytest.mark.parametrize("printer", _printers(),
                         ids=["torch", "torch-scalar", "triton", "c-double", "c-float"])
def test_every_frontend_function_prints(printer: object) -> None:
    for expr in _frontend_exprs():
        code = printer.doprint(expr)
        assert code and "Mod(" not in code and "Piecewise" not in code, (expr, code)
