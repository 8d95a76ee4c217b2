"""Merged ring pathways: adjacent ring pathways of one source and one target population
with the same code are delivered as one stage (one table by source, one ring per target
variable), their weights in shared storage, each projection's a view of its slice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.units import ms

EQS = "dv/dt = (ge - v)/tau : 1\ndge/dt = -ge/tau_e : 1"
VALUES = {"tau": 10.0, "tau_e": 2.0}  # ms
SLICES = ((0, 4), (4, 9), (9, 12))  # three source populations of one generator group


def _network(seed: int, steps: int, *, codes: tuple[str, ...] = ("ge += w",) * 3
             ) -> tuple[sc.Network, dict[str, np.ndarray], sc.SpikeMonitor]:
    """A spike generator of 12 sources, split in three slices, each with its own
    Connection into 7 neurons (per-synapse weights and delays of many values), and a
    spike monitor. Returns the network, its drawn data (also for Brian2) and the monitor."""
    rng = np.random.default_rng(seed)
    n_in, n_out = SLICES[-1][1], 7
    flat = np.nonzero(rng.random((steps, n_in)) < 0.08)
    data: dict[str, np.ndarray] = {"idx": flat[1], "steps": flat[0]}
    net = sc.Network(dt=0.1 * ms, seed=seed)
    with net:
        src = sc.SpikeGeneratorGroup(n_in, data["idx"], data["steps"] * 0.1 * ms, name="src")
        post = sc.NeuronGroup(n_out, sc.NeuronModel(EQS, threshold="v > 1", reset="v = 0"),
                              params={k: v * ms for k, v in VALUES.items()}, name="P")
        for k, ((a, b), code) in enumerate(zip(SLICES, codes, strict=True)):
            i, j = np.nonzero(rng.random((b - a, n_out)) < 0.6)
            d = rng.integers(1, 25, i.size)
            w = rng.uniform(0.1, 0.6, i.size)
            data |= {f"i{k}": i, f"j{k}": j, f"d{k}": d, f"w{k}": w}
            sc.Connection(src[a:b], post, sc.SynapseModel("w : 1", on_pre=code), i=i, j=j,
                          weight=w, delay=d * 0.1 * ms, name=f"c{k}")
        mon = sc.SpikeMonitor(post, name="spikes")
    return net, data, mon


def _pathways(sim: sc.CompiledNetwork) -> list[object]:
    return [s for s in sim.program.plan.stages if type(s).__name__ == "Pathway"]


def test_adjacent_rings_of_one_code_merge_into_one_stage(fresh_seed: int) -> None:
    net, _, _ = _network(fresh_seed, 50)
    sim = net.compile(backend="torch")
    (stage,) = _pathways(sim)
    assert stage.delivery == "ring" and stage.projections == ("c0", "c1", "c2")
    assert stage.delays == tuple(sorted({d for m in stage.members for d in m.delays}))
    (shared,) = sim.program.plan.shared
    assert shared.variable == "w" and shared.projections == ("c0", "c1", "c2")
    assert "c0+c1+c2.on_pre" in sim.program.plan.describe()
    src = sim.source()
    assert "c0, c1, c2 (src -> P" in src and src.count("index_add_") == 1


def test_rings_of_other_code_or_batch_stay_apart(fresh_seed: int) -> None:
    net, _, _ = _network(fresh_seed, 50, codes=("ge += w", "ge += 2*w", "ge += w"))
    sim = net.compile(backend="torch")
    assert [s.projections for s in _pathways(sim)] == [("c0",), ("c1",), ("c2",)]
    assert sim.program.plan.shared == ()
    net, _, _ = _network(fresh_seed, 50)
    sim = net.compile(backend="torch", batch=2)
    assert len(_pathways(sim)) == 3 and sim.program.plan.shared == ()


@pytest.mark.brian2
@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_merged_ring_matches_brian2(fresh_seed: int, backend: str) -> None:
    """Three projections delivered as one merged ring (torch: one table; Triton: one
    member after the other) against Brian2's three Synapses: spikes identical, final
    state to 1e-12 (float64)."""
    import brian2 as b2
    from brian2_util import setup_brian2

    if backend == "triton":
        pytest.importorskip("triton")
    steps = 300 if backend == "torch" else 80  # the interpreter is slow
    net, data, mon = _network(fresh_seed, steps)
    sim = net.compile(backend=backend, dtype=torch.float64)
    assert len(_pathways(sim)) == 1
    sim.run(steps * 0.1 * ms)

    setup_brian2(1e-4)
    b_src = b2.SpikeGeneratorGroup(SLICES[-1][1], data["idx"], data["steps"] * 0.1 * b2.ms)
    b_post = b2.NeuronGroup(7, EQS, threshold="v > 1", reset="v = 0", method="exact",
                            namespace={k: v * b2.ms for k, v in VALUES.items()})
    objects: list[object] = [b_src, b_post]
    for k, (a, _) in enumerate(SLICES):
        syn = b2.Synapses(b_src, b_post, "w : 1", on_pre="ge_post += w")
        syn.connect(i=data[f"i{k}"] + a, j=data[f"j{k}"])
        syn.w, syn.delay = data[f"w{k}"], data[f"d{k}"] * 0.1 * b2.ms
        objects.append(syn)
    b_mon = b2.SpikeMonitor(b_post)
    b2.Network(*objects, b_mon).run(steps * 0.1 * b2.ms)
    ours = sorted(zip(np.round(np.asarray(mon.t / ms) / 0.1).astype(int), mon.i))
    theirs = sorted(zip(np.round(np.asarray(b_mon.t / b2.ms) / 0.1).astype(int),
                        np.asarray(b_mon.i)))
    assert len(theirs) > 0 and ours == theirs
    np.testing.assert_allclose(sim.get("P", "v").numpy()[0], np.asarray(b_post.v),
                               rtol=0, atol=1e-12)


def test_each_projection_weight_is_a_view_of_the_shared_storage(fresh_seed: int) -> None:
    """Changing one projection's weights in place changes what the merged ring delivers,
    also after a dtype move and after loading a state with assign=True."""
    def run(zero: tuple[str, ...], move: bool = False, assign: bool = False,
            dtype: torch.dtype = torch.float32) -> np.ndarray:
        net, _, _ = _network(fresh_seed, 200)
        sim = net.compile(backend="torch", dtype=dtype)
        if move:
            sim = sim.double()
        if assign:
            state = {k: v.clone() for k, v in sim.state_dict().items()}
            sim.load_state_dict(state, assign=True)
        for name in zero:
            sim.get(name, "w").zero_()
        sim.run(20 * ms)
        return sim.get("P", "ge").double().numpy().copy()

    everything = run(())
    assert np.abs(everything).sum() > 0
    assert np.abs(run(("c0", "c1", "c2"))).sum() == 0  # the ring reads the views' storage
    for kw in ({}, {"move": True}, {"assign": True}):
        partial = run(("c1",), **kw)
        assert not np.allclose(partial, everything), kw
        # the reference in the dtype the run ends in (a move goes to float64)
        reference = run(("c1",), dtype=torch.float64 if kw.get("move") else torch.float32)
        np.testing.assert_allclose(partial, reference, rtol=1e-6, atol=1e-9, err_msg=str(kw))
    none = run(("c0", "c1", "c2"), move=True)
    assert np.abs(none).sum() == 0


def test_state_dict_round_trip_continues_the_same_run(fresh_seed: int) -> None:
    net, _, _ = _network(fresh_seed, 400)
    a = net.compile(backend="torch", dtype=torch.float64)
    a.run(15 * ms)
    saved = {k: v.clone() for k, v in a.state_dict().items()}
    a.run(15 * ms)
    net2, _, _ = _network(fresh_seed, 400)
    b = net2.compile(backend="torch", dtype=torch.float64)
    b.load_state_dict(saved)
    b.run(15 * ms)
    for var in ("v", "ge"):
        np.testing.assert_array_equal(a.get("P", var).numpy(), b.get("P", var).numpy())


def test_eight_bytes_per_synapse_of_static_weighted_delayed_synapses(fresh_seed: int) -> None:
    """Per-synapse weights and delays, synapses listed by source: the compiled network
    holds a float32 weight and an int32 packed (delay, target) per synapse and tables per
    neuron, no permutation; the IR's indices and delays are int32."""
    net, _, _ = _network(fresh_seed, 50)
    sim = net.compile(backend="torch", dtype=torch.float32)
    S = sum(pr.n_synapses for pr in sim.program.projections.values())
    ring = {k: t for k, t in sim._arrays.items() if k.startswith("c0.on_pre_ring")}
    assert set(ring) == {"c0.on_pre_ring_target", "c0.on_pre_ring_start",
                         "c0.on_pre_ring_cnt"}  # no permutation
    assert ring["c0.on_pre_ring_target"].dtype == torch.int32
    assert ring["c0.on_pre_ring_target"].numel() == S
    assert ring["c0.on_pre_ring_start"].numel() == SLICES[-1][1]  # one per source neuron
    others = sum(t.numel() * t.element_size() for k, t in sim._arrays.items()
                 if k not in ring)  # the generator's spike table, neuron indices
    assert sim.memory()["tables"] == 4 * S + 2 * 4 * SLICES[-1][1] + others
    weights = sum(sim.get(f"c{k}", "w").numel() * 4 for k in range(3))
    assert weights == 4 * S
    for pr in sim.program.projections.values():
        assert pr.i.dtype == pr.j.dtype == pr.delay.dtype == np.int32
