"""The passes (snncc.passes): ``specialize`` (constant folding), ``prune`` (dead-state
elimination), ``cse`` (common subexpressions) and the pipeline bookkeeping.

CSE is checked by executing the statement lists before and after it with numpy
(``sympy.lambdify``) on fresh random inputs: the values of every target must agree."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

import snncc as sc
from snncc.errors import NetworkError
from snncc.ir import program as ir
from snncc.ir.functions import rand, randn
from snncc.ir.statements import Statement
from snncc.passes import cse, integrate, prune, run_passes, specialize
from snncc.passes.simplify import cse_statements, live_variables
from snncc.units import ms, mV


def S(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


def _free(e: sympy.Expr | None) -> set[str]:
    return set() if e is None else {s.name for s in e.free_symbols}


# ---------------------------------------------------------------------------------------
# specialize
# ---------------------------------------------------------------------------------------

NEURON = sc.NeuronModel(
    """
    dv/dt = (El - v + I + b)/tau : volt (unless refractory)
    I : volt            # given as an array: one value per neuron
    El : volt           # one value, never written: folded
    b : volt            # one value but written by the reset: kept
    Vt : volt           # one value, monitored: kept
    tau : second (shared)
    """,
    threshold="v > Vt", reset="v = Vr; b += 0.5*mV", refractory=2 * ms,
    params={"El": -65 * mV, "Vt": -50 * mV, "Vr": -70 * mV, "tau": 10 * ms, "b": 0 * mV})


def _specialized(N: int = 4):
    net = sc.Network(dt=0.1 * ms, seed=3)
    with net:
        G = sc.NeuronGroup(N, NEURON, params={"I": np.linspace(10, 20, N) * mV})
        H = sc.NeuronGroup(N, NEURON, params={"I": 15 * mV})
        sc.Connection(G, H, on_pre="v += w*(Vt_post - El_post)", params={"w": 0.1},
                      connect="one_to_one", name="S1")
        sc.Connection(G, H, on_pre="b += wa", weight="rand()", params={"wa": 0.1 * mV},
                      connect="one_to_one", name="S2")
        sc.StateMonitor(G, "Vt", record=[0])
    return net, net.lower(), specialize(net.lower())


def test_specialize_folds_constants_and_keeps_arrays() -> None:
    _, before, after = _specialized()
    G = after.populations["G"]
    # shared constants, never-written scalar params, dt: numbers now
    assert {"El", "tau", "Vr"} <= set(G.constants)
    assert G.constants["El"] == pytest.approx(-65e-3)
    assert G.constants["tau"] == pytest.approx(10e-3)
    assert "El" not in G.variables
    # arrays stay variables; written (b) and monitored (Vt) scalars stay variables
    assert G.variables["I"].kind == "param" and np.ndim(G.variables["I"].init) == 1
    assert "b" in G.variables and "b" not in G.constants
    assert "Vt" in G.variables and "Vt" not in G.constants
    rhs = G.odes[0].rhs
    assert _free(rhs) == {"v", "I", "b"}, rhs
    assert "dt" not in _free(rhs) and "tau" not in _free(rhs) and "El" not in _free(rhs)
    # the folded value is the one given: compare with the unspecialized rhs
    orig = before.populations["G"].odes[0].rhs
    vals = {S("v"): -0.06, S("I"): 0.012, S("b"): 0.001}
    want = orig.subs({**vals, S("El"): -65e-3, S("tau"): 10e-3})
    assert float(rhs.subs(vals)) == pytest.approx(float(want))
    assert _free(G.threshold) == {"v", "Vt"}
    assert [s.target for s in G.reset] == ["v", "b"]
    assert _free(G.reset[0].expr) == set(), "Vr is folded in the reset"
    # H: I is one value, never written -> folded too; Vt not monitored in H -> folded
    Hp = after.populations["H"]
    assert "I" in Hp.constants and "I" not in Hp.variables
    assert "Vt" in Hp.constants
    assert after.passes == ["specialize"]


def test_specialize_folds_synaptic_constants() -> None:
    _, _, after = _specialized()
    pr = after.projections["S1"]
    # w is a constant; Vt_post and El_post are folded constants of H
    assert "w" in pr.constants and "w" not in pr.variables
    (st,) = pr.on_pre
    assert st.target == "v_post" and st.op == "+="
    assert _free(st.expr) == set() and float(st.expr) == pytest.approx(0.1 * 15e-3)
    s2 = after.projections["S2"]
    # w is one value per synapse (from a string with rand()): a variable; wa is folded
    assert "w" in s2.variables and np.ndim(s2.variables["w"].init) == 1
    assert _free(s2.on_pre[0].expr) == set()
    assert float(s2.on_pre[0].expr) == pytest.approx(0.1e-3)


def test_specialize_is_pure() -> None:
    _, before, _ = _specialized()
    snapshot = {k: (dict(p.constants), set(p.variables), [o.rhs for o in p.odes])
                for k, p in before.populations.items()}
    specialize(before)
    for k, p in before.populations.items():
        assert (dict(p.constants), set(p.variables), [o.rhs for o in p.odes]) == snapshot[k]
    assert before.passes == []


def test_specialized_network_runs_the_same_as_given(fresh_seed: int) -> None:
    """Folding does not change behaviour: folded params give the same spikes as the
    same values given as (unfoldable) arrays."""
    rng = np.random.default_rng(fresh_seed)
    N = 20
    drive = rng.uniform(14, 30, N) * mV

    def run(El):  # noqa: ANN001
        net = sc.Network(dt=0.1 * ms, seed=fresh_seed)
        with net:
            G = sc.NeuronGroup(N, NEURON, params={"I": drive, "El": El})
            mon = sc.SpikeMonitor(G)
        net.compile(dtype=torch.float64).run(30 * ms)
        return mon.i.copy(), np.asarray(mon.t.value).copy()

    a = run(-65 * mV)
    b = run(np.full(N, -65.0) * mV)
    assert a[0].size > 0
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])


# ---------------------------------------------------------------------------------------
# prune
# ---------------------------------------------------------------------------------------

DEAD = sc.NeuronModel(
    """
    dv/dt = (ge - v + I)/tau : 1
    dge/dt = -ge/tau : 1
    dy/dt = (v - y)/tau : 1       # reads v but nothing reads y: dead
    dz/dt = (y - z)/tau : 1       # only read by nothing: dead (chain)
    dq/dt = -q/tau : 1            # read by the threshold: live
    I : 1
    """,
    threshold="v > 1 + q", reset="v = 0; q += 0.1",
    params={"tau": 10.0, "I": 1.5})


def test_prune_removes_dead_state() -> None:
    net = sc.Network(seed=0)
    with net:
        G = sc.NeuronGroup(3, DEAD)
    pruned = prune(specialize(net.lower()))
    p = pruned.populations["G"]
    assert set(p.removed) == {"y", "z"}
    assert {o.name for o in p.odes} == {"v", "ge", "q"}
    assert "y" not in p.variables and "z" not in p.variables
    assert pruned.passes == ["specialize", "prune"]
    assert live_variables(p, pruned) >= {"v", "ge", "q"}
    sim = net.compile()
    with pytest.raises(NetworkError, match="removed as dead state") as exc:
        sim.get("G", "y")
    assert "StateMonitor" in str(exc.value), "the message says how to keep it"
    assert "removed" in sim.describe() and "y" in sim.describe()
    assert sim.get("G", "v").shape == (1, 3)
    _ = G


def test_prune_keeps_monitored_and_synaptically_used_state() -> None:
    net = sc.Network(seed=0)
    with net:
        G = sc.NeuronGroup(3, DEAD)
        H = sc.NeuronGroup(3, DEAD)
        sc.StateMonitor(G, "y", record=[1])
        sc.Connection(H, G, on_pre="v += 0.1*z_pre", connect="one_to_one")
    sim = net.compile()
    pg, ph = sim.program.populations["G"], sim.program.populations["H"]
    assert "y" not in pg.removed and "z" in pg.removed
    assert "z" not in ph.removed, "read by synaptic code of H"
    assert "y" not in ph.removed, "z of H depends on y"
    sim.run(1.0)
    assert sim.get("G", "y").shape == (1, 3)


def test_prune_keeps_state_written_by_synapses() -> None:
    model = sc.NeuronModel("dv/dt = -v/tau : 1\ndx/dt = -x/tau : 1", threshold="v > 1",
                           params={"tau": 5.0})
    net = sc.Network(seed=0)
    with net:
        A = sc.NeuronGroup(2, model)
        sc.Connection(A, A, on_pre="x += 1")
    p = prune(specialize(net.lower())).populations["A"]
    assert "x" not in p.removed


# ---------------------------------------------------------------------------------------
# cse
# ---------------------------------------------------------------------------------------

def _np_exprel(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 1.0, np.expm1(safe) / safe)


MODULES = [{"exprel": _np_exprel, "clip": np.clip}, "numpy"]


def execute(statements: list[Statement], env: dict[str, np.ndarray], n: int
            ) -> dict[str, np.ndarray]:
    """Run ``statements`` in order with numpy; random draws must have been replaced."""
    env = dict(env)
    for st in statements:
        e = st.as_assignment().expr
        syms = sorted(e.free_symbols, key=lambda s: s.name)
        fn = sympy.lambdify(syms, e, modules=MODULES)
        with np.errstate(all="ignore"):
            env[st.target] = np.broadcast_to(
                np.asarray(fn(*[env[s.name] for s in syms]), dtype=np.float64), (n,)).copy()
    return env


def _fix_draws(statements: list[Statement], rng: np.random.Generator, n: int,
               env: dict[str, np.ndarray]) -> list[Statement]:
    """Replace every rand()/randn() by a symbol with a fixed random value."""
    draws: dict[sympy.Expr, sympy.Symbol] = {}
    for st in statements:
        for a in sorted(st.expr.atoms(rand, randn), key=str):
            if a not in draws:
                draws[a] = S(f"draw{len(draws)}")
                env[draws[a].name] = (rng.random(n) if a.func is rand
                                      else rng.standard_normal(n))
    return [Statement(s.target, s.op, s.expr.xreplace(draws), s.comment) for s in statements]


def _assert_same(before: list[Statement], after: list[Statement], env: dict, n: int) -> None:
    a, b = execute(before, env, n), execute(after, env, n)
    for st in before:
        np.testing.assert_allclose(b[st.target], a[st.target], rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=f"target {st.target}")


CSE_CASES = [(name, method) for name in ("hh", "coba", "adex", "cuba", "izhikevich")
             for method in (None, "rk4", "heun", "rk2")]


@pytest.mark.parametrize("name, method", CSE_CASES)
def test_cse_of_integrated_updates(name: str, method: str | None, fresh_seed: int) -> None:
    """CSE on the real update statements of library models, every integrator."""
    if name not in sc.library.names():
        pytest.skip(f"library model {name} is gone")
    net = sc.Network(seed=0)
    with net:
        sc.NeuronGroup(4, sc.library.get(name), method=method, name="G")
    try:
        prog = integrate(prune(specialize(net.lower())), method=method)
    except sc.IntegrationError:
        pytest.skip(f"{method} cannot integrate {name}")
    update = prog.populations["G"].update
    out = cse(prog)
    assert out.passes[-1] == "cse"
    reduced = out.populations["G"].update
    assert {s.target for s in update} <= {s.target for s in reduced}
    rng = np.random.default_rng(fresh_seed)
    n = 64
    env: dict[str, np.ndarray] = {}
    update = _fix_draws(update, rng, n, env)
    reduced = _fix_draws(reduced, rng, n, {})  # same draws: ids are shared
    names = set().union(*(_free(s.expr) for s in update)) - set(env)
    for k in names:
        env[k] = (rng.uniform(-80e-3, -40e-3, n) if k == "v" else rng.uniform(0.05, 1.0, n)
                  * (1e-9 if name in ("adex", "hh") and k in ("w", "ge", "gi") else 1.0))
    _assert_same(update, reduced, env, n)


def _random_expr(rng: np.random.Generator, atoms: list[sympy.Expr], depth: int) -> sympy.Expr:
    if depth == 0 or rng.random() < 0.25:
        return atoms[rng.integers(len(atoms))]
    a = _random_expr(rng, atoms, depth - 1)
    b = _random_expr(rng, atoms, depth - 1)
    k = rng.integers(6)
    if k == 0:
        return a + b
    if k == 1:
        return a * b
    if k == 2:
        return a - b
    if k == 3:
        return sympy.exp(a / 8)
    if k == 4:
        return a / (1 + b * b)
    return sympy.tanh(a) * b


def test_cse_random_statement_lists(fresh_seed: int) -> None:
    """Random statement lists, including targets read before and after they are
    assigned (``v = ...`` then a later statement reading ``v``) and augmented ops, so
    a temporary may never be computed from a value that changes before its use."""
    rng = np.random.default_rng(fresh_seed)
    n = 32
    names = ["v", "w", "x", "_t0", "_t1"]
    for trial in range(25):
        base = [S(k) for k in ("v", "w", "x", "a", "b")]
        repeated = [_random_expr(rng, base, 2) for _ in range(3)]  # shared pieces
        atoms = base + repeated
        sts = []
        for _ in range(rng.integers(3, 8)):
            tgt = names[rng.integers(len(names))]
            op = ["=", "+=", "-=", "*=", "="][rng.integers(5)]
            if tgt.startswith("_"):
                op = "="
            sts.append(Statement(tgt, op, _random_expr(rng, atoms, 3)))
        env = {k: rng.uniform(-1, 1, n) for k in ("v", "w", "x", "a", "b", "_t0", "_t1")}
        reduced = cse_statements(sts)
        try:
            _assert_same(sts, reduced, env, n)
        except AssertionError as exc:
            listing = "\n".join(map(str, sts)) + "\n--- after cse:\n" + "\n".join(
                map(str, reduced))
            raise AssertionError(f"trial {trial}:\n{listing}\n{exc}") from None


def test_cse_reassigned_name_is_not_merged() -> None:
    v, z = S("v"), S("z")
    sts = [Statement("w", "+=", sympy.exp(v * z)), Statement("v", "=", sympy.Integer(0)),
           Statement("u", "=", 2 * sympy.exp(v * z))]
    env = {"v": np.array([0.5, 1.0]), "z": np.array([2.0, 3.0]), "w": np.zeros(2),
           "u": np.zeros(2)}
    out = execute(cse_statements(sts), env, 2)
    np.testing.assert_allclose(out["u"], [2.0, 2.0])
    np.testing.assert_allclose(out["w"], np.exp([1.0, 3.0]))


def test_cse_hoists_repeated_subexpressions() -> None:
    x, y = S("x"), S("y")
    e = sympy.exp(x * y + 1)
    sts = [Statement("a", "=", e + x), Statement("b", "=", e * y)]
    out = cse_statements(sts)
    assert len(out) == 3 and out[0].target.startswith("_cse")
    assert out[0].expr == e
    assert cse_statements([]) == []


def test_cse_keeps_random_draws_distinct() -> None:
    x = S("x")
    r1, r2 = rand.new(), rand.new()
    sts = [Statement("a", "=", x + r1), Statement("b", "=", x + r2)]
    out = cse_statements(sts)
    draws = set().union(*(s.expr.atoms(rand) for s in out))
    assert draws == {r1, r2}


# ---------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------

def test_pipeline_records_pass_names() -> None:
    net = sc.Network(seed=0)
    with net:
        G = sc.NeuronGroup(3, "cuba")
        sc.SpikeMonitor(G)
    prog = net.lower()
    assert prog.passes == []
    out = run_passes(prog)
    assert out.passes == ["specialize", "prune", "integrate", "cse", "refractory", "plan"]
    assert prog.passes == [], "passes are pure: the input program is unchanged"
    assert "specialize -> prune -> integrate -> cse" in out.describe()
    sim = net.compile()
    assert sim.program.passes == out.passes
    assert "specialize -> prune -> integrate -> cse" in sim.source()
    assert isinstance(out, ir.Program)


def test_pipeline_forced_method_is_reported() -> None:
    net = sc.Network(seed=0)
    with net:
        sc.NeuronGroup(3, "cuba", name="G")
    out = run_passes(net.lower(), method="rk4")
    assert out.populations["G"].method_used == "rk4"
    auto = run_passes(net.lower())
    assert auto.populations["G"].method_used == "exact"
    assert "integrator: exact" in auto.describe()
