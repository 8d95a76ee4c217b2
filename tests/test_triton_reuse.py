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
