"""Networks in YAML/JSON: load, save (round trip to an identical simulation), values with
units, per-neuron distributions, sweeps, errors naming the config path, plug-in kinds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.io.config import (
    RunSettings,
    expand_sweeps,
    format_quantity,
    load_config,
    load_run,
    network_to_config,
    parse_quantity,
    read_config,
    register_kind,
    run_settings,
    save_config,
)
from snncc.units import Hz, Quantity, ms, mV, nA, nS, pF, second

STDP = sc.SynapseModel(
    """
    w : 1
    dapre/dt = -apre/taupre : 1 (event-driven)
    dapost/dt = -apost/taupost : 1 (event-driven)
    """,
    on_pre="v += w*mV\napre += Apre\nw = clip(w + apost, 0, wmax)",
    on_post="apost += Apost\nw = clip(w + apre, 0, wmax)",
    params={"taupre": 20 * ms, "taupost": 20 * ms, "Apre": 0.05, "Apost": -0.06,
            "wmax": 4.0},
    name="stdp", doc="pair-based STDP, additive")

LIF = sc.NeuronModel(
    """
    dv/dt = (El - v + I)/tau : volt (unless refractory)
    I : volt
    tau : second
    """,
    threshold="v > Vt", reset="v = Vr", refractory=2 * ms,
    params={"El": -65 * mV, "Vt": -50 * mV, "Vr": -65 * mV}, name="lif_het")


def build_network(seed: int = 7) -> tuple[sc.Network, dict[str, Any]]:
    """Heterogeneous parameters, delays, Poisson input, an STDP synapse with event-driven
    traces, explicit and conditional connectivity, spike generator, all monitors."""
    rng = np.random.default_rng(0)
    net = sc.Network(dt=0.1 * ms, seed=seed, name="roundtrip")
    with net:
        inp = sc.PoissonGroup(40, rates=np.linspace(10, 40, 40) * Hz, name="inp")
        drive = sc.PoissonGroup(5, rates="20*Hz*(1 + sin(2*pi*5*Hz*t))", name="drive")
        gen = sc.SpikeGeneratorGroup(3, [0, 1, 2, 0], [1.0, 2.5, 3.0, 7.3] * ms, name="gen")
        E = sc.NeuronGroup(
            80, LIF, name="E",
            params={"I": np.linspace(10, 20, 80) * mV,             # per neuron
                    "tau": rng.uniform(8, 12, 80) * ms},
            init={"v": "El + rand()*(Vt - El)"})
        plastic = sc.Connection(inp, E, STDP, p=0.3, weight="rand()*2",
                                delay="1*ms + rand()*2*ms", name="plastic")
        sc.Connection(gen, E, i=[0, 1, 2], j=[0, 5, 10], on_pre="v += 8*mV",
                      delay=np.array([1.0, 2.0, 3.0]) * ms, name="explicit")
        sc.Connection(drive, E, fan_in=2, on_pre="v += 2*mV", name="fan")
        sc.Connection(E[:40], E[40:], condition="abs(i - j) < 3", p=0.5,
                      on_pre="v += 0.5*mV", delay=1.5 * ms, name="lateral")
        sc.Connection(E[40:], E[:40], connect="one_to_one", on_pre="v -= w",
                      weight=np.full(40, 0.25) * mV, name="inhib")
        spikes = sc.SpikeMonitor(E, name="spikes")
        in_spikes = sc.SpikeMonitor(inp[10:30], name="in_spikes")
        vm = sc.StateMonitor(E, ["v"], record=[0, 3, 79], name="vm")
        rate = sc.PopulationRateMonitor(E[:40], name="rate")
    return net, {"spikes": spikes, "in_spikes": in_spikes, "vm": vm, "rate": rate,
                 "plastic": plastic}


def simulate(net: sc.Network) -> dict[str, Any]:
    sim = net.compile(backend="torch", device="cpu")
    sim.run(60 * ms)
    mons = {o.name: o for o in net.objects}
    return {"state": {k: v.clone() for k, v in sim.state_dict().items()},
            "i": mons["spikes"].i, "t": np.asarray(mons["spikes"].t.value),
            "in_i": mons["in_spikes"].i, "v": np.asarray(mons["vm"].v.value),
            "rate": np.asarray(mons["rate"].rate.value),
            "w": sim.get("plastic", "w").numpy().copy(),
            "apre": sim.get("plastic", "apre").numpy().copy()}


@pytest.mark.parametrize("suffix,inline_max", [(".yaml", 64), (".json", 16), (".yml", 10_000)])
def test_save_load_simulates_identically(tmp_path: Path, suffix: str, inline_max: int
                                         ) -> None:
    net, h = build_network()
    first = simulate(net)
    assert first["i"].size > 20 and first["in_i"].size > 0  # the network is active
    assert not np.allclose(first["w"], first["w"].mean())   # STDP changed the weights

    path = save_config(net, tmp_path / f"net{suffix}", inline_max=inline_max)
    sidecar = tmp_path / "net.npz"
    assert sidecar.exists() == (inline_max < 80)            # big arrays in the sidecar
    net2 = load_config(path)
    second = simulate(net2)
    for k, v in first.items():
        if k != "state":
            assert np.array_equal(v, second[k]), k
    assert first["state"].keys() == second["state"].keys()  # every buffer, RNG included
    for k, v in first["state"].items():
        assert torch.equal(v, second["state"][k]), k
    # saving the loaded network gives the same text (nothing lost or changed)
    again = save_config(net2, tmp_path / f"again{suffix}", inline_max=inline_max)
    assert again.read_text().replace("again.npz", "net.npz") == path.read_text()


def test_a_config_with_distributions_saves_and_reloads_identically(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1] / "examples" / "configs"
    cfg = expand_sweeps(root / "cuba_sweep.yaml")[0]
    cfg["groups"]["P"]["size"] = 200
    cfg["connections"]["Ce"]["pre"], cfg["connections"]["Ci"]["pre"] = "P[:160]", "P[160:]"

    def run(net: sc.Network) -> tuple[np.ndarray, np.ndarray]:
        net.compile(backend="torch", device="cpu").run(20 * ms)
        return net.spikes.i, net.vm.v.value  # load_config makes objects attributes

    net = load_config(cfg)
    first = run(net)
    assert first[0].size > 0
    second = run(load_config(save_config(net, tmp_path / "s.json", inline_max=8)))
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_saved_yaml_reads_like_a_config(tmp_path: Path) -> None:
    net, _ = build_network()
    text = save_config(net, tmp_path / "n.yaml").read_text()
    assert "dt: 0.1*ms" in text and "seed: 7" in text
    assert "kind: poisson" in text and "rates: 20*Hz*(1 + sin(2*pi*5*Hz*t))" in text
    assert "model: stdp" in text and "dapre/dt = -apre/taupre : 1 (event-driven)" in text
    assert "condition: abs(i - j) < 3" in text and "pre: E[0:40]" in text
    assert "refractory: 2*ms" in text and "taupre: 20*ms" in text
    assert "unit: ms" in text  # per-neuron tau as {values: [...], unit: ms}
    cfg = read_config(tmp_path / "n.yaml")
    assert list(cfg["groups"]) == ["inp", "drive", "gen", "E"]
    assert cfg["models"]["lif_het"]["threshold"] == "v > Vt"
    assert cfg["monitors"]["vm"] == {"kind": "state", "source": "E", "variables": ["v"],
                                     "record": [0, 3, 79]}


def test_library_models_are_written_by_name(tmp_path: Path) -> None:
    net = sc.Network(seed=1)
    with net:
        sc.NeuronGroup(3, "cuba", name="A")
        sc.NeuronGroup(3, sc.library.get("lif", tau=20 * ms), name="B")
        sc.NeuronGroup(3, "lif", threshold="v > -40*mV", name="C")
    cfg = network_to_config(net)
    assert cfg["groups"]["A"]["model"] == "cuba"
    # changed library models are written in full under models: (shadowing the name)
    assert cfg["groups"]["B"]["model"] == "lif"
    assert cfg["models"]["lif"]["params"]["tau"] == "20*ms"
    assert cfg["groups"]["C"]["model"] == "lif_1"
    assert cfg["models"]["lif_1"]["name"] == "lif"
    assert cfg["models"]["lif_1"]["threshold"] == "v > -40*mV"
    net2 = load_config(cfg)
    g = {o.name: o for o in net2.objects}
    assert g["B"].model.params["tau"] == 20 * ms and g["C"].model.name == "lif"
    assert g["C"].model.threshold == "v > -40*mV" and g["A"].model.name == "cuba"


def test_units_parse_and_format_exactly() -> None:
    assert parse_quantity("20*mV") == 20 * mV
    assert parse_quantity("-9*mV") == -9 * mV
    assert parse_quantity("0.5") == 0.5
    assert np.array_equal(parse_quantity("[1, 2]*ms").value, (np.array([1, 2]) * ms).value)
    assert format_quantity(0.1 * ms) == "0.1*ms"
    assert format_quantity(15 * Hz) == "15*Hz"
    assert format_quantity(1 * second) == "1*second"
    assert format_quantity(250 * pF) == "250*pF"
    assert format_quantity(0.5 * nA) == "0.5*nA"
    rng = np.random.default_rng(1)
    for unit in (ms, mV, nA, nS, pF, Hz, mV / ms, nS * mV):
        for x in rng.normal(size=50) * 10.0 ** rng.integers(-3, 4, 50):
            q = x * unit
            assert parse_quantity(format_quantity(q)) == q


def _cfg(**groups: Any) -> dict[str, Any]:
    return {"network": {"seed": 3},
            "groups": groups or {"P": {"size": 10, "model": "lif"}}}


def test_distributions_are_per_neuron_deterministic_and_in_units() -> None:
    spec = {"size": 20_000, "model": "lif", "params": {
        "tau": {"dist": "uniform", "low": "5*ms", "high": "15*ms"},
        "El": {"dist": "normal", "mean": "-70*mV", "std": "2*mV"},
        "Vt": {"dist": "lognormal", "mean": "5*mV", "std": "1*mV"},
        "I": {"dist": "choice", "values": ["10*mV", "20*mV"], "p": [0.25, 0.75]}},
        "init": {"v": {"dist": "uniform", "low": -70, "high": -60}}}

    def params(cfg: dict[str, Any]) -> dict[str, Any]:
        return next(o for o in load_config(cfg).objects if o.name == "P").params

    p = params(_cfg(P=spec))
    tau = p["tau"]
    assert tau.dim == ms.dim and tau.shape == (20_000,)
    assert 5e-3 <= tau.value.min() and tau.value.max() <= 15e-3
    assert abs(tau.value.mean() - 10e-3) < 1e-4
    assert abs(p["El"].value.mean() + 70e-3) < 1e-4 and abs(p["El"].value.std() - 2e-3) < 1e-4
    assert p["Vt"].value.min() > 0 and abs(p["Vt"].value.mean() - 5e-3) < 5e-5
    assert abs(p["Vt"].value.std() - 1e-3) < 5e-5
    assert set(np.unique(p["I"].value)) == {10e-3, 20e-3}
    assert abs((p["I"].value == 20e-3).mean() - 0.75) < 0.02
    # same seed -> same draws, whatever else the config holds; another seed -> others
    again = params(_cfg(A={"size": 5, "model": "lif", "params": {
        "tau": {"dist": "uniform", "low": "5*ms", "high": "15*ms"}}}, P=spec))
    assert all(np.array_equal(np.asarray(getattr(p[k], "value", p[k])),
                              np.asarray(getattr(again[k], "value", again[k]))) for k in p)
    other = _cfg(P=spec)
    other["network"]["seed"] = 4
    assert not np.array_equal(params(other)["tau"].value, tau.value)


def test_distributions_of_synapses_become_expressions() -> None:
    cfg = _cfg(P={"size": 20, "model": "lif"})
    cfg["connections"] = {"C": {"pre": "P", "post": "P", "on_pre": "v += w",
                                "weight": {"dist": "uniform", "low": "0*mV", "high": "1*mV"},
                                "delay": {"dist": "normal", "mean": "2*ms", "std": "0.1*ms"}}}
    net = load_config(cfg)
    c = next(o for o in net.objects if o.name == "C")
    assert c.weight == "(0*mV) + rand()*((1*mV) - (0*mV))"
    assert c.delay == "(2*ms) + randn()*(0.1*ms)"
    sim = net.compile(backend="torch", device="cpu")
    w = sim.get("C", "w").numpy()
    assert w.min() >= 0 and w.max() <= 1e-3 and w.std() > 0


def test_sweeps_zip_and_grid() -> None:
    cfg = _cfg(P={"size": 10, "model": "lif", "params": {"tau": "10*ms"}})
    cfg["network"]["name"] = "lif"
    cfg["sweep"] = {"zip": {"groups.P.params.tau": ["10*ms", "20*ms", "30*ms"],
                            "groups.P.params.El": ["-70*mV", "-65*mV", "-60*mV"]},
                    "grid": {"network.seed": [1, 2], "run.duration": ["50*ms", "0.1*second"]}}
    runs = expand_sweeps(cfg)
    assert len(runs) == 3 * 2 * 2
    names = [r["run"]["name"] for r in runs]
    assert len(set(names)) == 12
    assert names[0] == "lif-tau=10ms-El=-70mV-seed=1-duration=50ms"
    assert runs[-1]["groups"]["P"]["params"] == {"tau": "30*ms", "El": "-60*mV"}
    assert runs[-1]["network"]["seed"] == 2
    assert runs[-1]["run"]["sweep"] == {"groups.P.params.tau": "30*ms",
                                        "groups.P.params.El": "-60*mV", "network.seed": 2,
                                        "run.duration": "0.1*second"}
    s = run_settings(runs[1])
    assert s.duration == pytest.approx(0.1) and s.sweep["network.seed"] == 1
    assert all("sweep" not in r for r in runs)
    nets = [load_config(r) for r in runs[:2]]
    assert [n.seed for n in nets] == [1, 1]
    assert expand_sweeps(_cfg()) == [_cfg()]  # no sweep: the config itself


@pytest.mark.parametrize("sweep,match", [
    ({"zip": {"network.seed": [1, 2], "network.dt": ["0.1*ms"]}},
     r"sweep.zip: the lists must have equal lengths, got network.seed: 2, network.dt: 1"),
    ({"grid": {"groups.Q.size": [1, 2]}}, r"sweep.grid: 'groups.Q.size': the config has no "
                                          r"'groups.Q'"),
    ({"grid": {"nothing.x": [1]}}, r"must start with one of network, models"),
    ({"grid": {"network.seed": []}}, r"sweep.grid.network.seed: expected a non-empty list"),
    ({"grids": {}}, r"sweep.grids: unknown key 'grids'; known keys: zip, grid"),
])
def test_bad_sweeps(sweep: dict[str, Any], match: str) -> None:
    cfg = _cfg()
    cfg["sweep"] = sweep
    with pytest.raises(sc.ConfigError, match=match):
        expand_sweeps(cfg)


def test_a_config_with_a_sweep_is_expanded_before_loading() -> None:
    cfg = _cfg()
    cfg["sweep"] = {"grid": {"network.seed": [1, 2]}}
    with pytest.raises(sc.ConfigError, match="expand_sweeps"):
        load_config(cfg)


@pytest.mark.parametrize("change,match", [
    (lambda c: c["groups"]["P"].update(sizee=3),
     r"groups.P.sizee: unknown key 'sizee'; known keys: kind, size, model, threshold"),
    (lambda c: c.update(netwrk={}), r"netwrk: unknown key 'netwrk'; known keys: version, "
                                    r"network, models, assemblies, groups"),
    (lambda c: c["groups"]["P"].update(params={"tau": "10*mVs"}),
     r"groups.P.params.tau: '10\*mVs' is not a quantity; write a number times a unit"),
    (lambda c: c["groups"]["P"].update(params={"tau": "10*mV + 1*ms"}),
     r"groups.P.params.tau: '10\*mV \+ 1\*ms': cannot add"),
    (lambda c: c["groups"]["P"].update(params={"tau": {"dist": "gauss"}}),
     r"groups.P.params.tau.dist: unknown distribution 'gauss'; known: uniform, normal"),
    (lambda c: c["groups"]["P"].update(params={"tau": {"dist": "uniform", "low": "1*ms"}}),
     r"groups.P.params.tau.high: missing"),
    (lambda c: c["groups"]["P"].update(params={"tau": {"dist": "uniform", "low": "1*ms",
                                                       "high": "1*mV"}}),
     r"groups.P.params.tau: low and high must have the same unit"),
    (lambda c: c["groups"]["P"].update(model="lifff"),
     r"groups.P.model: unknown model 'lifff'; define it under models: or use a library "
     r"model: adex"),
    (lambda c: c["groups"]["P"].update(kind="neuronz"),
     r"groups.P.kind: unknown group kind 'neuronz'; one of neurons, poisson, generator"),
    (lambda c: c["groups"]["P"].pop("size"), r"groups.P.size: missing"),
    (lambda c: c["groups"]["P"].update(size=-1), r"groups.P.size: must be >= 1"),
    (lambda c: c.update(connections={"C": {"pre": "P[0:3]", "post": "Q"}}),
     r"connections.C.post: no group named 'Q'; groups: P"),
    (lambda c: c.update(connections={"C": {"pre": "P[0:3", "post": "P"}}),
     r"connections.C.pre: expected a group name or a slice such as 'P\[0:3200\]'"),
    (lambda c: c.update(monitors={"m": {"source": "P"}}),
     r"monitors.m.kind: missing; one of spike, state, rate"),
    (lambda c: c.update(monitors={"P": {"kind": "spike", "source": "P"}}),
     r"monitors.P: the name 'P' is used twice"),
    (lambda c: c["network"].update(dt="0.1*mV"), r"network.dt: expected a time such as"),
    (lambda c: c.update(run={"duration": "1*second", "dtype": "float16"}),
     r"run.dtype: must be float32 or float64"),
    (lambda c: c.update(version=2), r"version: this snncc reads config version 1"),
    (lambda c: c.update(models={"m": {"equations": "dv/dt = -v/(10*ms) : volt",
                                      "threshol": "v > 1"}}),
     r"models.m.threshol: unknown key 'threshol'; known keys: kind, name, equations"),
    (lambda c: c.update(models={"m": {"kind": "synapse", "equations": "dx/dt = 1 : 1"}}),
     r"models.m: synapse model 'm': differential equation for 'x' .* needs a flag"),
    (lambda c: c.update(models={"m": {"kind": "neurone"}}),
     r"models.m.kind: must be neuron or synapse, got 'neurone'"),
    (lambda c: c.update(run={"durration": 1}), r"run.durration: unknown key 'durration'"),
    (lambda c: c.update(connections={"C": {"pre": "P", "post": "P", "model": "nope"}}),
     r"connections.C.model: unknown synapse model 'nope'; define it under models: with "
     r"kind: synapse"),
    (lambda c: c["groups"]["P"].update(init={"v": {"expr": 3}}),
     r"groups.P.init.v.expr: expected a string"),
])
def test_errors_name_the_config_path(change: Any, match: str) -> None:
    cfg = _cfg()
    change(cfg)
    with pytest.raises(sc.ConfigError, match=match):
        load_config(cfg)
        run_settings(cfg)


def test_unit_errors_at_compile_time_can_be_located() -> None:
    from snncc.io.config import locate_error

    cfg = _cfg()
    cfg["groups"]["P"]["params"] = {"I": "10*ms"}
    net = load_config(cfg)  # dimensions are checked when the network is compiled
    with pytest.raises(sc.UnitError) as info:
        net.compile(backend="torch")
    err = locate_error(net, info.value)
    assert isinstance(err, sc.ConfigError)
    assert str(err).startswith("groups.P: NeuronGroup 'P'") and "'I'" in str(err)
    cfg["groups"]["P"]["params"] = {"tau": "10*mV"}  # an error in the model's equations
    net = load_config(cfg)
    with pytest.raises(sc.UnitError) as info:
        net.compile(backend="torch")
    assert str(locate_error(net, info.value)).startswith("groups.P: model 'lif' equations")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(sc.ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups:\n  P: {size: 3\n")
    with pytest.raises(sc.ConfigError, match=r"bad.yaml: invalid YAML at line"):
        load_config(bad)
    bad = tmp_path / "bad.json"
    bad.write_text("{\"groups\": }")
    with pytest.raises(sc.ConfigError, match=r"bad.json: invalid JSON at line 1"):
        load_config(bad)
    with pytest.raises(sc.ConfigError, match=r"unknown config format '.txt'"):
        load_config(tmp_path / "x.txt")
    net, _ = build_network()
    save_config(net, tmp_path / "n.yaml", inline_max=4)
    (tmp_path / "n.npz").unlink()
    with pytest.raises(sc.ConfigError, match=r"groups.inp.rates: array file .*n.npz does "
                                             r"not exist"):
        load_config(tmp_path / "n.yaml")


def test_what_a_config_cannot_hold_is_refused(tmp_path: Path) -> None:
    net = sc.Network()
    with net:
        P = sc.NeuronGroup(5, "lif", name="P")
        c = sc.Connection(P, P, on_pre="v += 1*mV", name="C")
    c.condition = lambda i, j: i != j  # type: ignore[assignment]
    with pytest.raises(sc.ConfigError, match=r"connections.C.condition: the condition .* "
                                             r"Python callable; write it as a string"):
        save_config(net, tmp_path / "x.yaml")
    assert not (tmp_path / "x.yaml").exists()

    net = sc.Network()
    with net:
        sc.NeuronGroup(5, "lif", name="P", params={"I": [1, 2, 3, 4, 5] * mV})
        other = sc.Network()
        with other:
            Q = sc.NeuronGroup(5, "lif", name="Q")
        sc.Connection(Q, Q, on_pre="v += 1*mV", name="C")
    with pytest.raises(sc.ConfigError, match=r"connections.C.pre: a reference to group 'Q', "
                                             r"which is not part of this network"):
        network_to_config(net)
    net = sc.Network()
    with net:
        g = sc.NeuronGroup(2, "lif", name="P")
    g.tags = ("exc",)  # an attribute no writer knows is not dropped silently
    with pytest.raises(sc.ConfigError, match=r"groups.P: NeuronGroup 'P' has tags=\('exc',\), "
                                             r"which the config writer of kind 'neurons'"):
        network_to_config(net)
    g.tags = ()  # empty: nothing to lose
    assert network_to_config(net)["groups"]["P"] == {"size": 2, "model": "lif"}
    net = sc.Network()
    with net:
        sc.NeuronGroup(2, "lif", name="P", params={"I": np.zeros((2, 2))})
    with pytest.raises(sc.ConfigError, match=r"groups.P.params.I: an array of shape \(2, 2\)"):
        network_to_config(net)


def test_expression_strings_that_look_like_quantities_stay_expressions(tmp_path: Path
                                                                        ) -> None:
    net = sc.Network(seed=0)
    with net:
        sc.NeuronGroup(3, "lif", name="P", init={"v": "-60*mV", "I": -1 * mV})
    cfg = network_to_config(net)
    assert cfg["groups"]["P"]["init"] == {"v": {"expr": "-60*mV"}, "I": "-1*mV"}
    g = next(o for o in load_config(cfg).objects if o.name == "P")
    assert g.init["v"] == "-60*mV" and g.init["I"] == -1 * mV


def test_run_settings_and_load_run(tmp_path: Path) -> None:
    net, _ = build_network()
    run = RunSettings(name="r", duration=0.25, chunk=0.05, backend="torch", device="cpu",
                      dtype="float64", batch=2)
    path = save_config(net, tmp_path / "r.json", run=run)
    data = json.loads(path.read_text())
    assert data["run"]["duration"] == "250*ms" and data["run"]["chunk"] == "50*ms"
    net2, settings = load_run(path)
    assert settings == run
    import torch

    assert settings.compile_options() == {"backend": "torch", "device": "cpu", "batch": 2,
                                          "dtype": torch.float64, "method": None}
    assert run_settings({"network": {"name": "x"}, "run": {"duration": 20}}).duration == \
        pytest.approx(0.02)  # a bare number means ms, as in the Python API
    assert run_settings({"network": {"name": "x"}}).name == "x"


def test_register_kind_plugs_in_new_objects(tmp_path: Path) -> None:
    class Clamp(sc.PoissonGroup):
        """A Poisson group whose rate is given by a period (a toy new object kind)."""

        def __init__(self, N: int, period: Quantity, name: str | None = None) -> None:
            self.period = period
            super().__init__(N, rates=1 / period, name=name)

    register_kind("clamp", section="groups", cls=Clamp,
                  to_config=lambda g, ctx, path: {
                      "size": g.size, "period": ctx.value(g.period, f"{path}.period")},
                  from_config=lambda name, s, ctx, path: Clamp(
                      ctx.integer(s["size"], f"{path}.size", 1),
                      ctx.value(s["period"], f"{path}.period"), name=name),
                  keys=("size", "period"))
    try:
        net = sc.Network(seed=2)
        with net:
            Clamp(4, 50 * ms, name="K")
            sc.NeuronGroup(2, "lif", name="P")
        path = save_config(net, tmp_path / "k.yaml")
        assert "kind: clamp" in path.read_text()
        g = next(o for o in load_config(path).objects if o.name == "K")
        assert isinstance(g, Clamp) and g.period == 50 * ms
    finally:
        from snncc.io.config import registry

        registry._KINDS.pop("clamp")


def test_yaml_is_imported_lazily_with_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    net, _ = build_network()
    save_config(net, tmp_path / "n.json")  # JSON needs no PyYAML
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert load_config(tmp_path / "n.json").name == "roundtrip"
    with pytest.raises(sc.ConfigError, match=r"pip install snncc\[io\]"):
        save_config(net, tmp_path / "n.yaml")


def test_example_configs_load() -> None:
    root = Path(__file__).resolve().parents[1] / "examples" / "configs"
    net, settings = load_run(root / "cuba.yaml")
    assert {o.name for o in net.objects} == {"P", "Ce", "Ci", "spikes", "vm", "rate"}
    assert settings.duration == 1.0 and settings.chunk == pytest.approx(0.1)
    runs = expand_sweeps(root / "cuba_sweep.yaml")
    assert len(runs) == 6 and len({r["run"]["name"] for r in runs}) == 6
    nets = [load_config(r) for r in runs]
    taum = [next(o for o in n.objects if o.name == "P").params["taum"] for n in nets]
    assert taum[0].shape == (1000,) and not np.array_equal(taum[0].value, taum[1].value)


def test_layout_and_labels_round_trip() -> None:
    net = sc.Network(seed=0)
    with net:
        sc.NeuronGroup(12, "lif", shape=(3, 2, 2), types=("exc",), name="G")
    cfg = network_to_config(net)
    assert cfg["groups"]["G"]["shape"] == [3, 2, 2] and cfg["groups"]["G"]["types"] == ["exc"]
    g2 = load_config(cfg).G
    assert g2.shape == (3, 2, 2) and g2.types == ("exc",)


# ------------------------------------------------------------ assemblies (SPAIC)
LEAKY = sc.NeuronModel("dv/dt = -v/(10*ms) : volt", threshold="v > 10*mV",
                       reset="v = 0*mV", name="leaky")


class Layer(sc.Assembly):
    """A class-built assembly (saved as a plain Assembly with its members)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.exc = sc.NeuronGroup(n, LEAKY, types=("exc",))
        self.inh = sc.NeuronGroup(n // 4, LEAKY, types=("inh",),
                                  init={"v": "rand()*5*mV"})
        self.ei = sc.Connection(self.exc, self.inh, p=0.3, on_pre="v += 4*mV")
        self.ie = sc.Connection(self.inh, self.exc, p=0.3, on_pre="v -= 2*mV",
                                delay="rand()*2*ms")
        self.size = n  # a plain attribute: not a member, not saved


