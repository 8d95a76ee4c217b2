"""The run loop (issue 12, items 4 and 6): inf/NaN in the state is an error naming the
group, the variable and the steps; a run stopped by an exception or Ctrl-C leaves time,
state and monitors agreeing; run() costs the same however much was recorded before; a
StateMonitor's peak memory stays close to its data; time is exact on every backend."""

from __future__ import annotations

import math
import re
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.errors import NonFiniteError, ParameterError
from snncc.units import ms, mV

BACKENDS = ["torch", pytest.param("triton", marks=pytest.mark.slow)]


def _blowup(kind: str, backend: str, **options: Any) -> tuple[Any, dict[str, Any]]:
    """A group H whose v goes to inf (``dv/dt = v/(0.1*ms)``) or NaN (``log`` of a negative v),
    next to a well-behaved group G; monitors on both."""
    eqs = {"inf": "dv/dt = v/(0.1*ms) : volt",
           "nan": "dv/dt = (log(v/mV)*mV - v - 5*mV)/ms : volt"}[kind]
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        G = sc.NeuronGroup(4, sc.NeuronModel("dv/dt = (20*mV - v)/(10*ms) : volt",
                                             threshold="v > 10*mV", reset="v = 0*mV"),
                           init={"v": 0 * mV}, name="G")
        H = sc.NeuronGroup(3, sc.NeuronModel(eqs), init={"v": 1 * mV}, name="H")
        mons = {"spikes": sc.SpikeMonitor(G), "g": sc.StateMonitor(G, "v"),
                "h": sc.StateMonitor(H, "v"), "rate": sc.PopulationRateMonitor(G)}
    return net.compile(backend=backend, **options), mons


def _step_of(t: Any) -> Any:
    """The step of a time (a Quantity) at dt = 0.1 ms."""
    return np.round(np.asarray(t / ms) / 0.1).astype(np.int64)


