"""The torch backend's templates: named after the plan's stages, and a generated module
defines only the helpers (``templates/torch/_helpers.j2``) and imports only the modules
that its code calls, as recorded by the printers."""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

import pytest
import sympy
import torch

import snncc as sc
from snncc.backends.templating import environment, templates_dir
from snncc.backends.torch.printer import (
    CALLS,
    FUNCTIONS,
    HELPER_CALLS,
    SCALAR_CALLS,
    SCALAR_FUNCTIONS,
    TorchPrinter,
)
from snncc.frontend.expressions import FUNCTION_NAMES, Expression, NameInfo, sym
from snncc.ir import plan
from snncc.ir.functions import clip
from snncc.units import Hz, ms, mV

HELPER_DEF = re.compile(r"^    (?:def (_\w+)\(|(_[A-Z]+) = )", re.M)
_ARGS = {"clip": "(x, y, p)", "where": "(x > 0, x, y)", "ifelse": "(x > 0, x, y)",
         "minimum": "(x, y)", "maximum": "(x, y)"}
_OPERATORS = ["x % y", "x // y", "x if x > y else y", "not (x > 0 and y < 1)", "x ** 0.5",
              "1 / sqrt(x)", "x ** 2.5"]


def _helpers(used: set[str] | frozenset[str]) -> str:
    """The helper definitions that ``_helpers.j2`` emits for ``used``."""
    return str(environment("torch").get_template("_helpers.j2").module.helpers(used))


def _defined(source: str) -> set[str]:
    """The helpers a generated module defines inside ``build()``."""
    return {a or b for a, b in HELPER_DEF.findall(source)}


def test_template_names_are_the_stage_names() -> None:
    folder = Path(templates_dir()) / "torch"
    for stage in plan.Stage.__args__:
        name = re.sub(r"(?<!^)([A-Z])", r"_\1", stage.__name__).lower()
        assert (folder / f"{name}.j2").is_file(), name
    assert {p.name for p in folder.glob("*.j2")} == {
        "_helpers.j2", "network.py.j2", "layer.py.j2", "record_state.j2", "record_spikes.j2",
        "update_state.j2", "update_synapses.j2", "threshold.j2", "pathway.j2", "reset.j2",
        "slot.j2", "draw_input.j2"}


def test_call_tables_name_what_the_entries_call() -> None:
    """Every helper or ``math`` call in a function table entry is in its call table."""
    for table, calls in ((FUNCTIONS, CALLS), (SCALAR_FUNCTIONS, SCALAR_CALLS)):
        for name, entry in table.items():
            if not isinstance(entry, str):
                continue
            called = set(re.findall(r"\b(_\w+)\(", entry)) | (
                {"math"} if "math." in entry else set())
            assert called == set(calls.get(name, ())), (name, entry)


def test_every_helper_has_a_definition() -> None:
    helpers = {h for calls in (CALLS, SCALAR_CALLS, HELPER_CALLS) for h in calls.values()
               for h in h} | set(HELPER_CALLS)
    helpers.discard("math")
    for h in helpers:
        assert _defined(_helpers({h})) >= {h}, h
    assert _helpers(set()) == ""


def _frontend_exprs() -> list[sympy.Basic]:
    def resolve(name: str) -> NameInfo:
        return NameInfo(sym(name), None)

    texts = [f"{f}{_ARGS.get(f, '(x)')}" for f in FUNCTION_NAMES if f not in ("rand", "randn")]
    return [Expression(t).to_sympy(resolve, check_units=False)[0] for t in texts + _OPERATORS]


@pytest.mark.parametrize("tensor", [True, False], ids=["tensor", "scalar"])
def test_recorded_helpers_are_enough(tensor: bool) -> None:
    """Each frontend function, printed alone, runs with only the helpers and modules its
    printer recorded."""
    values = {"x": 0.5, "y": 0.25, "p": 1.5}
    for expr in _frontend_exprs():
        pr = TorchPrinter({k: k for k in values}, set(values) if tensor else set())
        code = pr.doprint(expr)
        ns: dict[str, object] = {"torch": torch, "DEVICE": "cpu", "DTYPE": torch.float64}
        if "math" in pr.helpers:
            ns["math"] = math
        exec(textwrap.dedent(_helpers(pr.helpers)), ns)  # noqa: S102 - our own helpers
        ns.update({k: torch.tensor(v, dtype=torch.float64) if tensor else v
                   for k, v in values.items()})
        eval(code, ns)  # noqa: S307 - printed by our printer
        assert _defined(_helpers(pr.helpers)) == pr.helpers - {"math"}, (expr, code)


def test_helpers_include_what_they_call() -> None:
    pr = TorchPrinter({"x": "x"}, {"x"})
    x = sym("x")
    pr.doprint(clip(x, 0, 1))
    assert pr.helpers == {"_clip", "_minimum", "_maximum", "_ZERO"}
    scalar = TorchPrinter({"x": "x"}, set())
    scalar.doprint(sympy.exp(x))
    assert scalar.helpers == {"math"}


def _readme_net(generator: bool = False) -> sc.Network:
    net = sc.Network(dt=0.1 * ms, seed=1)
    with net:
        P = sc.NeuronGroup(40, model="cuba", init={"v": "Vr + rand()*(Vt - Vr)"}, name="P")
        sc.Connection(P[:32], P, p=0.2, on_pre="ge += we", params={"we": 1.62 * mV})
        if generator:
            g = sc.SpikeGeneratorGroup(2, [0, 1], [1.0, 2.0])  # times in ms
            sc.Connection(g, P, on_pre="ge += 2*mV", p=1.0)
        sc.SpikeMonitor(P)
    return net


def test_a_network_without_helpers_defines_and_imports_none() -> None:
    src = _readme_net().compile().source()
    assert _defined(src) == set()
    assert "import math" not in src and "import numpy" not in src
    assert "\nimport torch\n" in src
    compile(src, "<generated>", "exec")


def test_numpy_is_imported_for_a_spike_generator() -> None:
    sim = _readme_net(generator=True).compile()
    assert "\nimport numpy as np\nimport torch\n" in sim.source()
    sim.run(3 * ms)


def test_a_network_defines_the_helpers_it_calls() -> None:
    net = sc.Network(dt=0.1 * ms, seed=1)
    with net:
        inp = sc.PoissonGroup(5, rates=100 * Hz)
        G = sc.NeuronGroup(4, "hh", name="G")  # exprel
        sc.Connection(inp, G, on_pre="v = clip(v + 5*mV, -80*mV, 40*mV)", p=1.0)
        sc.SpikeMonitor(G)
    sim = net.compile(dtype=torch.float64)
    src = sim.source()
    assert _defined(src) == {"_exprel", "_clip", "_minimum", "_maximum", "_ZERO"}
    assert "_sign" not in src and "_where" not in src
    sim.run(2 * ms)


def test_layer_defines_only_what_it_calls() -> None:
    src = sc.layer("lif", backend="torch").source()
    # the refractory counter saturates with _minimum; reset and holds use _where
    assert _defined(src) <= {"_where", "_minimum", "_ZERO"} and "import math" not in src