def build_assembly_network(seed: int = 11) -> sc.Network:
    """Top-level objects, a class-built assembly and its copy, nested `with`
    assemblies, a hidden assembly and a hidden connection, projections with every
    policy, a conv connection between shaped groups, sparse and w_init connections,
    encoders and decoders."""
    from snncc.frontend import initializers

    net = sc.Network(dt=0.5 * ms, seed=seed, name="asm")
    with net:
        img = sc.Encoder(shape=(1, 6, 6), coding="poisson", max_rate=400 * Hz, name="img")
        drive = sc.Encoder(12, coding="rate", max_rate=300 * Hz, name="drive")
        top = sc.NeuronGroup(6, LEAKY, name="top")     # created before the assemblies
        l1 = Layer(12)
        l1.name = "l1"
        l2 = net.copy_assembly("l2", l1)
        with sc.Assembly(name="outer"):
            hid = sc.NeuronGroup(8, LEAKY, types=("exc",), name="hid")
            with sc.Assembly(name="sub"):
                ro = sc.NeuronGroup(4, LEAKY, name="ro")
                sc.Connection(hid, ro, p=0.5, on_pre="v += 6*mV", name="hr")
            with sc.Assembly(name="ghost") as ghost:
                g1 = sc.NeuronGroup(3, LEAKY, name="g1")
            sc.Connection(hid, g1, on_pre="v += 1*mV", name="to_ghost")  # left out too
            sc.SpikeMonitor(ro, name="ro_spikes")
        ghost.assembly_hide()
        fmap = sc.NeuronGroup(None, LEAKY, shape=(2, 3, 3), name="fmap")
        sc.Connection(img, fmap, link_type="conv", kernel_size=3, stride=2, padding=1,
                      on_pre="v += w", w_init="kaiming_uniform",
                      w_init_param={"a": 0.5, "mode": "fan_out"}, w_unit=8 * mV,
                      name="conv")
        sc.Connection(drive, l1.exc, link_type="sparse", density=0.4, w_init="normal",
                      w_init_param={"mean": 6.0, "std": 2.0}, on_pre="v += w*mV",
                      name="sparse")
        sc.Connection(fmap, top, link_type="full",
                      weight=initializers.uniform(0.0, 3.0, unit=mV), on_pre="v += w",
                      name="dense")
        sc.Connection(drive, l2.exc, link_type="one_to_one", on_pre="v += 11*mV",
                      name="direct")
        hidden = sc.Connection(top, top, on_pre="v += 1*mV", name="loop")
        hidden.assembly_hide()
        sc.Projection(l1, l2, policies=[sc.IncludedTypePolicy(pre=["exc"])], p=0.3,
                      on_pre="v += 5*mV", name="p_inc")
        sc.Projection(l2, net.outer, policies=[sc.ExcludedTypePolicy(pre=("inh",))],
                      link_type="sparse", density=0.5, on_pre="v += w*mV",
                      w_init="uniform", w_init_param={"a": 2, "b": 6}, name="p_exc")
        sc.Projection(net.outer, l1, policies=[sc.IndexPolicy([(0, 0), (1, 1)])],
                      weight=initializers.constant(3.0, unit=mV), on_pre="v += w",
                      connect="full", name="p_idx")
        sc.SpikeMonitor(l1.exc, name="spikes")
        sc.StateMonitor(l2.inh, "v", record=[0, 2], name="vm")
        sc.Decoder(l2.exc, "spike_counts", name="counts")
        sc.Decoder(top, "voltage_sum", name="vsum")
    return net


