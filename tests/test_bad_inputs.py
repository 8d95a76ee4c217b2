"""Bad inputs are refused where they are given, with a message that names the object and
the fix (a did-you-mean list for unknown names); nothing is accepted and then ignored
(issue 12, items 2 and 3)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.errors import (
    ConfigError,
    EquationSyntaxError,
    NetworkError,
    ParameterError,
    SnnccError,
    UnknownNameError,
    check_names,
    did_you_mean,
)
from snncc.io.config import load_config
from snncc.runtime.network import decode_structure, encode_structure, structure_of
from snncc.units import Hz, ms, mV

EQS = "dv/dt = -v/(10*ms) : volt"


def _group(**kw: Any) -> sc.NeuronGroup:
    return sc.NeuronGroup(4, "lif", **kw)


def _compile_with(make: Callable[[sc.NeuronGroup], object], **options: Any) -> None:
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        make(sc.NeuronGroup(3, "lif", name="G"))
    net.compile(backend="torch", **options)


def _conn(**kw: Any) -> sc.Connection:
    return sc.Connection(sc.NeuronGroup(3, "lif"), sc.NeuronGroup(3, "lif"), **kw)


def _cfg(**changes: Any) -> None:
    cfg: dict[str, Any] = {
        "network": {"seed": 3},
        "groups": {"P": {"size": 4, "model": "lif"}, "Q": {"size": 3, "model": "lif"}},
        "connections": {"C": {"pre": "P", "post": "Q", "on_pre": "v += 1*mV"}}}
    for path, value in changes.items():
        node = cfg
        *head, last = path.split("__")
        for k in head:
            node = node[k]
        node[last] = value
    load_config(cfg)


BAD: list[tuple[str, Callable[[], object], type[SnnccError], str]] = [
    # ---- NeuronGroup / NeuronModel
    ("group params typo", lambda: _group(params={"Vtt": -50 * mV}), UnknownNameError,
     r"NeuronGroup \(model 'lif'\): unknown parameter 'Vtt' \(did you mean 'Vt'\?\)"),
    ("group params other model's name", lambda: _group(params={"tau_m": 10 * ms}),
     UnknownNameError, r"unknown parameter 'tau_m' \(did you mean 'tau'\?\).*El, I, Vr"),
    ("group init typo", lambda: _group(init={"vv": -60 * mV}), UnknownNameError,
     r"unknown initial value 'vv' \(did you mean 'v'\?\).*init= sets state variables"),
    ("group init of a constant", lambda: _group(init={"tau": 5 * ms}), UnknownNameError,
     r"unknown initial value 'tau'.*known initial values: I, v"),
    ("named group params", lambda: sc.NeuronGroup(2, "cuba", params={"taue2": 1 * ms},
                                                  name="E"),
     UnknownNameError, r"NeuronGroup E \(model 'cuba'\): unknown parameter 'taue2' "
                       r"\(did you mean 'taue'"),
    ("equations group params", lambda: sc.NeuronGroup(2, EQS + "\nI : volt",
                                                      params={"J": 1 * mV}),
     UnknownNameError, r"unknown parameter 'J'.*known parameters: I"),
    ("library model typo", lambda: sc.NeuronGroup(2, "lfi"), NetworkError,
     r"unknown model 'lfi'.*did you mean 'lif'"),
    ("threshold is a value", lambda: sc.NeuronGroup(2, EQS, threshold="v"),
     EquationSyntaxError, r"threshold: line 1, column 1: the threshold must be a condition "
                          r"\(expected a comparison such as 'v > Vt'"),
    ("layer threshold is a value", lambda: sc.layer(EQS, threshold="v", reset="v = 0*mV"),
     EquationSyntaxError, r"the threshold must be a condition"),
    ("threshold is arithmetic", lambda: sc.NeuronModel(EQS, threshold="v - 10*mV"),
     EquationSyntaxError, r"the threshold must be a condition"),
    ("threshold mixes a value into 'and'",
     lambda: sc.NeuronModel(EQS, threshold="v > 1*mV and v"), EquationSyntaxError,
     r"must be a condition"),
    ("refractory condition is a value",
     lambda: sc.NeuronModel(EQS, threshold="v > 1*mV", refractory="v"), EquationSyntaxError,
     r"refractory condition must be a condition.*refractory=5\*ms"),
    ("refractory time as a string",
     lambda: sc.NeuronModel(EQS, threshold="v > 1*mV", refractory="5*ms"),
     EquationSyntaxError, r"refractory condition must be a condition.*not a string"),
    ("reset is a condition",
     lambda: sc.NeuronModel(EQS, threshold="v > 1*mV", reset="v > 1*mV"),
     EquationSyntaxError, r"reset: line 1, column 1: not a statement"),
    ("empty threshold", lambda: sc.NeuronModel(EQS, threshold=""), EquationSyntaxError,
     r"empty expression"),
    ("model params typo", lambda: sc.NeuronModel(EQS, threshold="v > Vt",
                                                 params={"Vtt": 1 * mV}),
     UnknownNameError, r"model 'model': unknown parameter 'Vtt' \(did you mean 'Vt'\?\)"),
    ("model init typo", lambda: sc.NeuronModel(EQS, init={"u": 0 * mV}), UnknownNameError,
     r"model 'model': unknown initial value 'u'.*known initial values: v"),
    ("unknown equation flag", lambda: sc.NeuronModel(EQS + " (unles refractory)"),
     EquationSyntaxError, r"unknown flag 'unles refractory'"),
    ("library.get params typo", lambda: sc.library.get("lif", taum=5 * ms), ParameterError,
     r"no parameter 'taum' \(did you mean 'tau'\?\)"),
    ("library.get name typo", lambda: sc.library.get("cubba"), NetworkError,
     r"unknown library model 'cubba'.*did you mean 'cuba'"),
    # ---- SynapseModel / Connection
    ("on_pre is an expression", lambda: sc.SynapseModel("w : volt", on_pre="v + w"),
     EquationSyntaxError, r"on_pre: line 1, column 1: not a statement"),
    ("synapse model params typo",
     lambda: sc.SynapseModel("w : volt", on_pre="v += w*scale", params={"scal": 1.0}),
     UnknownNameError, r"synapse model 'synapse': unknown parameter 'scal' \(did you mean "
                       r"'scale'\?\)"),
    ("connection params typo", lambda: _conn(on_pre="v += w", weight=1 * mV,
                                             params={"ww": 1.0}),
     UnknownNameError, r"Connection \(synapse model 'synapse'\): unknown parameter 'ww' "
                       r"\(did you mean 'w'\?\)"),
    ("connection init of an undeclared variable",
     lambda: _conn(on_pre="v += w", weight=1 * mV, init={"wx": 0.0}), UnknownNameError,
     r"unknown initial value 'wx' \(did you mean 'w'\?\).*declare others"),
    ("link_type typo", lambda: _conn(on_pre="v += 1*mV", link_type="ful"), ParameterError,
     r"unknown link_type 'ful'.*did you mean 'full'"),
    ("connect typo", lambda: _conn(on_pre="v += 1*mV", connect="one_to_on"),
     ParameterError, r"connect must be 'full' or 'one_to_one'.*did you mean 'one_to_one'"),
    ("connection that does nothing", lambda: _conn(), ParameterError,
     r"no on_pre code, no synapse model and no weight: the connection would do nothing"),
    ("SPAIC connection into a model without v",
     lambda: sc.Connection(sc.NeuronGroup(2, "lif"), sc.NeuronGroup(2, "clif"),
                           link_type="full", w_init="uniform"),
     ParameterError, r"model 'clif'\) has no membrane variable 'v'.*give on_pre="),
    ("density without sparse", lambda: _conn(on_pre="v += 1*mV", density=0.3),
     ParameterError, r"density= and kernel_size= go with"),
    ("w_init_param without w_init", lambda: _conn(on_pre="v += w", w_init_param={"a": 0}),
     ParameterError, r"w_init_param= needs w_init="),
    ("projection option typo", lambda: sc.Projection(
        sc.NeuronGroup(2, "lif"), sc.NeuronGroup(2, "lif"), on_pr="v += 1*mV"),
     ParameterError, r"Projection: unknown connection option 'on_pr' \(did you mean "
                     r"'on_pre'"),
    # ---- Network, layer
    ("schedule typo", lambda: sc.Network(schedule="layerd"), ParameterError,
     r"schedule must be one of.*did you mean 'layered'"),
    ("compile option typo", lambda: _compile_with(lambda g: None, cuda_grph=False),
     ParameterError, r"unknown compile option\(s\): cuda_grph"),
    ("layer params typo", lambda: sc.layer("lif", params={"Vtt": 0.0}), UnknownNameError,
     r"unknown parameter 'Vtt' \(did you mean 'Vt'\?\)"),
    ("layer init typo", lambda: sc.layer("lif", init={"vv": 0.0}), UnknownNameError,
     r"unknown initial value 'vv' \(did you mean 'v'\?\)"),
    ("Poisson rate above one spike per step",
     lambda: _compile_with(lambda g: sc.PoissonGroup(4, [10, 12e3, 5, 20] * Hz, name="bg")),
     ParameterError, r"PoissonGroup 'bg': a rate of 12000 Hz is more than one spike per "
     r"step \(rate \* dt = 1\.2 > 1 at dt = 0\.1 ms\).*use 2 or more sources"),
    # ---- encoders, decoders, monitors
    ("encoder coding typo", lambda: sc.Encoder(4, coding="poison"), ParameterError,
     r"unknown coding 'poison'.*did you mean 'poisson'"),
    ("encoder option of another coding", lambda: sc.Encoder(4, coding="poisson",
                                                            max_prob=0.5),
     ParameterError, r"max_prob= goes with coding='bernoulli', not coding='poisson'"),
    ("encoder window for bernoulli", lambda: sc.Encoder(4, coding="bernoulli",
                                                        window=5 * ms),
     ParameterError, r"window= goes with coding='latency'"),
    ("encoder target without constant current",
     lambda: sc.Encoder(4, coding="rate", target=sc.NeuronGroup(4, "lif")), ParameterError,
     r"target= goes with coding='constant_current'"),
    ("generator rate for a current", lambda: sc.Generator(
        coding="constant_current", rate=5 * Hz, target=sc.NeuronGroup(4, "lif")),
     ParameterError, r"max_rate= goes with coding='poisson' / 'rate'"),
    ("decoder coding typo", lambda: sc.Decoder(sc.NeuronGroup(2, "lif"), "spike_count"),
     ParameterError, r"unknown coding 'spike_count'.*did you mean 'spike_counts'"),
    ("decoder variable for a spike coding",
     lambda: sc.Decoder(sc.NeuronGroup(2, "lif"), "spike_counts", variable="I"),
     ParameterError, r"variable= goes with coding='final_step_voltage'"),
    ("decoder variable typo",
     lambda: sc.Decoder(sc.NeuronGroup(2, "lif"), "final_step_voltage", variable="vv"),
     UnknownNameError, r"unknown variable 'vv' \(did you mean 'v'\?\)"),
    ("state monitor of an unknown variable",
     lambda: _compile_with(lambda g: sc.StateMonitor(g, "vv")), UnknownNameError,
     r"has no variable 'vv'"),
    ("state monitor that records nothing",
     lambda: sc.StateMonitor(sc.NeuronGroup(2, "lif"), "v", record=False), ParameterError,
     r"record=False records nothing"),
    ("learner optimizer typo", lambda: sc.Learner().set_optimizer("Adamm", 0.01),
     ParameterError, r"unknown optimizer 'Adamm'.*did you mean 'Adam'"),
    ("learner optimizer option typo",
     lambda: sc.Learner().set_optimizer("Adam", 0.01, weight_decy=0.1), ParameterError,
     r"Adam: unknown option 'weight_decy' \(did you mean 'weight_decay'"),
    ("learner schedule option typo",
     lambda: sc.Learner().set_schedule("StepLR", step_sise=3), ParameterError,
     r"StepLR: unknown option 'step_sise' \(did you mean 'step_size'\?\)"),
    # ---- YAML / JSON configs
    ("config group params typo", lambda: _cfg(groups__P__params={"Vtt": "-50*mV"}),
     ConfigError, r"groups.P: .*unknown parameter 'Vtt' \(did you mean 'Vt'\?\)"),
    ("config group init typo", lambda: _cfg(groups__P__init={"vv": "-60*mV"}), ConfigError,
     r"groups.P: .*unknown initial value 'vv' \(did you mean 'v'\?\)"),
    ("config key typo", lambda: _cfg(groups__P__sizee=3), ConfigError,
     r"groups.P.sizee: unknown key 'sizee'.*did you mean 'size'"),
    ("config model typo", lambda: _cfg(groups__P__model="lfi"), ConfigError,
     r"groups.P.model: unknown model 'lfi'.*did you mean 'lif'"),
    ("config threshold is a value", lambda: _cfg(groups__P__threshold="v"), ConfigError,
     r"groups.P: .*the threshold must be a condition"),
    ("config connection params typo",
     lambda: _cfg(connections__C__on_pre="v += w", connections__C__weight="1*mV",
                  connections__C__params={"ww": 1}),
     ConfigError, r"connections.C: .*unknown parameter 'ww' \(did you mean 'w'\?\)"),
    ("config link_type typo", lambda: _cfg(connections__C__link_type="ful"), ConfigError,
     r"connections.C: .*unknown link_type 'ful'.*did you mean 'full'"),
    ("config connection without code or weight",
     lambda: _cfg(connections__C={"pre": "P", "post": "Q"}), ConfigError,
     r"connections.C: .*the connection would do nothing"),
]


@pytest.mark.parametrize("make,kind,match", [row[1:] for row in BAD],
                         ids=[row[0] for row in BAD])
def test_bad_input_is_refused_with_the_fix(make: Callable[[], object],
                                           kind: type[SnnccError], match: str) -> None:
    with pytest.raises(kind, match=match):
        make()


def test_the_table_is_large_and_distinct() -> None:
    assert len(BAD) >= 40
    assert len({row[0] for row in BAD}) == len(BAD)


def test_did_you_mean_helper() -> None:
    assert did_you_mean("Vtt", ["Vt", "Vr", "tau"]) == " (did you mean 'Vt'?)"
    assert did_you_mean("zzz", ["Vt"]) == ""
    check_names("G", "parameter", ["Vt"], ["Vt", "tau"])  # known: nothing raised
    with pytest.raises(UnknownNameError, match=r"^G: unknown parameter 'taux' \(did you "
                                               r"mean 'tau'\?\); known parameters: Vt, "
                                               r"tau; fix it$"):
        check_names("G", "parameter", ["Vt", "taux"], ["tau", "Vt"], fix="fix it")
    with pytest.raises(ConfigError, match="known initial values: none"):
        check_names("G", "initial value", ["x"], [], kind=ConfigError)


# ------------------------------------------------------------------ item 2: names
def test_known_names_are_still_accepted() -> None:
    """Declared parameters, the constants the code uses and per-neuron arrays pass."""
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        g = sc.NeuronGroup(3, "lif", params={"Vt": -60 * mV, "tau": np.full(3, 5.0) * ms,
                                             "I": 20 * mV}, init={"v": -65 * mV})
        h = sc.NeuronGroup(3, "cuba", init={"ge": 1 * mV})
        sc.Connection(g, h, on_pre="ge += w*scale", weight=1 * mV, params={"scale": 2.0},
                      init={}, name="C")
        sc.Connection(g, h, on_pre="ge += w", weight="wmax*rand()", params={"wmax": 1 * mV})
        sc.Connection(g, h, on_pre="ge += w", weight=1 * mV, delay="d*rand()",
                      params={"d": 1 * ms})
    net.compile(backend="torch").run(1 * ms)


# --------------------------------------------------- item 3a: SPAIC's default synapse
def _spaic_net(seed: int) -> tuple[sc.Network, sc.NeuronGroup]:
    net = sc.Network(dt=1 * ms, seed=seed)
    with net:
        a = sc.PoissonGroup(30, 400 * Hz, name="a")
        b = sc.NeuronGroup(3, "lif", params={"I": 0 * mV}, name="b")
        sc.Connection(a, b, link_type="full", w_init="uniform",
                      w_init_param={"a": 0.0, "b": 2.0}, w_unit=mV, name="c")
    return net, b


def test_spaic_connection_without_on_pre_delivers_the_weights() -> None:
    """SPAIC adds the weighted spikes of a Connection to the target's input each step:
    with no on_pre, ``v += w``; the same as writing it out, and named in describe()."""
    net, b = _spaic_net(4)
    sim = net.compile(backend="torch", dtype=torch.float64)
    sim.run(20 * ms)
    v = sim.get("b", "v")
    assert (v > -70e-3 + 1e-6).all()  # moved off rest: the input arrived
    assert "on_pre: v += w" in sim.describe()
    ref = sc.Network(dt=1 * ms, seed=4)
    with ref:
        a = sc.PoissonGroup(30, 400 * Hz, name="a")
        b2 = sc.NeuronGroup(3, "lif", params={"I": 0 * mV}, name="b")
        sc.Connection(a, b2, link_type="full", w_init="uniform",
                      w_init_param={"a": 0.0, "b": 2.0}, w_unit=mV, on_pre="v += w", name="c")
    sim2 = ref.compile(backend="torch", dtype=torch.float64)
    sim2.run(20 * ms)
    torch.testing.assert_close(v, sim2.get("b", "v"), rtol=0, atol=0)


# ---------------------------------------------- item 3b: monitors of a trained network
def _trained_net(seed: int, monitor: str) -> tuple[sc.Network, sc.Encoder, Any]:
    net = sc.Network(dt=1 * ms, seed=seed, schedule="layered")
    with net:
        inp = sc.Encoder(12, coding="rate", max_rate=300 * Hz, name="inp")
        hid = sc.NeuronGroup(6, sc.NeuronModel("dv/dt = -v/(20*ms) : volt",
                                               threshold="v > 10*mV", reset="v = 0*mV"),
                             name="hid")
        sc.Connection(inp, hid, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": 0, "b": 8}, name="c")
        sc.Decoder(hid, "spike_counts", name="counts")
        if monitor == "spikes":
            mon = (sc.SpikeMonitor(hid, name="sp"), sc.PopulationRateMonitor(hid[1:5],
                                                                             name="rate"))
        else:
            mon = sc.StateMonitor(hid, "v", name="vm")
    return net, inp, mon


def test_monitors_record_in_training_mode() -> None:
    """A trained network's spike and rate monitors record the trained layers' spikes, the
    same as the simulation records with the same weights."""
    net, inp, (sp, rate) = _trained_net(5, "spikes")
    net.build(batch=2, learner="STCA", dtype=torch.float64, backend="torch")
    x = np.random.default_rng(5).random((2, 12))
    inp(x)
    net.run(25 * ms)  # training mode
    trained = (sp.i.copy(), np.asarray(sp.t.value).copy(), sp.b.copy(),
               np.asarray(rate.rate.value).copy())
    assert len(trained[0]) > 0
    net.train(False)
    net.run(25 * ms)  # the simulation, same weights, same deterministic input
    order_t = np.lexsort((trained[0], trained[2], trained[1]))
    order_s = np.lexsort((sp.i, sp.b, np.asarray(sp.t.value)))
    np.testing.assert_array_equal(trained[0][order_t], sp.i[order_s])
    np.testing.assert_array_equal(trained[2][order_t], sp.b[order_s])
    np.testing.assert_allclose(trained[1][order_t], np.asarray(sp.t.value)[order_s])
    np.testing.assert_allclose(trained[3], np.asarray(rate.rate.value))


def test_a_state_monitor_is_refused_when_building_for_training() -> None:
    net, _, _ = _trained_net(6, "state")
    with pytest.raises(NetworkError, match=r"StateMonitor 'vm' of network 'net' would record "
                                           r"nothing in training mode.*Decoder"):
        net.build(learner="STCA", backend="torch")
    net.build(backend="torch")  # simulation only: fine


# ------------------------------------------- item 3c: conditions refused at creation
def test_threshold_and_refractory_must_be_conditions_when_made() -> None:
    with pytest.raises(EquationSyntaxError, match="threshold must be a condition") as e:
        sc.NeuronGroup(2, EQS, threshold="v")
    assert e.value.line == 1 and e.value.column == 1
    with pytest.raises(EquationSyntaxError, match="refractory condition must be a condition"):
        sc.NeuronGroup(2, "lif", refractory="v")
    for ok in ("v > 1*mV", "not v > 1*mV", "v > 1*mV or rand() < 0.1", "True"):
        sc.NeuronModel(EQS, threshold=ok)
    with pytest.raises(EquationSyntaxError, match="not a statement"):
        sc.Connection(sc.NeuronGroup(2, "lif"), sc.NeuronGroup(2, "lif"), on_pre="v > 1*mV")


# --------------------------------------------- item 3d: state of another network
def _state_net(n_post: int = 4, i: Any = (0, 1, 2), j: Any = (0, 1, 2),
               tau: Any = 10 * ms) -> sc.Network:
    net = sc.Network(dt=1 * ms, seed=3)
    with net:
        a = sc.PoissonGroup(5, 200 * Hz, name="a")
        b = sc.NeuronGroup(n_post, "lif", params={"tau": tau, "I": 20 * mV}, name="b")
        sc.Connection(a, b, on_pre="v += 3*mV", i=np.array(i), j=np.array(j), name="c")
    return net


@pytest.mark.parametrize("kw,match", [
    ({"i": (0, 1, 3)}, r"connection 'c': the same number of synapses \(3\) but other pairs"),
    ({"i": (0, 1), "j": (0, 1)}, r"connection 'c': synapse count is 3 in the saved state, "
                                 r"2 here"),
    ({"n_post": 5}, r"group 'b': size is 4 in the saved state, 5 here"),
    ({"tau": 12 * ms}, r"group 'b': parameter 'tau' is 0.01 in the saved state, 0.012 "
                       r"here"),
])
def test_loading_the_state_of_another_network_is_refused(kw: dict[str, Any],
                                                         match: str) -> None:
    sim = _state_net().compile(backend="torch")
    sim.run(5 * ms)
    state = {k: v.clone() for k, v in sim.state_dict().items()}
    other = _state_net(**kw).compile(backend="torch")
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(NetworkError, match=match):
        other.load_state_dict(state)
    for k, v in other.state_dict().items():  # nothing changed
        assert torch.equal(v, before[k]), k
    net = _state_net(**kw)
    net.build(backend="torch")
    with pytest.raises(NetworkError, match="does not fit network 'net': .*" + match):
        net.state_from_dict({"format": "snncc-state", "version": 1, "network": "net",
                             "state": state})


def test_the_same_network_and_an_older_save_still_load() -> None:
    sim = _state_net().compile(backend="torch")
    sim.run(5 * ms)
    state = {k: v.clone() for k, v in sim.state_dict().items()}
    same = _state_net().compile(backend="torch")
    same.load_state_dict(state)
    assert same.t == pytest.approx(sim.t)
    torch.testing.assert_close(same.get("b", "v"), sim.get("b", "v"))
    older = {k: v for k, v in state.items() if k != "_structure"}  # saved before the check
    again = _state_net().compile(backend="torch")
    again.load_state_dict(older)
    torch.testing.assert_close(again.get("b", "v"), sim.get("b", "v"))
    with pytest.raises(NetworkError, match=re.escape("'b__v' has shape (1, 4) in the saved "
                                                     "state, (1, 5) here")):
        _state_net(n_post=5).compile(backend="torch").load_state_dict(older)
    # saved when the structure's hashes read every index array as int64 (no "digest")
    legacy = dict(state, _structure=encode_structure(structure_of(sim.program, legacy=True)))
    assert decode_structure(legacy["_structure"]) != decode_structure(state["_structure"])
    _state_net().compile(backend="torch").load_state_dict(legacy)
    with pytest.raises(NetworkError, match="other pairs"):
        _state_net(i=(0, 1, 3)).compile(backend="torch").load_state_dict(legacy)