def _agree(sim: Any, mons: dict[str, Any]) -> int:
    """Time, state monitors and spike times agree; returns the step count."""
    steps = int(round(sim.t / sim.dt))
    for m in (mons["g"], mons["h"], mons["rate"]):
        assert len(m.t) == steps
        if steps:
            assert _step_of(m.t[-1]) == steps - 1
    assert np.all(_step_of(mons["spikes"].t) < steps)
    return steps


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["inf", "nan"])
def test_state_blowing_up_is_an_error_naming_group_variable_and_steps(
        backend: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend == "triton":  # short chunks: fewer steps in Triton's interpreter
        monkeypatch.setenv("SNNCC_RECORD_BYTES", "2000")
    sim, mons = _blowup(kind, backend)
    chunk = sim._ensure_step().chunk
    with pytest.raises(NonFiniteError) as info:
        sim.run(250 * ms)
    msg = str(info.value)
    assert f"group 'H': variable 'v' became {'inf' if kind == 'inf' else 'NaN'} in" in msg
    found = re.search(r"in steps (\d+) to (\d+) \(t = ([\d.]+) ms to ([\d.]+) ms\)", msg)
    assert found, msg
    a, b = int(found[1]), int(found[2])
    assert a % chunk == 0 and b == min(a + chunk, 2500) - 1
    assert float(found[3]) == pytest.approx(a * 0.1) and float(found[4]) == pytest.approx(
        (b + 1) * 0.1)
    assert "check_finite=False" in msg
    # stopped at the end of the chunk in which it happened, consistently
    assert _agree(sim, mons) == b + 1
    assert np.isfinite(np.asarray(mons["g"].v / mV)).all()  # G is unaffected
    if backend == "torch":
        assert a == 0 and b == 999


def test_error_names_the_later_chunk_and_a_connection() -> None:
    """A synaptic variable growing as exp(t/ms) from 1e-30 passes float32's largest value
    after about 157 ms: in the second chunk of 1000 steps of the second run (chunks count
    from the start of a run)."""
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        P = sc.NeuronGroup(2, sc.NeuronModel("dv/dt = -v/(10*ms) : volt"), name="P")
        sc.Connection(P, P, sc.SynapseModel("dx/dt = x/ms : 1 (clock-driven)"),
                      i=[0, 1], j=[1, 0], init={"x": [1e-30, 0.0]}, name="C")
    sim = net.compile(backend="torch")
    sim.run(50 * ms)
    with pytest.raises(NonFiniteError, match=r"connection 'C': variable 'x' became inf in "
                                              r"steps 1500 to 2499 \(t = 150 ms to 250 ms\)"
                                              r".*1 of 2 values, first at synapse 0"):
        sim.run(400 * ms)
    assert sim.t == pytest.approx(0.25)


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_off_runs_on(backend: str) -> None:
    sim, mons = _blowup("inf", backend, check_finite=False)
    sim.run(20 * ms)
    assert not torch.isfinite(sim.get("H", "v")).any()
    assert _agree(sim, mons) == 200
    sim.check_finite = True
    sim.reset_state()  # finite again: checked
    with pytest.raises(NonFiniteError):
        sim.run(20 * ms)


def test_unknown_compile_option_is_an_error() -> None:
    net = sc.Network(dt=0.1 * ms)
    with net:
        sc.NeuronGroup(2, "lif")
    with pytest.raises(ParameterError, match="check_finit.*known: cuda_graph, check_finite"):
        net.compile(backend="torch", check_finit=False)


def test_variables_infinite_before_the_run_are_left_alone() -> None:
    """A parameter set to inf on purpose (a threshold that never fires) is no error; the
    state that is finite at the start is still checked."""
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        G = sc.NeuronGroup(3, sc.NeuronModel("dv/dt = (1*mV - v)/(10*ms) : volt\nvt : volt",
                                             threshold="v > vt", reset="v = 0*mV"),
                           init={"vt": float("inf") * mV}, name="G")
        mon = sc.SpikeMonitor(G)
    sim = net.compile(backend="torch")
    sim.run(150 * ms)
    assert mon.num_spikes == 0 and sim.t == pytest.approx(0.15)


def test_large_finite_values_are_no_error() -> None:
    """Values whose sum overflows float32 (4 x 1e38) are finite: no error, and still
    checked; only the overflow of the values themselves is."""
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        G = sc.NeuronGroup(4, sc.NeuronModel("dx/dt = x/ms : volt"),
                           init={"x": 1e41 / math.e * mV}, name="G")
        sc.StateMonitor(G, "x", record=0)
    sim = net.compile(backend="torch")
    sim.run(1 * ms)  # x = 1e38 V
    x = sim.get("G", "x")
    assert torch.isfinite(x).all() and x.sum() == float("inf")
    with pytest.raises(NonFiniteError, match="group 'G': variable 'x' became inf"):
        sim.run(10 * ms)


# ------------------------------------------------------------------ consistency
def _cuba(n: int = 200) -> tuple[Any, dict[str, Any]]:
    net = sc.Network(dt=0.1 * ms, seed=3)
    with net:
        P = sc.NeuronGroup(n, "cuba", init={"v": "Vr + rand()*(Vt - Vr)"}, name="P")
        sc.Connection(P, P, p=0.1, on_pre="ge += 1.62*mV")
        mons = {"spikes": sc.SpikeMonitor(P), "st": sc.StateMonitor(P, "v", record=[0, 7]),
                "rate": sc.PopulationRateMonitor(P)}
    return net, mons


def _snapshot(sim: Any, mons: dict[str, Any]) -> dict[str, np.ndarray]:
    return {"i": mons["spikes"].i.copy(), "t": np.asarray(mons["spikes"].t / ms),
            "v": np.asarray(mons["st"].v / mV), "rate": np.asarray(mons["rate"].rate.value),
            "state": sim.get("P", "v").clone().numpy()}


def _patch_step(sim: Any, at: int, action: Callable[[], None]) -> Callable[[], None]:
    """Call ``action`` before the step function's call number ``at`` (0-based, counted
    from now); returns what puts the original step function back."""
    loop = sim._ensure_step()
    holder, attr = (loop, "step") if hasattr(loop, "step") else (sim, "_step_fn")
    real = getattr(holder, attr)
    calls = [0]

    def step(*args: Any) -> Any:
        if calls[0] == at:
            action()
        calls[0] += 1
        return real(*args)

    setattr(holder, attr, step)
    return lambda: setattr(holder, attr, real)


class _Injected(RuntimeError):
    pass


def _raise() -> None:
    raise _Injected("injected")


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test, as in an interactive session: earlier
    tests in the same worker may leave another one (Brian2, once imported, wraps the
    handler it found and fails calling it when that was SIG_DFL)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", ["exception", "ctrl-c"])
@pytest.mark.usefixtures("python_sigint")
def test_interrupted_run_keeps_time_state_and_monitors_together(backend: str, how: str
                                                                ) -> None:
    total, at = (2600, 1234) if backend == "torch" else (40, 23)
    net, mons = _cuba()
    ref = net.compile(backend=backend)
    ref.run(total * 0.1 * ms)
    expected = _snapshot(ref, mons)

    net, mons = _cuba()
    sim = net.compile(backend=backend)
    if how == "exception":
        restore = _patch_step(sim, at, _raise)
        with pytest.raises(_Injected):
            sim.run(total * 0.1 * ms)
        stopped = at  # the step that raised did not run
    else:
        restore = _patch_step(sim, at, lambda: signal.raise_signal(signal.SIGINT))
        with pytest.raises(KeyboardInterrupt, match=f"step {at + 1}"):
            sim.run(total * 0.1 * ms)
        stopped = at + 1  # Ctrl-C ends the step it arrives in
    assert int(round(sim.t / sim.dt)) == stopped
    assert len(mons["st"].t) == len(mons["rate"].t) == stopped
    assert float(np.max(mons["spikes"].t / ms, initial=0.0)) < stopped * 0.1
    restore()
    sim.run((total - stopped) * 0.1 * ms)  # continues as if never stopped
    got = _snapshot(sim, mons)
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)