def _objects(net: sc.Network) -> dict[str, Any]:
    return {o.path: o for o in net.walk()}


def run_assembly_network(net: sc.Network) -> dict[str, Any]:
    sim = net.build(dtype=torch.float64)
    objs = _objects(net)
    objs["img"](np.linspace(0, 1, 36).reshape(1, 6, 6))
    objs["drive"](np.linspace(0.3, 1, 12))
    net.run(60 * ms)
    out = {k: np.asarray(getattr(objs[k], a)) for k, a in (
        ("spikes", "i"), ("outer.ro_spikes", "i"))}
    out["t"] = np.asarray(objs["spikes"].t.value)
    out["v"] = np.asarray(objs["vm"].v.value)
    out["counts"] = objs["counts"].predict.numpy().copy()
    out["vsum"] = objs["vsum"].predict.numpy().copy()
    out["state"] = {k: v.detach().clone() for k, v in sim.state_dict().items()}
    return out


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_assemblies_projections_and_spaic_connections_round_trip(tmp_path: Path,
                                                                 suffix: str) -> None:
    net = build_assembly_network()
    path = save_config(net, tmp_path / f"asm{suffix}")
    cfg = read_config(path)
    loaded = load_config(path)
    first, second = run_assembly_network(net), run_assembly_network(loaded)
    assert first["spikes"].size > 20 and first["outer.ro_spikes"].size > 0
    assert first["counts"].sum() > 0                        # the network is active
    for k, v in first.items():
        if k != "state":
            assert np.array_equal(v, second[k]), k
    assert first["state"].keys() == second["state"].keys()
    for k, v in first["state"].items():
        assert torch.equal(v, second["state"][k]), k
    # build names are paths; the hidden assembly and what touches it are left out
    names = set(first["state"])
    assert {"l1_exc__v", "outer_sub_ro__v", "conv__w", "p_exc_l2_exc_outer_hid__w",
            "p_idx_outer_sub_ro_l1_inh__w"} <= names
    assert not any("ghost" in k or k.startswith("loop") for k in names)

    # what the config says
    assert cfg["assemblies"] == {"l1": {}, "l2": {}, "outer": {}, "outer.sub": {},
                                 "outer.ghost": {"hidden": True}}
    assert list(cfg["groups"]) == ["img", "drive", "top", "l1.exc", "l1.inh", "l2.exc",
                                   "l2.inh", "outer.hid", "outer.sub.ro",
                                   "outer.ghost.g1", "fmap"]
    conns = cfg["connections"]
    assert conns["l1.ei"]["pre"] == "l1.exc" and conns["outer.sub.hr"]["post"] == \
        "outer.sub.ro"
    assert conns["loop"]["hidden"] is True
    conv = conns["conv"]
    assert (conv["link_type"], conv["kernel_size"], conv["stride"], conv["padding"]) == \
        ("conv", 3, 2, 1) and "i" not in conv
    assert conv["w_init"] == "kaiming_uniform" and conv["w_unit"] == "8*mV"
    assert conv["w_init_param"] == {"a": 0.5, "mode": "fan_out",
                                    "nonlinearity": "leaky_relu"}
    assert conns["sparse"]["p"] == 0.4 and conns["sparse"]["w_init"] == "normal"
    assert conns["dense"]["w_unit"] == "mV" and "weight" not in conns["dense"]
    assert conns["direct"]["connect"] == "one_to_one"
    assert conns["p_inc"] == {"kind": "projection", "pre": "l1", "post": "l2",
                              "policies": [{"kind": "included_type", "pre": ["exc"]}],
                              "p": 0.3, "on_pre": "v += 5*mV"}
    assert conns["p_exc"]["policies"] == [{"kind": "excluded_type", "pre": ["inh"]}]
    assert conns["p_exc"]["w_init_param"] == {"a": 2, "b": 6}
    assert conns["p_idx"]["policies"] == [{"kind": "index", "pairs": [[0, 0], [1, 1]]}]
    assert conns["p_idx"]["w_init"] == "constant"
    assert cfg["monitors"]["counts"] == {"kind": "decoder", "source": "l2.exc",
                                         "coding": "spike_counts", "variable": "v"}

    # the loaded network: plain assemblies with the same members, names and paths
    a, b = _objects(net), _objects(loaded)
    assert list(a) == list(b)
    assert type(a["l1"]) is Layer and type(b["l1"]) is sc.Assembly
    assert type(b["l2"]) is sc.Assembly and b["l2"].exc is b["l2.exc"]
    assert loaded.l1.exc is b["l1.exc"] and loaded.outer.sub.ro is b["outer.sub.ro"]
    assert loaded.build_name(b["l2.exc"]) == "l2_exc"
    # the hidden members stay hidden; showing them works as before
    assert b["outer.ghost"].hidden and b["outer.ghost"]._hidden
    assert b["outer.ghost.g1"].hidden and not b["outer.ghost.g1"]._hidden
    assert b["loop"].hidden and not b["outer.hid"].hidden
    b["outer.ghost"].assembly_show()
    assert "outer_ghost_g1" in {o.name for o in loaded.flatten()[0]}
    b["outer.ghost"].assembly_hide()
    # the initializer itself, not its samples
    from snncc.frontend.initializers import Initializer

    assert isinstance(b["conv"].weight, Initializer) and b["conv"].weight == a["conv"].weight
    assert b["conv"].kernel[0] == a["conv"].kernel[0] == (2, 1, 3, 3)
    assert np.array_equal(b["conv"].kernel[1], a["conv"].kernel[1])
    # saving the loaded network gives the same text
    again = save_config(loaded, tmp_path / f"again{suffix}")
    assert again.read_text() == path.read_text()


