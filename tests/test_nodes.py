"""Encoders, decoders and generators (SPAIC's Node family): each coding against its
definition, each decoding against the monitors, and the same network on every
backend."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.errors import NetworkError, ParameterError, ShapeError
from snncc.units import Hz, ms, mV, nA, second

DRIVEN = sc.NeuronModel("dv/dt = (I - v)/(10*ms) : volt\nI : volt", threshold="v > 10*mV",
                        reset="v = 0*mV", name="driven")


def fresh_seed() -> int:
    return int.from_bytes(os.urandom(4), "little") % 2**31


def run_encoder(coding: str, x: np.ndarray, duration, dt=1 * ms, batch: int = 1,  # noqa
                seed: int = 0, **kw: object) -> sc.SpikeMonitor:
    net = sc.Network(dt=dt, seed=seed)
    with net:
        enc = sc.Encoder(x.shape[-1], coding=coding, **kw)
        mon = sc.SpikeMonitor(enc)
    net.build(batch=batch, dtype=torch.float64)
    enc(x)
    net.run(duration)
    return mon


def test_poisson_encoder_rates() -> None:
    seed = fresh_seed()
    x = np.linspace(0, 1, 50)
    mon = run_encoder("poisson", x, 2 * second, seed=seed, max_rate=100 * Hz)
    rates = np.bincount(mon.i, minlength=50) / 2.0
    expected = 100 * x
    # binomial counts: 2000 steps, p = x*0.1
    sd = np.sqrt(2000 * 0.1 * x * (1 - 0.1 * x)) / 2.0
    assert np.all(np.abs(rates - expected) <= 5 * sd + 1e-12), f"seed {seed}"
    assert rates[0] == 0


def test_bernoulli_encoder_probability_and_batch() -> None:
    seed = fresh_seed()
    x = np.stack([np.full(30, 0.2), np.full(30, 0.7)])
    mon = run_encoder("bernoulli", x, 500 * ms, batch=2, seed=seed)
    for b, p in ((0, 0.2), (1, 0.7)):
        n = int(np.sum(mon.b == b))
        mean, sd = 30 * 500 * p, np.sqrt(30 * 500 * p * (1 - p))
        assert abs(n - mean) < 5 * sd, f"seed {seed}, batch {b}: {n} spikes"


def test_rate_encoder_is_regular() -> None:
    x = np.array([0.0, 0.1, 0.25, 0.5, 1.0])
    mon = run_encoder("rate", x, 100 * ms, max_rate=200 * Hz)
    counts = np.bincount(mon.i, minlength=5)
    np.testing.assert_array_equal(counts, np.floor(x * 200 * 0.1 + 1e-9).astype(int))
    isi = np.diff(mon.t[mon.i == 3] / ms)  # 100 Hz at dt = 1 ms: every 10 steps
    np.testing.assert_allclose(isi, 10.0)


def test_latency_encoder_spikes_once_strongest_first() -> None:
    x = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    mon = run_encoder("latency", x, 50 * ms, window=20 * ms)
    assert sorted(mon.i) == [1, 2, 3, 4], "x = 0 never spikes; the others once"
    times = dict(zip(mon.i, mon.t / ms))
    for k in (1, 2, 3, 4):
        assert times[k] == pytest.approx(np.round((1 - x[k]) * 20), abs=1e-9)


def test_constant_current_encoder_drives_its_target() -> None:
    seed = fresh_seed()
    # half below the 1 nA rheobase (silent), half above (firing): both kinds every run
    rng = np.random.default_rng(seed)
    amps = np.concatenate([rng.uniform(0, 0.95, 3), rng.uniform(1.1, 2, 3)])
    rng.shuffle(amps)
    net = sc.Network(dt=0.1 * ms, seed=seed)
    model = sc.NeuronModel("dv/dt = (R*I - v)/(10*ms) : volt\nI : amp",
                           threshold="v > 10*mV", reset="v = 0*mV",
                           params={"R": 10e6 * sc.units.ohm})
    with net:
        g = sc.NeuronGroup(6, model)
        enc = sc.Encoder(coding="constant_current", target=g, variable="I",
                         amplitude=1 * nA)
        mon = sc.SpikeMonitor(g)
    net.build(dtype=torch.float64)
    enc(amps)
    net.run(50 * ms)
    ref_net = sc.Network(dt=0.1 * ms, seed=seed)
    with ref_net:
        h = sc.NeuronGroup(6, model, params={"I": amps * nA})
        ref = sc.SpikeMonitor(h)
    ref_net.compile(dtype=torch.float64).run(50 * ms)
    np.testing.assert_array_equal(mon.i, ref.i)
    np.testing.assert_array_equal(mon.t / ms, ref.t / ms)
    assert mon.num_spikes > 0
    with pytest.raises(NetworkError, match="has no per-neuron parameter 'J'"):
        with sc.Network() as bad:
            h2 = sc.NeuronGroup(3, model)
            sc.Encoder(coding="constant_current", target=h2, variable="J")
        bad.build()
    with sc.Network() as bad2:
        h3 = sc.NeuronGroup(3, model)
        e3 = sc.Encoder(coding="constant_current", target=h3)
        sc.Connection(e3, h3, on_pre="v += 1*mV")
    with pytest.raises(NetworkError, match="has no neurons of its own"):
        bad2.build()


def test_generators() -> None:
    seed = fresh_seed()
    net = sc.Network(dt=1 * ms, seed=seed)
    with net:
        poisson = sc.Generator(200, coding_method="poisson_generator", rate=40 * Hz)
        regular = sc.Generator(3, coding="rate", rate=50 * Hz)
        g = sc.NeuronGroup(2, DRIVEN)
        sc.Generator(coding="cc_generator", target=g, amplitude=20 * mV)
        mp, mr, mg = sc.SpikeMonitor(poisson), sc.SpikeMonitor(regular), sc.SpikeMonitor(g)
    net.run(1 * second)
    assert abs(mp.num_spikes / 200 - 40) < 5 * np.sqrt(40 / 200), f"seed {seed}"
    np.testing.assert_array_equal(np.bincount(mr.i), [50, 50, 50])
    assert mg.num_spikes > 0, "the constant-current generator drives g"


def test_encoder_input_errors() -> None:
    net = sc.Network(dt=1 * ms)
    with net:
        enc = sc.Encoder(shape=(2, 3), coding="bernoulli")
        pois = sc.Encoder(4, coding="poisson", max_rate=500 * Hz)
    with pytest.raises(ShapeError, match=r"data of shape \(5,\) does not fit 6 neurons"):
        enc(np.zeros(5))
    with pytest.raises(ParameterError, match="scale=1/255"):
        enc(np.full((2, 3), 255.0))
    with pytest.raises(ParameterError, match="NaN"):
        enc(np.full(6, np.nan))
    with pytest.raises(ParameterError, match=">= 0"):
        enc(-np.ones(6))
    with pytest.raises(ParameterError, match="more than one spike per step"):
        pois(np.full(4, 3.0))
    enc(torch.ones(4, 2, 3))  # a batch of 4, as a tensor
    img = sc.Encoder(shape=(1, 3, 2), coding="bernoulli")
    img(np.zeros((3, 2)))  # one sample without the channel axis
    assert img.data.shape == (1, 6)
    pois(np.ones(4))
    with pytest.raises(ShapeError, match="batch=1; give 1 rows"):
        net.build()
    with pytest.raises(ParameterError, match="unknown coding 'gauss'"):
        sc.Encoder(3, coding="gauss")
    with pytest.raises(ParameterError, match="needs target="):
        sc.Encoder(3, coding="constant_current")
    with pytest.raises(sc.UnitError, match="a rate such as 100\\*Hz"):
        sc.Encoder(3, coding="poisson", max_rate=5 * ms)


def test_decoders_against_monitors() -> None:
    seed = fresh_seed()
    net = sc.Network(dt=0.5 * ms, seed=seed)
    rng = np.random.default_rng(seed)
    with net:
        g = sc.NeuronGroup(6, DRIVEN, params={"I": rng.uniform(5, 30, 6) * mV})
        counts = sc.Decoder(g, "spike_counts")
        rate = sc.Decoder(g, coding_method="spike_rate")
        first = sc.Decoder(g[2:5], "first_spike")
        final = sc.Decoder(g, "final_step_voltage")
        vsum = sc.Decoder(g, "voltage_sum")
        spikes = sc.SpikeMonitor(g)
        trace = sc.StateMonitor(g, "v")
    sim = net.build(batch=2, dtype=torch.float64)
    net.run(40 * ms)
    ref = np.zeros((2, 6))
    np.add.at(ref, (spikes.b, spikes.i), 1)
    np.testing.assert_array_equal(counts.predict.numpy(), ref)
    np.testing.assert_allclose(rate.predict.numpy(), ref / 0.04)
    assert torch.equal(counts.classes(), torch.as_tensor(ref.argmax(1)))
    for b in range(2):
        for k in range(3):
            sel = (spikes.b == b) & (spikes.i == k + 2)
            want = (spikes.t[sel] / second).min() if sel.any() else np.inf
            assert float(first.predict[b, k]) == pytest.approx(want)
    assert torch.equal(final.predict, sim.get("g", "v"))
    v = np.asarray(trace.v / mV) * 1e-3  # [batch, neurons, steps], at step start
    want = v[:, :, 1:].sum(-1) + sim.get("g", "v").numpy()
    np.testing.assert_allclose(vsum.predict.numpy(), want, rtol=1e-12, atol=1e-15)
    net.run_continue(10 * ms)  # decoders cover everything since the last reset
    assert counts.predict.sum() >= ref.sum()
    with pytest.raises(ParameterError, match="unknown coding 'votes'"):
        sc.Decoder(g, "votes")


def test_decoder_before_build() -> None:
    with sc.Network() as net:
        g = sc.NeuronGroup(2, DRIVEN)
        d = sc.Decoder(g)
    with pytest.raises(NetworkError, match="build the network"):
        d.predict  # noqa: B018
    del net


def _classifier(backend: str, seed: int) -> np.ndarray:
    net = sc.Network(dt=1 * ms, seed=seed)
    with net:
        inp = sc.Encoder(shape=(1, 4, 4), coding="rate", max_rate=300 * Hz)
        lat = sc.Encoder(16, coding="latency", window=10 * ms)
        hid = sc.NeuronGroup(12, DRIVEN)
        out = sc.NeuronGroup(3, DRIVEN)
        sc.Connection(inp, hid, on_pre="v += w", w_init="uniform",
                      w_init_param={"a": 0, "b": 6}, w_unit=mV)
        sc.Connection(lat, hid, on_pre="v += w", w_init="normal",
                      w_init_param={"mean": 2, "std": 1}, w_unit=mV)
        sc.Connection(hid, out, link_type="sparse", density=0.7, on_pre="v += w",
                      w_init="uniform", w_init_param={"a": 2, "b": 8}, w_unit=mV)
        dec = sc.Decoder(out, "spike_counts")
    net.build(backend=backend, batch=2, dtype=torch.float64)
    x = np.random.default_rng(seed).random((2, 16))
    inp(x)
    lat(x)
    net.run(30 * ms)
    return dec.predict.numpy()


def test_spaic_network_agrees_across_backends() -> None:
    pytest.importorskip("triton")
    os.environ.setdefault("TRITON_INTERPRET", "1")
    seed = fresh_seed()
    ref = _classifier("torch", seed)
    assert ref.sum() > 0
    np.testing.assert_array_equal(_classifier("triton", seed), ref, err_msg=f"seed {seed}")


def test_nodes_round_trip_through_a_config(tmp_path) -> None:  # noqa: ANN001
    from snncc.io.config import load_config, save_config

    def counts(net: sc.Network) -> np.ndarray:
        objs = {o.name: o for o in net.walk()}
        net.build(dtype=torch.float64)
        objs["inp"](np.linspace(0, 1, 16))
        objs["lat"](np.linspace(0, 1, 16))
        objs["cc"](np.linspace(0.5, 1, 5))
        net.run(60 * ms)
        return objs["dec"].predict.numpy()

    net = sc.Network(dt=1 * ms, seed=fresh_seed())
    with net:
        inp = sc.Encoder(16, coding="rate", max_rate=300 * Hz)
        lat = sc.Encoder(shape=(1, 4, 4), coding="latency", window=15 * ms)
        gen = sc.Generator(4, rate=50 * Hz)
        g = sc.NeuronGroup(5, DRIVEN)
        sc.Encoder(coding="constant_current", target=g, amplitude=12 * mV, name="cc")
        for src in (inp, lat, gen):
            sc.Connection(src, g, on_pre="v += 3*mV")
        sc.Decoder(g, "spike_counts", name="dec")
    for suffix in ("yaml", "json"):
        save_config(net, tmp_path / f"n.{suffix}")
        back = load_config(tmp_path / f"n.{suffix}")
        assert {o.name: type(o).__name__ for o in back.walk()} == \
            {o.name: type(o).__name__ for o in net.walk()}
        np.testing.assert_array_equal(counts(back), counts(net))