def test_arrays_read_before_a_restore_keep_their_values() -> None:
    """Recordings are views of growing buffers: rows dropped by load_state_dict and
    recorded again never change an array the user read before."""
    net, mons = _cuba(50)
    sim = net.compile(backend="torch")
    sim.run(5 * ms)
    saved = {k: v.clone() for k, v in sim.state_dict().items()}
    sim.run(5 * ms)
    v_before, t_before = mons["st"].v, mons["spikes"].t
    copies = np.array(v_before / mV), np.array(t_before / ms)
    sim.load_state_dict(saved)
    sim.get("P", "v").fill_(-0.05)  # another future from the restored point
    sim.run(5 * ms)
    np.testing.assert_array_equal(np.asarray(v_before / mV), copies[0])
    np.testing.assert_array_equal(np.asarray(t_before / ms), copies[1])
    assert len(mons["st"].t) == 100 and not np.array_equal(mons["st"].v / mV, copies[0])


def test_ctrl_c_handler_is_restored() -> None:
    net, _ = _cuba(20)
    sim = net.compile(backend="torch")
    before = signal.getsignal(signal.SIGINT)
    sim.run(1 * ms)
    assert signal.getsignal(signal.SIGINT) is before


# ------------------------------------------------------------------ costs
def test_run_cost_does_not_grow_with_recorded_history() -> None:
    """3,000 one-step runs: the memory one run() allocates (numpy, traced) is the same
    late as early; appending the recordings used to copy all of them."""
    net, mons = _cuba(50)
    sim = net.compile(backend="torch")
    sim.run(1 * ms)
    extra = []
    tracemalloc.start()
    try:
        for _ in range(3000):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            sim.run(0.1 * ms)
            extra.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    assert len(mons["st"].t) == 3010
    early, late = np.median(extra[100:300]), np.median(extra[-200:])
    assert late <= 1.25 * early + 1024, (early, late)


_PEAK = """
import numpy as np, snncc as sc
from snncc.units import ms

def status(key):
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) * 1024 for x in f if x.startswith(key))

net = sc.Network(dt=0.1 * ms, seed=0)
with net:
    G = sc.NeuronGroup(1000, "lif", init={"v": "-65*mV + rand()*10*mV"})
    mon = sc.StateMonitor(G, "v")
sim = net.compile(backend="torch")
sim.run(0.1 * ms)
sim.reset_state()
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # VmHWM := VmRSS
sim.run(500 * ms)
peak = status("VmHWM") - base
print(peak / np.asarray(mon.v / sc.units.mV).nbytes)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_state_monitor_peak_memory_is_close_to_its_data() -> None:
    """Recording 1000 neurons for 5000 steps (40 MB of float64): the process's peak
    resident memory grows by at most 1.5 times the recorded data (it was 2.7 times)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_PEAK)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    ratio = float(proc.stdout.split()[-1])
    assert ratio <= 1.5, ratio


# ------------------------------------------------------------------ exact time
@pytest.mark.slow
def test_time_is_exact_after_2_to_the_24_steps_on_triton() -> None:
    """float32 Triton kernels compute t = step*dt in float64 (as the torch backend does):
    a model that reads t agrees with the float64 reference past step 2**24."""
    def run(backend: str, dtype: torch.dtype) -> np.ndarray:
        net = sc.Network(dt=0.1 * ms, seed=0)
        with net:
            G = sc.NeuronGroup(2, sc.NeuronModel(
                "dv/dt = (sin(2*pi*t/(3.7*ms))*mV + I - v)/(10*ms) : volt\n"
                "I = t*1e-3*mV/second : volt"), init={"v": 0 * mV})
            mon = sc.StateMonitor(G, "v")
        sim = net.compile(backend=backend, dtype=dtype)
        sim._step.fill_(2**24 + 1)
        sim.run(2 * ms)
        assert sim.t == pytest.approx((2**24 + 21) * 1e-4, rel=1e-15)
        assert _step_of(mon.t[0]) == 2**24 + 1
        return np.asarray(mon.v / mV)

    ref = run("torch", torch.float64)
    got = run("triton", torch.float32)
    assert np.abs(ref).max() > 0.01
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    assert math.isfinite(float(got.sum()))