def test_hidden_objects_are_saved_hidden(tmp_path: Path) -> None:
    net = sc.Network(seed=0)
    with net:
        g = sc.NeuronGroup(3, "lif", name="G")
        sc.NeuronGroup(3, "lif", name="H")
        m = sc.SpikeMonitor(g, name="m")
    g.assembly_hide()
    m.assembly_hide()
    cfg = network_to_config(net)
    assert cfg["groups"]["G"] == {"size": 3, "model": "lif", "hidden": True}
    assert cfg["monitors"]["m"] == {"kind": "spike", "source": "G", "hidden": True}
    back = load_config(save_config(net, tmp_path / "h.yaml"))
    assert back.G.hidden and back.m.hidden and not back.H.hidden
    assert [o.name for o in back.flatten()[0]] == ["H"]


def test_member_order_is_restored() -> None:
    """Objects are built section by section; each container's member order (which fixes
    the order the seed's draws are used in) is the saved network's."""
    net = sc.Network(seed=0)
    with net:
        sc.NeuronGroup(2, "lif", name="first")
        with sc.Assembly(name="a"):
            sc.NeuronGroup(2, "lif", name="x")
            with sc.Assembly(name="inner"):
                sc.NeuronGroup(2, "lif", name="y")
            sc.NeuronGroup(2, "lif", name="z")
        sc.Assembly(name="empty")
        sc.NeuronGroup(2, "lif", name="last")
        sc.Connection(net.last, net.first, on_pre="v += 1*mV", name="c")
    back = load_config(network_to_config(net))
    walk = [o.path for o in net.walk()]
    assert [o.path for o in back.walk()] == walk
    assert network_to_config(back) == network_to_config(net)


