"""Fuzzing the frontend: mutated model text never escapes as anything but a SnnccError and
never hangs.

A seeded generator mutates the library models (equations, threshold, reset), README
examples, synaptic ``on_pre`` code and connection conditions: characters and tokens are
inserted, deleted and replaced (operators, brackets, digits, units, function names, flags,
huge literals such as ``1e400`` and ``10**10**10``, unicode, newlines, backslashes, ``#``),
text is nested deeply or repeated, and whole lines are swapped between models. Each case
builds a 3-neuron network and runs the lowering and every pass; every fifth case also
compiles it on the torch backend and runs 5 steps. A case may succeed or raise a
:class:`~snncc.SnnccError`; anything else, or running into the per-case alarm (a guard
against hangs, not a speed check), fails the test with the input shown.

``SNNCC_FUZZ_CASES`` sets the number of cases (default 2,000; e.g. 10000 for a longer run)
and ``SNNCC_FUZZ_SEED`` the seed.
"""

from __future__ import annotations

import os
import random
import re
import signal
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import snncc as sc
from snncc import library
from snncc.passes import run_passes
from snncc.units import ms, mV

CASES = int(os.environ.get("SNNCC_FUZZ_CASES", "2000"))
SEED = int(os.environ.get("SNNCC_FUZZ_SEED", "12"))
RUN_EVERY = 5  # every RUN_EVERY-th case is also compiled and run for 5 steps
ALARM_S = 10  # a hang guard, far above what any case needs

README_MODELS = [
    dict(equations="dv/dt = (El - v + I)/tau : volt (unless refractory)\nI : volt",
         threshold="v > Vt", reset="v = Vr", refractory=2 * ms,
         params={"El": -65 * mV, "tau": 10 * ms, "Vt": -50 * mV, "Vr": -65 * mV}),
    dict(equations="dv/dt = -v/tau : 1", threshold="v > 1", reset="v = 0",
         params={"tau": 20.0}),
    dict(equations="dv/dt = (x - v)/tau : 1\nx : 1", threshold="v > 1", reset="v = 0",
         params={"tau": 2.0}),
    dict(equations="dv/dt = (-v + I)/tau : volt\nI = (E - v)/2 : volt (constant over dt)",
         threshold="v > 1*mV", reset="v = 0*mV", params={"E": 10 * mV, "tau": 1 * ms}),
    dict(equations="dv/dt = -v/(10*ms) + sigma*xi*(10*ms)**-0.5 : volt",
         threshold="v > 5*mV", reset="v = 0*mV", params={"sigma": 2 * mV}),
]
ON_PRE = ["v += 1*mV", "v += w", "v_post += 0.5*mV\nw = clip(w + 1*mV, 0*mV, 2*mV)",
          "v = v*0.5"]
CONDITIONS = ["i != j", "i != j and j > 0", "abs(i - j) < 2", "rand() < 0.5",
              "(i + j) % 2 == 0", "j >= N_post - 2 or i == 0"]

TOKENS = ["+", "-", "*", "/", "**", "%", "//", "(", ")", ",", ":", "=", "==", "<", ">=",
          "!=", " and ", " or ", "not ", "0", "1", "2.5", "-1", "1e400", "1e-400",
          "10**10**10", "2**-10**10", "9" * 400, "1/0", "0/0", "log(0)", "sqrt(-1)", "0**-1",
          "i % 0", "mV", "ms", "volt", "second", "Hz", "nS", "metre**2", "exp", "log", "sqrt",
          "tanh", "clip", "where", "int(", "abs(", "rand()", "randn()", "minimum(", "exprel",
          "xi", "xi_a", "t", "dt", "i", "j", "N", "v", "I", "w", "lastspike",
          "not_refractory", "_x", "ｖ", "α", "µs", "é", "\n", "\\", "#", "'", '"', "[", "]",
          "{", "}", ".", ";", "@", "$", "^", "d", "/dt", "dv/dt =", "x : 1", "+=", "*=",
          "(constant over dt)", "(unless refractory)", "(shared)", "(constant)",
          "(event-driven)", "(clock-driven)", " : volt", " : 1", " : second", "inf", "nan",
          "True", "None", "lambda x: x", "__import__('os')", "v.real", "[v]", "v if v else 1",
          "\t", "\r", "\x00", "\u2028"]


