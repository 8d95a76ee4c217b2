"""The backend registry (``snncc.backends.registry``): names, errors, the ``auto`` rule,
and that registering a backend is all it takes for networks, layers and the CLI to use
it."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import numpy as np
import pytest
import torch

import snncc as sc
from snncc import backends
from snncc.backends import registry
from snncc.backends.templating import environment
from snncc.backends.torch.backend import TorchBackend
from snncc.backends.triton import backend as triton_backend
from snncc.cli import main
from snncc.errors import BackendError, ParameterError
from snncc.units import ms

CPU = torch.device("cpu")
CUDA = torch.device("cuda")  # only compared against: nothing runs on it here


class ToyBackend(TorchBackend):
    """The torch backend under another name: a backend added by registration alone."""

    name = "toy"


@pytest.fixture
def toy() -> Iterator[ToyBackend]:
    b = registry.register(ToyBackend())
    try:
        yield b
    finally:
        registry.unregister(b.name)


def cuba(seed: int = 3) -> tuple[sc.Network, sc.SpikeMonitor]:
    net = sc.Network(dt=0.1 * ms, seed=seed)
    with net:
        P = sc.NeuronGroup(60, "cuba", init={"v": "Vr + rand()*(Vt - Vr)"}, name="P")
        sc.Connection(P, P, p=0.2, on_pre="ge += 3*mV", name="C")
        spikes = sc.SpikeMonitor(P)
    return net, spikes


# ------------------------------------------------------------------------------ names
def test_the_registry_lists_torch_first_then_triton() -> None:
    assert registry.names() == ("torch", "triton")
    assert backends.BACKENDS == registry.names()
    assert registry.reference().name == "torch"
    assert backends.get_backend("torch") is registry.lookup("torch")
    assert all(isinstance(registry.lookup(n), backends.Backend) for n in registry.names())


def test_an_unknown_name_suggests_the_closest() -> None:
    net, _ = cuba()
    with pytest.raises(ParameterError, match=r"unknown backend 'trton' \(did you mean "
                                             r"'triton'\?\); available: torch, triton "
                                             r"\(or 'auto'\)"):
        net.compile(backend="trton")
    with pytest.raises(ParameterError, match=r"layer 'L': unknown backend 'trch' \(did "
                                             r"you mean 'torch'\?\)"):
        sc.layer("lif", backend="trch", name="L")


def test_a_name_is_registered_once_and_auto_is_reserved() -> None:
    with pytest.raises(ParameterError, match="'torch' is already registered"):
        registry.register(TorchBackend())

    class Auto(TorchBackend):
        name = "auto"

    with pytest.raises(ParameterError, match="'auto' is already registered .or reserved"):
        registry.register(Auto())
    assert registry.names() == ("torch", "triton")


def test_an_unavailable_backend_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ImportError("no module named 'triton'")

    monkeypatch.setattr(triton_backend, "import_triton", missing)
    with pytest.raises(BackendError, match="backend 'triton' is not available: no module "
                                           "named 'triton'; use backend='torch'"):
        registry.get("triton")
    registry.lookup("triton")  # known all the same


# ------------------------------------------------------------------------------- auto
def test_auto_picks_triton_on_cuda_where_triton_is_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert registry.auto(CPU).name == "torch"
    installed = importlib.util.find_spec("triton") is not None
    assert registry.auto(CUDA).name == ("triton" if installed else "torch")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert registry.auto(CUDA).name == "torch"


def test_a_registered_backend_does_not_change_auto(toy: ToyBackend) -> None:
    assert registry.auto(CPU).name == "torch"
    assert registry.select("auto", CPU).name == "torch"


# ------------------------------------------------------------------------- templates
def test_templates_take_their_options_from_the_backend() -> None:
    assert not environment("torch").trim_blocks
    assert environment("triton").trim_blocks and environment("triton").lstrip_blocks


# -------------------------------------------------------------- registration is enough
def test_a_registered_backend_compiles_networks(toy: ToyBackend) -> None:
    assert backends.BACKENDS == ("torch", "triton", "toy")
    spikes = {}
    for name in ("torch", "toy"):
        net, mon = cuba()
        sim = net.compile(backend=name, dtype=torch.float64)
        sim.run(20 * ms)
        assert sim.backend_name == name
        spikes[name] = (np.asarray(mon.i), np.asarray(mon.t / ms))
    assert spikes["torch"][0].size > 0
    np.testing.assert_array_equal(spikes["toy"][0], spikes["torch"][0])
    np.testing.assert_array_equal(spikes["toy"][1], spikes["torch"][1])


def test_a_registered_backend_runs_layers(toy: ToyBackend) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(12, 3, 8, generator=gen, dtype=torch.float64) * 3
    out = {}
    for name in ("torch", "toy"):
        L = sc.layer("dv/dt = (I - v)/tau : 1", threshold="v > 1", reset="v = 0",
                     params={"tau": 2.0}, backend=name).double()
        assert L._backend_for(CPU) == name
        out[name] = L(x)
    assert out["torch"].sum() > 0
    assert torch.equal(out["toy"], out["torch"])


def test_a_registered_backend_is_a_cli_choice(toy: ToyBackend,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emit", "lif", "--backend", "toy", "--step"]) == 0
    toy_step = capsys.readouterr().out
    assert main(["emit", "lif", "--backend", "torch", "--step"]) == 0
    assert toy_step == capsys.readouterr().out
    assert toy_step.startswith("def step(")


def test_unregistering_removes_the_backend() -> None:
    registry.register(ToyBackend())
    registry.unregister("toy")
    assert "toy" not in registry.names()
    net, _ = cuba()
    with pytest.raises(ParameterError, match=r"unknown backend 'toy'"):
        net.compile(backend="toy")