def test_sweeps_reach_members_of_assemblies() -> None:
    cfg = {"network": {"seed": 1}, "assemblies": {"l1": {}},
           "groups": {"l1.exc": {"size": 4, "model": "lif", "params": {"tau": "10*ms"}}},
           "sweep": {"grid": {"groups.l1.exc.params.tau": ["10*ms", "20*ms"],
                              "groups.l1.exc.size": [4, 5]}}}
    runs = expand_sweeps(cfg)
    assert [r["groups"]["l1.exc"]["size"] for r in runs] == [4, 5, 4, 5]
    assert runs[2]["groups"]["l1.exc"]["params"]["tau"] == "20*ms"
    assert load_config(runs[3]).l1.exc.size == 5


def test_unit_errors_in_assemblies_are_located() -> None:
    from snncc.io.config import locate_error

    cfg = {"network": {"seed": 1}, "assemblies": {"l1": {}},
           "groups": {"l1.exc": {"size": 4, "model": "lif", "params": {"I": "10*ms"}}}}
    net = load_config(cfg)
    with pytest.raises(sc.UnitError) as info:
        net.compile(backend="torch")
    assert str(locate_error(net, info.value)).startswith("groups.l1.exc: ")


def _asm_cfg() -> dict[str, Any]:
    return {"network": {"seed": 3}, "assemblies": {"l1": {}, "l2": {}},
            "groups": {"l1.exc": {"size": 4, "model": "lif", "types": ["exc"]},
                       "l2.exc": {"size": 4, "model": "lif", "types": ["exc"]},
                       "P": {"size": 4, "model": "lif"}},
            "connections": {"C": {"pre": "P", "post": "P", "on_pre": "v += 1*mV"},
                            "pr": {"kind": "projection", "pre": "l1", "post": "l2",
                                   "on_pre": "v += 1*mV"}}}


