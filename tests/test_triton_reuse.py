"""Kernel reuse in the Triton backend: kernels that differ only in sizes and constants
compile once (one ``@triton.jit`` function, launched once per use), and the stage
templates leave no stray blank lines."""

from __future__ import annotations

import re

import torch

import snncc as sc
from snncc.units import ms, mV

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _readme_source() -> str:
    """The generated module of the README's CUBA network (``Ce`` and ``Ci`` differ only
    in their target variable, constant and sizes)."""
    net = sc.Network(dt=0.1 * ms, seed=1)
    with net:
        P = sc.NeuronGroup(400, model="cuba", init={"v": "Vr + rand()*(Vt - Vr)"}, name="P")
        sc.Connection(P[:320], P, p=0.2, on_pre="ge += we", params={"we": 1.62 * mV},
                      name="Ce")
        sc.Connection(P[320:], P, p=0.2, on_pre="gi += wi", params={"wi": -9 * mV},
                      name="Ci")
        sc.SpikeMonitor(P)
    return net.compile(backend="triton", device=DEVICE, dtype=torch.float64).source()


def test_pathways_differing_in_constants_share_one_function() -> None:
    src = _readme_source()
    functions = re.findall(r"^def (\w+)\(step_ptr", src, flags=re.M)
    assert functions == ["P_neurons", "pathway_shared1"]
    # one launch per use, each with its own bindings, sizes and constants
    assert "pathway_shared1[Ce_on_pre_grid](" in src
    assert "pathway_shared1[Ci_on_pre_grid](" in src
    assert 'Ce_on_pre_consts = torch.tensor([0.0016' in src
    assert 'Ci_on_pre_consts = torch.tensor([-0.009' in src
    assert "tl.load(consts_ptr_ + 0)" in src
    # what each launch computes is shown at the launch, and the docstring lists both
    assert "# on_pre: ge += we" in src and "# on_pre: gi += wi" in src
    assert '"""Ce on_pre: ' in src and "; Ci on_pre: " in src


def test_kernels_have_no_blank_lines() -> None:
    src = _readme_source()
    for chunk in src.split("\n\n\n"):
        if chunk.startswith("@triton.jit"):
            assert "\n\n" not in chunk.strip("\n"), chunk


def test_populations_of_one_model_share_one_function() -> None:
    """Two LIF groups with other parameters, sizes and spike-history lengths are one jit
    function (numbers as constants, the history length a size argument), with the same
    spikes as the torch reference in float64; a group without a twin keeps literals."""
    import numpy as np

    net = sc.Network(dt=0.1 * ms, seed=3)
    rng = np.random.default_rng()
    flat = rng.choice(150 * 20, 200, replace=False)  # distinct (step, neuron) pairs
    with net:
        G = sc.SpikeGeneratorGroup(20, indices=flat % 20, times=(flat // 20) * 0.1 * ms,
                                   name="G")
        A = sc.NeuronGroup(30, "lif", params={"tau": 10 * ms, "I": 12 * mV}, name="A")
        B = sc.NeuronGroup(45, "lif", params={"tau": 25 * ms, "I": 9 * mV}, name="B")
        C = sc.NeuronGroup(10, "eif", name="C")
        sc.Connection(G, A, p=0.5, on_pre="v += 4*mV", name="GA")
        sc.Connection(G, B, p=0.5, on_pre="v += 3*mV", name="GB")
        sc.Connection(A, B, p=0.3, on_pre="v += 1*mV", delay=2 * ms, name="AB")
        sc.Connection(G, C, p=0.5, on_pre="v += 5*mV", name="GC")
        monitors = [sc.SpikeMonitor(X) for X in (A, B, C)]
    spikes = {}
    for backend in ("torch", "triton"):
        sim = net.compile(backend=backend, device=DEVICE, dtype=torch.float64)
        sim.run(15 * ms)
        spikes[backend] = [(np.asarray(m.i).tolist(), np.asarray(m.t / ms).round(6).tolist())
                           for m in monitors]
        if backend == "triton":
            src = sim.source()
    assert spikes["torch"] == spikes["triton"]
    assert all(len(i) > 0 for i, _ in spikes["torch"][:2]), spikes["torch"]
    functions = re.findall(r"^def (\w+)\(step_ptr", src, flags=re.M)
    assert "A_neurons" not in functions and "B_neurons" not in functions
    assert "C_neurons" in functions
    shared = src[src.index("def population_shared"):]
    shared = shared[:shared.index("\n\n\n")]
    assert '"""A: 30 neurons' in shared and "; B: 45 neurons" in shared
    assert "consts_ptr_" in shared and "hist_len_" in shared
    c_kernel = src[src.index("def C_neurons"):]
    assert "consts_ptr_" not in c_kernel[:c_kernel.index("\n\n\n")]
