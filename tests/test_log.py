"""Streaming monitor data to HDF5 and TensorBoard while a network runs in chunks: the
files, re-read, equal the monitors' data exactly."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import snncc as sc
from snncc.io.log import ProgressBar, RunLogger, plastic_connections, run_chunked
from snncc.units import Hz, ms, mV

h5py = pytest.importorskip("h5py")


def build() -> tuple[sc.Network, dict[str, Any]]:
    stdp = sc.SynapseModel(
        """
        w : 1
        dapre/dt = -apre/(20*ms) : 1 (event-driven)
        dapost/dt = -apost/(20*ms) : 1 (event-driven)
        """,
        on_pre="v += w*mV\napre += 0.05\nw = clip(w + apost, 0, 3)",
        on_post="apost -= 0.06\nw = clip(w + apre, 0, 3)", name="stdp")
    net = sc.Network(dt=0.1 * ms, seed=4, name="logged")
    with net:
        inp = sc.PoissonGroup(30, rates=40 * Hz, name="inp")
        E = sc.NeuronGroup(50, "lif", params={"I": np.linspace(12, 18, 50) * mV},
                           init={"v": "El + rand()*(Vt - El)"}, name="E")
        sc.Connection(inp, E, stdp, p=0.5, weight="rand()*2", name="plastic")
        sc.Connection(E, E, p=0.1, on_pre="v += 0.2*mV", name="static")
        h = {"spikes": sc.SpikeMonitor(E, name="spikes"),
             "sub": sc.SpikeMonitor(E[10:20], name="sub"),
             "vm": sc.StateMonitor(E, "v", record=[0, 7, 49], name="vm"),
             "rate": sc.PopulationRateMonitor(E[25:], name="rate")}
    return net, h


def test_hdf5_and_tensorboard_equal_the_monitors(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    net, h = build()
    sim = net.compile(backend="torch", device="cpu")
    assert plastic_connections(sim) == ["plastic"]
    with RunLogger(sim, net, hdf5=tmp_path / "data.h5", tensorboard=tmp_path / "tb",
                   attrs={"name": "test"}) as log:
        chunks = run_chunked(sim, 0.06, 0.01, logger=log)   # 60 ms in 10 ms chunks
    assert chunks == 6 and h["spikes"].num_spikes > 50

    with h5py.File(tmp_path / "data.h5", "r") as f:
        assert f.attrs["dt"] == sim.dt and f.attrs["name"] == "test"
        assert f.attrs["steps"] == 600 and f.attrs["backend"] == "torch"
        s = f["monitors/spikes"]
        assert s.attrs["kind"] == "spike" and s.attrs["source"] == "E"
        assert np.array_equal(s["i"][:], h["spikes"].i)
        assert np.array_equal(s["t"][:], h["spikes"].t.value)
        assert s["t"].attrs["unit"] == "second"
        sub = f["monitors/sub"]
        assert sub.attrs["source"] == "E[10:20]" and sub.attrs["n_neurons"] == 10
        assert np.array_equal(sub["i"][:], h["sub"].i)
        assert np.array_equal(sub["t"][:], h["sub"].t.value)
        vm = f["monitors/vm"]
        assert vm["v"].attrs["unit"] == "volt" and vm["v"].shape == (600, 1, 3)
        assert np.array_equal(vm["v"][:, 0, :].T, h["vm"].v.value)
        assert np.array_equal(vm["t"][:], h["vm"].t.value)
        assert np.array_equal(vm["record"][:], [0, 7, 49])
        r = f["monitors/rate"]
        assert np.array_equal(r["rate"][:, 0], h["rate"].rate.value)
        assert np.array_equal(r["t"][:], h["rate"].t.value)
        w = f["connections/plastic/w"]
        assert w.shape[0] == 6 and w.attrs["unit"] == "1"
        assert np.array_equal(w[-1], sim.get("plastic", "w").double().numpy())
        assert not np.array_equal(w[0], w[-1])                 # STDP at work
        assert np.array_equal(f["connections/plastic/step"][:], np.arange(100, 601, 100))
        assert "static" not in f["connections"]                # not plastic

    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"histograms": 0,
                                                                "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"rate/spikes", "rate/sub", "rate/rate", "state/vm/v"} <= set(tags["scalars"])
    assert {"weights/plastic", "rates/spikes"} <= set(tags["histograms"])
    ev = acc.Scalars("rate/spikes")
    assert [e.step for e in ev] == list(range(100, 601, 100))
    t = h["spikes"].t.value
    expected = [np.sum((t >= k * 0.01 - 1e-9) & (t < (k + 1) * 0.01 - 1e-9)) / 50 / 0.01
                for k in range(6)]
    assert np.allclose([e.value for e in ev], expected, rtol=1e-6)
    vmean = [e.value for e in acc.Scalars("state/vm/v")]
    v = h["vm"].v.value
    assert np.allclose(vmean, [v[:, k * 100:(k + 1) * 100].mean() for k in range(6)],
                       rtol=1e-6)
    hist = acc.Histograms("weights/plastic")
    assert len(hist) == 6 and hist[-1].histogram_value.num == sim.get("plastic", "w").numel()


def test_streaming_in_chunks_equals_one_run(tmp_path: Path) -> None:
    """Chunked logging records the same data as one long run."""
    net, h = build()
    sim = net.compile(backend="torch", device="cpu")
    with RunLogger(sim, net, hdf5=tmp_path / "a.h5") as log:
        run_chunked(sim, 30 * ms, 7 * ms, logger=log)   # uneven: 7, 7, 7, 7, 2 ms
        assert log.chunks == 5
    net2, h2 = build()
    net2.compile(backend="torch", device="cpu").run(30 * ms)
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert np.array_equal(f["monitors/spikes/i"][:], h2["spikes"].i)
        assert np.array_equal(f["monitors/vm/v"][:, 0, :].T, h2["vm"].v.value)


def test_batch_and_hdf5_only(tmp_path: Path) -> None:
    net, h = build()
    sim = net.compile(backend="torch", device="cpu", batch=2)
    with RunLogger(sim, net, hdf5=tmp_path / "b.h5", weights=False) as log:
        run_chunked(sim, 0.02, logger=log)
    with h5py.File(tmp_path / "b.h5", "r") as f:
        assert np.array_equal(f["monitors/spikes/batch"][:], h["spikes"].b)
        assert np.array_equal(np.moveaxis(f["monitors/vm/v"][:], 0, -1), h["vm"].v.value)
        assert f["monitors/rate/rate"].shape == (200, 2)
        assert np.array_equal(f["monitors/rate/rate"][:].T, h["rate"].rate.value)
        assert "connections" not in f


def test_restoring_an_earlier_state_is_refused(tmp_path: Path) -> None:
    net, _ = build()
    sim = net.compile(backend="torch", device="cpu")
    state = {k: v.clone() for k, v in sim.state_dict().items()}
    with RunLogger(sim, net, hdf5=tmp_path / "c.h5") as log:
        run_chunked(sim, 0.01, logger=log)
        sim.load_state_dict(state)
        with pytest.raises(sc.SnnccError, match="start a new RunLogger"):
            log.log()


def test_progress_bar() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = ProgressBar(1e-4, "cuba", stream=out, width=10)
    bar(0, 1000)
    bar(500, 1000)
    bar(1000, 1000)
    bar.close()
    text = out.getvalue()
    assert "cuba [#####-----]  50.0% 0.05/0.1 s simulated" in text
    assert "[##########] 100.0%" in text and text.endswith("\n")
    log = io.StringIO()  # not a terminal: only the finished bar
    bar = ProgressBar(1e-4, stream=log, width=4)
    bar(1, 2)
    bar(2, 2)
    bar.close()
    assert log.getvalue().count("[") == 1 and "100.0%" in log.getvalue()


def test_bad_chunks_and_missing_packages(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    net, _ = build()
    sim = net.compile(backend="torch", device="cpu")
    with pytest.raises(sc.ParameterError, match="at least one time step"):
        run_chunked(sim, 1e-6)
    with pytest.raises(sc.ParameterError, match="chunk must be a positive time"):
        run_chunked(sim, 0.01, -1)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(sc.SnnccError, match=r"pip install snncc\[io\]"):
        RunLogger(sim, net, hdf5=tmp_path / "x.h5")
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(sc.SnnccError, match=r"tensorboard"):
        RunLogger(sim, net, tensorboard=tmp_path / "tb")