def _pr(**kw: Any) -> Any:
    return lambda c: c["connections"]["pr"].update(**kw)


@pytest.mark.parametrize("change,match", [
    (lambda c: c.update(assemblies=["l1"]),
     r"assemblies: expected a mapping of assembly paths \(l1, l1.sub\)"),
    (lambda c: c["assemblies"].update(l1={"hiden": True}),
     r"assemblies.l1.hiden: unknown key 'hiden'; known keys: hidden"),
    (lambda c: c["assemblies"].update(l1={"hidden": "yes"}),
     r"assemblies.l1.hidden: expected true or false"),
    (lambda c: c["assemblies"].update({"l3.sub": {}}),
     r"assemblies.l3.sub: 'l3.sub' is a member of 'l3', which is not an assembly; declare "
     r"it under assemblies: \(parents first; the assemblies declared before it: l1, l2\)"),
    (lambda c: c["assemblies"].update({"1x": {}}),
     r"assemblies.1x: the name '1x' must be a Python identifier"),
    (lambda c: c["assemblies"].update({"P": {}}),
     r"groups.P: the name 'P' is used twice; names are shared by assemblies, groups"),
    (lambda c: c["groups"].update({"l9.exc": {"size": 1, "model": "lif"}}),
     r"groups.l9.exc: 'l9.exc' is a member of 'l9', which is not an assembly"),
    (lambda c: c["groups"].update({"P.x": {"size": 1, "model": "lif"}}),
     r"groups.P.x: 'P.x' is a member of 'P', which is not an assembly"),
    (lambda c: c["groups"]["P"].update(hidden=1), r"groups.P.hidden: expected true or false"),
    (lambda c: c["connections"]["C"].update(pre="l1"),
     r"connections.C.pre: no group named 'l1'; groups: l1.exc, l2.exc, P"),
    (_pr(pre="l3"), r"connections.pr.pre: 'l3' names no assembly or group; assemblies: l1, "
                    r"l2; groups: l1.exc, l2.exc, P"),
    (_pr(post="C"), r"connections.pr.post: 'C' is not an assembly or a group"),
    (_pr(policies={"kind": "index"}), r"connections.pr.policies: expected a list of policies"),
    (_pr(policies=["exc"]), r"connections.pr.policies\[0\]: expected a mapping such as"),
    (_pr(policies=[{"kind": "include"}]),
     r"connections.pr.policies\[0\].kind: unknown policy kind 'include'; one of "
     r"included_type, excluded_type, index"),
    (_pr(policies=[{"kind": "included_type", "pres": ["exc"]}]),
     r"connections.pr.policies\[0\].pres: unknown key 'pres'; known keys: kind, pre, post"),
    (_pr(policies=[{"kind": "excluded_type", "pre": {"exc": 1}}]),
     r"connections.pr.policies\[0\].pre: expected a list of types"),
    (_pr(policies=[{"kind": "index"}]), r"connections.pr.policies\[0\].pairs: missing"),
    (_pr(policies=[{"kind": "index", "pairs": [[0, 0], [1]]}]),
     r"connections.pr.policies\[0\].pairs\[1\]: expected a pair \[pre, post\]"),
    (_pr(policies=[{"kind": "index", "pairs": [[0, -1]]}]),
     r"connections.pr.policies\[0\].pairs\[0\]\[1\]: must be >= 0"),
    (_pr(p=2.0), r"connections.pr: Connection pr_l1_exc_l2_exc: p must be a "
                  r"probability"),
    (_pr(weights=1), r"connections.pr.weights: unknown key 'weights'"),
    (_pr(w_init="gauss"), r"connections.pr: .*unknown w_init 'gauss'"),
    (_pr(w_init_param={"a": [1]}), r"connections.pr.w_init_param.a: expected a number or a "
                                   r"name"),
    (lambda c: c["connections"]["C"].update(link_type="conv", kernel_size=3),
     r"connections.C: Connection C: link_type='conv' needs a whole pre group with "
     r"shape=\(channels, height, width\)"),
    (lambda c: c["connections"]["C"].update(link_type="conv", kernel_size=[1, 2, 3]),
     r"connections.C.kernel_size: expected a number or a pair \[height, width\]"),
    (lambda c: c["connections"]["C"].update(link_type="sparse"),
     r"connections.C: .*link_type='sparse' needs density="),
])
def test_assembly_and_projection_errors_name_the_config_path(change: Any, match: str
                                                             ) -> None:
    cfg = _asm_cfg()
    load_config(cfg)  # the base config is fine
    change(cfg)
    with pytest.raises(sc.ConfigError, match=match):
        load_config(cfg)


