"""The stage plan (snncc.passes.plan, snncc.ir.plan): the order of a step under both
schedules, the per-stage decisions (delays, dense pathways, reset fusion, spike
history), and the kernel grouping -- the same stages as the step, each once, in an order
that keeps every object's stages in step order."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.backends.torch import codegen as torch_codegen
from snncc.errors import BackendError
from snncc.ir import plan as st
from snncc.passes import run_passes
from snncc.units import ms, mV


def _net(schedule: str, self_writes_v: bool = False) -> sc.Network:
    net = sc.Network(dt=0.1 * ms, seed=3, schedule=schedule)
    with net:
        inp = sc.SpikeGeneratorGroup(5, [0, 1, 2], [1, 2, 3] * ms, name="inp")
        A = sc.NeuronGroup(6, "lif", params={"I": 12 * mV}, name="A")
        B = sc.NeuronGroup(4, "cuba", name="B")
        sc.Connection(inp, A, on_pre="v += 3*mV", p=1.0, name="inA")
        sc.Connection(A, B, on_pre="ge += 1*mV", p=0.5, delay="rand()*2*ms", name="AB")
        sc.Connection(B, B, on_pre="v_post += 1*mV" if self_writes_v else "gi += 1*mV",
                      i=[0, 1], j=[1, 2], name="BB")  # 2 of 16 pairs: not dense
        sc.SpikeMonitor(A, name="spA")
        sc.StateMonitor(B, "v", record=[0], name="vB")
    return net


def _plan(net: sc.Network) -> st.StagePlan:
    prog = run_passes(net.lower())
    assert prog.plan is not None and prog.passes[-1] == "plan"
    return prog.plan


def _kinds(stages: tuple[st.Stage, ...]) -> list[str]:
    return [st.stage_text(s) for s in stages]


def test_brian2_order() -> None:
    plan = _plan(_net("brian2"))
    assert plan.schedule == "brian2"
    text = _kinds(plan.stages)
    assert text[:8] + text[9:] == [
        "RecordState vB", "UpdateState A", "UpdateState B",
        "Threshold inp", "Threshold A", "Threshold B", "RecordSpikes spA",
        "inA.on_pre (dense)", "BB.on_pre", "reset A", "reset B (fusable)"]
    ab = plan.stages[8]
    assert isinstance(ab, st.Pathway) and ab.projection == "AB"
    assert ab.delays == tuple(sorted(set(ab.delays))) and len(ab.delays) > 1
    assert not ab.dense and not ab.late
    # spike history: the longest delay of the outgoing on_pre pathways, plus one
    hist = {s.population: s.history for s in plan.stages if isinstance(s, st.Threshold)}
    assert hist == {"inp": 1, "A": max(ab.delays) + 1, "B": 1}
    assert plan.notes[0].startswith("schedule: brian2")


def test_layered_order_slots_and_late_self_projection() -> None:
    plan = _plan(_net("layered"))
    slots = [s for s in plan.stages if isinstance(s, st.Slot)]
    assert [(s.index, s.count, s.population) for s in slots] == [
        (1, 3, "inp"), (2, 3, "A"), (3, 3, "B")]
    assert slots[2].reason == "after its input A"
    text = _kinds(plan.stages)
    b = text.index(st.stage_text(slots[2]))
    # B's slot: update, threshold, reset, then its self-projection (acts next step)
    assert text[b + 1:] == ["UpdateState B", "Threshold B", "reset B (fusable)",
                            "BB.on_pre (one step late)"]
    assert text[0] == "RecordState vB"


def test_reset_fusion_is_decided_once() -> None:
    """A reset is fusable unless synaptic code run before it reads or writes what it
    changes: BB writes v_post under Brian2's order (all pathways before all resets),
    but under the layered order BB runs after B's reset."""
    def reset_of(plan: st.StagePlan) -> st.Reset:
        return next(s for s in plan.stages if isinstance(s, st.Reset) and s.population == "B")
    assert not reset_of(_plan(_net("brian2", self_writes_v=True))).fused
    assert reset_of(_plan(_net("brian2"))).fused
    assert reset_of(_plan(_net("layered", self_writes_v=True))).fused
    plan = _plan(_net("brian2", self_writes_v=True))
    assert [k.owner for k in plan.kernels if k.kind == "reset"] == ["A", "B"]


@pytest.mark.parametrize("schedule", ["brian2", "layered"])
@pytest.mark.parametrize("self_writes_v", [False, True])
def test_kernels_hold_the_same_stages_in_step_order(schedule: str, self_writes_v: bool
                                                    ) -> None:
    plan = _plan(_net(schedule, self_writes_v))
    step = [s for s in plan.stages if not isinstance(s, st.Slot)]
    grouped = [s for k in plan.kernels for s in k.stages]
    assert Counter(step) == Counter(grouped)
    # every object's stages keep their step order (fusing only moves independent work)
    for owner in ("A", "B", "AB", "BB", "inA", "inp"):
        def mine(seq: list[st.Stage], o: str = owner) -> list[st.Stage]:
            return [s for s in seq if o in (getattr(s, "population", None),
                                            getattr(s, "projection", None))]
        assert mine(step) == mine(grouped)
    # a fused reset sits in its population's kernel, an unfused one in its own
    for k in plan.kernels:
        for s in k.stages:
            if isinstance(s, st.Reset):
                assert (k.kind == "population") == s.fused


def test_dense_pathway_and_the_triton_spike_matmul() -> None:
    net = _net("brian2")
    plan = _plan(net)
    inA = next(s for s in plan.stages if isinstance(s, st.Pathway) and s.projection == "inA")
    assert inA.dense and inA.delays == (0,)


def test_a_backend_refuses_a_program_without_plan() -> None:
    prog = run_passes(_net("brian2").lower()).with_(plan=None)
    with pytest.raises(BackendError, match="no stage plan"):
        torch_codegen.generate(prog)


def test_generated_code_follows_the_plan(fresh_seed: int) -> None:
    """The torch step renders the stages in plan order: the comment headers of the
    blocks appear in the plan's order."""
    net = _net("layered")
    sim = net.compile(dtype=torch.float64)
    src = sim.source()
    marks = [src.index(f"{k}/3: ") for k in (1, 2, 3)]
    assert marks == sorted(marks)
    sim.run(5 * ms)
    assert np.isfinite(sim.get("B", "v").numpy()).all()
