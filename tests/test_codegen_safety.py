"""User text never becomes code, and non-finite constants never become wrong code
(issue 12, items 1 and 4b).

Text a user writes (thresholds, resets, on_pre / on_post code, equations with their
comments, model names) is shown in the generated torch and Triton sources as comments.
Every such comment goes through :func:`snncc.backends.common.comment_text` (the
templates' ``comment`` filter), so no line separator Python honours (or NUL, or a bidi
control) can end the comment. Each case here hides a statement after such a separator
in one place text enters, on every backend and for layers, and checks that the text is
either accepted (then the network compiles and runs) or refused with a ``SnnccError``,
and that in the generated source the payload is never part of a token other than a
comment (:func:`assert_only_in_comments`, with Python's ``tokenize``).

Item 4b: a parameter that makes folded code undefined or infinite (``tau = 0`` as a
divisor, ``1e400*mV``, ``v /= 0``) is refused by the specialize pass naming the group,
the statement and the parameter; an infinity that means something (``Vt = inf``, a clip
bound) prints as ``float('inf')`` on both printers and runs.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize

import numpy as np
import pytest
import sympy
import torch
import yaml

import snncc as sc
from snncc.backends.common import comment_text
from snncc.backends.printing import py_float
from snncc.backends.templating import templates_dir
from snncc.backends.torch.printer import TorchPrinter
from snncc.backends.triton.printer import TritonPrinter
from snncc.errors import NetworkError, ParameterError, SnnccError
from snncc.ir.functions import clip
from snncc.units import ms, mV

BACKENDS = ["torch", "triton"]
# everything str.splitlines() splits at, plus NUL (which Python source cannot hold)
SEPARATORS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
              "\u2028", "\u2029", "\x00"]
SEP_IDS = [repr(s) for s in SEPARATORS]
MARK = "snncc_pwned"
PAYLOAD = f"__import__('os').system('echo {MARK}')"
PARAMS = {"El": -50 * mV, "tau": 10 * ms, "Vt": -55 * mV, "Vr": -70 * mV}
NEURON_EQS = "dv/dt = (El - v + ge)/tau : volt\ndge/dt = -ge/tau : volt"


def assert_only_in_comments(source: str) -> None:
    """The source parses, holds no character that ends a line except ``\\n``, and the
    payload (its call or its marker) is in no token but a comment."""
    ast.parse(source)
    odd = set(source) & set("".join(SEPARATORS).replace("\n", "") + "\u202e")
    assert not odd, f"generated source holds {sorted(odd)!r}"
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            assert MARK not in tok.string and tok.string != "__import__", (
                f"user text outside a comment at line {tok.start[0]}: "
                f"{source.splitlines()[tok.start[0] - 1]!r}")


def _network(backend: str, *, threshold: str = "v > Vt", reset: str = "v = Vr",
             on_pre: str = "ge += 1*mV", on_post: str | None = None,
             equations: str = NEURON_EQS, model_name: str = "m",
             synapse_name: str = "syn", params: dict | None = None,
             steps: int = 1) -> tuple[sc.SpikeMonitor, sc.CompiledNetwork]:
    """A 3-neuron recurrent network ('G', connected to itself by 'C') with the given
    texts, compiled and run ``steps`` steps; returns (its spike monitor, compiled)."""
    model = sc.NeuronModel(equations, threshold=threshold, reset=reset,
                           params=dict(PARAMS if params is None else params),
                           name=model_name)
    syn = sc.SynapseModel("w : 1", on_pre=on_pre, on_post=on_post, name=synapse_name)
    net = sc.Network(seed=1)
    with net:
        g = sc.NeuronGroup(3, model, init={"v": "-60*mV + 10*mV*i/N"}, name="G")
        sc.Connection(g, g, syn, name="C")
        spikes = sc.SpikeMonitor(g, name="S")
    sim = net.compile(backend=backend)
    sim.run(steps * 0.1 * ms)
    return spikes, sim


# ------------------------------------------------------------------ comment_text
@pytest.mark.parametrize("sep", SEPARATORS, ids=SEP_IDS)
def test_comment_text_is_one_printable_line(sep: str) -> None:
    out = comment_text(f"v > Vt # c{sep}{PAYLOAD}\t\u202e{sep}")
    assert len(f"# {out}\nx = 1".splitlines()) == 2 and out.isprintable()
    assert out.startswith("v > Vt # c") and PAYLOAD in out
    assert comment_text("a */ b **/", closer="*/") == "a * / b ** /"
    assert comment_text("v = Vr\n  w += 1\n") == "v = Vr; w += 1"


def test_every_template_comment_goes_through_the_filter() -> None:
    """Each ``{{ ... }}`` after a ``#`` in a template is filtered by ``comment`` or is a
    conditional between string literals."""
    literal = re.compile(r"""\s*(['"])[^'"]*\1 if [\w. ]+ else (['"])[^'"]*\2\s*""")
    bad = []
    for path in sorted(templates_dir().rglob("*.j2")):
        for k, line in enumerate(path.read_text().splitlines(), 1):
            code = re.sub(r"\{#.*?#\}", "", line)
            if code.lstrip().startswith("{#"):
                continue
            m = re.search(r"(?<!\{)#(?!\})", code)
            if m is None:
                continue
            for expr in re.findall(r"\{\{(.*?)\}\}", code[m.start():]):
                if not re.search(r"\|\s*comment\s*$", expr) and not literal.fullmatch(expr):
                    bad.append(f"{path.name}:{k}: {{{{{expr}}}}}")
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------ networks
PLACES = {
    "threshold": lambda s: {"threshold": f"v > Vt # c{s}{PAYLOAD}"},
    "threshold_line": lambda s: {"threshold": f"v > Vt{s}{PAYLOAD}"},
    "reset": lambda s: {"reset": f"v = Vr # c{s}{PAYLOAD}"},
    "reset_line": lambda s: {"reset": f"v = Vr{s}{PAYLOAD}"},
    "on_pre": lambda s: {"on_pre": f"ge += 1*mV # c{s}{PAYLOAD}"},
    "on_pre_line": lambda s: {"on_pre": f"ge += 1*mV{s}{PAYLOAD}"},
    "on_post": lambda s: {"on_post": f"w += 1 # c{s}{PAYLOAD}"},
    "equations": lambda s: {"equations": f"dv/dt = (El - v + ge)/tau : volt # c{s}{PAYLOAD}"
                                         "\ndge/dt = -ge/tau : volt"},
    "model_name": lambda s: {"model_name": f"m{s}{PAYLOAD}"},
    "synapse_name": lambda s: {"synapse_name": f'syn"""{s}{PAYLOAD}'},
}


@pytest.mark.parametrize("sep", SEPARATORS, ids=SEP_IDS)
@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("backend", BACKENDS)
def test_hidden_statement_never_becomes_code(backend: str, place: str, sep: str) -> None:
    try:
        _, sim = _network(backend, **PLACES[place](sep))
    except SnnccError:  # refused with a clear error: fine, except for names (free text)
        assert not place.endswith("_name")
        return
    assert_only_in_comments(sim.source())


@pytest.mark.parametrize("backend", BACKENDS)
def test_names_in_code_are_identifiers(backend: str) -> None:
    model = sc.NeuronModel("dv/dt = -v/tau : 1", threshold="v > 1", reset="v = 0",
                           params={"tau": 10 * ms})
    for make in (lambda: sc.NeuronGroup(2, model, name="x; import os"),
                 lambda: sc.NeuronGroup(2, model, name=f"G\n{PAYLOAD}")):
        net = sc.Network()
        with net:
            make()
        with pytest.raises(NetworkError, match="identifier"):
            net.compile(backend=backend)
    net = sc.Network()
    with net:
        g = sc.NeuronGroup(2, model, name="G")
        sc.Connection(g, g, on_pre="v += 0.1", name="C = 1 #")
    with pytest.raises(NetworkError, match="identifier"):
        net.compile(backend=backend)


# ------------------------------------------------------------------ multi-line text
YAML_TEXTS = yaml.safe_load("""
block: |
  v > Vt
bracketed: |
  (v > Vt and
   v > Vr)
reset: |
  v = Vr
  ge = 0*mV
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_multiline_text_works_and_gives_the_same_spikes(backend: str) -> None:
    def spikes(**texts: str) -> list[tuple[int, float]]:
        mon, _ = _network(backend, on_pre="ge += 3*mV", steps=60, **texts)
        return list(zip(np.asarray(mon.i).tolist(), np.round(mon.t / ms, 6).tolist()))

    want = spikes()
    assert want, "the reference run must spike"
    for th in ("v > Vt\n", "v > Vt\r\n", YAML_TEXTS["block"], YAML_TEXTS["bracketed"]):
        assert spikes(threshold=th) == want, repr(th)
    assert spikes(reset="v = Vr; ge = 0*mV") == spikes(reset=YAML_TEXTS["reset"])


# ------------------------------------------------------------------ layers
LAYER_PLACES = {
    "threshold": lambda s: {"threshold": f"v > 1 # c{s}{PAYLOAD}"},
    "reset": lambda s: {"reset": f"v = 0 # c{s}{PAYLOAD}"},
    "reset_line": lambda s: {"reset": f"v = 0{s}{PAYLOAD}"},
    "equations": lambda s: {"equations": f"dv/dt = (x - v)/tau : 1 # c{s}{PAYLOAD}\nx : 1"},
    "model_name": lambda s: {"name": f'm"""{s}{PAYLOAD}'},
}


def _layer(backend: str, threshold: str = "v > 1", reset: str = "v = 0",
           equations: str = "dv/dt = (x - v)/tau : 1\nx : 1", name: str = "m",
           tau: float = 2.0, trainable: tuple[str, ...] = ("tau",)) -> sc.Layer:
    model = sc.NeuronModel(equations, threshold=threshold, reset=reset,
                           params={"tau": tau}, name=name)
    return sc.layer(model, input="x", backend=backend, trainable=list(trainable))


@pytest.mark.parametrize("sep", SEPARATORS, ids=SEP_IDS)
@pytest.mark.parametrize("place", sorted(LAYER_PLACES))
@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_hidden_statement_never_becomes_code(backend: str, place: str, sep: str
                                                   ) -> None:
    try:
        L = _layer(backend, **LAYER_PLACES[place](sep))
        x = 3 * torch.rand(3, 1, 2, generator=torch.Generator().manual_seed(0))
        L(x)
    except SnnccError:
        assert place != "model_name"  # a model's name is free text
        return
    assert_only_in_comments(L.source())


@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_multiline_threshold(backend: str) -> None:
    x = 3 * torch.rand(8, 2, 3, generator=torch.Generator().manual_seed(0))
    want = _layer(backend)(x)
    assert want.sum() > 0
    for th in ("v > 1\n", "(v >\n 1)\n"):
        assert torch.equal(_layer(backend, threshold=th)(x), want), repr(th)


# ------------------------------------------------------------------ non-finite constants
@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_divisor_parameter_is_refused(backend: str) -> None:
    with pytest.raises(ParameterError, match=r"group 'G'.*dv/dt = \(El - v \+ ge\)/tau.*"
                                             r"undefined.*tau = 0"):
        _network(backend, params={**PARAMS, "tau": 0 * ms})
    with pytest.raises(ParameterError, match="undefined.*tau = 0"):
        _layer(backend, tau=0.0, trainable=())  # folded: a trained tau is data


@pytest.mark.parametrize("backend", BACKENDS)
def test_division_by_zero_in_code_is_refused(backend: str) -> None:
    params = {k: v for k, v in PARAMS.items() if k != "Vr"}
    with pytest.raises(SnnccError, match="v /= 0"):
        _network(backend, reset="v /= 0", params=params)
    with pytest.raises(SnnccError, match="w /= 0"):
        _network(backend, on_pre="ge += 1*mV; w /= 0")


@pytest.mark.parametrize("backend", BACKENDS)
def test_infinite_parameter_in_arithmetic_is_refused(backend: str) -> None:
    with pytest.raises(ParameterError, match=r"group 'G'.*infinite.*El = inf"):
        _network(backend, params={**PARAMS, "El": 1e400 * mV})
    with pytest.raises(ParameterError, match=r"group 'G'.*reset 'v = Vr\*1e200\*1e200'.*"
                                             "infinite"):
        _network(backend, reset="v = Vr*1e200*1e200")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_constant_beyond_float32_is_refused_in_float32(backend: str) -> None:
    # 1e300 mV fits a float64 and is inf in float32
    model = sc.NeuronModel(NEURON_EQS, threshold="v > Vt and v < 1e300*mV", reset="v = Vr",
                           params=PARAMS)
    net = sc.Network(seed=1)
    with net:
        sc.NeuronGroup(3, model, name="G")
    net.compile(backend=backend, dtype=torch.float64).run(0.1 * ms)
    with pytest.raises(ParameterError, match=r"group 'G' threshold .*1e\+297 is beyond the "
                                             r"range of torch.float32"):
        net.compile(backend=backend, dtype=torch.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_meaningful_infinities_print_and_run(backend: str) -> None:
    # Vt = inf: the threshold never fires; a clip with an infinite bound clips no more
    # than one with bounds v never reaches
    mon, _ = _network(backend, params={**PARAMS, "Vt": math.inf * mV}, steps=20)
    assert mon.num_spikes == 0
    eqs = "dv/dt = (El - clip(v, lo, hi) + ge)/tau : volt\ndge/dt = -ge/tau : volt"
    runs = [_network(backend, equations=eqs, params={**PARAMS, **bounds}, steps=40,
                     on_pre="ge += 3*mV")
            for bounds in ({"lo": -1e400 * mV, "hi": 1000 * mV},
                           {"lo": -1000 * mV, "hi": 1000 * mV})]
    assert "float('inf')" in runs[0][1].source()
    assert_only_in_comments(runs[0][1].source())
    (a, sa), (b, sb) = runs
    assert a.num_spikes == b.num_spikes > 0
    assert torch.allclose(sa.get("G", "v"), sb.get("G", "v"), rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("printer", [TorchPrinter({"v": "v"}, {"v"}), TritonPrinter({"v": "v"})],
                         ids=["torch", "triton"])
def test_printers_print_infinities_as_python(printer: object) -> None:
    v = sympy.Symbol("v", real=True)
    for e, want in ((sympy.oo, math.inf), (-sympy.oo, -math.inf),
                    (sympy.Float("1e400"), math.inf), (sympy.Float("-1e400"), -math.inf)):
        code = printer.doprint(e)
        assert eval(code, {}) == want, code  # noqa: S307 - our own printed constant
    code = printer.doprint(clip(v, -sympy.oo, sympy.oo))
    assert "float('inf')" in code and "inf)" not in code.replace("float('inf')", "")
    assert py_float(math.nan) == "float('nan')" and py_float(0.25) == "0.25"
    with pytest.raises(ValueError, match="division by zero"):
        printer.doprint(sympy.zoo * v)


# ------------------------------------------------------------------ names in generated code
ODD_NAMES = ["b_c", "hist", "spk", "idx", "shape", "notref", "steps", "ones", "ell", "dense",
             "base", "raster", "slot", "v_f", "a_b", "b", "rec0"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_names_that_join_alike_stay_apart(backend: str) -> None:
    """Group 'A' with variable 'b_c' and group 'A_b' with 'c', variables named like the
    generated code's own names (spike history, flat views, ...) and monitors 'S' of
    'a_b' and 'S_a' of 'b' each keep their own value (they shared one before)."""
    eqs = "\n".join(f"d{x}/dt = -{x}/10 : 1" for x in ODD_NAMES)  # unitless: times in ms
    model = sc.NeuronModel(eqs + "\ndv/dt = 1/5 : 1", threshold="v > 0.05",
                           reset="v = 0")
    net = sc.Network(seed=0)
    with net:
        a = sc.NeuronGroup(2, model, init=dict.fromkeys(ODD_NAMES, 1.0), name="A")
        b = sc.NeuronGroup(2, sc.NeuronModel("dc/dt = 1/10 : 1"), init={"c": 5.0},
                           name="A_b")
        sc.Connection(a, b, on_pre="c += 0", delay=0.3 * ms, name="A_b_c")
        sc.StateMonitor(a, [x for x in ODD_NAMES if x != "b"], name="S")
        sc.StateMonitor(a, ["b"], name="S_a")
        sc.StateMonitor(b, ["c"], name="S_b")
        spikes = sc.SpikeMonitor(a, name="A_spk")
    sim = net.compile(backend=backend)
    sim.run(1 * ms)
    for x in ODD_NAMES:
        torch.testing.assert_close(sim.get("A", x), torch.full((1, 2), math.exp(-0.1)),
                                   rtol=1e-6, atol=0.0, check_dtype=False, msg=x)
    torch.testing.assert_close(sim.get("A_b", "c"), torch.full((1, 2), 5.1), rtol=1e-6,
                               atol=0.0, check_dtype=False)
    assert spikes.num_spikes == 2 * 3  # v: 0.02 per step, over 0.05 at steps 2, 5, 8


@pytest.mark.parametrize("backend", BACKENDS)
def test_names_python_reads_as_one_are_refused(backend: str) -> None:
    model = sc.NeuronModel("dv/dt = -v/10 : 1")
    net = sc.Network()
    with net:
        sc.NeuronGroup(2, model, name="\ufb01")  # the ligature fi: NFKC makes it "fi"
        sc.NeuronGroup(2, model, name="fi")
    with pytest.raises(NetworkError, match="Python reads as one name"):
        net.compile(backend=backend)