def test_what_a_config_cannot_hold_about_assemblies_is_refused(tmp_path: Path) -> None:
    from snncc.frontend.assembly import ConnectionPolicy

    class Odd(ConnectionPolicy):
        def keep(self, pre: Any, post: Any, pair: tuple[int, int]) -> bool:
            return pair[0] != pair[1]

    def net_with(**kw: Any) -> sc.Network:
        net = sc.Network()
        with net:
            with sc.Assembly(name="a"):
                sc.NeuronGroup(2, "lif", name="x", types=("exc",))
            sc.Projection(net.a, net.a, name="pr", on_pre="v += 1*mV", **kw)
        return net

    with pytest.raises(sc.ConfigError, match=r"connections.pr.policies\[0\]: the policy "
                                             r".*Odd.* cannot be written"):
        save_config(net_with(policies=[Odd()]), tmp_path / "x.yaml")
    with pytest.raises(sc.ConfigError, match=r"connections.pr.policies\[0\].pre: the types "
                                             r"'exc' \(give a list of labels"):
        network_to_config(net_with(policies=[sc.IncludedTypePolicy(pre="exc")]))
    with pytest.raises(sc.ParameterError, match=r"Projection pr: unknown connection option "
                                                r"'foo'"):  # refused when made
        net_with(foo=1)
    with pytest.raises(sc.ConfigError, match=r"connections.pr.condition: condition=<"):
        network_to_config(net_with(condition=lambda i, j: i != j))
    assert not (tmp_path / "x.yaml").exists()
    net = sc.Network()
    with net:
        a = sc.NeuronGroup(None, "lif", shape=(1, 4, 4), name="A")
        b = sc.NeuronGroup(None, "lif", shape=(1, 2, 2), name="B")
        c = sc.Connection(a, b, link_type="conv", kernel_size=3, on_pre="v += 1*mV",
                          name="conv")
    assert network_to_config(net)["connections"]["conv"]["kernel_size"] == 3
    c.i = c.i[::-1].copy()  # no longer the synapses of a convolution
    with pytest.raises(sc.ConfigError, match=r"connections.conv.kernel: a convolution whose "
                                             r"synapses were changed"):
        network_to_config(net)


@pytest.mark.parametrize("text", ["10**10**10", "10**10**10*mV", "(" * 300 + "1" + ")" * 300,
                                  "-" * 100000 + "1"])
def test_absurd_quantities_are_config_errors(text: str) -> None:
    """Python computes 10**10**10 exactly on ints (which never ends) and recurses per
    level of nesting: each is a ConfigError, within a hang guard of 60 s."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise TimeoutError("no result after 60 s (a hang)")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(60)
    try:
        with pytest.raises(sc.errors.ConfigError):
            parse_quantity(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