# token-level mutations keep the text readable, so cases reach the passes and backends
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+\.?\d*(?:[eE][-+]?\d+)?|\*\*|//|[-+*/%<>=!]=?|[(),:]")
NAMES = ["v", "I", "w", "t", "dt", "i", "N", "xi", "lastspike", "not_refractory", "tau",
         "El", "Vt", "Vr", "ge", "gi", "u", "m", "h", "n", "mV", "ms", "second", "Hz", "volt",
         "amp", "nS", "pF", "pi", "True", "rand()", "randn()", "unknown"]
FUNCS = ["exp", "log", "sqrt", "abs", "tanh", "sin", "floor", "sign", "int", "exprel",
         "log1p", "arcsin"]
NUMBERS = ["0", "1", "-1", "0.5", "2", "1e-9", "1e9", "1e300", "1e400", "1e-400",
           "10**10**10", "(0)", "3.0", "-0.0", "100"]
OPERATORS = ["+", "-", "*", "/", "**", "%", "//", "<", ">", "<=", ">=", "==", "!=", " and ",
             " or "]


def _token_mutation(text: str, rng: random.Random) -> str:
    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        return text
    m = rng.choice(tokens)
    tok, a, b = m.group(), m.start(), m.end()
    if tok[0].isalpha() or tok[0] == "_":
        new = rng.choice([rng.choice(NAMES), f"{rng.choice(FUNCS)}({tok})",
                          f"({tok} {rng.choice(OPERATORS)} {rng.choice(NAMES + NUMBERS)})",
                          f"where({tok} > 0, {tok}, {rng.choice(NUMBERS)})",
                          f"clip({tok}, {rng.choice(NUMBERS)}, {rng.choice(NUMBERS)})"])
    elif tok[0].isdigit():
        new = rng.choice(NUMBERS)
    elif tok in "(),:":
        new = rng.choice(["", tok * 2, "(", ")"])
    else:
        new = rng.choice(OPERATORS)
    return text[:a] + new + text[b:]


def _nest(text: str, rng: random.Random) -> str:
    depth = rng.choice([20, 60, 120, 250, 600])
    fn = rng.choice(["(", "tanh(", "exp(", "-(", "1+("])
    k = rng.randrange(len(text) + 1)
    return text[:k] + fn * depth + "v" + ")" * depth + text[k:]


def _mutate(text: str, rng: random.Random, others: list[str]) -> str:
    """One random mutation of ``text``."""
    n = len(text)
    k = rng.randrange(n + 1)
    if rng.random() < 0.7:
        return _token_mutation(text, rng)
    op = rng.randrange(10)
    if op == 0:  # insert a character
        ch = rng.choice("()+-*/=:,<>!#\\\n .0123456789abcvxyzé∂ｖ\t'\"")
        return text[:k] + ch + text[k:]
    if op == 1 and n:  # delete a span
        return text[:k] + text[k + rng.randint(1, 4):]
    if op == 2:  # replace a span with a token
        return text[:k] + rng.choice(TOKENS) + text[k + rng.randint(0, 3):]
    if op == 3:  # insert a token
        return text[:k] + rng.choice(TOKENS) + text[k:]
    if op == 4:  # swap a line for one of another model
        lines = text.splitlines() or [""]
        other = rng.choice(others).splitlines() or [""]
        lines[rng.randrange(len(lines))] = rng.choice(other)
        return "\n".join(lines)
    if op == 5:  # deep nesting
        return _nest(text, rng)
    if op == 6:  # long text: a line repeated
        lines = text.splitlines() or [text]
        line = rng.choice(lines)
        return "\n".join([*lines, *[line] * rng.choice([50, 500, 2000])])
    if op == 7:  # a number becomes huge or tiny
        digits = [m for m in range(n) if text[m].isdigit()]
        if digits:
            m = rng.choice(digits)
            return text[:m] + rng.choice(["1e400", "10**10**10", "1e-400", "1e308*1e308",
                                          "0"]) + text[m + 1:]
        return text + "*1e400"
    if op == 8 and n:  # duplicate a span
        span = text[k:k + rng.randint(1, 12)]
        return text[:k] + span * rng.randint(2, 5) + text[k:]
    return text[:k] + rng.choice(TOKENS) + rng.choice(TOKENS) + text[k:]


