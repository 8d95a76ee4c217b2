"""Synaptic event code: event-driven trace equations (pair-based STDP) against an eager
reference, on fresh random spike trains."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.units import ms

STDP = dict(taupre=20.0, taupost=30.0, Apre=0.01, Apost=-0.012, wmax=1.0)


def _reference(pre_steps, post_steps, dt, w0):
    """Eager pair-based STDP with all-to-all traces: traces decay exactly between events;
    within a step on_pre runs before on_post (Brian2's pathway order)."""
    events = sorted([(s, 0) for s in pre_steps] + [(s, 1) for s in post_steps])
    w, apre, apost, last = w0, 0.0, 0.0, 0
    for step, kind in events:
        el = (step - last) * dt
        apre *= math.exp(-el / STDP["taupre"])
        apost *= math.exp(-el / STDP["taupost"])
        last = step
        if kind == 0:
            apre += STDP["Apre"]
            w = min(max(w + apost, 0.0), STDP["wmax"])
        else:
            apost += STDP["Apost"]
            w = min(max(w + apre, 0.0), STDP["wmax"])
    return w, apre, apost


@pytest.mark.parametrize("trial", range(3))
def test_stdp_matches_eager_reference(trial: int) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    dt = 0.1
    n_steps = 3000
    pre = np.sort(rng.choice(n_steps, size=40, replace=False))
    post = np.sort(rng.choice(n_steps, size=40, replace=False))
    w0 = float(rng.uniform(0.2, 0.8))
    model = sc.SynapseModel(
        """
        w : 1
        dapre/dt = -apre/taupre : 1 (event-driven)
        dapost/dt = -apost/taupost : 1 (event-driven)
        """,
        on_pre="apre += Apre; w = clip(w + apost, 0, wmax)",
        on_post="apost += Apost; w = clip(w + apre, 0, wmax)",
        params={"taupre": STDP["taupre"] * ms, "taupost": STDP["taupost"] * ms,
                "Apre": STDP["Apre"], "Apost": STDP["Apost"], "wmax": STDP["wmax"]})
    net = sc.Network(dt=dt * ms, seed=seed % 2**31)
    with net:
        a = sc.SpikeGeneratorGroup(1, np.zeros(pre.size, int), pre * dt * ms)
        b = sc.SpikeGeneratorGroup(1, np.zeros(post.size, int), post * dt * ms)
        syn = sc.Connection(a, b, model, connect="full", weight=w0)
    sim = net.compile(dtype=torch.float64)
    sim.run(n_steps * dt)
    w_ref, apre_ref, apost_ref = _reference(pre, post, dt, w0)
    assert sim.get(syn.name, "w").item() == pytest.approx(w_ref, abs=1e-12), f"seed {seed}"
    # the traces are stored as of the last event
    assert sim.get(syn.name, "apre").item() == pytest.approx(apre_ref, abs=1e-12)
    assert sim.get(syn.name, "apost").item() == pytest.approx(apost_ref, abs=1e-12)


def test_event_driven_is_reported_and_in_source() -> None:
    model = sc.SynapseModel("w : 1\ndx/dt = -x/(10*ms) : 1 (event-driven)",
                            on_pre="x += 1; w += x")
    net = sc.Network(seed=0)
    with net:
        a = sc.SpikeGeneratorGroup(2, [0, 1], [1.0, 2.0])
        b = sc.SpikeGeneratorGroup(2, [0], [5.0])
        s = sc.Connection(a, b, model, connect="one_to_one")
    sim = net.compile()
    assert "event-driven (exact): x" in sim.describe()
    assert "dx/dt = -x/(10*ms) : 1 (event-driven)" in sim.source()
    sim.run(3.0)
    # one spike each, x jumps to 1 at the first event: w = 1
    assert torch.allclose(sim.get(s.name, "w"), torch.ones(1, 2))


def test_clock_driven_synapse_equation_is_refused() -> None:
    model = sc.SynapseModel("dx/dt = -x/(10*ms) : 1 (clock-driven)", on_pre="x += 1")
    net = sc.Network(seed=0)
    with net:
        a = sc.SpikeGeneratorGroup(1, [0], [1.0])
        sc.Connection(a, a, model)
    with pytest.raises(sc.ModelError, match="clock-driven synaptic equations"):
        net.compile()
