"""PNG plots of ``snncc.plotting``: population rate, weight matrix and receptive-field
tiles. Each file is read back with matplotlib and checked for its size and content."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import snncc as sc
from snncc import plotting
from snncc.units import Hz, ms

pytest.importorskip("matplotlib")


def _read(path: Path) -> np.ndarray:
    """The image as ``[height, width, 3]`` floats in [0, 1]."""
    from matplotlib import image

    assert path.suffix == ".png" and path.exists()
    return image.imread(path)[..., :3]


def _dark(img: np.ndarray) -> float:
    """Fraction of pixels darker than mid-grey."""
    return float((img.mean(axis=-1) < 0.35).mean())


def _white(img: np.ndarray) -> float:
    return float((img.min(axis=-1) > 0.99).mean())


def test_population_rate_plot(tmp_path: Path) -> None:
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        P = sc.PoissonGroup(100, rates="20*Hz*(1 + sin(2*pi*10*Hz*t))")
        mon = sc.SpikeMonitor(P)
    sim = net.compile(backend="torch")
    sim.run(300 * ms)
    path = plotting.population_rate(mon, tmp_path / "rate", sim, bin=2 * ms)
    assert path == tmp_path / "rate.png"
    img = _read(path)
    assert img.shape == (300, 800, 3)
    assert 0.003 < _dark(img) < 0.3  # axes, labels and the smoothed curve; not a black box
    plain = _read(plotting.population_rate(mon, tmp_path / "binned.png", sim, smooth=None))
    assert plain.shape == img.shape and not np.array_equal(plain, img)


def test_raster_and_rate_histogram_read_times_as_analysis_does(tmp_path: Path) -> None:
    """A bare number is ms (as everywhere in snncc), a time is a time, the network means
    'up to now'; the three give the same figure. Bad durations name the function."""
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        P = sc.PoissonGroup(50, rates=40 * Hz)
        mon = sc.SpikeMonitor(P)
    sim = net.compile(backend="torch")
    sim.run(200 * ms)
    imgs = [_read(plotting.raster(mon, tmp_path / f"r{k}.png", duration=d))
            for k, d in enumerate((200, 200 * ms, sim))]
    assert all(np.array_equal(imgs[0], x) for x in imgs[1:])
    assert not np.array_equal(imgs[0], _read(plotting.raster(mon, tmp_path / "short.png",
                                                             duration=20)))
    hists = [_read(plotting.rate_histogram(mon, tmp_path / f"h{k}.png", duration=d))
             for k, d in enumerate((200, sim))]
    assert np.array_equal(*hists)
    with pytest.raises(sc.ParameterError, match="rate_histogram: duration must be > 0"):
        plotting.rate_histogram(mon, tmp_path / "bad.png", duration=-5)
    with pytest.raises(sc.UnitError, match="raster: duration"):
        plotting.raster(mon, tmp_path / "bad.png", duration=3 * Hz)


def test_population_rate_plot_of_arrays_needs_n_and_duration(tmp_path: Path) -> None:
    i, t = np.array([0, 1, 1]), np.array([0.001, 0.002, 0.004])
    img = _read(plotting.population_rate((i, t), tmp_path / "r.png", 10, n=2,  # 10 ms
                                         smooth="box", width=2 * ms))
    assert img.shape == (300, 800, 3)
    with pytest.raises(sc.ParameterError, match="needs duration="):
        plotting.population_rate((i, t), tmp_path / "x.png", n=2)


def _net_with(connect: dict) -> tuple[object, object]:
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        G = sc.NeuronGroup(60, "cuba")
        C = sc.Connection(G, G, on_pre="ge += w", weight="(0.5 + rand())*mV", **connect)
    return net.compile(backend="torch"), C


def test_weight_matrix_leaves_missing_synapses_blank(tmp_path: Path) -> None:
    sparse_sim, sparse = _net_with({"connect": "one_to_one"})
    full_sim, full = _net_with({})
    a = _read(plotting.weight_matrix(sparse_sim, sparse, tmp_path / "sparse.png"))
    b = _read(plotting.weight_matrix(full_sim, full.name, tmp_path / "full.png"))
    assert a.shape == b.shape == (550, 650, 3)
    assert _white(a) > _white(b) + 0.3  # 60 of 3600 entries drawn vs all of them
    assert _dark(b) > 0.02  # the filled matrix is coloured
    # a plain matrix with NaN holes gives the same picture as the connection
    from snncc import analysis

    dense = analysis.weight_matrix(sparse_sim, sparse) * 1e3
    c = _read(plotting.weight_matrix(dense, None, tmp_path / "dense.png", title="x"))
    assert abs(_white(c) - _white(a)) < 0.02
    with pytest.raises(sc.ShapeError, match="2-d"):
        plotting.weight_matrix(np.zeros(5), None, tmp_path / "bad.png")


def test_weight_images_tiles_each_neurons_receptive_field(tmp_path: Path) -> None:
    n_post = 16
    ones = np.ones((784, n_post))
    only_first = np.zeros((784, n_post))
    only_first[:, 0] = 1.0
    a = _read(plotting.weight_images(ones, (28, 28), tmp_path / "ones.png"))
    b = _read(plotting.weight_images(only_first, (28, 28), tmp_path / "first.png"))
    assert a.shape == b.shape and a.shape[0] > 200 and a.shape[1] > 200
    # hot_r: weight 1 is black; one of 16 tiles filled draws about 1/16 of the ink
    assert 0.3 < _dark(a) and 0.02 * _dark(a) < _dark(b) < 0.15 * _dark(a)
    # a bar in every tile, as a tensor, 5 columns
    import torch

    bars = torch.zeros(28, 28, 7)
    bars[:, 10:14, :] = 1.0
    c = _read(plotting.weight_images(bars.reshape(784, 7), (28, 28), tmp_path / "bars.png",
                                     columns=5))
    assert _dark(c) > 0.01
    with pytest.raises(sc.ShapeError, match=r"shape=\(20, 20\) must be"):
        plotting.weight_images(ones, (20, 20), tmp_path / "bad.png")


def test_weight_images_of_a_connection(tmp_path: Path) -> None:
    from snncc import analysis

    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        inp = sc.PoissonGroup(64, rates=10 * Hz)
        E = sc.NeuronGroup(9, "cuba")
        C = sc.Connection(inp, E, p=0.5, on_pre="ge += w", weight="rand()*mV")
    sim = net.compile(backend="torch")
    W = analysis.weight_matrix(sim, C)
    assert W.shape == (64, 9) and np.isnan(W).any()
    img = _read(plotting.weight_images(W, (8, 8), tmp_path / "rf.png"))
    assert img.shape[0] > 100 and _dark(img) > 0.01


def test_plots_without_matplotlib_say_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    with pytest.raises(sc.SnnccError, match=r"pip install snncc\[plot\]"):
        plotting.weight_images(np.ones((4, 2)), (2, 2), tmp_path / "x.png")
    with pytest.raises(sc.SnnccError, match=r"pip install snncc\[plot\]"):
        plotting.weight_matrix(np.ones((4, 2)), None, tmp_path / "x.png")

