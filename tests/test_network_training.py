"""Training a network end to end (SPAIC's flow: Encoder -> groups -> Decoder -> loss ->
backward -> optimizer step) through the fused layers, and the trained weights back in
the simulation."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.errors import NetworkError
from snncc.units import Hz, ms, mV

LIF = sc.NeuronModel("dv/dt = -v/(20*ms) : volt", threshold="v > 10*mV", reset="v = 0*mV",
                     name="lif20")


def fresh_seed() -> int:
    return int.from_bytes(os.urandom(4), "little") % 2**31


def classifier(seed: int, refractory: bool = False, trace: bool = False
               ) -> tuple[sc.Network, sc.Encoder, sc.Encoder, dict[str, sc.Decoder]]:
    """Two deterministic encoders, three groups, sparse and full connections, per-neuron
    random initial v; decoders of every coding (``voltage_sum`` only with ``trace``, as it
    makes the layers step together)."""
    net = sc.Network(dt=1 * ms, seed=seed, schedule="layered")
    with net:
        inp = sc.Encoder(16, coding="rate", max_rate=300 * Hz)
        lat = sc.Encoder(16, coding="latency", window=15 * ms)
        lif = sc.library.get("lif")
        hid = sc.NeuronGroup(24, dataclasses.replace(LIF, refractory=3 * ms) if refractory
                             else LIF)
        hid2 = sc.NeuronGroup(12, lif if refractory else dataclasses.replace(lif, refractory=None),
                              init={"v": "-70*mV + rand()*10*mV"})
        out = sc.NeuronGroup(4, LIF)
        sc.Connection(inp, hid, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": -2, "b": 6})
        sc.Connection(lat, hid, on_pre="v += w*mV", link_type="sparse", density=0.4,
                      w_init="uniform", w_init_param={"a": -2, "b": 6})
        sc.Connection(hid, hid2, on_pre="v += w", weight="rand()*4*mV")
        sc.Connection(hid, out, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": -2, "b": 6})
        sc.Connection(hid2, out, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": -1, "b": 6})
        decoders = {"counts": sc.Decoder(out, "spike_counts"),
                    "rate": sc.Decoder(hid[4:20], "spike_rate"),
                    "first": sc.Decoder(hid, "first_spike"),
                    "volt": sc.Decoder(hid2, "final_step_voltage")}
        if trace:
            decoders["vsum"] = sc.Decoder(hid2, "voltage_sum")
    return net, inp, lat, decoders


def same_decoders(trained: dict[str, torch.Tensor], decoders: dict[str, sc.Decoder],
                  seed: int) -> None:
    """The simulation's decoders equal the trained layers' (counts, rates and spike
    times exactly; voltages to 1e-12 in float64)."""
    for k, d in decoders.items():
        sim = d.predict
        if d.coding in ("final_step_voltage", "voltage_sum"):
            torch.testing.assert_close(trained[k], sim, rtol=0, atol=1e-12,
                                       msg=f"{k}, seed {seed}")
        else:
            assert torch.equal(trained[k], sim), f"{k}, seed {seed}"


@pytest.mark.parametrize("refractory,trace", [(False, False), (True, False), (False, True)])
def test_trained_layers_equal_the_layered_simulation(refractory: bool, trace: bool) -> None:
    """Spike counts identical, voltages to 1e-12; with refractoriness the delivered input
    still lands on a clamped v (Brian2's semantics), in the layers too."""
    seed = fresh_seed()
    net, inp, lat, decoders = classifier(seed, refractory=refractory, trace=trace)
    net.build(batch=3, learner="STCA", dtype=torch.float64, backend="torch")
    assert net._trainer.plan.stepwise is trace
    x = np.random.default_rng(seed).random((3, 16))
    inp(x)
    lat(x)
    net.run(30 * ms)  # training mode: the layers
    trained = {k: d.predict for k, d in decoders.items()}
    assert all(v.requires_grad for v in trained.values())
    assert trained["counts"].sum() > 0 and torch.isfinite(trained["first"]).any()
    # first_spike's gradient reaches the spikes (and from them the weights)
    finite = torch.isfinite(trained["first"])
    trained["first"][finite].sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    net.train(False)  # the simulation, with the same (deterministic) input spikes
    net.run(30 * ms)
    same_decoders({k: v.detach() for k, v in trained.items()}, decoders, seed)


def two_classes(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 16-pixel patterns of two classes: left half bright or right half bright."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.random((n, 16)) * 0.3
    x[y == 0, :8] += 0.7
    x[y == 1, 8:] += 0.7
    return x, y


def test_training_learns_and_the_simulation_keeps_the_weights() -> None:
    seed = fresh_seed()
    torch.manual_seed(seed)
    x, y = two_classes(seed, 64)
    net = sc.Network(dt=1 * ms, seed=seed, schedule="layered")
    with net:
        inp = sc.Encoder(16, coding="poisson", max_rate=200 * Hz)
        hid = sc.NeuronGroup(20, LIF)
        out = sc.NeuronGroup(2, LIF)
        c1 = sc.Connection(inp, hid, on_pre="v += w*mV", w_init="uniform",
                           w_init_param={"a": 0, "b": 5})
        sc.Connection(hid, out, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": 0, "b": 5})
        dec = sc.Decoder(out, "spike_counts")
    net.build(batch=64, learner="STBP")
    opt = torch.optim.Adam(net.parameters(), lr=0.2)
    losses = []
    for _ in range(25):
        inp(x)
        net.run(20 * ms)
        loss = torch.nn.functional.cross_entropy(dec.predict, torch.as_tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), f"seed {seed}: {losses}"
    net.eval()
    sim = net.sim
    trained = net._trainer.synapse_weights(c1.name)
    torch.testing.assert_close(sim.get(c1.name, "w")[0], trained.to(sim.dtype))
    inp(x)
    net.run(20 * ms)
    acc = (dec.classes().numpy() == y).mean()
    assert acc >= 0.75, f"seed {seed}: simulated accuracy {acc}"


def test_training_refuses_what_it_cannot_train() -> None:
    def build(schedule: str = "layered", **kw: object) -> None:
        net = sc.Network(dt=1 * ms, schedule=schedule)
        with net:
            inp = sc.Encoder(4, coding="rate")
            g = sc.NeuronGroup(3, kw.pop("model", LIF))
            sc.Connection(inp, g, on_pre=kw.pop("on_pre", "v += w*mV"), weight=1.0,
                          **kw)
        net.build(learner="STCA")

    with pytest.raises(NetworkError, match="needs schedule='layered'"):
        build("brian2")
    with pytest.raises(NetworkError, match="one statement 'x \\+= w'"):
        build(on_pre="v += w*mV; v += 1*mV")
    with pytest.raises(NetworkError, match="plastic synapses"):
        build(on_post="w += 0.1")
    with pytest.raises(NetworkError, match="not built for training"):
        net = sc.Network(schedule="layered")
        with net:
            sc.NeuronGroup(2, LIF)
        net.build()
        net.parameters()
    with pytest.raises(sc.ParameterError, match="nope"):
        net = sc.Network(dt=1 * ms, schedule="layered")
        with net:
            sc.NeuronGroup(2, LIF)
        net.build(learner="nope")


def recurrent_net(seed: int) -> tuple[sc.Network, sc.Encoder, dict[str, sc.Decoder]]:
    """Heterogeneous delays, a self-connection and a back edge (both late: their target
    steps before their source), refractoriness, float64."""
    net = sc.Network(dt=1 * ms, seed=seed, schedule="layered")
    with net:
        inp = sc.Encoder(12, coding="rate", max_rate=300 * Hz)
        hid = sc.NeuronGroup(20, dataclasses.replace(LIF, refractory=2 * ms))
        out = sc.NeuronGroup(6, LIF, init={"v": "rand()*8*mV"})
        sc.Connection(inp, hid, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": -1, "b": 6}, delay="floor(rand()*4)*ms")
        sc.Connection(hid, hid, on_pre="v += w*mV", link_type="sparse", density=0.3,
                      w_init="uniform", w_init_param={"a": -3, "b": 5})
        sc.Connection(hid, out, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": -1, "b": 5}, delay=1 * ms)
        sc.Connection(out, hid, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": -4, "b": 4}, delay="floor(rand()*3)*ms")
        decoders = {"counts": sc.Decoder(out, "spike_counts"),
                    "hcounts": sc.Decoder(hid, "spike_counts"),
                    "first": sc.Decoder(out, "first_spike"),
                    "volt": sc.Decoder(out, "final_step_voltage"),
                    "hvolt": sc.Decoder(hid, "final_step_voltage"),
                    "vsum": sc.Decoder(out, "voltage_sum"),
                    "hvsum": sc.Decoder(hid, "voltage_sum")}
    return net, inp, decoders


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_recurrent_and_delayed_connections_train_as_simulated(backend: str) -> None:
    """Both backends (Triton in its interpreter on CPU): the simulation and the layers."""
    if backend == "triton":
        pytest.importorskip("triton")
    seed = fresh_seed()
    net, inp, decoders = recurrent_net(seed)
    net.build(batch=2, learner="sbp", dtype=torch.float64, backend=backend)
    assert net._trainer.plan.stepwise
    assert sorted(c.name for c in net._trainer.plan.connections if c.late) == sorted(
        net.sim.program.late)
    inp(np.random.default_rng(seed).random((2, 12)))
    net.run(40 * ms)
    trained = {k: d.predict for k, d in decoders.items()}
    assert trained["hcounts"].sum() > 0 and trained["counts"].sum() > 0
    (trained["counts"].sum() + trained["vsum"].sum()).backward()
    grads = {k: p.grad for k, p in net._trainer.weights.items()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    net.train(False)
    net.run(40 * ms)
    # the voltages include what late connections delivered after each step
    same_decoders({k: v.detach() for k, v in trained.items()}, decoders, seed)


def test_delays_without_recurrence_run_whole_sequences() -> None:
    seed = fresh_seed()
    net = sc.Network(dt=1 * ms, seed=seed, schedule="layered")
    with net:
        inp = sc.Encoder(10, coding="rate", max_rate=300 * Hz)
        hid = sc.NeuronGroup(8, LIF)
        sc.Connection(inp, hid, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": 0, "b": 8}, delay="floor(rand()*5)*ms")
        counts = sc.Decoder(hid, "spike_counts")
        volt = sc.Decoder(hid, "final_step_voltage")
    net.build(learner="STBP", dtype=torch.float64, backend="torch")
    assert not net._trainer.plan.stepwise
    (lags,) = net._trainer._lags.values()
    assert len(lags) > 1  # several delay classes of one weight matrix
    inp(np.random.default_rng(seed).random((1, 10)))
    net.run(25 * ms)
    a, va = counts.predict, volt.predict
    net.train(False)
    net.run(25 * ms)
    assert a.sum() > 0
    assert torch.equal(a.detach(), counts.predict), f"seed {seed}"
    torch.testing.assert_close(va.detach(), volt.predict, rtol=0, atol=1e-12)


@pytest.mark.parametrize("recurrent", [False, True])
def test_constant_current_encoders_drive_trained_layers(recurrent: bool) -> None:
    """A constant-current encoder (data times amplitude held in I of part of a group; the
    rest keeps its own I) drives the first layer; the simulation agrees."""
    seed = fresh_seed()
    net = sc.Network(dt=0.5 * ms, seed=seed, schedule="layered")
    with net:
        hid = sc.NeuronGroup(16, "lif", params={"I": 16 * mV})
        cur = sc.Encoder(coding="constant_current", target=hid[2:12], variable="I",
                         amplitude=30 * mV)
        out = sc.NeuronGroup(5, LIF)
        sc.Connection(hid, out, on_pre="v += w*mV", w_init="uniform",
                      w_init_param={"a": 0, "b": 8})
        if recurrent:
            sc.Connection(out, out, on_pre="v += w*mV", weight="(rand() - 0.5)*4")
        decoders = {"counts": sc.Decoder(out, "spike_counts"),
                    "hcounts": sc.Decoder(hid, "spike_counts"),
                    "volt": sc.Decoder(hid, "final_step_voltage")}
    net.build(batch=3, learner="STBP", dtype=torch.float64, backend="torch")
    assert net._trainer.plan.stepwise is recurrent
    cur(np.random.default_rng(seed).random((3, 10)))
    net.run(20 * ms)
    trained = {k: d.predict for k, d in decoders.items()}
    assert trained["hcounts"].sum() > 0 and trained["counts"].requires_grad
    net.train(False)
    net.run(20 * ms)
    same_decoders({k: v.detach() for k, v in trained.items()}, decoders, seed)


def test_a_group_fed_by_a_current_and_connections_is_refused() -> None:
    net = sc.Network(dt=1 * ms, schedule="layered")
    with net:
        inp = sc.Encoder(4, coding="rate")
        hid = sc.NeuronGroup(4, "lif")
        sc.Encoder(coding="constant_current", target=hid, variable="I")
        sc.Connection(inp, hid, on_pre="v += w*mV", weight=1.0)
    with pytest.raises(NetworkError, match="one input"):
        net.build(learner="STCA")


class SpaicNet(sc.Network):
    """SPAIC's flow, written as in SPAIC: members and the learner in ``__init__``."""

    def __init__(self, seed: int, trainable: str = "all") -> None:
        super().__init__(dt=1 * ms, seed=seed, schedule="layered")
        self.input = sc.Encoder(16, coding="poisson", max_rate=200 * Hz)
        self.layer1 = sc.NeuronGroup(20, LIF)
        self.output = sc.NeuronGroup(2, LIF)
        self.con1 = sc.Connection(self.input, self.layer1, on_pre="v += w*mV",
                                  w_init="uniform", w_init_param={"a": -1, "b": 5})
        self.con2 = sc.Connection(self.layer1, self.output, on_pre="v += w*mV",
                                  w_init="uniform", w_init_param={"a": -1, "b": 5})
        self.decoder = sc.Decoder(self.output, "spike_counts")
        targets = {"all": self, "con2": self.con2, "output": self.output}[trainable]
        self.learner = sc.Learner(trainable=targets, algorithm="STCA", alpha=0.5)
        self.learner.set_optimizer("Adam", 0.02)
        self.learner.set_schedule("StepLR", step_size=5, gamma=0.5)


def test_spaic_learner_trains_the_network() -> None:
    """Learner(trainable=self, algorithm='STCA'), set_optimizer / set_schedule by name,
    optim_zero_grad / optim_step / optim_schedule: the loss falls."""
    seed = fresh_seed()
    torch.manual_seed(seed)
    x, y = two_classes(seed, 32)
    net = SpaicNet(seed)
    net.build(batch=32)
    learner = net.learner
    assert net._trainer.layers["layer1"].step_ir.surrogate == "rectangle"
    assert net._trainer.layers["layer1"].step_ir.alpha == 0.5
    assert isinstance(learner.optimizer, torch.optim.Adam)
    losses = []
    for _ in range(10):
        net.input(x)
        net.run(20 * ms)
        loss = torch.nn.functional.cross_entropy(net.decoder.predict, torch.as_tensor(y))
        learner.optim_zero_grad()
        loss.backward()
        learner.optim_step()
        learner.optim_shedule()  # SPAIC's spelling
        losses.append(loss.item())
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses


@pytest.mark.parametrize("trainable", ["con2", "output"])
def test_learner_trainable_freezes_the_rest(trainable: str) -> None:
    net = SpaicNet(fresh_seed(), trainable=trainable)
    net.build(batch=4)
    w = dict(net._trainer.weights.items())
    assert not w["con1"].requires_grad and w["con2"].requires_grad
    assert [p is w["con2"] for p in net.parameters()] == [True]
    before = w["con1"].detach().clone()
    net.input(np.random.default_rng(0).random((4, 16)))
    net.run(10 * ms)
    net.learner.optim_zero_grad()
    (net.decoder.predict.sum() + 1).backward()
    net.learner.optim_step()
    assert torch.equal(before, w["con1"].detach())


def test_learner_errors_name_the_fix() -> None:
    with pytest.raises(sc.ParameterError, match="plasticity rule.*plasticity.stdp"):
        sc.Learner(algorithm="nearest_online_STDP")
    with pytest.raises(sc.ParameterError, match="unknown surrogate"):
        sc.Learner(algorithm="backprop")
    learner = sc.Learner(algorithm="sbp")
    assert learner.surrogate == "atan"
    with pytest.raises(sc.ParameterError, match="unknown optimizer 'Adamm'.*Adam"):
        learner.set_optimizer("Adamm", 0.1)
    with pytest.raises(sc.ParameterError, match="unknown schedule 'StepLRR'.*StepLR"):
        learner.set_schedule("StepLRR")
    with pytest.raises(NetworkError, match="no optimizer; call learner.set_optimizer"):
        learner.optim_step()
    net = SpaicNet(fresh_seed())
    with pytest.raises(NetworkError, match="Learner 'learner' and build\\(learner="):
        net.build(learner="STBP")
    with net:
        sc.Learner(algorithm="STBP", name="second")
    with pytest.raises(NetworkError, match="2 learners"):
        net.build()