@dataclass
class Case:
    """One fuzz input: the model's fields, and optionally a self-connection."""

    equations: str
    threshold: str | None
    reset: str | None
    refractory: object
    params: dict
    on_pre: str | None = None
    condition: str | None = None
    mutated: str = ""

    def __str__(self) -> str:
        fields = {k: getattr(self, k) for k in ("equations", "threshold", "reset",
                                                 "refractory", "on_pre", "condition")}
        shown = {k: (v if not isinstance(v, str) or len(v) < 300 else v[:300] + "...")
                 for k, v in fields.items()}
        return f"mutated {self.mutated}: {shown!r}"


def _bases() -> list[dict]:
    out = []
    for name in library.names():
        m = library.get(name)
        out.append(dict(equations=m.equations.text, threshold=m.threshold, reset=m.reset,
                        refractory=m.refractory, params=dict(m.params)))
    return out + README_MODELS


def make_case(rng: random.Random, bases: list[dict]) -> Case:
    base = rng.choice(bases)
    case = Case(**{k: base.get(k) for k in ("equations", "threshold", "reset", "refractory",
                                            "params")})
    texts = [b["equations"] for b in bases] + [b["reset"] or "" for b in bases]
    field = rng.choice(["equations"] * 5 + ["threshold", "reset", "refractory", "on_pre",
                                           "condition"])
    if field in ("on_pre", "condition"):
        case.on_pre = rng.choice(ON_PRE)
        case.condition = rng.choice(CONDITIONS)
    if field == "refractory":
        case.refractory = rng.choice(["v > 0*mV", "(t - lastspike) < 2*ms", "v > 0"])
    text = getattr(case, field) or ""
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        text = _mutate(text, rng, texts)
    setattr(case, field, text)
    case.mutated = field
    return case


def build(case: Case) -> sc.Network:
    model = sc.NeuronModel(case.equations, threshold=case.threshold, reset=case.reset,
                           refractory=case.refractory, params=case.params, name="fuzz")
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        G = sc.NeuronGroup(3, model)
        if case.on_pre is not None:
            syn = sc.SynapseModel("w : volt", on_pre=case.on_pre, name="fuzz_syn")
            sc.Connection(G, G, syn, condition=case.condition, init={"w": 0.5 * mV})
    return net


class _Hang(BaseException):
    """Raised by the alarm: a case ran past the hang guard."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Hang("no result within the hang guard")


def run_case(case: Case, compile_and_run: bool) -> None:
    net = build(case)
    if compile_and_run:
        sim = net.compile(backend="torch")
        sim.run(0.5 * ms)  # 5 steps (NaN/inf are the run-time check's business)
    else:
        run_passes(net.lower())


def fuzz(cases: int, seed: int, check: Callable[[Case, bool], None] = run_case,
         alarm_s: int = ALARM_S) -> list[str]:
    """Run ``cases`` cases; the failures (escapes and hangs), each with its input."""
    rng = random.Random(seed)
    bases = _bases()
    failures: list[str] = []
    old = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for k in range(cases):
            case = make_case(rng, bases)
            signal.alarm(alarm_s)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    check(case, k % RUN_EVERY == 0)
            except sc.SnnccError:
                pass
            except (Exception, _Hang) as exc:  # noqa: BLE001 - what the test looks for
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                failures.append(f"case {k}: {type(exc).__name__}: {str(exc)[:200]} "
                                f"(at {tb.filename}:{tb.lineno})\n    {case}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    return failures


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs signal.alarm (POSIX)")
def test_fuzz_no_escapes_no_hangs() -> None:
    failures = fuzz(CASES, SEED)
    assert not failures, (f"{len(failures)} of {CASES} fuzz cases escaped or hung:\n"
                          + "\n".join(failures[:20]))


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs signal.alarm (POSIX)")
def test_fuzz_reports_escapes_and_hangs() -> None:
    """The harness itself: an escape and a hang are both reported, with the input."""
    import time

    def bad(case: Case, run: bool) -> None:
        if run:
            raise KeyError("boom")
        time.sleep(30)

    out = fuzz(2, SEED, check=bad, alarm_s=1)
    assert len(out) == 2
    assert "KeyError" in out[0] and "mutated" in out[0]
    assert "_Hang" in out[1]
